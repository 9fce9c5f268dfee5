import { ConfigError, type Limits, type NodeId, type Quorum, defaultLimits, flexible, majority, windowSlotsDefault } from '../core/index.js';
import { validateLimits } from '../core/limits.js';
import { type Clock, systemClock } from './clock.js';
import { type DedupLimits, defaultDedupLimits, resultBytesPerClientMin } from './dedup-table.js';
import { clientSuffixLength, envelopeIdBytesMax, envelopeOverhead } from './envelope.js';
import { type Logger, silentLogger } from './logger.js';
import type { StateMachine } from './state-machine.js';
import { type Codec, jsonCodec, resultJsonCodec } from './state-machine.js';
import type { Storage } from './storage.js';
import type { Transport } from './transport.js';
import { crc32 as portableCrc32 } from '../encoding/crc32.js';

/**
 * When a node snapshots its state machine and compacts its log, and how snapshots
 * travel to replicas that need slots compacted away. Snapshots need the state
 * machine's `snapshot()` and `restore()`; without them the log is kept whole.
 */
export interface SnapshotOptions {
  /** Snapshot once this many slots were applied since the last snapshot. Default 10,000 slots. */
  readonly everySlots?: number;
  /** ...or once this many command bytes were applied since the last snapshot. Default 64 MiB. */
  readonly everyBytes?: number;
  /**
   * Applied slots kept in the log below each snapshot, so a replica that lags a little
   * catches up from the log rather than with a whole snapshot. Default 1,000 slots.
   */
  readonly trailingSlots?: number;
  /** Bytes of snapshot per message when one is sent to a peer. Default 256 KiB. */
  readonly chunkBytes?: number;
  /**
   * Bytes of a snapshot sent to a peer and not yet acknowledged, at most: the window
   * that keeps a transfer moving at the network's speed rather than one chunk per
   * round trip. At least one chunk is always in flight. Keep it below what the
   * transport queues for one peer (TcpTransport: `queueBytesMax`, 16 MiB), or chunks
   * are dropped and sent again. Default 4 MiB.
   */
  readonly inflightBytesMax?: number;
  /**
   * The CRC-32 (IEEE, zlib's) that snapshots streamed to and from peers are checked
   * with: `crc32(bytes, previous)` goes on from `previous`, the CRC of the bytes before
   * `bytes` (0 to start). Default a portable TypeScript one, about 1 GB/s; on Node
   * 20.15 and later pass `zlib.crc32` (native, about twice as fast: the KV server does).
   * Checked against known values when the node is created.
   */
  readonly crc32?: (bytes: Uint8Array, previous: number) => number;
  /** The largest snapshot taken from a peer; a larger one is refused. Default 1 GiB. */
  readonly bytesMax?: number;
}

/**
 * Everything {@link createNode} takes. Times are in milliseconds unless the name says
 * ticks; every optional field documents its default.
 */
export interface NodeOptions<Command, Result> {
  /** This node's id: one of `members` or one of `observers`. */
  readonly id: NodeId;
  /** The voting members (acceptors), this node included if it votes. 1 to 64 distinct ids. */
  readonly members: readonly NodeId[];
  /** Nodes that learn and apply every command but never vote. Default none. */
  readonly observers?: readonly NodeId[];
  /**
   * Where each first member can be reached, an opaque string your transport reads
   * (the KV server writes `peerHost:port,clientHost:port`). It goes in the cluster's
   * configuration, so members added later are found from the log. Default none.
   */
  readonly addresses?: Readonly<Record<NodeId, string>>;
  /**
   * How voters form quorums. Default `'majority'`. Flexible Paxos: `{ phase1, phase2 }`
   * voters, with `phase1 + phase2 > members.length` (checked).
   */
  readonly quorum?: 'majority' | { readonly phase1: number; readonly phase2: number };
  /**
   * The configuration window, in slots: a configuration chosen at slot `i` governs from
   * slot `i + windowSlots` on. It goes in the cluster's first configuration and never
   * changes: give every node of a cluster the same value, for its whole life (a node
   * created with another never takes the cluster's membership changes). Default 256.
   */
  readonly windowSlots?: number;
  readonly transport: Transport;
  readonly storage: Storage;
  readonly stateMachine: StateMachine<Command, Result>;
  /** Turns commands into bytes and back; the same on every node. Default JSON ({@link jsonCodec}). */
  readonly codec?: Codec<Command>;
  /**
   * Turns results into bytes and back, to keep the exactly-once table's results in
   * snapshots. Default JSON with `undefined` allowed ({@link resultJsonCodec}). A result
   * it cannot encode is kept as lost: a retry of it after a snapshot was installed gets
   * `ResultExpiredError`, never a second apply.
   */
  readonly resultCodec?: Codec<Result>;
  /** Snapshot scheduling and transfer. Defaults: see {@link SnapshotOptions}. */
  readonly snapshot?: SnapshotOptions;
  /** Length of one tick, the core's unit of time. Default 50 ms. */
  readonly tickMs?: number;
  /** A follower campaigns after hearing no leader for a random number of ticks in [min, max]. Default { min: 10, max: 20 } (0.5 to 1 s). */
  readonly electionTicks?: { readonly min: number; readonly max: number };
  /** Ticks between a leader's heartbeats. Default 2 ticks (100 ms); below `electionTicks.min`. */
  readonly heartbeatTicks?: number;
  /**
   * Lets an idle leader quiesce its group after this many idle ticks: no heartbeats, no
   * election timers, and no tick timer on any member whose node has nothing waiting,
   * until a proposal, a read or a message rouses it. A quiesced follower cannot notice
   * by itself that its leader failed: something must watch the leader's process and
   * call {@link SynodNode.wake} when it may have. A `GroupHost` does, for its groups
   * (its default); a node alone should leave this unset. Safety never depends on it.
   * Default: never quiesce.
   */
  readonly quiesceAfterTicks?: number;
  /**
   * You know this node never voted in this group: its storage is empty because it never
   * held anything, not because it was wiped (for example, you recorded its first start in
   * the group, once, in another replicated store, before starting it). Started with no
   * promise on record, it then votes at once, instead of first asking every other voter
   * what they hold (the guard against a wiped voter, which needs all of them to answer,
   * so a new group elects its first leader only once every member runs it). Never set it
   * for a node whose storage may have been wiped: it could let two values be chosen for
   * one slot. Ignored when the storage holds a promise. Default false.
   */
  readonly neverVoted?: boolean;
  /** Commands one slot carries at most (batching). Default 256. */
  readonly batchCommandsMax?: number;
  /** Bytes one slot carries at most. Default 1 MiB; at least `commandBytesMax`. */
  readonly batchBytesMax?: number;
  /**
   * Largest encoded command, counting the runtime's envelope (36 bytes plus the client
   * id and the origin node id). Must be the same on every node. Default 1 MiB.
   */
  readonly commandBytesMax?: number;
  /** Slots a leader keeps in flight beyond its commit index (the pipeline). Default 1,024. */
  readonly inflightSlotsMax?: number;
  /** Commands a leader queues waiting for a slot. Default 65,536. */
  readonly leaderQueueMax?: number;
  /** Proposals this node keeps waiting at once; more reject with `OverloadedError`. Default 10,000. */
  readonly pendingProposalsMax?: number;
  /** Reads this node keeps waiting at once (and reads a leader runs for followers); more are refused. Default 10,000. */
  readonly pendingReadsMax?: number;
  /** How long `propose()` waits by default. Default 10,000 ms. */
  readonly proposeTimeoutMs?: number;
  /** How long `read()` and `transferLeadership()` wait by default. Default 10,000 ms. */
  readonly readTimeoutMs?: number;
  /**
   * On a follower, `propose()` forwards to the leader (`'forward'`, default) or rejects
   * with `NotLeaderError` (`'reject'`). A proposal taken while this node led and handed
   * back when it stepped down is forwarded in either mode, so it completes.
   */
  readonly followerProposals?: 'forward' | 'reject';
  /** Ticks after which an unapplied proposal or an unanswered read is sent again. Default `electionTicks.max`. */
  readonly retryTicks?: number;
  /** Bounds of the exactly-once table; the same on every node. Defaults: see {@link DedupLimits}. */
  readonly dedup?: Partial<DedupLimits>;
  /**
   * The client id of proposals that do not give one. Default `<id>/<random>`, new at
   * every start. Sequence numbers start from the wall clock at every start, so a fixed
   * id survives restarts; never give two live nodes the same one.
   */
  readonly clientId?: string;
  /** The only randomness (election timeouts, the default client id). Default `Math.random`. */
  readonly random?: () => number;
  /** Time and timers. Default the system clock; the testing kit passes a virtual one. */
  readonly clock?: Clock;
  /** Where the node logs. Default silent. */
  readonly logger?: Logger;
}

/** Options with every default filled in, validated. @internal */
export interface ResolvedOptions<Command, Result> {
  readonly id: NodeId;
  /**
   * The first voters, and their quorums' phase sizes (undefined for a majority): the node
   * builds its quorum from them at its start ({@link firstQuorum}), and keeps none before.
   */
  readonly voters: readonly NodeId[];
  readonly quorumSizes: { readonly phase1: number; readonly phase2: number } | undefined;
  readonly windowSlots: number;
  readonly observers: readonly NodeId[];
  readonly addresses: Readonly<Record<NodeId, string>>;
  readonly transport: Transport;
  readonly storage: Storage;
  readonly stateMachine: StateMachine<Command, Result>;
  readonly codec: Codec<Command>;
  readonly resultCodec: Codec<Result>;
  readonly snapshot: Required<SnapshotOptions>;
  readonly tickMs: number;
  readonly quiesceAfterTicks: number | undefined;
  readonly neverVoted: boolean;
  readonly limits: Limits;
  readonly commandBytesMax: number;
  readonly pendingProposalsMax: number;
  readonly pendingReadsMax: number;
  readonly proposeTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly followerProposals: 'forward' | 'reject';
  readonly retryTicks: number;
  readonly dedup: DedupLimits;
  readonly clientId: string | undefined;
  readonly random: () => number;
  readonly clock: Clock;
  readonly logger: Logger;
}

const api = 'createNode';
const membersMax = 64;

function fail(field: string, why: string): never {
  throw new ConfigError(api, field, why);
}

function positiveInteger(field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) fail(field, `must be a positive integer, got ${String(value)}`);
  return value;
}

function nonNegativeInteger(field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(field, `must be an integer >= 0, got ${String(value)}`);
  return value;
}

function ids(field: string, value: unknown): NodeId[] {
  if (!Array.isArray(value)) fail(field, 'must be an array of node ids');
  for (const id of value) {
    if (typeof id !== 'string' || id.length === 0) fail(field, 'must hold non-empty strings');
    if (new TextEncoder().encode(id).byteLength > envelopeIdBytesMax) fail(field, `holds an id longer than ${envelopeIdBytesMax} bytes`);
  }
  if (new Set(value).size !== value.length) fail(field, 'must not repeat an id');
  return value as NodeId[];
}

function hasMethods(field: string, value: unknown, methods: readonly string[]): void {
  if (typeof value !== 'object' || value === null) fail(field, `must be an object with ${methods.join(', ')}`);
  for (const m of methods) {
    if (typeof (value as Record<string, unknown>)[m] !== 'function') fail(field, `must have a ${m}() method`);
  }
}

/**
 * The option records resolved last, by kind. A record equal to the last one is handed
 * out again, so the many groups of a host, built with the same options, share one copy
 * of each (frozen: nothing changes them) instead of keeping one apiece.
 */
const lastResolved = new Map<'snapshot' | 'limits' | 'dedup' | 'addresses' | 'voters', object>();

function shared<T extends object>(kind: 'snapshot' | 'limits' | 'dedup' | 'addresses' | 'voters', record: T): T {
  const last = lastResolved.get(kind);
  if (last !== undefined && sameFields(last, record)) return last as T;
  const frozen = Object.freeze(record);
  lastResolved.set(kind, frozen);
  return frozen;
}

function sameFields(a: object, b: object): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    if (!Object.hasOwn(b, key) || !Object.is((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  return true;
}

/** The quorum of a node's first voters, from its resolved options. @internal */
export function firstQuorum(options: Pick<ResolvedOptions<unknown, unknown>, 'voters' | 'quorumSizes'>): Quorum {
  return options.quorumSizes === undefined ? majority(options.voters) : flexible(options.voters, options.quorumSizes);
}

/** A node's tick when its options name none. @internal */
export const defaultTickMs = 50;

/** Checks every option once, up front, and fills in the defaults. @internal */
export function resolveOptions<Command, Result>(options: NodeOptions<Command, Result>): ResolvedOptions<Command, Result> {
  if (typeof options !== 'object' || options === null) fail('options', 'must be an object');
  const { id } = options;
  if (typeof id !== 'string' || id.length === 0) fail('id', 'must be a non-empty string');
  const voters = ids('members', options.members);
  if (voters.length === 0 || voters.length > membersMax) fail('members', `must hold 1 to ${membersMax} ids`);
  const observers = ids('observers', options.observers ?? []);
  for (const o of observers) if (voters.includes(o)) fail('observers', `must not include the member ${o}`);
  if (!voters.includes(id) && !observers.includes(id)) fail('members', `must include \`id\` (${id}), or \`observers\` must`);

  // Each quorum is built here to check it, as the start builds it again.
  let quorumSizes: { readonly phase1: number; readonly phase2: number } | undefined;
  const q = options.quorum ?? 'majority';
  if (q === 'majority') majority(voters);
  else if (typeof q === 'object' && q !== null) {
    const phase1 = positiveInteger('quorum.phase1', q.phase1, 0);
    const phase2 = positiveInteger('quorum.phase2', q.phase2, 0);
    if (phase1 > voters.length || phase2 > voters.length) fail('quorum', `phase sizes must be at most members.length (${voters.length})`);
    if (phase1 + phase2 <= voters.length)
      fail('quorum', `needs phase1 + phase2 > members.length (${phase1} + ${phase2} <= ${voters.length}), or quorums may not intersect`);
    quorumSizes = { phase1, phase2 };
    flexible(voters, quorumSizes);
  } else fail('quorum', "must be 'majority' or { phase1, phase2 }");

  hasMethods('transport', options.transport, ['start', 'send', 'close']);
  hasMethods('storage', options.storage, ['load', 'persist', 'saveSnapshot', 'loadSnapshot', 'compact', 'close']);
  hasMethods('stateMachine', options.stateMachine, ['apply']);
  if (options.stateMachine.readOnly !== undefined && typeof options.stateMachine.readOnly !== 'function')
    fail('stateMachine', 'readOnly, if given, must be a method');
  if (options.codec !== undefined) hasMethods('codec', options.codec, ['encode', 'decode']);
  if (options.resultCodec !== undefined) hasMethods('resultCodec', options.resultCodec, ['encode', 'decode']);
  const snapshotInput = options.snapshot ?? {};
  if (typeof snapshotInput !== 'object' || snapshotInput === null) fail('snapshot', 'must be an object');
  const snapshot: Required<SnapshotOptions> = shared('snapshot', {
    everySlots: positiveInteger('snapshot.everySlots', snapshotInput.everySlots, 10_000),
    everyBytes: positiveInteger('snapshot.everyBytes', snapshotInput.everyBytes, 64 * 1024 * 1024),
    trailingSlots: nonNegativeInteger('snapshot.trailingSlots', snapshotInput.trailingSlots, 1_000),
    chunkBytes: positiveInteger('snapshot.chunkBytes', snapshotInput.chunkBytes, 256 * 1024),
    inflightBytesMax: positiveInteger('snapshot.inflightBytesMax', snapshotInput.inflightBytesMax, 4 * 1024 * 1024),
    crc32: crc32Option(snapshotInput.crc32),
    bytesMax: positiveInteger('snapshot.bytesMax', snapshotInput.bytesMax, 1024 * 1024 * 1024),
  });
  if (options.clock !== undefined) hasMethods('clock', options.clock, ['now', 'setTimer', 'clearTimer', 'wallTime']);
  if (options.logger !== undefined) hasMethods('logger', options.logger, ['debug', 'info', 'warn', 'error']);
  if (options.random !== undefined && typeof options.random !== 'function') fail('random', 'must be a function returning a number in [0, 1)');

  const tickMs = positiveInteger('tickMs', options.tickMs, defaultTickMs);
  const election = options.electionTicks ?? { min: defaultLimits.electionTicksMin, max: defaultLimits.electionTicksMax };
  if (typeof election !== 'object' || election === null) fail('electionTicks', 'must be { min, max }');
  const commandBytesMax = positiveInteger('commandBytesMax', options.commandBytesMax, defaultLimits.batchBytesMax);
  let limits: Limits = {
    ...defaultLimits,
    electionTicksMin: positiveInteger('electionTicks.min', election.min, defaultLimits.electionTicksMin),
    electionTicksMax: positiveInteger('electionTicks.max', election.max, defaultLimits.electionTicksMax),
    heartbeatTicks: positiveInteger('heartbeatTicks', options.heartbeatTicks, defaultLimits.heartbeatTicks),
    batchCommandsMax: positiveInteger('batchCommandsMax', options.batchCommandsMax, defaultLimits.batchCommandsMax),
    batchBytesMax: positiveInteger('batchBytesMax', options.batchBytesMax, Math.max(defaultLimits.batchBytesMax, commandBytesMax)),
    inflightSlotsMax: positiveInteger('inflightSlotsMax', options.inflightSlotsMax, defaultLimits.inflightSlotsMax),
    proposalQueueMax: positiveInteger('leaderQueueMax', options.leaderQueueMax, defaultLimits.proposalQueueMax),
  };
  // A message carries at least one full slot.
  limits = shared('limits', { ...limits, messageBytesMax: Math.max(defaultLimits.messageBytesMax, limits.batchBytesMax) });
  const bad = validateLimits(limits);
  if (bad !== undefined) {
    const names: Partial<Record<keyof Limits, string>> = {
      electionTicksMin: 'electionTicks.min',
      electionTicksMax: 'electionTicks.max',
      proposalQueueMax: 'leaderQueueMax',
    };
    fail(names[bad[0]] ?? bad[0], bad[1]);
  }
  if (commandBytesMax > limits.batchBytesMax) fail('commandBytesMax', `must be at most batchBytesMax (${limits.batchBytesMax})`);

  const clientId = options.clientId;
  if (clientId !== undefined && (typeof clientId !== 'string' || clientId.length === 0)) fail('clientId', 'must be a non-empty string');
  if (clientId !== undefined && new TextEncoder().encode(clientId).byteLength > envelopeIdBytesMax)
    fail('clientId', `must be at most ${envelopeIdBytesMax} bytes`);
  const defaultClientId = `${id}/${'x'.repeat(clientSuffixLength)}`;
  if (clientId === undefined && new TextEncoder().encode(defaultClientId).byteLength > envelopeIdBytesMax) {
    fail('clientId', `must be given: \`id\` is too long to derive one (${envelopeIdBytesMax - clientSuffixLength - 1} bytes at most)`);
  }
  if (commandBytesMax <= envelopeOverhead(clientId ?? defaultClientId, id)) fail('commandBytesMax', 'leaves no room for a command beside the envelope');
  const followerProposals = options.followerProposals ?? 'forward';
  if (followerProposals !== 'forward' && followerProposals !== 'reject') fail('followerProposals', "must be 'forward' or 'reject'");
  const dedupInput = options.dedup ?? {};
  const dedup: DedupLimits = shared('dedup', {
    resultsPerClientMax: positiveInteger('dedup.resultsPerClientMax', dedupInput.resultsPerClientMax, defaultDedupLimits.resultsPerClientMax),
    clientsMax: positiveInteger('dedup.clientsMax', dedupInput.clientsMax, defaultDedupLimits.clientsMax),
    clientIdleMs: positiveInteger('dedup.clientIdleMs', dedupInput.clientIdleMs, defaultDedupLimits.clientIdleMs),
    clockSkewMaxMs: positiveInteger('dedup.clockSkewMaxMs', dedupInput.clockSkewMaxMs, defaultDedupLimits.clockSkewMaxMs),
    resultBytesPerClientMax: positiveInteger('dedup.resultBytesPerClientMax', dedupInput.resultBytesPerClientMax, defaultDedupLimits.resultBytesPerClientMax),
    resultBytesMax: positiveInteger('dedup.resultBytesMax', dedupInput.resultBytesMax, defaultDedupLimits.resultBytesMax),
  });
  if (dedup.resultBytesPerClientMax < resultBytesPerClientMin)
    fail('dedup.resultBytesPerClientMax', `must be at least ${resultBytesPerClientMin} bytes, got ${dedup.resultBytesPerClientMax}`);
  if (dedup.resultBytesMax < dedup.resultBytesPerClientMax)
    fail('dedup.resultBytesMax', `must be at least dedup.resultBytesPerClientMax (${dedup.resultBytesPerClientMax} bytes), got ${dedup.resultBytesMax}`);
  return {
    id,
    // A copy (the caller may change its array), shared by the nodes resolved alike.
    voters: shared('voters', [...voters]),
    quorumSizes,
    windowSlots: positiveInteger('windowSlots', options.windowSlots, windowSlotsDefault),
    observers,
    addresses: shared('addresses', { ...options.addresses }),
    transport: options.transport,
    storage: options.storage,
    stateMachine: options.stateMachine,
    codec: options.codec ?? (jsonCodec as Codec<Command>),
    resultCodec: options.resultCodec ?? (resultJsonCodec as Codec<Result>),
    snapshot,
    tickMs,
    quiesceAfterTicks: options.quiesceAfterTicks === undefined ? undefined : positiveInteger('quiesceAfterTicks', options.quiesceAfterTicks, 1),
    neverVoted: options.neverVoted === true,
    limits,
    commandBytesMax,
    pendingProposalsMax: positiveInteger('pendingProposalsMax', options.pendingProposalsMax, 10_000),
    pendingReadsMax: positiveInteger('pendingReadsMax', options.pendingReadsMax, 10_000),
    proposeTimeoutMs: positiveInteger('proposeTimeoutMs', options.proposeTimeoutMs, 10_000),
    readTimeoutMs: positiveInteger('readTimeoutMs', options.readTimeoutMs, 10_000),
    followerProposals,
    retryTicks: positiveInteger('retryTicks', options.retryTicks, limits.electionTicksMax),
    dedup,
    clientId,
    random: options.random ?? Math.random,
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
  };
}

/** `snapshot.crc32`, checked: a function that gives CRC-32 (IEEE) values, whole and continued. */
function crc32Option(given: unknown): (bytes: Uint8Array, previous: number) => number {
  if (given === undefined) return portableCrc32;
  if (typeof given !== 'function') fail('snapshot.crc32', 'must be a function (bytes, previous) => number');
  const f = given as (bytes: Uint8Array, previous: number) => number;
  let ok = false;
  try {
    // CRC-32 of 1, 2, 3 is 0x55bc801d, whole or continued from the CRC of 1, 2.
    ok = f(Uint8Array.of(1, 2, 3), 0) === 0x55bc801d && f(Uint8Array.of(3), f(Uint8Array.of(1, 2), 0)) === 0x55bc801d;
  } catch {
    ok = false;
  }
  if (!ok) fail('snapshot.crc32', 'must compute CRC-32 (IEEE, as zlib.crc32): it gave other values for bytes 1, 2, 3');
  return f;
}
