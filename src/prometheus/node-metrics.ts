/**
 * `node.metrics()` as Prometheus metrics: the families {@link registerNodeMetrics}
 * registers, each read from one `node.metrics()` call per scrape.
 */
import type { Registry, RegistryContentType } from 'prom-client';
import type { NodeMetrics } from '../runtime/metrics.js';
import { type Family, oneOf, type Registered, type RegisterOptions, registerFamilies } from './families.js';

/** Anything with a `metrics()` like `SynodNode.metrics()`: a `SynodNode`, or a KV node's `node`. */
export interface NodeMetricsSource {
  metrics(): NodeMetrics;
}

const roles = ['follower', 'candidate', 'leader', 'observer', 'removed'] as const;

/** The node's families, without the prefix. @internal */
export const nodeFamilies: readonly Family<NodeMetrics>[] = [
  // Latency histograms, in seconds.
  {
    kind: 'histogram',
    name: 'propose_duration_seconds',
    help: 'A propose() call taken to its promise settling (resolved or rejected).',
    read: (m) => m.latency.propose,
  },
  {
    kind: 'histogram',
    name: 'commit_duration_seconds',
    help: 'A proposal pending here taken to its slot being reported chosen to this node.',
    read: (m) => m.latency.commit,
  },
  { kind: 'histogram', name: 'apply_duration_seconds', help: 'Applying the slots of one committed batch to the state machine.', read: (m) => m.latency.apply },
  {
    kind: 'histogram',
    name: 'storage_write_duration_seconds',
    help: 'One storage write, with its fsync for the file storage (group commit: one write may carry many outputs).',
    read: (m) => m.latency.persist,
  },
  {
    kind: 'histogram',
    name: 'read_duration_seconds',
    help: 'A read() call (a linearizable read point) taken to being applied here, or failing.',
    read: (m) => m.latency.read,
  },

  // Role and leadership.
  {
    kind: 'gauge',
    name: 'role',
    help: "This member's role: 1 for the role it has, 0 for the others.",
    labelNames: ['role'],
    read: (m) => oneOf('role', roles, m.role),
  },
  {
    kind: 'gauge',
    name: 'has_leader',
    help: '1 if this member knows a leader and heard from it within electionTicks.min ticks (always, on the leader), else 0: a member cut off from the others drops to 0.',
    read: (m) => (m.leaderLive ? 1 : 0),
  },
  {
    kind: 'gauge',
    name: 'leader_silent_seconds',
    help: 'Seconds since this member last heard from a leader (0 while it leads).',
    read: (m) => m.leaderSilentMs / 1000,
  },
  { kind: 'counter', name: 'elections_total', help: 'Times this member became a candidate.', read: (m) => m.elections.campaigns },
  { kind: 'counter', name: 'elections_won_total', help: 'Times this member became leader.', read: (m) => m.elections.won },
  { kind: 'counter', name: 'leader_changes_total', help: 'Times the leader this member knows changed (to none included).', read: (m) => m.leaderChanges },

  // The log.
  { kind: 'gauge', name: 'commit_index', help: 'The end of the contiguous chosen prefix of the log, as this member knows it.', read: (m) => m.commitIndex },
  { kind: 'gauge', name: 'applied_index', help: 'The last slot this member applied.', read: (m) => m.appliedIndex },
  {
    kind: 'gauge',
    name: 'leader_commit_index',
    help: 'The commit index the leader last announced to this member (its own while it leads).',
    read: (m) => m.leaderCommitIndex,
  },
  { kind: 'gauge', name: 'lag_slots', help: 'leader_commit_index minus applied_index: slots chosen that this member has not applied.', read: (m) => m.lag },
  {
    kind: 'gauge',
    name: 'member_commit_index',
    help: 'On the leader: the commit index each other member last reported (0 if it has not in this leadership).',
    labelNames: ['member'],
    read: (m) => m.members.map((p) => [{ member: p.id }, p.commitIndex] as const),
  },
  {
    kind: 'gauge',
    name: 'member_lag_slots',
    help: 'On the leader: its commit index minus the one each other member last reported.',
    labelNames: ['member'],
    read: (m) => m.members.map((p) => [{ member: p.id }, p.lag] as const),
  },
  {
    kind: 'gauge',
    name: 'member_silent_seconds',
    help: 'On the leader: seconds since it last heard from each other member (members not heard from in this leadership are left out).',
    labelNames: ['member'],
    read: (m) => m.members.flatMap((p) => (p.silentMs === undefined ? [] : [[{ member: p.id }, p.silentMs / 1000] as const])),
  },

  // Proposals.
  { kind: 'gauge', name: 'proposals_pending', help: 'Distinct proposals waiting for their outcome here.', read: (m) => m.proposals.pending },
  { kind: 'counter', name: 'proposals_submitted_total', help: 'propose() calls taken.', read: (m) => m.proposals.submitted },
  {
    kind: 'counter',
    name: 'proposals_refused_total',
    help: 'propose() calls refused at once (not started, closed, too large, overloaded, bad options).',
    read: (m) => m.proposals.refused,
  },
  { kind: 'counter', name: 'proposals_succeeded_total', help: 'Taken propose() calls that resolved.', read: (m) => m.proposals.succeeded },
  {
    kind: 'counter',
    name: 'proposals_failed_total',
    help: 'Taken propose() calls that rejected (timeouts, aborts, apply errors, close).',
    read: (m) => m.proposals.failed,
  },
  { kind: 'counter', name: 'proposals_forwarded_total', help: 'Commands sent on to the leader (retries counted again).', read: (m) => m.proposals.forwarded },

  // Apply.
  { kind: 'counter', name: 'applied_slots_total', help: 'Slots applied.', read: (m) => m.applied.slots },
  { kind: 'counter', name: 'applied_commands_total', help: 'Commands applied (read-only ones included).', read: (m) => m.applied.commands },
  {
    kind: 'counter',
    name: 'applied_read_only_commands_total',
    help: 'Commands applied that only read (they take no exactly-once entry).',
    read: (m) => m.applied.readOnly,
  },
  {
    kind: 'counter',
    name: 'applied_duplicates_total',
    help: 'Commands skipped as duplicates of a request applied before (exactly-once).',
    read: (m) => m.applied.duplicates,
  },
  {
    kind: 'counter',
    name: 'applied_malformed_total',
    help: 'Commands in the log that did not decode, skipped alike on every replica.',
    read: (m) => m.applied.malformed,
  },

  // Reads.
  { kind: 'counter', name: 'reads_served_total', help: 'read() calls resolved.', read: (m) => m.reads.served },
  { kind: 'counter', name: 'reads_failed_total', help: 'read() calls rejected.', read: (m) => m.reads.failed },
  { kind: 'counter', name: 'read_retries_total', help: 'Read-index requests a leader refused and that were asked again.', read: (m) => m.reads.retries },

  // Messages.
  { kind: 'counter', name: 'messages_received_total', help: 'Messages handed to this node by its transport.', read: (m) => m.messages.in },
  { kind: 'counter', name: 'messages_sent_total', help: 'Messages this node handed to its transport.', read: (m) => m.messages.out },
  {
    kind: 'counter',
    name: 'messages_dropped_total',
    help: 'Messages this node dropped (malformed, misaddressed, from a non-member, stale).',
    read: (m) => m.messages.dropped,
  },

  // Snapshots.
  { kind: 'counter', name: 'snapshots_saved_total', help: 'Snapshots this member saved on schedule.', read: (m) => m.snapshots.saved },
  { kind: 'counter', name: 'snapshots_received_total', help: 'Snapshots this member installed from a peer.', read: (m) => m.snapshots.installed },
  { kind: 'counter', name: 'snapshots_sent_total', help: 'Snapshots this member sent whole to a peer.', read: (m) => m.snapshots.sent },
  { kind: 'counter', name: 'snapshots_refused_total', help: 'Snapshots from a peer this member refused as unreadable.', read: (m) => m.snapshots.refused },
  { kind: 'gauge', name: 'snapshots_sending', help: 'Snapshot transfers this member is sending now.', read: (m) => m.snapshots.sending },

  // Storage.
  { kind: 'counter', name: 'storage_writes_total', help: 'Storage writes made.', read: (m) => m.persist.writes },
  {
    kind: 'counter',
    name: 'storage_write_outputs_total',
    help: 'Core outputs those writes carried (outputs per write: how well group commit works).',
    read: (m) => m.persist.batches,
  },

  // Exactly-once.
  { kind: 'gauge', name: 'exactly_once_clients', help: 'Clients the exactly-once table remembers.', read: (m) => m.exactlyOnce.clients },
  { kind: 'gauge', name: 'exactly_once_results', help: 'Results the exactly-once table keeps, dropped ones included.', read: (m) => m.exactlyOnce.results },
  { kind: 'gauge', name: 'exactly_once_bytes', help: 'Estimated bytes of the results kept (at most dedup.resultBytesMax).', read: (m) => m.exactlyOnce.bytes },
  {
    kind: 'counter',
    name: 'exactly_once_results_dropped_total',
    help: 'Results dropped or forgotten because a byte bound tripped: bound="result" (larger than dedup.resultBytesPerClientMax), "client" (to keep a client within it), "total" (to keep the table within dedup.resultBytesMax). Counted again when the log is replayed at a start.',
    labelNames: ['bound'],
    read: (m) => [
      [{ bound: 'result' }, m.exactlyOnce.tooLarge],
      [{ bound: 'client' }, m.exactlyOnce.evictedForClient],
      [{ bound: 'total' }, m.exactlyOnce.evictedForTotal],
    ],
  },
];

/**
 * Registers a node's metrics in a prom-client `registry` of the caller's: every counter
 * and gauge of `node.metrics()` and its latency histograms, read from one
 * `node.metrics()` call per scrape (nothing is counted twice). See docs/operations.md,
 * "Metrics and health", for the names. Returns a handle to take them out again.
 *
 * @throws Error if the registry has a metric of one of these names already.
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client';
 * import { registerNodeMetrics } from 'synod/prometheus';
 *
 * const registry = new Registry();
 * registerNodeMetrics(registry, node, { labels: { service: 'orders' } });
 * // serve `await registry.metrics()` with `registry.contentType` on your /metrics
 * ```
 */
export function registerNodeMetrics(registry: Registry<RegistryContentType>, node: NodeMetricsSource, options: RegisterOptions = {}): Registered {
  return registerFamilies(registry, nodeFamilies, () => node.metrics(), options);
}
