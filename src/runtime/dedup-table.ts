import { assert } from '../core/assert.js';

/** What applying a request produced: the state machine's result, or what it threw. */
export type Outcome<R> = { readonly ok: true; readonly value: R } | { readonly ok: false; readonly error: unknown };

/** What the table knows of a request about to be applied. */
export type Lookup<R> =
  | { readonly kind: 'new' }
  /** Applied before: here is its outcome; do not apply it again. */
  | { readonly kind: 'duplicate'; readonly outcome: Outcome<R> }
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
}

const newRequest: Lookup<never> = Object.freeze({ kind: 'new' });
const expired: Lookup<never> = Object.freeze({ kind: 'expired' });

export const defaultDedupLimits: DedupLimits = Object.freeze({
  resultsPerClientMax: 256,
  clientsMax: 50_000,
  clientIdleMs: 3_600_000,
  clockSkewMaxMs: 60_000,
});

interface ClientRecord<R> {
  /** Requests below this seq are finished: applied, or no longer awaited. */
  floor: number;
  /** Outcomes of applied requests at or above `floor`, in insertion order. */
  readonly results: Map<number, Outcome<R>>;
  lastActive: number;
}

/**
 * A {@link DedupTable}'s whole state as plain data, for a snapshot: clients and
 * tombstones in the table's own order, so a table rebuilt from it behaves the same.
 * @internal
 */
export interface DedupState<R> {
  readonly clients: readonly {
    readonly id: string;
    readonly floor: number;
    readonly lastActive: number;
    readonly results: readonly (readonly [seq: number, outcome: Outcome<R>])[];
  }[];
  readonly tombstones: readonly (readonly [hash: number, lastActive: number])[];
  readonly forgottenThrough: number;
  readonly lastSweep: number;
}

/**
 * Exactly-once for retried requests: per client, the outcome of every recent request,
 * so a request applied twice (retried after a timeout or a leader change) takes effect
 * once and the retry gets the first outcome. It is part of the replicated state: it
 * changes only as the log is applied, and only from the log's contents (sequence
 * numbers and the leaders' timestamps), so every replica holds the same table.
 *
 * Memory is bounded three ways: a client's `ackedBelow` lets it drop results it no
 * longer waits for; at most `resultsPerClientMax` results a client (forgetting the
 * oldest raises the client's floor, so a late retry of it is refused, never re-applied);
 * and clients idle for `clientIdleMs` or beyond `clientsMax` are forgotten. A forgotten
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
  private readonly clients = new Map<string, ClientRecord<R>>();
  /** Forgotten clients: id hash → when last active, oldest first. */
  private readonly tombstones = new Map<number, number>();
  /** The latest `lastActive` of any tombstone dropped so far. */
  private forgottenThrough = -Infinity;
  /** The client of the last check, already last in `clients` (no reordering needed). */
  private lastClient: string | undefined;
  /** Log time of the last sweep for idle clients: one a second of log time is enough. */
  private lastSweep = -Infinity;

  constructor(private readonly limits: DedupLimits) {}

  get size(): number {
    return this.clients.size;
  }

  /** The whole table as plain data (for a snapshot); outcomes are shared, not copied. */
  exportState(): DedupState<R> {
    const clients = [...this.clients].map(([id, r]) => ({ id, floor: r.floor, lastActive: r.lastActive, results: [...r.results] }));
    return { clients, tombstones: [...this.tombstones], forgottenThrough: this.forgottenThrough, lastSweep: this.lastSweep };
  }

  /** Replaces the whole table with `state` (a snapshot's). */
  importState(state: DedupState<R>): void {
    this.clients.clear();
    this.tombstones.clear();
    for (const c of state.clients) this.clients.set(c.id, { floor: c.floor, results: new Map(c.results), lastActive: c.lastActive });
    for (const [hash, at] of state.tombstones) this.tombstones.set(hash, at);
    this.forgottenThrough = state.forgottenThrough;
    this.lastSweep = state.lastSweep;
    this.lastClient = undefined;
  }

  /**
   * Looks up request `seq` of `clientId`, made at `createdAt` on its origin's clock and
   * applied at log time `timestamp`, and records the client's progress.
   */
  check(clientId: string, seq: number, ackedBelow: number, createdAt: number, timestamp: number): Lookup<R> {
    let record = this.clients.get(clientId);
    if (record !== undefined && clientId === this.lastClient) {
      // Runs of commands from one client (the common case) skip the reordering.
      record.lastActive = timestamp;
    } else if (record === undefined) {
      const tombstone = this.tombstones.get(hashId(clientId));
      const through = Math.max(this.forgottenThrough, tombstone ?? -Infinity);
      if (createdAt <= through + this.limits.clockSkewMaxMs) return expired;
      record = { floor: 0, results: new Map(), lastActive: timestamp };
      this.clients.set(clientId, record);
    } else {
      this.clients.delete(clientId);
      this.clients.set(clientId, record);
      record.lastActive = timestamp;
    }
    this.lastClient = clientId;
    if (ackedBelow > record.floor) this.raiseFloor(record, ackedBelow);
    this.forgetIdle(timestamp);
    if (seq < record.floor) return expired;
    const outcome = record.results.get(seq);
    return outcome === undefined ? newRequest : { kind: 'duplicate', outcome };
  }

  /**
   * What this replica knows of request `seq` of `clientId`, changing nothing: its
   * outcome if applied and kept, `'expired'` if below its client's floor, or undefined
   * (not applied here yet, as far as the table knows). A leader asks before queueing a
   * resend; a node asks before proposing a retry.
   */
  known(clientId: string, seq: number): Outcome<R> | 'expired' | undefined {
    const record = this.clients.get(clientId);
    if (record === undefined) return undefined;
    if (seq < record.floor) return 'expired';
    return record.results.get(seq);
  }

  /** Records the outcome of a request {@link check} called new. */
  record(clientId: string, seq: number, outcome: Outcome<R>): void {
    const record = this.clients.get(clientId);
    // Runs for every command applied: messages are built only on failure.
    if (record === undefined) assert(false, `dedup: recording ${clientId}/${seq} without a check`);
    if (seq < record.floor || record.results.has(seq)) assert(false, `dedup: ${clientId}/${seq} recorded twice`);
    record.results.set(seq, outcome);
    if (record.results.size > this.limits.resultsPerClientMax) {
      const oldest = record.results.keys().next().value as number;
      this.raiseFloor(record, oldest + 1);
    }
  }

  /**
   * Results below the floor are dead (a lookup checks the floor first); free them from
   * the oldest on, stopping at the first live one, so the cost stays proportional to
   * what is freed. Out-of-order stragglers are freed later by the size bound.
   */
  private raiseFloor(record: ClientRecord<R>, floor: number): void {
    record.floor = Math.max(record.floor, floor);
    for (const seq of record.results.keys()) {
      if (seq >= record.floor) break;
      record.results.delete(seq);
    }
  }

  private forgetIdle(now: number): void {
    if (this.clients.size <= this.limits.clientsMax && now - this.lastSweep < 1_000) return;
    this.lastSweep = now;
    for (const [id, record] of this.clients) {
      if (this.clients.size <= this.limits.clientsMax && now - record.lastActive < this.limits.clientIdleMs) break;
      this.clients.delete(id);
      if (id === this.lastClient) this.lastClient = undefined;
      this.bury(id, record.lastActive);
    }
  }

  private bury(clientId: string, lastActive: number): void {
    const h = hashId(clientId);
    this.tombstones.delete(h);
    this.tombstones.set(h, Math.max(lastActive, this.tombstones.get(h) ?? -Infinity));
    const max = Math.max(1024, 4 * this.limits.clientsMax);
    for (const [oldest, at] of this.tombstones) {
      if (this.tombstones.size <= max) break;
      this.tombstones.delete(oldest);
      this.forgottenThrough = Math.max(this.forgottenThrough, at);
    }
  }
}

/** FNV-1a over the id's UTF-16 code units: the same on every replica. */
function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
