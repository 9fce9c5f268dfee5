import { assert } from '../core/assert.js';
import { LazyMap } from '../core/lazy-map.js';
import { estimateBytes, resultEntryBytes } from './result-bytes.js';
import { type Steps, runAtOnce, runInSteps } from './steps.js';
import { type CapturedTombstones, Tombstones } from './tombstones.js';

/** What applying a request produced: the state machine's result, or what it threw. */
export type Outcome<R> = { readonly ok: true; readonly value: R } | { readonly ok: false; readonly error: unknown };

/** What the table knows of a request about to be applied. */
export type Lookup<R> =
  | { readonly kind: 'new' }
  /** Applied before: here is its outcome; do not apply it again. */
  | { readonly kind: 'duplicate'; readonly outcome: Outcome<R> }
  /**
   * Applied before, but its result was not kept (larger than the byte bounds allow, or
   * dropped later to stay within them): do not apply it again.
   */
  | { readonly kind: 'dropped' }
  /**
   * Do not apply it: it may have been applied already and its outcome forgotten (the
   * client moved its floor past it, or the client was forgotten), or its client gave
   * it up (`ackedBelow`).
   */
  | { readonly kind: 'expired' };

/** Bounds of the deduplication table; every replica must use the same ones. */
export interface DedupLimits {
  /** Results kept per client; the oldest is forgotten beyond it. Default 256. */
  readonly resultsPerClientMax: number;
  /** Clients remembered; the least recently active is forgotten beyond it. Default 50,000. */
  readonly clientsMax: number;
  /** A client silent this long (in log timestamps, ms) is forgotten. Default one hour. */
  readonly clientIdleMs: number;
  /**
   * The clock skew tolerated between a request's origin and the leaders, in ms: a
   * request from a forgotten client made up to this long after the client was last
   * active is refused as a possible retry. Default one minute.
   */
  readonly clockSkewMaxMs: number;
  /**
   * Estimated bytes of results kept for one client, in bytes (each result's
   * {@link estimateBytes} plus 64 for its entry). A result larger than this is kept
   * as "applied, result dropped" (a retry gets `ResultDroppedError`); beyond it, the
   * client's oldest results are dropped the same way. Default 1 MiB; at least 1 KiB.
   */
  readonly resultBytesPerClientMax: number;
  /**
   * Estimated bytes of results kept for all clients together, in bytes. Beyond it, the
   * least recently active clients' results are dropped, then forgotten. Default
   * 64 MiB; at least `resultBytesPerClientMax`.
   */
  readonly resultBytesMax: number;
}

/** Clients and results imported between two pauses of {@link DedupTable.importStateInSteps}: about a millisecond's work. */
const importResultsPerStep = 4096;

/** The smallest `resultBytesPerClientMax`: room for a few entries, dropped ones included. */
export const resultBytesPerClientMin = 1024;

const newRequest: Lookup<never> = Object.freeze({ kind: 'new' });
const expired: Lookup<never> = Object.freeze({ kind: 'expired' });
const dropped: Lookup<never> = Object.freeze({ kind: 'dropped' });

export const defaultDedupLimits: DedupLimits = Object.freeze({
  resultsPerClientMax: 256,
  clientsMax: 50_000,
  clientIdleMs: 3_600_000,
  clockSkewMaxMs: 60_000,
  resultBytesPerClientMax: 1024 * 1024,
  resultBytesMax: 64 * 1024 * 1024,
});

/**
 * The bytes the table charges for keeping `outcome`: its entry plus the estimate of
 * its value or error. Above `bytesMax`, some number above it (the walk stops early).
 * @internal
 */
function outcomeBytes<R>(outcome: Outcome<R>, bytesMax: number): number {
  return resultEntryBytes + estimateBytes(outcome.ok ? outcome.value : outcome.error, bytesMax - resultEntryBytes);
}

/** A byte bound of the table that tripped, as the node logs it. */
export interface DedupTrip {
  /**
   * `result`: one result was larger than `resultBytesPerClientMax`, kept as dropped;
   * `client`: a client's older results were dropped or forgotten to stay within it;
   * `total`: the least recently active clients' results, to stay within `resultBytesMax`.
   */
  readonly bound: 'result' | 'client' | 'total';
  /** The request whose result was being kept. */
  readonly clientId: string;
  readonly seq: number;
  /** Results dropped or forgotten by this trip. */
  readonly results: number;
}

/** The table's size and how often its byte bounds tripped, for the node's metrics. */
export interface DedupStats {
  /** Clients remembered. */
  readonly clients: number;
  /** Results kept, dropped ones included. */
  readonly results: number;
  /** Their estimated bytes: at most `resultBytesMax`. */
  readonly bytes: number;
  /** Results larger than `resultBytesPerClientMax`, kept as dropped. */
  readonly tooLarge: number;
  /** Results dropped or forgotten to keep a client within `resultBytesPerClientMax`. */
  readonly evictedForClient: number;
  /** Results dropped or forgotten to keep the table within `resultBytesMax`. */
  readonly evictedForTotal: number;
}

/** A kept result as the table holds it: never changed once kept (a capture may share it). */
interface Kept<R> extends KeptResult<R> {
  readonly bytes: number;
}

/**
 * One client's progress and kept results. Shared with the captures taken since it was
 * made (its `epoch` is older than the table's), it is copied before any change
 * ({@link DedupTable.own}), so a capture sees it as it was.
 */
class ClientRecord<R> implements DedupClientState<R> {
  constructor(
    readonly id: string,
    /** Requests below this seq are finished: applied, or no longer awaited. */
    public floor: number,
    public lastActive: number,
    /** The table's epoch when this record was made: changed in place only within it. */
    readonly epoch: number,
    /** Results of applied requests at or above `floor`, by seq, in insertion order. */
    readonly kept: Map<number, Kept<R>> = new Map(),
    /** The sum of `kept`'s bytes. */
    public bytes = 0,
  ) {}

  get results(): IterableIterator<Kept<R>> {
    return this.kept.values();
  }
}

/**
 * A {@link DedupTable}'s whole state, for a snapshot: clients and tombstones in the
 * table's own order, so a table rebuilt from it behaves the same. Its iterables can be
 * read more than once.
 * @internal
 */
export interface DedupState<R> {
  readonly clients: readonly DedupClientState<R>[];
  readonly tombstones: Iterable<readonly [hash: number, lastActive: number]>;
  readonly forgottenThrough: number;
  readonly lastSweep: number;
}

/** One client of a {@link DedupState}. @internal */
export interface DedupClientState<R> {
  readonly id: string;
  readonly floor: number;
  readonly lastActive: number;
  /** In the order the table keeps them (insertion). */
  readonly results: Iterable<KeptResult<R>>;
}

/** A {@link DedupState} copied into arrays. @internal */
export interface PlainDedupState<R> extends DedupState<R> {
  readonly clients: readonly (DedupClientState<R> & { readonly results: readonly KeptResult<R>[] })[];
  readonly tombstones: readonly (readonly [hash: number, lastActive: number])[];
}

/** One kept result as plain data. @internal */
export interface KeptResult<R> {
  readonly seq: number;
  /** What applying the request produced; undefined: applied, but the result was dropped. */
  readonly outcome: Outcome<R> | undefined;
  /**
   * The bytes the table charged for it; undefined in a snapshot from before byte
   * bounds, where it is estimated again when the table is rebuilt.
   */
  readonly bytes: number | undefined;
}

/**
 * Exactly-once for retried requests: per client, the outcome of every recent request,
 * so a request applied twice (retried after a timeout or a leader change) takes effect
 * once and the retry gets the first outcome. It is part of the replicated state: it
 * changes only as the log is applied, and only from the log's contents (sequence
 * numbers, the leaders' timestamps, and the results themselves), so every replica
 * holds the same table, and a replay of the log rebuilds it.
 *
 * Memory is bounded four ways: a client's `ackedBelow` lets it drop results it no
 * longer waits for; at most `resultsPerClientMax` results a client (forgetting the
 * oldest raises the client's floor, so a late retry of it is refused, never re-applied);
 * bytes (an estimate from each result's shape, the same everywhere): a result larger
 * than `resultBytesPerClientMax` is kept only as "applied, result dropped", a client
 * over it has its oldest results dropped so, and a table over `resultBytesMax` drops,
 * then forgets, the results of its least recently active clients first (a dropped
 * result's retry is refused with that reason, never re-applied); and clients idle for
 * `clientIdleMs` or beyond `clientsMax` are forgotten. A forgotten
 * client leaves a tombstone (a hash of its id and when it was last active), so a
 * request it made before then (its `createdAt`, within `clockSkewMaxMs`) is refused as
 * a possible retry of something applied before, never applied twice. Tombstones are
 * bounded too (four per remembered client); the oldest fold into a watermark that
 * refuses any unknown client's request made before it. A client never seen, whose id
 * matches no tombstone, is new.
 * @internal
 */
export class DedupTable<R> {
  /** Least recently active first: a touched client is moved to the end. */
  private clients = new LazyMap<string, ClientRecord<R>>();
  /**
   * The clients that hold results, in the same order as `clients`: where the total
   * byte bound takes from, least recently active first, without passing over the
   * clients that hold none.
   */
  private holders = new LazyMap<string, ClientRecord<R>>();
  /** Forgotten clients: id hash → when last active, oldest first. */
  /** Made at the first: most groups of a host never forget a client. */
  private tombstones: Tombstones | undefined;
  /** The latest `lastActive` of any tombstone dropped so far. */
  private forgottenThrough = -Infinity;
  /** The client of the last check, already last in `clients` (no reordering needed). */
  private lastClient: string | undefined;
  /** Log time of the last sweep for idle clients: one a second of log time is enough. */
  private lastSweep = -Infinity;
  /**
   * Bumped by each capture: a record made in an older epoch may be shared with a
   * capture, so it is copied before it changes.
   */
  private epoch = 0;
  /** The sum of every client's `bytes`. */
  private bytes = 0;
  /** Results kept, over every client. */
  private results = 0;
  private tooLarge = 0;
  private evictedForClient = 0;
  private evictedForTotal = 0;

  /**
   * @param onTrip told each time a byte bound trips (for a log line). It must not
   *   change replicated state; the table is consistent when it is called.
   */
  constructor(
    private readonly limits: DedupLimits,
    private readonly onTrip: (trip: DedupTrip) => void = () => {},
  ) {
    assert(
      limits.resultBytesPerClientMax >= resultBytesPerClientMin,
      `dedup: resultBytesPerClientMax ${limits.resultBytesPerClientMax} is below ${resultBytesPerClientMin}`,
    );
    assert(
      limits.resultBytesMax >= limits.resultBytesPerClientMax,
      `dedup: resultBytesMax ${limits.resultBytesMax} is below resultBytesPerClientMax ${limits.resultBytesPerClientMax}`,
    );
  }

  get size(): number {
    return this.clients.size;
  }

  /** Its size and the counts of its byte bounds tripping. */
  get stats(): DedupStats {
    return {
      clients: this.clients.size,
      results: this.results,
      bytes: this.bytes,
      tooLarge: this.tooLarge,
      evictedForClient: this.evictedForClient,
      evictedForTotal: this.evictedForTotal,
    };
  }

  /**
   * The whole table as it is now, for a snapshot, unchanged by what the table does
   * after: a copy of the clients' order and of the tombstones, nothing more. Records are
   * shared with the table until it changes one, which it copies first (see
   * {@link own}), so a capture costs little at once and is read at leisure; outcomes
   * are shared, never copied.
   */
  captured(): DedupState<R> {
    const clients = Array.from(this.clients.values());
    this.epoch++;
    return {
      clients,
      tombstones: this.tombstones?.capture() ?? noTombstones,
      forgottenThrough: this.forgottenThrough,
      lastSweep: this.lastSweep,
    };
  }

  /** The whole table as plain data, copied now (results as arrays); outcomes are shared, not copied. */
  exportState(): PlainDedupState<R> {
    const state = this.captured();
    return {
      ...state,
      clients: state.clients.map((c) => ({ id: c.id, floor: c.floor, lastActive: c.lastActive, results: [...c.results] })),
      tombstones: [...state.tombstones],
    };
  }

  /**
   * Replaces the whole table with `state` (a snapshot's). A state over this table's
   * bounds (from a node with larger ones, or from before byte bounds) is brought
   * within them the way apply would, so a restored node never holds more than a live
   * one may.
   */
  importState(state: DedupState<R>): void {
    runAtOnce(this.importSteps(state));
  }

  /**
   * {@link importState} with `pause()` awaited every {@link importResultsPerStep}
   * results or tombstones. The table is built aside and takes this one's place at the end, at once:
   * meanwhile this one answers as before.
   */
  importStateInSteps(state: DedupState<R>, pause: () => Promise<void>): Promise<void> {
    return runInSteps(this.importSteps(state), pause);
  }

  private *importSteps(state: DedupState<R>): Steps<void> {
    const next = new DedupTable<R>(this.limits);
    next.epoch = this.epoch + 1;
    const { resultBytesPerClientMax } = this.limits;
    let work = 0;
    for (const c of state.clients) {
      const record = new ClientRecord<R>(c.id, c.floor, c.lastActive, next.epoch);
      next.clients.set(c.id, record);
      for (const { seq, outcome, bytes } of c.results) {
        let kept: Kept<R> = { seq, outcome, bytes: bytes ?? (outcome === undefined ? resultEntryBytes : outcomeBytes(outcome, resultBytesPerClientMax)) };
        if (kept.bytes > resultBytesPerClientMax) {
          kept = { seq, outcome: undefined, bytes: resultEntryBytes };
          next.tooLarge++;
        }
        next.add(record, seq, kept);
      }
      while (record.kept.size > next.limits.resultsPerClientMax) next.raiseFloor(record, (record.kept.keys().next().value as number) + 1);
      if (record.bytes > resultBytesPerClientMax) next.evictedForClient += next.shrink(record, undefined, resultBytesPerClientMax);
      work += 1 + record.kept.size;
      if (work >= importResultsPerStep) {
        work = 0;
        yield;
      }
    }
    for (const [hash, at] of state.tombstones) {
      (next.tombstones ??= new Tombstones()).set(hash, at);
      if (++work >= importResultsPerStep) {
        work = 0;
        yield;
      }
    }
    next.forgottenThrough = state.forgottenThrough;
    next.lastSweep = state.lastSweep;
    if (next.bytes > next.limits.resultBytesMax) next.evictedForTotal += next.shrinkTotal(undefined, undefined);
    next.checkBounds();
    this.adopt(next);
  }

  /** Takes `next`'s contents as its own (its trip counts add to this table's: they only grow). */
  private adopt(next: DedupTable<R>): void {
    this.clients = next.clients;
    this.holders = next.holders;
    this.tombstones = next.tombstones;
    this.forgottenThrough = next.forgottenThrough;
    this.lastSweep = next.lastSweep;
    this.lastClient = undefined;
    this.epoch = next.epoch;
    this.bytes = next.bytes;
    this.results = next.results;
    this.tooLarge += next.tooLarge;
    this.evictedForClient += next.evictedForClient;
    this.evictedForTotal += next.evictedForTotal;
  }

  /**
   * Looks up request `seq` of `clientId`, made at `createdAt` on its origin's clock and
   * applied at log time `timestamp`, and records the client's progress.
   */
  check(clientId: string, seq: number, ackedBelow: number, createdAt: number, timestamp: number): Lookup<R> {
    let record = this.clients.get(clientId);
    if (record === undefined) {
      const tombstone = this.tombstones?.get(hashId(clientId));
      const through = Math.max(this.forgottenThrough, tombstone ?? -Infinity);
      if (createdAt <= through + this.limits.clockSkewMaxMs) return expired;
      record = new ClientRecord<R>(clientId, 0, timestamp, this.epoch);
      this.clients.set(clientId, record);
      this.lastClient = clientId;
    } else {
      record = this.own(record);
      this.touch(record, timestamp);
    }
    if (ackedBelow > record.floor) this.raiseFloor(record, ackedBelow);
    this.forgetIdle(timestamp);
    if (seq < record.floor) return expired;
    const kept = record.kept.get(seq);
    if (kept === undefined) return newRequest;
    return kept.outcome === undefined ? dropped : { kind: 'duplicate', outcome: kept.outcome };
  }

  /**
   * Records the progress a request that takes no entry (a read-only one) reports:
   * `clientId`, if remembered, waits for nothing below `ackedBelow` and was active at
   * log time `timestamp`. An unknown client is not added: a read leaves no trace.
   */
  progress(clientId: string, ackedBelow: number, timestamp: number): void {
    const found = this.clients.get(clientId);
    if (found === undefined) return;
    const record = this.own(found);
    this.touch(record, timestamp);
    if (ackedBelow > record.floor) this.raiseFloor(record, ackedBelow);
    this.forgetIdle(timestamp);
  }

  /**
   * What this replica knows of request `seq` of `clientId`, changing nothing: its
   * outcome if applied and kept, `'dropped'` if applied but its result was not kept,
   * `'expired'` if below its client's floor, or undefined (not applied here yet, as
   * far as the table knows). A leader asks before queueing a resend; a node asks
   * before proposing a retry.
   */
  known(clientId: string, seq: number): Outcome<R> | 'dropped' | 'expired' | undefined {
    const record = this.clients.get(clientId);
    if (record === undefined) return undefined;
    if (seq < record.floor) return 'expired';
    const kept = record.kept.get(seq);
    if (kept === undefined) return undefined;
    return kept.outcome ?? 'dropped';
  }

  /** Records the outcome of a request {@link check} called new, within the table's bounds. */
  record(clientId: string, seq: number, outcome: Outcome<R>): void {
    const found = this.clients.get(clientId);
    // Runs for every command applied: messages are built only on failure.
    if (found === undefined) assert(false, `dedup: recording ${clientId}/${seq} without a check`);
    const record = this.own(found);
    if (seq < record.floor || record.kept.has(seq)) assert(false, `dedup: ${clientId}/${seq} recorded twice`);
    const { resultBytesPerClientMax, resultBytesMax, resultsPerClientMax } = this.limits;
    let kept: Kept<R> = { seq, outcome, bytes: outcomeBytes(outcome, resultBytesPerClientMax) };
    const tooLarge = kept.bytes > resultBytesPerClientMax;
    if (tooLarge) kept = { seq, outcome: undefined, bytes: resultEntryBytes };
    this.add(record, seq, kept);
    if (record.kept.size > resultsPerClientMax) {
      const oldest = record.kept.keys().next().value as number;
      this.raiseFloor(record, oldest + 1);
    }
    const forClient = record.bytes > resultBytesPerClientMax ? this.shrink(record, seq, resultBytesPerClientMax) : 0;
    const forTotal = this.bytes > resultBytesMax ? this.shrinkTotal(clientId, seq) : 0;
    if (record.bytes > resultBytesPerClientMax) assert(false, `dedup: ${clientId} keeps ${record.bytes} bytes of results, over ${resultBytesPerClientMax}`);
    if (this.bytes > resultBytesMax) assert(false, `dedup: ${this.bytes} bytes of results kept, over resultBytesMax ${resultBytesMax}`);
    if (!tooLarge && forClient === 0 && forTotal === 0) return;
    // Told once the table is whole again.
    if (tooLarge) {
      this.tooLarge++;
      this.onTrip({ bound: 'result', clientId, seq, results: 1 });
    }
    if (forClient > 0) {
      this.evictedForClient += forClient;
      this.onTrip({ bound: 'client', clientId, seq, results: forClient });
    }
    if (forTotal > 0) {
      this.evictedForTotal += forTotal;
      this.onTrip({ bound: 'total', clientId, seq, results: forTotal });
    }
  }

  /**
   * `record` made changeable: itself if made in this epoch, else a copy that takes its
   * place (in `clients` and `holders`, where it keeps its position), leaving the
   * original to the captures that share it.
   */
  private own(record: ClientRecord<R>): ClientRecord<R> {
    if (record.epoch === this.epoch) return record;
    const copy = new ClientRecord<R>(record.id, record.floor, record.lastActive, this.epoch, new Map(record.kept), record.bytes);
    this.clients.set(record.id, copy);
    if (record.kept.size > 0) this.holders.set(record.id, copy);
    return copy;
  }

  private add(record: ClientRecord<R>, seq: number, kept: Kept<R>): void {
    record.kept.set(seq, kept);
    // A client that just gained its first result was just touched: last, as in `clients`.
    if (record.kept.size === 1) this.holders.set(record.id, record);
    record.bytes += kept.bytes;
    this.bytes += kept.bytes;
    this.results++;
  }

  private remove(record: ClientRecord<R>, seq: number, kept: Kept<R>): void {
    record.kept.delete(seq);
    if (record.kept.size === 0) this.holders.delete(record.id);
    record.bytes -= kept.bytes;
    this.bytes -= kept.bytes;
    this.results--;
  }

  /** Moves `record` to the most recently active end. */
  private touch(record: ClientRecord<R>, timestamp: number): void {
    record.lastActive = timestamp;
    // Runs of commands from one client (the common case) skip the reordering.
    if (record.id === this.lastClient) return;
    this.clients.delete(record.id);
    this.clients.set(record.id, record);
    if (record.kept.size > 0) {
      this.holders.delete(record.id);
      this.holders.set(record.id, record);
    }
    this.lastClient = record.id;
  }

  /**
   * Brings `record` down to `bytesMax`: its oldest results are dropped first (a marker
   * stays, so a retry is still refused), then, if the markers alone are too many,
   * forgotten from the oldest on (raising its floor). `keep`, the result being
   * recorded, is not touched: it fits alone. Returns how many results it took.
   */
  private shrink(shared: ClientRecord<R>, keep: number | undefined, bytesMax: number): number {
    const record = this.own(shared);
    let taken = 0;
    for (const [seq, kept] of record.kept) {
      if (record.bytes <= bytesMax) return taken;
      if (seq === keep || kept.outcome === undefined) continue;
      const freed = kept.bytes - resultEntryBytes;
      // Replaced, not changed: a capture may share the old one. Same key: same position.
      record.kept.set(seq, { seq, outcome: undefined, bytes: resultEntryBytes });
      record.bytes -= freed;
      this.bytes -= freed;
      taken++;
    }
    while (record.bytes > bytesMax) {
      const oldest = record.kept.keys().next().value as number;
      assert(oldest !== keep, () => `dedup: ${record.id} is at ${record.bytes} bytes with only ${keep} left, over ${bytesMax}`);
      const before = record.kept.size;
      this.raiseFloor(record, oldest + 1);
      taken += before - record.kept.size;
    }
    return taken;
  }

  /**
   * Brings the table down to `resultBytesMax`, taking from the least recently active
   * clients first, each in turn down to nothing (the client being recorded last: it is
   * the most recently active).
   */
  private shrinkTotal(clientId: string | undefined, keep: number | undefined): number {
    const bytesMax = this.limits.resultBytesMax;
    let taken = 0;
    for (const holder of this.holders.values()) {
      if (this.bytes <= bytesMax) break;
      const target = Math.max(0, holder.bytes - (this.bytes - bytesMax));
      taken += this.shrink(holder, holder.id === clientId ? keep : undefined, target);
    }
    return taken;
  }

  private checkBounds(): void {
    assert(this.bytes <= this.limits.resultBytesMax, () => `dedup: ${this.bytes} bytes of results kept, over resultBytesMax ${this.limits.resultBytesMax}`);
    for (const record of this.holders.values()) {
      assert(
        record.bytes <= this.limits.resultBytesPerClientMax,
        () => `dedup: ${record.id} keeps ${record.bytes} bytes of results, over ${this.limits.resultBytesPerClientMax}`,
      );
    }
  }

  /**
   * Results below the floor are dead (a lookup checks the floor first); free them from
   * the oldest on, stopping at the first live one, so the cost stays proportional to
   * what is freed. Out-of-order stragglers are freed later by the size bounds.
   */
  private raiseFloor(record: ClientRecord<R>, floor: number): void {
    record.floor = Math.max(record.floor, floor);
    for (const [seq, kept] of record.kept) {
      if (seq >= record.floor) break;
      this.remove(record, seq, kept);
    }
  }

  private forgetIdle(now: number): void {
    if (this.clients.size <= this.limits.clientsMax && now - this.lastSweep < 1_000) return;
    this.lastSweep = now;
    for (const [id, record] of this.clients) {
      if (this.clients.size <= this.limits.clientsMax && now - record.lastActive < this.limits.clientIdleMs) break;
      this.clients.delete(id);
      this.holders.delete(id);
      this.bytes -= record.bytes;
      this.results -= record.kept.size;
      if (id === this.lastClient) this.lastClient = undefined;
      this.bury(id, record.lastActive);
    }
  }

  private bury(clientId: string, lastActive: number): void {
    const tombstones = (this.tombstones ??= new Tombstones());
    tombstones.set(hashId(clientId), lastActive);
    const max = Math.max(1024, 4 * this.limits.clientsMax);
    while (tombstones.size > max) this.forgottenThrough = Math.max(this.forgottenThrough, tombstones.shift()!);
  }
}

const noTombstones: CapturedTombstones = Object.freeze({ size: 0, [Symbol.iterator]: () => [][Symbol.iterator]() });

/** FNV-1a over the id's UTF-16 code units: the same on every replica. */
function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
