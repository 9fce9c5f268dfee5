/**
 * A node's drive loop: it ticks the core on a timer, and takes the core's output in the
 * order {@link Output} prescribes: committed slots applied (held back while a peer's
 * snapshot restores), dropped proposals, settled read indexes and snapshot requests
 * handed to their parts, then the output's state and messages to the persist pipeline
 * (persist before you speak), whose writes it reports back to the core.
 */
import { type CommittedEntry, type Replica, isEmptyOutput } from '../core/index.js';
import { assert } from '../core/assert.js';
import type { Applier } from './applier.js';
import type { TimerHandle } from './clock.js';
import type { MetricsRecorder } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import type { PersistPipeline } from './persist-pipeline.js';
import type { Proposals } from './proposals.js';
import type { Reads } from './reads.js';
import type { RuntimeState } from './snapshot-format.js';
import type { Snapshots } from './snapshots.js';

/** The parts of a node's options the drive loop reads. @internal */
export type DriveLoopOptions = Pick<ResolvedOptions<unknown, unknown>, 'clock' | 'tickMs' | 'retryTicks'>;

/** What the drive loop needs from its node: the core, and the parts it hands the core's work to. @internal */
export interface DriveLoopHost<Command, Result> {
  /** Whether the node runs: nothing is driven before its start or after its close. */
  running(): boolean;
  /** The core (there once the node started). */
  core(): Pick<Replica, 'takeOutput' | 'tick' | 'persisted' | 'applied' | 'installSnapshot' | 'quiesced'>;
  /** Whether nothing here waits on a tick (no proposal, read or snapshot transfer under way): with a quiesced core, ticks may stop. */
  idle(): boolean;
  readonly applier: Pick<Applier<Command, Result>, 'apply' | 'appliedIndex' | 'restore' | 'installed'>;
  readonly proposals: Pick<Proposals<Command, Result>, 'dropped' | 'retryDue' | 'flushForwards' | 'applyStarted' | 'applyEnded' | 'installed'>;
  readonly reads: Pick<Reads, 'onReadIndex' | 'applied' | 'retryDue'>;
  readonly snapshots: Pick<Snapshots<Result>, 'sendTo' | 'applied' | 'tick'>;
  readonly pipeline: Pick<PersistPipeline, 'push'>;
  /** The core has no work left: its status may have changed. */
  drained(): void;
  /** The state machine holds every slot up to `appliedIndex` (applied, or from an installed snapshot). */
  applied(appliedIndex: number): void;
  /** An exception out of the core or the loop is a bug: the node stops. */
  fail(error: unknown): void;
}

/**
 * Runs the core: one drain per microtask turn at most, however many events asked for
 * one; a tick every `tickMs` while the node runs, except while it rests: the core is
 * quiesced and nothing waits on a tick. Then no timer runs at all (a quiesced group
 * costs nothing), until a drain finds work or {@link awake} is called.
 * @internal
 */
export class DriveLoop<Command, Result> {
  private tickCount = 0;
  private tickTimer: TimerHandle | undefined;
  /** Ticks stopped: the core is quiesced and nothing waits on a tick. */
  private resting = false;
  private drainScheduled = false;
  private batchDrainScheduled = false;
  /**
   * While the state machine restores a peer's snapshot (a `restore()` that returned a
   * promise): the slots the core hands out meanwhile, applied after it (those the
   * snapshot covers are dropped). Undefined when no restore is under way.
   */
  private heldCommitted: CommittedEntry[] | undefined;

  constructor(
    private readonly options: DriveLoopOptions,
    private readonly recorder: MetricsRecorder,
    private readonly host: DriveLoopHost<Command, Result>,
  ) {}

  /** Ticks since the node started: retries are counted in them. */
  get ticks(): number {
    return this.tickCount;
  }

  /** The node runs: ticks start, and a first drain takes what the core holds from its start. */
  start(): void {
    assert(this.tickTimer === undefined, 'the drive loop started twice');
    this.tickTimer = this.options.clock.setTimer(this.onTick, this.options.tickMs);
    this.drainSoon();
  }

  /** The node closes: no more ticks (drains stop with `running()`). */
  stop(): void {
    if (this.tickTimer !== undefined) this.options.clock.clearTimer(this.tickTimer);
    this.tickTimer = undefined;
    this.resting = false;
  }

  /** Whether ticks are stopped (see the class comment). */
  get isResting(): boolean {
    return this.resting;
  }

  /** Ticks again if they were stopped: something may wait on them now (a proposal, a read). */
  awake(): void {
    if (!this.resting || !this.host.running()) return;
    this.resting = false;
    this.tickTimer = this.options.clock.setTimer(this.onTick, this.options.tickMs);
  }

  /** Runs a drain soon (this turn, in a microtask): one for every request made before it runs. */
  drainSoon(): void {
    if (this.drainScheduled || !this.host.running()) return;
    this.drainScheduled = true;
    queueMicrotask(this.drainNow);
  }

  /**
   * A drain for new proposals, after the I/O callbacks of this event-loop turn: the
   * requests that arrive together (many client connections readable at once) are cut
   * into one slot, with one accept and one write each, not one slot apiece.
   */
  drainAfterIo(): void {
    if (this.batchDrainScheduled || !this.host.running()) return;
    this.batchDrainScheduled = true;
    const run = () => {
      this.batchDrainScheduled = false;
      this.drainSoon();
    };
    const clock = this.options.clock;
    if (clock.defer !== undefined) clock.defer(run);
    else clock.setTimer(run, 0);
  }

  /** Runs `action`; an exception out of it is a bug: the node fails. */
  guard(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.host.fail(error);
    }
  }

  /** The persist pipeline made every output up to `seq` durable, `outputs` of them in one write. */
  persisted(seq: number, outputs: number, elapsedMs: number): void {
    this.recorder.writes++;
    this.recorder.batches += outputs;
    this.recorder.persistLatency(elapsedMs);
    if (!this.host.running()) return;
    this.guard(() => this.host.core().persisted(seq));
    this.drainSoon();
  }

  /**
   * A snapshot from a peer, durable already, replaces everything applied: continue after
   * `slot`. A restore that takes its time (returns a promise) leaves the node running:
   * messages are answered and slots chosen, but nothing is applied and no read is
   * served until it ends (the state machine holds the old state, at the old applied
   * slot, until then). Resolves once done; a failure fails the node (and resolves too).
   */
  install(slot: number, state: RuntimeState<Result>, machine: Uint8Array): Promise<void> {
    return this.restore(slot, state, machine).catch((error: unknown) => {
      this.host.fail(error);
    });
  }

  private readonly onTick = (): void => {
    if (!this.host.running()) return;
    this.tickTimer = this.options.clock.setTimer(this.onTick, this.options.tickMs);
    this.guard(() => {
      this.tickCount++;
      this.host.core().tick();
      this.host.snapshots.tick();
      const due = this.tickCount - this.options.retryTicks;
      this.host.proposals.retryDue(due);
      this.host.reads.retryDue(due);
      this.drainSoon();
      if (this.mayRest() && this.tickTimer !== undefined) {
        this.options.clock.clearTimer(this.tickTimer);
        this.tickTimer = undefined;
        this.resting = true;
      }
    });
  };

  private mayRest(): boolean {
    return this.host.core().quiesced && this.heldCommitted === undefined && this.host.idle();
  }

  private readonly drainNow = (): void => {
    this.drainScheduled = false;
    this.guard(() => this.drain());
  };

  /** Does the core's work in the order {@link Output} prescribes. */
  private drain(): void {
    if (!this.host.running()) return;
    const core = this.host.core();
    const { proposals, reads, snapshots, pipeline } = this.host;
    for (;;) {
      const out = core.takeOutput();
      if (isEmptyOutput(out)) break;
      if (out.committed.length > 0) {
        if (this.heldCommitted !== undefined) this.heldCommitted.push(...out.committed);
        else this.apply(core, out.committed);
      }
      if (out.dropped.length > 0) proposals.dropped(out.dropped);
      for (const r of out.reads) reads.onReadIndex(r);
      for (const to of out.snapshotsTo) snapshots.sendTo(to);
      pipeline.push(out.persistSeq, out.persist, out.messages);
      if (!this.host.running()) return;
    }
    proposals.flushForwards();
    if (this.resting && !this.mayRest()) this.awake();
    this.host.drained();
  }

  private apply(core: Pick<Replica, 'applied'>, committed: readonly CommittedEntry[]): void {
    const { applier, proposals } = this.host;
    const clock = this.options.clock;
    const started = clock.now();
    proposals.applyStarted(started);
    const bytes = applier.apply(committed);
    const ended = clock.now();
    proposals.applyEnded(ended);
    this.recorder.applyLatency.observe(ended - started);
    const appliedIndex = applier.appliedIndex;
    core.applied(appliedIndex);
    this.host.snapshots.applied(committed.length, bytes);
    this.host.applied(appliedIndex);
    this.host.reads.applied(appliedIndex);
  }

  /** Restores the state machine while the core goes on, holding what it hands out meanwhile; then continues after `slot`. */
  private async restore(slot: number, state: RuntimeState<Result>, machine: Uint8Array): Promise<void> {
    assert(this.heldCommitted === undefined, `a snapshot of slot ${slot} installed while another restores`);
    this.heldCommitted = [];
    let held: CommittedEntry[];
    try {
      await this.host.applier.restore(state, machine);
    } finally {
      held = this.heldCommitted ?? [];
      this.heldCommitted = undefined;
    }
    if (!this.host.running()) return;
    this.finishInstall(
      slot,
      state,
      held.filter((e) => e.slot > slot),
    );
  }

  private finishInstall(slot: number, state: RuntimeState<Result>, later: readonly CommittedEntry[]): void {
    const core = this.host.core();
    this.host.applier.installed(slot);
    core.installSnapshot(slot, state.configuration);
    this.host.proposals.installed();
    this.host.applied(slot);
    this.host.reads.applied(slot);
    if (later.length > 0) this.apply(core, later);
    this.drainSoon();
  }
}
