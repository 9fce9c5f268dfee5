import { ConfigError, type NodeId } from '../core/index.js';
import { assert } from '../core/assert.js';
import {
  ClosedError,
  type Clock,
  type GroupHeartbeat,
  type GroupMemberMessage,
  type HostHeartbeatsMessage,
  type Logger,
  type NodeMessage,
  type NodeOptions,
  type Storage,
  type SynodNode,
  type Transport,
  createNode,
  groupIdMax,
  isGroupId,
  silentLogger,
  systemClock,
} from '../runtime/index.js';
import { defaultTickMs } from '../runtime/options.js';
import { BeatClock } from './beat-clock.js';
import { DuplicateGroupError, UnknownGroupError } from './group-errors.js';
import { GroupTransport } from './group-transport.js';
import { PeerLiveness } from './peer-liveness.js';

/**
 * How a host lets its idle groups sleep. An idle group's leader quiesces it after
 * `afterTicks` idle ticks: no heartbeats, no election timers, no timers at all on its
 * members until a proposal, a read or a message rouses it. A quiesced follower hears
 * nothing from its leader, so the host watches the leader's process instead: every
 * host pings each peer host every `pingMs` (one message per peer, however many groups
 * they share), and a peer not heard from for `suspectAfterMs`, or whose connection
 * the transport gave up on, is suspected. Every quiesced group it leads is then woken
 * here: its followers ask it to speak and campaign if it does not, as after any
 * leader's failure. So a quiesced group's failover takes up to `suspectAfterMs` more
 * than an active one's. Safety never depends on any of this.
 */
export interface GroupQuiescence {
  /** Idle ticks before a leader quiesces its group. Default 20 (1 s at the default 50 ms tick). */
  readonly afterTicks?: number;
  /** Between a host's pings of each peer host, in ms. Default 250. */
  readonly pingMs?: number;
  /** A peer host not heard from for this long is suspected, in ms. Default 1,000; more than `pingMs`. */
  readonly suspectAfterMs?: number;
}

const quiescenceDefaults: Required<GroupQuiescence> = Object.freeze({ afterTicks: 20, pingMs: 250, suspectAfterMs: 1_000 });

/** How to build a {@link GroupHost}. */
export interface GroupHostOptions {
  /** This process's node id: its id in every group it runs. */
  readonly id: NodeId;
  /**
   * The one transport every group shares. The host starts it in {@link GroupHost.start}
   * and closes it in {@link GroupHost.close}; each group's messages travel on it as
   * `GroupMessage`s (the TCP transport's codec encodes them; an in-memory transport
   * moves them as they are).
   */
  readonly transport: Transport;
  /**
   * Makes the storage of group `group`, once for each {@link GroupHost.createGroup}
   * (removing the group closes it). A `SharedFileLog`'s `log.group(group)` keeps every
   * group in one log: one write and one sync for many groups' persists.
   */
  readonly storage: (group: number) => Storage;
  /** Where the host logs what it drops. Default silent. */
  readonly logger?: Logger;
  /**
   * Idle groups quiesce, and the host watches its peer hosts for them (see
   * {@link GroupQuiescence}); `false` keeps every group ticking and heartbeating, and
   * sends no pings. Default on, with the defaults of {@link GroupQuiescence}.
   */
  readonly quiescence?: GroupQuiescence | false;
  /**
   * The host's clock: its pings, and the beat its groups tick on (see
   * {@link GroupHost.createGroup}). Default the system clock.
   */
  readonly clock?: Clock;
}

/**
 * A group's node options: {@link NodeOptions} but what the host provides (the node id,
 * the transport and the storage). Each group has its own members, quorum, state
 * machine, limits and timers.
 */
export type GroupOptions<Command, Result> = Omit<NodeOptions<Command, Result>, 'id' | 'transport' | 'storage'>;

/**
 * What the host gives a group's node built by {@link GroupHost.hostGroup}: spread into
 * the node's options.
 */
export interface HostedGroupOptions {
  readonly id: NodeId;
  readonly transport: Transport;
  readonly storage: Storage;
  /** The host's beat for the group's `tickMs`, unless the group brought its own clock. */
  readonly clock?: Clock;
  /** The host's `afterTicks`, or the group's own, when the host quiesces. */
  readonly quiesceAfterTicks?: number;
}

/**
 * Why the host dropped a message that arrived on the shared transport:
 * - `unknown-group`: no group with its id runs here (never created, or removed);
 * - `group-not-started`: the group exists but its node has not started yet;
 * - `untagged`: it carries no group (a peer that runs one group alone sent it);
 * - `malformed`: its group id is out of range, or the group's message inside is missing,
 *   is itself a group's message, or names other nodes than the tag.
 */
export type GroupDropReason = 'unknown-group' | 'group-not-started' | 'untagged' | 'malformed';

/** What a {@link GroupHost} moved, since it was built. */
export interface GroupHostCounts {
  /** Groups' messages handed to the shared transport. */
  sent: number;
  /** Messages handed to their group's node. */
  delivered: number;
  /** Pings sent to peer hosts, and received from them. */
  pingsSent: number;
  pingsReceived: number;
  /** Times a peer host was suspected: not heard from for `suspectAfterMs` (the transport's own reports of an unreachable peer are not counted). */
  suspicions: number;
  /**
   * Groups' heartbeats and replies sent (counted in `sent` too), and the host messages
   * that carried them: one per peer host for all those sent in the same turn. Their
   * ratio is how many groups' heartbeats share a message.
   */
  heartbeats: number;
  heartbeatMessages: number;
  /** Messages dropped on arrival, by reason: never handed to any node. */
  readonly dropped: Record<GroupDropReason, number>;
}

type HostState = 'new' | 'starting' | 'running' | 'closing' | 'closed';

/** A group running on the host: its view of the transport and, if the host built it, its node. */
interface Group {
  readonly transport: GroupTransport;
  node: SynodNode<unknown, unknown> | undefined;
}

/**
 * Runs many consensus groups in one process over one {@link Transport}. Each group is
 * a complete Multi-Paxos instance (a {@link SynodNode} with its own members, ballots,
 * log and state machine); the host tags every message a group sends with the group's
 * id, and hands a message that arrives only to the node of the group it is tagged
 * with. A message for a group that does not run here is dropped and counted
 * ({@link GroupDropReason}), never delivered to another group. Nothing in one group's
 * safety reads another group's state, so each group is as safe as a node alone.
 *
 * Groups are created and removed while the host runs. Closing a group's node (or the
 * node failing and closing itself) removes its group too.
 *
 * Each group has its own `Storage` from {@link GroupHostOptions.storage}; to keep all
 * of them in one log, whose writes and syncs the groups share, give it the groups of a
 * `SharedFileLog` (`synod/file-storage`): `storage: (group) => log.group(group)`.
 *
 * An idle group quiesces (see {@link GroupQuiescence}, on by default): its leader stops
 * heartbeating and every member stops its timers, so a thousand idle groups cost no
 * more timers than one. The hosts ping each other instead, one ping per peer host
 * however many groups they share, and wake the quiesced groups a silent host leads.
 * The single-group {@link createNode} is unchanged.
 *
 * @example
 * ```ts
 * const host = new GroupHost({ id: 'a', transport: network.transport('a'), storage: (group) => new MemoryStorage() });
 * await host.start();
 * const orders = host.createGroup(1, { members: ['a', 'b', 'c'], stateMachine: new Counter() });
 * const users = host.createGroup(2, { members: ['a', 'd', 'e'], stateMachine: new Counter() });
 * await Promise.all([orders.start(), users.start()]);
 * await orders.propose({ add: 1 });
 * await host.removeGroup(2);
 * await host.close();
 * ```
 */
export class GroupHost {
  /** This process's node id in every group. */
  readonly id: NodeId;
  private readonly options: GroupHostOptions;
  private readonly logger: Logger;
  private readonly running = new Map<number, Group>();
  private state: HostState = 'new';
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly quiescence: Required<GroupQuiescence> | undefined;
  private readonly liveness: PeerLiveness | undefined;
  private readonly clock: Clock;
  /** The beats the groups built here tick on, one per tick length. */
  private readonly beatClocks = new Map<number, BeatClock>();
  /** Heartbeats and replies waiting for the end of the turn, by peer host. */
  private readonly beats = new Map<NodeId, GroupHeartbeat[]>();
  private beatsFlushScheduled = false;
  private readonly tally: GroupHostCounts = {
    sent: 0,
    delivered: 0,
    pingsSent: 0,
    pingsReceived: 0,
    suspicions: 0,
    heartbeats: 0,
    heartbeatMessages: 0,
    dropped: { 'unknown-group': 0, 'group-not-started': 0, untagged: 0, malformed: 0 },
  };
  /** The narrow interface every group's transport calls back into. */
  private readonly lanes = {
    send: (group: number, message: GroupMemberMessage): void => this.send(group, message),
    released: (transport: GroupTransport): void => this.released(transport),
  };

  /** Validates `options` (a {@link ConfigError} names the field). Call {@link start} next. */
  constructor(options: GroupHostOptions) {
    if (typeof options.id !== 'string' || options.id === '') throw new ConfigError('GroupHost', 'id', 'must be a non-empty string');
    if (typeof options.storage !== 'function') throw new ConfigError('GroupHost', 'storage', 'must be a function of the group id');
    this.options = options;
    this.id = options.id;
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.quiescence = options.quiescence === false ? undefined : resolveQuiescence(options.quiescence ?? {});
    const q = this.quiescence;
    this.liveness =
      q === undefined
        ? undefined
        : new PeerLiveness(this.clock, q.pingMs, q.suspectAfterMs, {
            ping: (peer) => {
              this.tally.pingsSent++;
              this.options.transport.send({ type: 'hostPing', from: this.id, to: peer });
            },
            suspect: (peer) => {
              this.tally.suspicions++;
              this.logger.info({ node: this.id, peer }, 'group host suspects a peer host: not heard from');
              this.reach(peer, false);
            },
            recovered: (peer) => {
              this.logger.info({ node: this.id, peer }, 'group host hears a suspected peer host again');
              this.reach(peer, true);
            },
          });
  }

  /**
   * Starts the shared transport. Idempotent. Groups may be created before or after;
   * their messages flow once both the host and the group's node started. Rejects with
   * `ClosedError` once closed, or if the transport did not start.
   */
  start(): Promise<void> {
    this.starting ??= this.boot();
    return this.starting;
  }

  private async boot(): Promise<void> {
    if (this.state !== 'new') throw new ClosedError('GroupHost.start: the group host is closed');
    this.state = 'starting';
    try {
      await this.options.transport.start({
        deliver: (message) => this.deliver(message),
        peerUnreachable: (peer) => this.peer(peer, false),
        peerReachable: (peer) => this.peer(peer, true),
      });
    } catch (error) {
      await this.close();
      throw new ClosedError('GroupHost.start: the transport did not start', { cause: error });
    }
    if (this.state !== 'starting') throw new ClosedError('GroupHost.start: the group host was closed while it started');
    this.state = 'running';
    this.liveness?.start();
  }

  /**
   * Builds the node of group `group` on this host, as {@link createNode} builds one:
   * with this host's id, a view of the shared transport, and the storage
   * {@link GroupHostOptions.storage} makes for the group. Call `start()` on the node
   * next; `close()` on it (or {@link removeGroup}) removes the group.
   *
   * Unless `options.clock` is given, the group's timers run on a beat of the host's
   * clock shared by every group with the same `tickMs`: their ticks fall in the same
   * turn, so their heartbeats to each peer host leave as one message, and many groups
   * cost one timer. A timer of a tick or more fires at most a tick late, never early.
   *
   * @throws {@link DuplicateGroupError} if group `group` runs here already;
   * `ClosedError` once the host is closing; `ConfigError` for a group id that is not
   * an integer from 0 to 2^32 - 1, or options `createNode` refuses.
   */
  createGroup<Command, Result>(group: number, options: GroupOptions<Command, Result>): SynodNode<Command, Result> {
    return this.buildGroup(group, options, 'createGroup', (given) => {
      const node = createNode<Command, Result>({ ...options, ...given });
      return { node, built: node };
    });
  }

  /**
   * Runs group `group` here with a node built by `build` (a KV node, a node with
   * wrappers), given what {@link createGroup} gives its nodes: the host's id, the
   * group's transport and storage, and, as there, the host's beat (unless
   * `options.clock` is given) and quiescence. Spread them into the node's options;
   * `build` returns the node and what to hand back. If it throws, the group is freed.
   *
   * @example
   * ```ts
   * const kv = host.hostGroup(7, {}, (given) => {
   *   const node = createKvNode({ ...given, members: ['a', 'b', 'c'] });
   *   return { node: node.node, built: node };
   * });
   * ```
   * @throws as {@link createGroup} does.
   */
  hostGroup<Built, Command = unknown, Result = unknown>(
    group: number,
    options: Pick<GroupOptions<Command, Result>, 'tickMs' | 'clock' | 'quiesceAfterTicks'>,
    build: (given: HostedGroupOptions) => { readonly node: SynodNode<Command, Result>; readonly built: Built },
  ): Built {
    return this.buildGroup(group, options, 'hostGroup', build);
  }

  private buildGroup<Built, Command, Result>(
    group: number,
    options: Pick<GroupOptions<Command, Result>, 'tickMs' | 'clock' | 'quiesceAfterTicks'>,
    api: string,
    build: (given: HostedGroupOptions) => { readonly node: SynodNode<Command, Result>; readonly built: Built },
  ): Built {
    const transport = this.open(group, api);
    const entry = this.running.get(group);
    assert(entry !== undefined && entry.transport === transport, `group ${group} was just opened`);
    try {
      const q = this.quiescence;
      if (q === undefined && options.quiesceAfterTicks !== undefined)
        throw new ConfigError(api, 'quiesceAfterTicks', "needs the host's quiescence: nothing would wake the group if its leader failed");
      const quiesce = q === undefined ? {} : { quiesceAfterTicks: options.quiesceAfterTicks ?? q.afterTicks };
      const beat = options.clock === undefined ? this.beatClock(options.tickMs ?? defaultTickMs) : undefined;
      const clock = beat === undefined ? {} : { clock: beat };
      const { node, built } = build({ ...quiesce, ...clock, id: this.id, transport, storage: this.options.storage(group) });
      entry.node = node as unknown as SynodNode<unknown, unknown>;
      return built;
    } catch (error) {
      void transport.close();
      throw error;
    }
  }

  /** The beat of groups ticking every `tickMs`; none for a tick length `createNode` refuses (it says why). */
  private beatClock(tickMs: number): BeatClock | undefined {
    if (!Number.isSafeInteger(tickMs) || tickMs < 1) return undefined;
    let beat = this.beatClocks.get(tickMs);
    if (beat === undefined) {
      beat = new BeatClock(this.clock, tickMs);
      this.beatClocks.set(tickMs, beat);
    }
    return beat;
  }

  /**
   * The transport of group `group`, for a node built by hand ({@link createNode} with
   * your own storage or wrappers): the group runs here from now until the transport
   * closes (the node's `close()` does it). {@link createGroup} is this plus the node.
   *
   * @throws as {@link createGroup} does.
   */
  groupTransport(group: number): GroupTransport {
    return this.open(group, 'groupTransport');
  }

  private open(group: number, api: string): GroupTransport {
    if (this.state === 'closing' || this.state === 'closed') throw new ClosedError(`${api}: the group host is closed`);
    if (!isGroupId(group)) throw new ConfigError(api, 'group', `must be an integer from 0 to ${groupIdMax}`);
    if (this.running.has(group)) throw new DuplicateGroupError(api, group);
    const transport = new GroupTransport(group, this.lanes);
    this.running.set(group, { transport, node: undefined });
    return transport;
  }

  /**
   * Removes group `group`: closes its node (as `node.close()` does: pending proposals
   * reject with `ClosedError`, state waiting to be written is flushed) and frees its id.
   * Messages for it that arrive later are dropped as `unknown-group`.
   *
   * Rejects with {@link UnknownGroupError} if no such group runs here, `ClosedError`
   * once the host is closing.
   */
  async removeGroup(group: number): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') throw new ClosedError('removeGroup: the group host is closed');
    const entry = this.running.get(group);
    if (entry === undefined) throw new UnknownGroupError('removeGroup', group);
    await this.stopGroup(entry);
    assert(this.running.get(group) !== entry, `group ${group} is still running after its removal`);
  }

  /**
   * The node of group `group`, if the host built it and the group runs. The host keeps
   * nodes of any command and result types: `Command` and `Result` are the caller's to
   * name right, as given to {@link createGroup}.
   */
  group<Command = unknown, Result = unknown>(group: number): SynodNode<Command, Result> | undefined {
    return this.running.get(group)?.node as SynodNode<Command, Result> | undefined;
  }

  /** The ids of the groups running here, in increasing order. */
  groups(): number[] {
    return [...this.running.keys()].sort((a, b) => a - b);
  }

  /** What the host moved and dropped so far (a copy). */
  counts(): GroupHostCounts {
    return { ...this.tally, dropped: { ...this.tally.dropped } };
  }

  /**
   * Closes every group's node (as {@link removeGroup}), then the shared transport.
   * Idempotent. Creating a group afterwards throws `ClosedError`.
   */
  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    this.state = 'closing';
    this.liveness?.stop();
    await Promise.all([...this.running.values()].map((entry) => this.stopGroup(entry)));
    assert(this.running.size === 0, `${this.running.size} group(s) still run after closing them all`);
    await this.options.transport.close().catch((error: unknown) => this.logger.error({ node: this.id, error }, 'closing the shared transport failed'));
    this.state = 'closed';
  }

  private async stopGroup(entry: Group): Promise<void> {
    if (entry.node !== undefined) await entry.node.close();
    // A node closes its transport; a transport handed out by hand may never have been started.
    await entry.transport.close();
  }

  // ---------------------------------------------------------------- messages

  private send(group: number, message: GroupMemberMessage): void {
    this.tally.sent++;
    this.liveness?.know(message.to);
    const beat = heartbeatOf(group, message);
    if (beat === undefined) {
      this.options.transport.send({ type: 'group', from: message.from, to: message.to, group, message });
      return;
    }
    // Heartbeats and replies wait for the end of the turn: the groups that tick on the
    // same beat (or answer the same host message) send theirs to a peer in one message.
    this.tally.heartbeats++;
    const list = this.beats.get(message.to);
    if (list === undefined) this.beats.set(message.to, [beat]);
    else list.push(beat);
    if (!this.beatsFlushScheduled) {
      this.beatsFlushScheduled = true;
      queueMicrotask(this.flushBeats);
    }
  }

  private readonly flushBeats = (): void => {
    this.beatsFlushScheduled = false;
    for (const [peer, beats] of this.beats) {
      this.tally.heartbeatMessages++;
      const message: HostHeartbeatsMessage = { type: 'hostHeartbeats', from: this.id, to: peer, beats };
      this.options.transport.send(message);
    }
    this.beats.clear();
  };

  private released(transport: GroupTransport): void {
    const entry = this.running.get(transport.group);
    if (entry?.transport === transport) this.running.delete(transport.group);
  }

  private deliver(message: NodeMessage): void {
    if (this.state !== 'starting' && this.state !== 'running') return;
    if (typeof message !== 'object' || message === null) return this.drop('malformed', message);
    // Anything from a peer host says it is alive (the transport vouches for the sender).
    if (typeof message.from === 'string') this.liveness?.heard(message.from);
    if (message.type === 'hostPing') {
      this.tally.pingsReceived++;
      return;
    }
    if (message.type === 'hostHeartbeats') return this.deliverBeats(message);
    if (message.type !== 'group') return this.drop('untagged', message);
    const inner: unknown = message.message;
    if (!isGroupId(message.group) || !isGroupMember(inner) || inner.from !== message.from || inner.to !== message.to) return this.drop('malformed', message);
    this.deliverTo(message.group, inner, message);
  }

  /** Hands each group its heartbeat or reply, rebuilt whole (the node checks its fields as any message's). */
  private deliverBeats(message: HostHeartbeatsMessage): void {
    const beats: unknown = message.beats;
    if (!Array.isArray(beats) || typeof message.to !== 'string') return this.drop('malformed', message);
    const { from, to } = message;
    for (const b of beats as unknown[]) {
      if (typeof b !== 'object' || b === null || !isGroupId((b as GroupHeartbeat).group)) {
        this.drop('malformed', message);
        continue;
      }
      const { group, reply, round, commitIndex, seq } = b as GroupHeartbeat;
      const inner: GroupMemberMessage = reply
        ? { type: 'heartbeatReply', from, to, ballot: { round, node: to }, commitIndex, seq }
        : { type: 'heartbeat', from, to, ballot: { round, node: from }, commitIndex, seq };
      this.deliverTo(group, inner, message);
    }
  }

  private deliverTo(group: number, inner: GroupMemberMessage, message: NodeMessage): void {
    const entry = this.running.get(group);
    if (entry === undefined) return this.drop('unknown-group', message);
    if (!entry.transport.isStarted) return this.drop('group-not-started', message);
    this.tally.delivered++;
    entry.transport.deliver(inner);
  }

  /** The shared transport's news of a peer. */
  private peer(peer: NodeId, reachable: boolean): void {
    if (!reachable) this.liveness?.unreachable(peer);
    this.reach(peer, reachable);
  }

  /**
   * Tells every group `peer` is unreachable (or reachable again). A node whose group
   * quiesced under `peer`'s leadership wakes on it: its followers ask the leader to
   * speak, and campaign if it does not.
   */
  private reach(peer: NodeId, reachable: boolean): void {
    for (const entry of this.running.values()) entry.transport.peer(peer, reachable);
  }

  private drop(reason: GroupDropReason, message: unknown): void {
    this.tally.dropped[reason]++;
    const m = typeof message === 'object' && message !== null ? (message as Partial<Record<'from' | 'type' | 'group', unknown>>) : {};
    this.logger.debug({ node: this.id, reason, from: m.from, type: m.type, group: m.group }, 'group host dropped a message');
  }
}

function resolveQuiescence(q: GroupQuiescence): Required<GroupQuiescence> {
  const r = { ...quiescenceDefaults, ...q };
  for (const key of ['afterTicks', 'pingMs', 'suspectAfterMs'] as const) {
    if (!Number.isSafeInteger(r[key]) || r[key] < 1)
      throw new ConfigError('GroupHost', `quiescence.${key}`, `must be a positive integer, got ${String(r[key])}`);
  }
  if (r.suspectAfterMs <= r.pingMs) throw new ConfigError('GroupHost', 'quiescence.suspectAfterMs', `must be more than pingMs (${r.pingMs})`);
  return r;
}

/**
 * `message` as a heartbeat entry of a host message, if it is a heartbeat or a reply
 * whose ballot the entry can rebuild (a heartbeat's is its sender's, a reply's its
 * addressee's): any other goes alone, as it is.
 */
function heartbeatOf(group: number, message: GroupMemberMessage): GroupHeartbeat | undefined {
  if (message.type === 'heartbeat' && message.ballot.node === message.from)
    return { group, reply: false, round: message.ballot.round, commitIndex: message.commitIndex, seq: message.seq };
  if (message.type === 'heartbeatReply' && message.ballot.node === message.to)
    return { group, reply: true, round: message.ballot.round, commitIndex: message.commitIndex, seq: message.seq };
  return undefined;
}

/** Whether `m` looks like a group's own message (the node checks the rest). */
function isGroupMember(m: unknown): m is GroupMemberMessage {
  if (typeof m !== 'object' || m === null) return false;
  const type = (m as { type?: unknown }).type;
  return typeof type === 'string' && type !== 'group';
}
