/**
 * A node's applier: the committed log into the state machine, each request at most
 * once (the exactly-once table), in slot order, with the log time the leader stamped.
 */
import { type CommittedEntry, InvariantError } from '../core/index.js';
import { assert } from '../core/assert.js';
import { type DedupState, type DedupStats, type DedupTrip, DedupTable, type Outcome } from './dedup-table.js';
import { decodeEnvelope } from './envelope.js';
import { ApplyError, ResultDroppedError, ResultExpiredError, SnapshotError } from './errors.js';
import { nextTurn } from './clock.js';
import { LogClock } from './log-clock.js';
import type { MetricsRecorder } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import type { ApplyMeta } from './state-machine.js';

/** The parts of a node's options the applier reads. @internal */
export type ApplierOptions<Command, Result> = Pick<ResolvedOptions<Command, Result>, 'id' | 'stateMachine' | 'codec' | 'dedup' | 'clock' | 'logger'>;

/** What the applier needs from its node. @internal */
export interface ApplierHost<Result> {
  /**
   * Request `seq` of `clientId` was applied (or refused as a retry) with `outcome`:
   * the proposal waiting for it here, if any, settles with it.
   */
  settle(clientId: string, seq: number, outcome: Outcome<Result>): void;
  /** A problem that does not stop the node (logged already): the node reports it. */
  problem(error: Error): void;
}

/** The runtime's share of the replicated state, beside the state machine's. @internal */
export interface AppliedState<Result> {
  readonly lastTimestamp: number;
  readonly dedup: DedupState<Result>;
}

/** At most one log line this often about each byte bound of the exactly-once table tripping (the metrics count every trip). */
const dedupTripLogMs = 10_000;

/**
 * Applies what the core hands out as committed, slot by slot: decodes each command's
 * envelope, asks the exactly-once table whether the request is new, runs the state
 * machine (or gives back the first outcome of a retry), and tells the host each
 * request's outcome. Deterministic in the log: every replica ends in the same state
 * with the same outcomes, whatever this node proposed.
 * @internal
 */
export class Applier<Command, Result> {
  private readonly dedup: DedupTable<Result>;
  /** The last slot applied. */
  private applied = 0;
  /** The latest log time applied: the state machine never sees time go back. */
  private lastTimestamp = 0;
  /** What this node stamps commands with as leader: its wall clock, held to elapsed time. */
  private readonly logClock = new LogClock();
  /** Slots chosen before this start, replayed from the disk: they tell the log clock nothing about now. */
  private replayedThrough = 0;
  /**
   * Per byte bound of the exactly-once table: when its last line was logged, and its
   * trips since. Made at the first trip: most nodes never see one.
   */
  private dedupTripLog: Record<DedupTrip['bound'], { at: number; trips: number }> | undefined;

  constructor(
    private readonly options: ApplierOptions<Command, Result>,
    private readonly recorder: MetricsRecorder,
    private readonly host: ApplierHost<Result>,
  ) {
    this.dedup = new DedupTable(options.dedup, (trip) => this.onDedupTrip(trip));
  }

  /** The last slot applied (the state machine's state is the log's up to it). */
  get appliedIndex(): number {
    return this.applied;
  }

  /** The exactly-once table's size and its trips, for the metrics. */
  get dedupStats(): DedupStats {
    return this.dedup.stats;
  }

  /** The runtime's replicated state now, for a snapshot: later applies leave it as it is. */
  get state(): AppliedState<Result> {
    return { lastTimestamp: this.lastTimestamp, dedup: this.dedup.captured() };
  }

  /** At start: the state is the snapshot's at `snapshotSlot`, and the log replays to `replayedThrough`. */
  start(snapshotSlot: number, replayedThrough: number): void {
    assert(this.applied === 0, `the applier started at slot ${this.applied}`);
    this.applied = snapshotSlot;
    this.replayedThrough = replayedThrough;
  }

  /**
   * Applies `committed` in order; returns the bytes of the commands it held (for the
   * snapshot schedule).
   */
  apply(committed: readonly CommittedEntry[]): number {
    let bytes = 0;
    for (const { slot, value } of committed) {
      assert(slot > this.applied, () => `slot ${slot} handed out to apply after slot ${this.applied}`);
      if (value.kind === 'batch') {
        for (const command of value.commands) {
          this.applyCommand(slot, command);
          bytes += command.byteLength;
        }
      }
      this.applied = slot;
      this.recorder.slots++;
    }
    return bytes;
  }

  /** The outcome request `seq` of `clientId` had when applied here, or why it is unknown, or undefined if not applied. */
  known(clientId: string, seq: number): Outcome<Result> | 'dropped' | 'expired' | undefined {
    return this.dedup.known(clientId, seq);
  }

  /**
   * Whether the state machine says `command` only reads. One that throws is taken to
   * write: keeping an entry is the safe side. Pure in the command, so every replica
   * answers alike.
   */
  isReadOnly(command: Command): boolean {
    const readOnly = this.options.stateMachine.readOnly;
    if (readOnly === undefined) return false;
    try {
      return readOnly.call(this.options.stateMachine, command) === true;
    } catch {
      return false;
    }
  }

  /** Whether an envelope's `payload` holds a command that only reads (one that does not decode writes). */
  isReadOnlyPayload(payload: Uint8Array): boolean {
    const decoded = this.decodeCommand(0, payload);
    return decoded.ok && this.isReadOnly(decoded.command);
  }

  /** The timestamp this node, as leader, gives a command now (see {@link LogClock}). */
  stamp(): number {
    const { clock } = this.options;
    return this.logClock.stamp(clock.wallTime(), clock.now(), this.lastTimestamp);
  }

  /** Replaces the state machine's and the runtime's replicated state with a snapshot's. */
  async restore(state: AppliedState<Result>, machine: Uint8Array): Promise<void> {
    try {
      await this.options.stateMachine.restore!(machine);
    } catch (error) {
      throw new SnapshotError("the state machine's restore() threw; its state may be half replaced", { cause: error });
    }
    // In steps: a table of many clients takes tens of milliseconds to build.
    await this.dedup.importStateInSteps(state.dedup, () => nextTurn(this.options.clock));
    this.lastTimestamp = state.lastTimestamp;
  }

  /** A snapshot of the slots up to `slot` was installed (after {@link restore}): apply on after it. */
  installed(slot: number): void {
    assert(slot >= 0, `installed a snapshot at slot ${slot}`);
    this.applied = slot;
  }

  private applyCommand(slot: number, bytes: Uint8Array): void {
    let e;
    try {
      e = decodeEnvelope(bytes);
    } catch (error) {
      // Every replica skips the same bytes: the state stays the same everywhere.
      this.recorder.malformed++;
      this.options.logger.error({ node: this.options.id, slot, error }, 'skipped a malformed command in the log');
      this.host.problem(new InvariantError(`slot ${slot} holds a malformed command envelope: ${String(error)}`));
      return;
    }
    const timestamp = Math.max(this.lastTimestamp, e.timestamp);
    this.lastTimestamp = timestamp;
    if (slot > this.replayedThrough) this.logClock.observe(timestamp, this.options.clock.now());
    const meta: ApplyMeta = { slot, timestamp, clientId: e.clientId, seq: e.seq, origin: e.origin };
    const decoded = this.decodeCommand(slot, e.payload);
    let outcome: Outcome<Result>;
    if (decoded.ok && this.isReadOnly(decoded.command)) {
      // It changes nothing, so running it again is harmless: no entry, only the client's progress.
      this.dedup.progress(e.clientId, e.ackedBelow, timestamp);
      outcome = this.execute(slot, decoded.command, meta);
      this.recorder.commands++;
      this.recorder.readOnly++;
    } else {
      const lookup = this.dedup.check(e.clientId, e.seq, e.ackedBelow, e.createdAt, timestamp);
      if (lookup.kind === 'new') {
        outcome = decoded.ok ? this.execute(slot, decoded.command, meta) : decoded;
        this.dedup.record(e.clientId, e.seq, outcome);
        this.recorder.commands++;
      } else {
        this.recorder.duplicates++;
        outcome = lookup.kind === 'duplicate' ? lookup.outcome : refusal(lookup.kind, e.clientId, e.seq);
      }
    }
    this.host.settle(e.clientId, e.seq, outcome);
  }

  /** The command in `payload`; a codec that cannot read it makes the command's outcome an {@link ApplyError}, on every replica alike. */
  private decodeCommand(
    slot: number,
    payload: Uint8Array,
  ): { readonly ok: true; readonly command: Command } | { readonly ok: false; readonly error: ApplyError } {
    try {
      return { ok: true, command: this.options.codec.decode(payload) };
    } catch (error) {
      return { ok: false, error: new ApplyError(slot, error) };
    }
  }

  private execute(slot: number, command: Command, meta: ApplyMeta): Outcome<Result> {
    try {
      return { ok: true, value: this.options.stateMachine.apply(command, meta) };
    } catch (error) {
      return { ok: false, error: new ApplyError(slot, error) };
    }
  }

  /**
   * A byte bound of the exactly-once table tripped, inside apply: a warning line, at
   * most one a bound every {@link dedupTripLogMs} (an attack trips one on every
   * request). Only the log is touched here, never replicated state.
   */
  private onDedupTrip(trip: DedupTrip): void {
    this.dedupTripLog ??= { result: { at: -Infinity, trips: 0 }, client: { at: -Infinity, trips: 0 }, total: { at: -Infinity, trips: 0 } };
    const log = this.dedupTripLog[trip.bound];
    log.trips++;
    const now = this.options.clock.now();
    if (now - log.at < dedupTripLogMs) return;
    const { resultBytesPerClientMax, resultBytesMax } = this.options.dedup;
    const what =
      trip.bound === 'result'
        ? `the result of request ${trip.seq} of client ${trip.clientId} is larger than dedup.resultBytesPerClientMax (${resultBytesPerClientMax} bytes): kept as applied, result dropped`
        : trip.bound === 'client'
          ? `client ${trip.clientId} went over dedup.resultBytesPerClientMax (${resultBytesPerClientMax} bytes): ${trip.results} of its older results dropped`
          : `the exactly-once table went over dedup.resultBytesMax (${resultBytesMax} bytes): ${trip.results} results of the least recently active clients dropped`;
    const trips = log.trips;
    log.at = now;
    log.trips = 0;
    try {
      this.options.logger.warn(
        { node: this.options.id, bound: trip.bound, clientId: trip.clientId, seq: trip.seq, trips },
        `${what} (${trips} such trips since the last line)`,
      );
    } catch {
      // A logger that throws must not break an apply half done.
    }
  }
}

/** The outcome a request gets that the exactly-once table refuses to apply again. @internal */
export function refusal(kind: 'expired' | 'dropped', clientId: string, seq: number): Outcome<never> {
  return { ok: false, error: kind === 'dropped' ? new ResultDroppedError(clientId, seq) : new ResultExpiredError(clientId, seq) };
}
