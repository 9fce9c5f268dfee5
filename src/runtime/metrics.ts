import type { NodeId, Replica, Role } from '../core/index.js';
import type { DedupStats } from './dedup-table.js';

/**
 * Upper bounds of the latency histograms' buckets, in milliseconds, ascending; one more
 * bucket, unbounded, holds what is above the last. Fixed, so an observation is a few
 * comparisons and an increment.
 */
export const latencyBucketsMs: readonly number[] = Object.freeze([0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000]);

/** {@link latencyBucketsMs} as a typed array: what {@link LatencyRecorder.observe} searches. */
const bucketBounds = Float64Array.from(latencyBucketsMs);

/** Observations of one latency since the node started, by bucket; see {@link NodeMetrics.latency}. */
export interface LatencyHistogram {
  /** The buckets' upper bounds in milliseconds: {@link latencyBucketsMs}. */
  readonly bucketsMs: readonly number[];
  /**
   * Observations per bucket, not cumulative: `counts[i]` those above `bucketsMs[i - 1]`
   * and at most `bucketsMs[i]`; the last entry (index `bucketsMs.length`) those above
   * the last bound.
   */
  readonly counts: readonly number[];
  /** Observations in all. */
  readonly count: number;
  /** Their sum, in milliseconds. */
  readonly sumMs: number;
}

/** One member as the leader sees it; see {@link NodeMetrics.members}. */
export interface MemberLag {
  readonly id: NodeId;
  /** The commit index it last reported to this leader (0 if it has not in this leadership). */
  readonly commitIndex: number;
  /** This leader's commit index minus `commitIndex`: slots chosen that it has not reported learning. */
  readonly lag: number;
  /** Milliseconds since this leader last heard from it (undefined if it has not in this leadership). */
  readonly silentMs: number | undefined;
}

/** A node's counters and gauges at one moment; see {@link SynodNode.metrics}. */
export interface NodeMetrics {
  /** This node's role now; undefined until started. */
  readonly role: Role | undefined;
  /** The node this one believes leads (itself, when leading), if any. */
  readonly leader: NodeId | undefined;
  /**
   * Milliseconds since this node last heard from a leader (0 while it leads). A member
   * cut off from the others still names its last leader in `leader`; this grows.
   */
  readonly leaderSilentMs: number;
  /**
   * A leader is known and was heard from within `electionTicks.min` ticks (always so on
   * the leader): what the core calls a live leader, and what a member cut off from the
   * others loses first.
   */
  readonly leaderLive: boolean;
  /** The commit index the leader last announced to this node (its own while it leads). */
  readonly leaderCommitIndex: number;
  /** `leaderCommitIndex` minus `appliedIndex`: slots the cluster chose that this node has not applied yet. */
  readonly lag: number;
  /** While this node leads: every other member and how far it lags. Empty otherwise. */
  readonly members: readonly MemberLag[];
  readonly proposals: {
    /** `propose()` calls taken (a call joining a pending duplicate of its request counts too). */
    readonly submitted: number;
    /** Calls refused at once (not started, closed, too large, overloaded, bad options). */
    readonly refused: number;
    /** Taken calls whose promise resolved with a result. */
    readonly succeeded: number;
    /** Taken calls whose promise rejected (timeouts, aborts, apply errors, close). */
    readonly failed: number;
    /** Commands sent on to the leader (retries counted again). */
    readonly forwarded: number;
    /** Distinct requests waiting now. */
    readonly pending: number;
  };
  /**
   * Slots applied, and commands in them (duplicates skipped count as applied);
   * `readOnly`, the commands among them that only read and so took no exactly-once entry.
   */
  readonly applied: { readonly slots: number; readonly commands: number; readonly readOnly: number; readonly duplicates: number; readonly malformed: number };
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** Commit index minus applied index: slots chosen but not yet applied here. */
  readonly applyLag: number;
  /** Times this node became a candidate, and times it became leader. */
  readonly elections: { readonly campaigns: number; readonly won: number };
  readonly leaderChanges: number;
  readonly messages: { readonly in: number; readonly out: number; readonly dropped: number };
  /** `read()` calls resolved and rejected, and read-index requests a leader refused and that were asked again. */
  readonly reads: { readonly served: number; readonly failed: number; readonly retries: number };
  /**
   * Snapshots this node saved on schedule, installed from a peer, sent whole to a peer,
   * and refused from a peer (unreadable); transfers it is sending now.
   */
  readonly snapshots: { readonly saved: number; readonly installed: number; readonly sent: number; readonly refused: number; readonly sending: number };
  /**
   * The exactly-once table now (clients, results kept, their estimated bytes) and how
   * often its byte bounds tripped since this node started; the log replayed at a
   * start counts again.
   */
  readonly exactlyOnce: DedupStats;
  readonly persist: {
    /** Storage writes made. */
    readonly writes: number;
    /** Core outputs those writes carried (group commit: outputs / writes). */
    readonly batches: number;
    /** Write latency in milliseconds over the recent writes. */
    readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  };
  /**
   * Latency histograms since this node started, in milliseconds:
   * - `propose`: a `propose()` call taken to its promise settling (resolved or rejected; refusals at once are not
   *   timed); one settled by a committed batch is timed to the end of that batch's apply;
   * - `commit`: a pending proposal taken to its slot being reported chosen to this node;
   * - `apply`: applying the slots of one committed batch to the state machine;
   * - `persist`: one storage write (with its fsync, for the file storage), group commit included;
   * - `read`: a `read()` call taken to its read point being applied here (or the call failing).
   */
  readonly latency: {
    readonly propose: LatencyHistogram;
    readonly commit: LatencyHistogram;
    readonly apply: LatencyHistogram;
    readonly persist: LatencyHistogram;
    readonly read: LatencyHistogram;
  };
}

const latencySamples = 1024;

/**
 * A histogram over {@link latencyBucketsMs}: no allocation per observation.
 * @internal
 */
export class LatencyRecorder {
  /** Made at the first observation: of many groups, most never see one of each kind. */
  private counts: Float64Array | undefined;
  private count = 0;
  private sumMs = 0;

  observe(ms: number): void {
    // A clock that never goes back still hands a negative difference to a caller that mixed two readings up.
    // biome-ignore lint/complexity/useMathMinMax: NaN counts as 0 too (Math.max would keep it and poison the sum)
    const v = ms > 0 ? ms : 0;
    // The first bucket whose bound is at least v: a binary search over a typed array (four comparisons, no allocation).
    let lo = 0;
    let hi = bucketBounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (v > bucketBounds[mid]!) lo = mid + 1;
      else hi = mid;
    }
    (this.counts ??= new Float64Array(latencyBucketsMs.length + 1))[lo]!++;
    this.count++;
    this.sumMs += v;
  }

  snapshot(): LatencyHistogram {
    const counts = this.counts === undefined ? new Array<number>(latencyBucketsMs.length + 1).fill(0) : Array.from(this.counts);
    return { bucketsMs: latencyBucketsMs, counts, count: this.count, sumMs: this.sumMs };
  }
}

/**
 * Times in milliseconds, kept to be observed together later: a typed array that grows
 * by doubling and is reused, so pushing allocates nothing once it is large enough.
 * @internal
 */
export class TimeList {
  /** None until the first push (an empty typed array costs 184 bytes): of many groups, most never keep a time. */
  private times: Float64Array | undefined;
  private length = 0;

  push(ms: number): void {
    let times = this.times;
    if (times === undefined || this.length === times.length) {
      const grown = new Float64Array(Math.max(64, (times?.length ?? 0) * 2));
      if (times !== undefined) grown.set(times);
      this.times = times = grown;
    }
    times[this.length++] = ms;
  }

  /** Hands every time kept to `each`, in order, and forgets them. */
  drain(each: (ms: number) => void): void {
    const times = this.times;
    if (times === undefined) return; // nothing pushed yet
    for (let i = 0; i < this.length; i++) each(times[i]!);
    this.length = 0;
  }
}

/** The gauges of {@link NodeMetrics} that the core knows. @internal */
export interface CoreGauges {
  readonly role: Role | undefined;
  readonly leader: NodeId | undefined;
  readonly leaderSilentMs: number;
  readonly leaderLive: boolean;
  readonly leaderCommitIndex: number;
  readonly members: readonly MemberLag[];
  readonly commitIndex: number;
}

/**
 * What the core says of its leader and, on a leader, of its members, in milliseconds
 * (`tickMs` a tick); all zero or empty before the node started (`core` undefined). A
 * leader is live if heard from within `electionTicksMin` ticks.
 * @internal
 */
export function coreGauges(
  core: Pick<Replica, 'status' | 'leaderCommitIndex' | 'leaderSilentTicks' | 'memberProgress'> | undefined,
  tickMs: number,
  electionTicksMin: number,
): CoreGauges {
  const status = core?.status;
  const leaderCommitIndex = core?.leaderCommitIndex ?? 0;
  const members = (core?.memberProgress() ?? []).map((m) => ({
    id: m.id,
    commitIndex: m.commitIndex ?? 0,
    lag: Math.max(0, leaderCommitIndex - (m.commitIndex ?? 0)),
    silentMs: m.silentTicks === undefined ? undefined : m.silentTicks * tickMs,
  }));
  const leaderSilentTicks = core?.leaderSilentTicks ?? 0;
  return {
    role: status?.role,
    leader: status?.leader,
    leaderSilentMs: leaderSilentTicks * tickMs,
    leaderLive: status?.leader !== undefined && leaderSilentTicks < electionTicksMin,
    leaderCommitIndex,
    members,
    commitIndex: status?.commitIndex ?? 0,
  };
}

/**
 * The mutable counters behind {@link NodeMetrics}.
 * @internal
 */
export class MetricsRecorder {
  submitted = 0;
  refused = 0;
  succeeded = 0;
  failed = 0;
  forwarded = 0;
  slots = 0;
  commands = 0;
  readOnly = 0;
  duplicates = 0;
  malformed = 0;
  campaigns = 0;
  won = 0;
  leaderChanges = 0;
  messagesIn = 0;
  messagesOut = 0;
  messagesDropped = 0;
  readsServed = 0;
  readsFailed = 0;
  readRetries = 0;
  writes = 0;
  batches = 0;
  // The histograms are made at their first observation: most groups of a host only ever persist.
  private propose: LatencyRecorder | undefined;
  private commit: LatencyRecorder | undefined;
  private apply: LatencyRecorder | undefined;
  private persist: LatencyRecorder | undefined;
  private read: LatencyRecorder | undefined;
  /**
   * The last {@link latencySamples} persist latencies. It starts small at the first
   * write and doubles as writes come, up to that many: a node that wrote a few times
   * (a group of many that elected and went idle) keeps 128 bytes, not 8 KiB.
   */
  private latencies: Float64Array | undefined;
  private latencyCount = 0;

  get proposeLatency(): LatencyRecorder {
    this.propose ??= new LatencyRecorder();
    return this.propose;
  }

  get commitLatency(): LatencyRecorder {
    this.commit ??= new LatencyRecorder();
    return this.commit;
  }

  get applyLatency(): LatencyRecorder {
    this.apply ??= new LatencyRecorder();
    return this.apply;
  }

  get persistLatencyHistogram(): LatencyRecorder {
    this.persist ??= new LatencyRecorder();
    return this.persist;
  }

  get readLatency(): LatencyRecorder {
    this.read ??= new LatencyRecorder();
    return this.read;
  }

  persistLatency(ms: number): void {
    let samples = this.latencies;
    if (samples === undefined) samples = this.latencies = new Float64Array(16);
    else if (this.latencyCount === samples.length && samples.length < latencySamples) {
      const grown = new Float64Array(samples.length * 2);
      grown.set(samples);
      samples = this.latencies = grown;
    }
    // Full at latencySamples: a ring of the latest.
    samples[this.latencyCount++ % samples.length] = ms;
    this.persistLatencyHistogram.observe(ms);
  }

  snapshot(
    gauges: CoreGauges & {
      pending: number;
      appliedIndex: number;
      snapshots: { saved: number; installed: number; sent: number; refused: number; sending: number };
      exactlyOnce: DedupStats;
    },
  ): NodeMetrics {
    const n = Math.min(this.latencyCount, latencySamples);
    const sorted = (this.latencies ?? new Float64Array(0)).slice(0, n).sort();
    const at = (q: number): number => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.floor(q * n))]!);
    return {
      role: gauges.role,
      leader: gauges.leader,
      leaderSilentMs: gauges.leaderSilentMs,
      leaderLive: gauges.leaderLive,
      leaderCommitIndex: gauges.leaderCommitIndex,
      lag: Math.max(0, gauges.leaderCommitIndex - gauges.appliedIndex),
      members: gauges.members,
      proposals: {
        submitted: this.submitted,
        refused: this.refused,
        succeeded: this.succeeded,
        failed: this.failed,
        forwarded: this.forwarded,
        pending: gauges.pending,
      },
      applied: { slots: this.slots, commands: this.commands, readOnly: this.readOnly, duplicates: this.duplicates, malformed: this.malformed },
      commitIndex: gauges.commitIndex,
      appliedIndex: gauges.appliedIndex,
      applyLag: gauges.commitIndex - gauges.appliedIndex,
      elections: { campaigns: this.campaigns, won: this.won },
      leaderChanges: this.leaderChanges,
      messages: { in: this.messagesIn, out: this.messagesOut, dropped: this.messagesDropped },
      reads: { served: this.readsServed, failed: this.readsFailed, retries: this.readRetries },
      snapshots: { ...gauges.snapshots },
      exactlyOnce: gauges.exactlyOnce,
      persist: { writes: this.writes, batches: this.batches, latencyMs: { p50: at(0.5), p99: at(0.99), max: n === 0 ? 0 : sorted[n - 1]! } },
      latency: {
        propose: histogram(this.propose),
        commit: histogram(this.commit),
        apply: histogram(this.apply),
        persist: histogram(this.persist),
        read: histogram(this.read),
      },
    };
  }
}

/** What `recorder` observed; all zero if it was never made. */
function histogram(recorder: LatencyRecorder | undefined): LatencyHistogram {
  return (recorder ?? new LatencyRecorder()).snapshot();
}
