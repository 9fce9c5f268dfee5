import type { DedupStats } from './dedup-table.js';

/** A node's counters and gauges at one moment; see {@link SynodNode.metrics}. */
export interface NodeMetrics {
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
}

const latencySamples = 1024;

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
  private readonly latencies = new Float64Array(latencySamples);
  private latencyCount = 0;

  persistLatency(ms: number): void {
    this.latencies[this.latencyCount++ % latencySamples] = ms;
  }

  snapshot(gauges: {
    pending: number;
    commitIndex: number;
    appliedIndex: number;
    snapshots: { saved: number; installed: number; sent: number; refused: number; sending: number };
    exactlyOnce: DedupStats;
  }): NodeMetrics {
    const n = Math.min(this.latencyCount, latencySamples);
    const sorted = this.latencies.slice(0, n).sort();
    const at = (q: number): number => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.floor(q * n))]!);
    return {
      proposals: { submitted: this.submitted, refused: this.refused, succeeded: this.succeeded, failed: this.failed, forwarded: this.forwarded, pending: gauges.pending },
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
    };
  }
}
