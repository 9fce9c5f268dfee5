import { ConfigError, InvariantError, type NodeId } from '../core/index.js';
import { assert, unreachable } from '../core/assert.js';
import { GroupHost, type GroupQuiescence } from '../groups/index.js';
import { type NodeMessage, type Transport, type TransportHandlers, groupIdMax, isGroupId } from '../runtime/index.js';
import { decodeMessage, encodeMessage } from '../transport/codec/index.js';
import { type Fault, describeFault, networkConditionsOf } from './faults.js';
import { SafetyViolation } from './invariants.js';
import { Prng } from './prng.js';
import { RuntimeSimulation, type SimulatedNodeOptions } from './runtime-simulation.js';
import type { NetworkConditions } from './sim-network.js';
import { SimTransportHub } from './sim-transport.js';
import { Trace } from './trace.js';
import { VirtualClock, type VirtualClockView } from './virtual-clock.js';

/** One consensus group of a {@link GroupsSimulation}: its id and the hosts its voters run on. */
export interface SimulatedGroup {
  /** The group id its messages are tagged with, 0 to 2^32 - 1, distinct. */
  readonly id: number;
  /** The hosts (by index, 0-based) of its voters: 1 to 9 distinct ones. */
  readonly members: readonly number[];
}

/** How to build a {@link GroupsSimulation}. */
export interface GroupsSimulationOptions {
  /** Seeds everything random: the network, each group's nodes and disks. */
  readonly seed: number;
  /** Processes, named `n1`, `n2`, ...: 1 to 9. Each runs one {@link GroupHost} over one transport. */
  readonly hosts: number;
  /** The groups, each with its own members among the hosts. 1 to 16. */
  readonly groups: readonly SimulatedGroup[];
  /** More node options for every group's nodes (timeouts, limits); see {@link RuntimeSimulation}. */
  readonly node?: SimulatedNodeOptions;
  /** Longest delay before a write is durable, in virtual ms. Default 5. */
  readonly persistDelayMsMax?: number;
  /** Initial network conditions (delays in ticks of `node.tickMs`). Default calm. */
  readonly network?: NetworkConditions;
  /**
   * Whether every message crosses the network as bytes: the binary codec encodes it
   * when its host sends it and decodes it when it arrives, group id and all, as a TCP
   * transport would. Default true.
   */
  readonly encode?: boolean;
  /**
   * A decorator around each host incarnation's shared transport, outside the host: the
   * must-fail canary uses it to hand one group's messages to another.
   */
  readonly wrapTransport?: (host: NodeId, transport: Transport) => Transport;
  /**
   * Whether a group's node may take only messages its own group sent (see
   * {@link GroupsSimulation}). Default true; off, only the groups' Paxos checks remain,
   * as a canary uses to show they catch mixed groups on their own.
   */
  readonly checkIsolation?: boolean;
  /** Trace lines kept (default 400) across all groups, and a sink for every line. */
  readonly trace?: { readonly limit?: number; readonly sink?: (line: string) => void };
  /**
   * Idle groups quiesce and the hosts ping each other to wake them when a leader's
   * host goes quiet (see {@link GroupQuiescence}; times in virtual ms). Default off.
   */
  readonly quiescence?: GroupQuiescence;
}

/** A group of the simulation: its id, its members' host ids, and the simulation that checks it. */
export interface GroupOfSimulation {
  readonly id: number;
  readonly members: readonly NodeId[];
  /** The group's own checks: every {@link RuntimeSimulation} invariant, for this group alone. */
  readonly sim: RuntimeSimulation<unknown, number>;
}

/**
 * Many consensus groups over the same processes, as a {@link GroupHost} runs them:
 * `hosts` processes, each one {@link GroupHost} over one simulated transport, and
 * `groups` groups, each with its own voters among the hosts (so placement differs per
 * group). Each group's nodes are real runtime nodes, checked by a
 * {@link RuntimeSimulation} of their own: every invariant (agreement, validity, persist
 * before send, prefix agreement, exactly-once, linearizable reads, nothing
 * acknowledged lost) holds per group. The groups share the clock, the network and
 * each host's transport: a message reaches a group's node only through its host's
 * routing, so a message handed to the wrong group breaks the checks of the group that
 * takes it.
 *
 * Faults strike processes: a crash or a wipe takes every group's node on the host
 * down at once, a partition cuts hosts apart for every group. Faults aimed at a
 * leader pick one group's leader.
 *
 * @example
 * ```ts
 * const sim = new GroupsSimulation({ seed: 7, hosts: 4, groups: [{ id: 1, members: [0, 1, 2] }, { id: 300, members: [1, 2, 3] }] });
 * await sim.start();
 * await sim.runUntil(() => sim.groups.every((g) => g.sim.leader() !== undefined), 5_000);
 * sim.crash('n2');
 * await sim.advance(1_000);
 * ```
 */
export class GroupsSimulation {
  /** The hosts: `n1`, `n2`, ... */
  readonly hostIds: readonly NodeId[];
  /** The groups, in the order given. */
  readonly groups: readonly GroupOfSimulation[];
  /** The virtual clock of every host, node, disk and link. */
  readonly clock: VirtualClock;
  /** The network every host's transport is an endpoint of. */
  readonly hub: SimTransportHub;
  /** Host-level events (crashes, faults); each group's own trace has its nodes' events. */
  readonly trace: Trace;
  /** What the hosts dropped, over every incarnation (`GroupHost.counts().dropped`), and what they delivered; heartbeats, and the host messages that carried them. */
  readonly hostCounts = {
    delivered: 0,
    pingsReceived: 0,
    suspicions: 0,
    heartbeats: 0,
    heartbeatMessages: 0,
    dropped: { 'unknown-group': 0, 'group-not-started': 0, untagged: 0, malformed: 0 },
  };
  private readonly options: GroupsSimulationOptions;
  private readonly random: Prng;
  private readonly hosts = new Map<NodeId, GroupHost | undefined>();
  /** Each live host incarnation's clock: its pings die with it. */
  private readonly hostClocks = new Map<NodeId, VirtualClockView>();
  private started = false;
  /** A violation found outside the groups' own checks (the wire format, a group taking another's message). */
  private violation: Error | undefined;
  /** Fingerprints of every message each group's nodes sent, by group id. */
  private readonly sentBy = new Map<number, Set<string>>();

  constructor(options: GroupsSimulationOptions) {
    const api = 'GroupsSimulation';
    if (!Number.isInteger(options.hosts) || options.hosts < 1 || options.hosts > 9) throw new ConfigError(api, 'hosts', 'must be an integer from 1 to 9');
    if (options.groups.length < 1 || options.groups.length > 16) throw new ConfigError(api, 'groups', 'must list 1 to 16 groups');
    const ids = options.groups.map((g) => g.id);
    if (!ids.every(isGroupId) || new Set(ids).size !== ids.length)
      throw new ConfigError(api, 'groups', `ids must be distinct integers from 0 to ${groupIdMax}`);
    for (const g of options.groups) {
      const ok =
        g.members.length >= 1 && new Set(g.members).size === g.members.length && g.members.every((i) => Number.isInteger(i) && i >= 0 && i < options.hosts);
      if (!ok) throw new ConfigError(api, 'groups', `group ${g.id}'s members must be distinct host indexes from 0 to ${options.hosts - 1}`);
    }
    this.options = options;
    this.random = new Prng(options.seed);
    this.clock = new VirtualClock();
    this.trace = new Trace(options.trace?.limit ?? 400, options.trace?.sink);
    this.hostIds = Array.from({ length: options.hosts }, (_, i) => `n${i + 1}`);
    const tickMs = options.node?.tickMs ?? 10;
    this.hub = new SimTransportHub({
      clock: this.clock,
      random: this.random.fork(),
      tickMs,
      ...(options.network !== undefined ? { conditions: options.network } : {}),
    });
    this.groups = options.groups.map((g) => {
      const members = g.members.map((i) => this.hostIds[i]!);
      const sim = new RuntimeSimulation<unknown, number>({
        seed: this.random.fork().int(0x7fffffff),
        voters: members.length,
        voterIds: members,
        ...(options.node !== undefined || options.quiescence !== undefined
          ? { node: { ...options.node, ...(options.quiescence !== undefined ? { quiesceAfterTicks: options.quiescence.afterTicks ?? 20 } : {}) } }
          : {}),
        ...(options.persistDelayMsMax !== undefined ? { persistDelayMsMax: options.persistDelayMsMax } : {}),
        trace: { limit: options.trace?.limit ?? 400, sink: (line) => options.trace?.sink?.(`g${g.id} ${line}`) },
        shared: { clock: this.clock, hub: this.hub, transport: (host) => this.isolated(g.id, host, this.host(host).groupTransport(g.id)) },
      });
      return { id: g.id, members, sim };
    });
    for (const g of options.groups) this.sentBy.set(g.id, new Set());
    for (const id of this.hostIds) this.hosts.set(id, undefined);
  }

  /** Virtual time, in ms. */
  get now(): number {
    return this.clock.now();
  }

  /** Starts every host and every group's nodes. */
  async start(): Promise<void> {
    if (this.started) throw new ConfigError('GroupsSimulation.start', 'this', 'was started already');
    this.started = true;
    for (const id of this.hostIds) await this.bootHost(id);
    await Promise.all(this.groups.map((g) => g.sim.start()));
    this.check();
  }

  /** The group with id `id`. */
  group(id: number): GroupOfSimulation {
    const g = this.groups.find((x) => x.id === id);
    if (g === undefined) throw new ConfigError('GroupsSimulation', 'group', `${id} is not a group of this simulation`);
    return g;
  }

  /** The groups with a voter on `host`. */
  groupsOn(host: NodeId): GroupOfSimulation[] {
    return this.groups.filter((g) => g.members.includes(host));
  }

  /** Whether `host` runs. */
  isUp(host: NodeId): boolean {
    return this.hosts.get(host) !== undefined;
  }

  // ---------------------------------------------------------------- faults

  /** The process `host` dies: every group's node on it, its transport, what its disks had not synced. */
  crash(host: NodeId): void {
    if (!this.isUp(host)) return;
    this.trace.add(this.now, host, 'crashes');
    this.retire(host);
    for (const g of this.groupsOn(host)) g.sim.crash(host);
    this.hub.crash(host);
  }

  /** Starts a crashed `host` again: a new host, and every group's node on it from its durable state. */
  async restart(host: NodeId): Promise<void> {
    if (this.isUp(host)) return;
    this.trace.add(this.now, host, 'restarts');
    await this.bootHost(host);
    for (const g of this.groupsOn(host)) await g.sim.restart(host);
    this.check();
  }

  /** Kills `host`, erases every group's storage on it and starts it again, empty (amnesia). */
  async wipe(host: NodeId): Promise<void> {
    this.crash(host);
    this.trace.add(this.now, host, 'storage wiped; restarts empty');
    await this.bootHost(host);
    for (const g of this.groupsOn(host)) await g.sim.wipe(host);
    this.check();
  }

  /** Restores every link. */
  heal(): void {
    this.trace.add(this.now, 'sim', 'heal the network');
    this.hub.heal();
  }

  /** New loss, duplication and delay for messages sent from now on. */
  network(conditions: NetworkConditions): void {
    this.hub.conditions = conditions;
  }

  /** Injects a {@link Fault} addressed by host index; leader faults aim at a group drawn at random. */
  async inject(fault: Fault): Promise<void> {
    const name = (i: number): NodeId => this.hostIds[i % this.hostIds.length]!;
    this.trace.add(this.now, 'sim', describeFault(fault, name));
    switch (fault.kind) {
      case 'crash':
        return this.crash(name(fault.node));
      case 'restart':
        return this.restart(name(fault.node));
      case 'wipe':
        return this.wipe(name(fault.node));
      case 'partition':
        return this.hub.partition(
          fault.groups.map((g) => g.map(name)),
          this.hostIds,
        );
      case 'cut':
        return this.hub.cut(name(fault.from), name(fault.to));
      case 'bridge':
        return this.hub.isolate(name(fault.a), name(fault.c));
      case 'crashLeader': {
        const leader = this.someLeader()?.leader;
        if (leader !== undefined) this.crash(leader);
        return;
      }
      case 'isolateLeader': {
        const leader = this.someLeader()?.leader;
        if (leader !== undefined) for (const other of this.hostIds) this.hub.isolate(leader, other);
        return;
      }
      case 'transferLeader': {
        const found = this.someLeader();
        const to = name(fault.to);
        if (found !== undefined && found.leader !== to && found.group.members.includes(to)) {
          void found.group.sim.transferLeadership(found.leader, to).catch(() => {});
        }
        return;
      }
      case 'slowClock':
        for (const g of this.groupsOn(name(fault.node))) g.sim.slowClock(name(fault.node), fault.factor);
        return;
      case 'heal':
        return this.hub.heal();
      case 'network':
        this.hub.conditions = networkConditionsOf(fault);
        return;
      case 'changeMembers':
        // Moving a group's replicas is later work (membership per group through the host).
        return;
      default:
        return unreachable(fault);
    }
  }

  // ---------------------------------------------------------------- time and checks

  /** Lets `ms` virtual milliseconds pass; throws the first violation any group found meanwhile. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    await this.clock.runUntil(() => this.violated(), ms);
    this.check();
    assert(this.now === end, `time stopped at ${this.now}, not ${end}`);
  }

  /** Runs until `done()` holds or `msMax` ms passed; returns whether it holds. Throws a violation found meanwhile. */
  async runUntil(done: () => boolean, msMax: number): Promise<boolean> {
    await this.clock.runUntil(() => this.violated() || done(), msMax);
    this.check();
    return done();
  }

  /** Throws the first violation of any group, naming the group. */
  check(): void {
    if (this.violation !== undefined) throw this.violation;
    for (const g of this.groups) {
      try {
        g.sim.check();
      } catch (error) {
        if (error instanceof Error && !error.message.startsWith('group ')) error.message = `group ${g.id} (members ${g.members.join(',')}): ${error.message}`;
        throw error;
      }
    }
  }

  /** Whether every group converged ({@link RuntimeSimulation.converged}). */
  converged(): boolean {
    return this.groups.every((g) => g.sim.converged());
  }

  /** Every group's watched promises that have not settled, each labelled with its group. */
  pending(): string[] {
    return this.groups.flatMap((g) => g.sim.pending().map((p) => `group ${g.id}: ${p}`));
  }

  /** The end-of-run checks of every group ({@link RuntimeSimulation.finish}). */
  finish(): void {
    this.check();
    for (const g of this.groups) {
      try {
        g.sim.finish();
      } catch (error) {
        if (error instanceof Error) error.message = `group ${g.id} (members ${g.members.join(',')}): ${error.message}`;
        throw error;
      }
    }
    this.tallyHosts();
  }

  /** One line per group's node. */
  describe(): string {
    return this.groups.map((g) => `group ${g.id}:\n${g.sim.describe().replace(/^/gm, '  ')}`).join('\n');
  }

  // ---------------------------------------------------------------- internals

  private violated(): boolean {
    return this.violation !== undefined || this.groups.some((g) => g.sim.violated);
  }

  /** The live host `id`; a node of a down host is never started, so this is a bug in the simulation. */
  private host(id: NodeId): GroupHost {
    const host = this.hosts.get(id);
    if (host === undefined) throw new InvariantError(`GroupsSimulation: a node of ${id} starts while its host is down`);
    return host;
  }

  /** A leader of a group drawn at random among those that have one. */
  private someLeader(): { group: GroupOfSimulation; leader: NodeId } | undefined {
    const led = this.groups.flatMap((group) => {
      const leader = group.sim.leader();
      return leader === undefined ? [] : [{ group, leader }];
    });
    return led.length === 0 ? undefined : led[this.random.int(led.length)];
  }

  private async bootHost(id: NodeId): Promise<void> {
    assert(!this.isUp(id), `${id} boots while up`);
    let transport: Transport = this.hub.transport(id);
    if (this.options.encode ?? true) transport = throughCodec(transport, (error) => (this.violation ??= error));
    if (this.options.wrapTransport !== undefined) transport = this.options.wrapTransport(id, transport);
    const clock = this.clock.child();
    this.hostClocks.set(id, clock);
    const host = new GroupHost({
      id,
      transport,
      clock,
      quiescence: this.options.quiescence ?? false,
      storage: () => {
        throw new InvariantError('GroupsSimulation: each group builds its nodes with their simulated storage');
      },
    });
    this.hosts.set(id, host);
    await host.start();
  }

  /**
   * Group `group`'s transport on `host`, with the check that makes the groups' isolation
   * an invariant: a group's node takes only messages that a node of its own group sent
   * (compared by the bytes of their frames). A message handed to the wrong group is
   * caught when it arrives, whether or not it would have broken that group's Paxos
   * checks (many would not: a stale ballot, a slot already chosen).
   */
  private isolated(group: number, host: NodeId, transport: Transport): Transport {
    if (this.options.checkIsolation === false) return transport;
    const sent = this.sentBy.get(group)!;
    return {
      start: (handlers) =>
        transport.start({
          ...handlers,
          deliver: (message) => {
            if (this.violation === undefined && !sent.has(fingerprint(message))) {
              this.violation = new SafetyViolation(
                'group-isolation',
                `group ${group}'s node on ${host} took a ${message.type} from ${message.from} that no node of group ${group} sent`,
              );
              this.trace.add(this.now, host, `VIOLATION ${this.violation.message}`);
            }
            handlers.deliver(message);
          },
        }),
      send: (message) => {
        sent.add(fingerprint(message));
        transport.send(message);
      },
      close: () => transport.close(),
    };
  }

  /** Adds a host incarnation's counts before it is abandoned. */
  private retire(id: NodeId): void {
    const host = this.hosts.get(id);
    if (host === undefined) return;
    this.hostClocks.get(id)?.dispose();
    this.hostClocks.delete(id);
    const c = host.counts();
    this.hostCounts.delivered += c.delivered;
    this.hostCounts.pingsReceived += c.pingsReceived;
    this.hostCounts.suspicions += c.suspicions;
    this.hostCounts.heartbeats += c.heartbeats;
    this.hostCounts.heartbeatMessages += c.heartbeatMessages;
    for (const reason of Object.keys(c.dropped) as (keyof typeof c.dropped)[]) this.hostCounts.dropped[reason] += c.dropped[reason];
    this.hosts.set(id, undefined);
  }

  /** Counts the live hosts in, once the run is over. */
  private tallyHosts(): void {
    for (const id of this.hostIds) {
      const host = this.hosts.get(id);
      this.retire(id);
      if (host !== undefined) this.hosts.set(id, host);
    }
  }
}

/**
 * `transport` with every message turned into bytes by the binary codec on the way out
 * and back into a record on the way in, as a network transport does: what arrives is
 * what the wire format carries, group id included. A message the codec refuses or
 * changes is a bug: `fail` hears of it, and it is not sent.
 */
function throughCodec(transport: Transport, fail: (error: Error) => void): Transport {
  return {
    start: (handlers: TransportHandlers) => transport.start(handlers),
    send: (message: NodeMessage) => {
      let copy: NodeMessage;
      try {
        copy = decodeMessage(encodeMessage(message));
      } catch (error) {
        fail(
          new SafetyViolation(
            'codec',
            `a ${message.type} message from ${message.from} to ${message.to} did not survive the codec: ${error instanceof Error ? error.message : String(error)}`,
          ),
        );
        return;
      }
      transport.send(copy);
    },
    close: () => transport.close(),
  };
}

/** A message's identity for the isolation check: its frame's length and FNV-1a hash. */
function fingerprint(message: NodeMessage): string {
  const bytes = encodeMessage(message);
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  return `${bytes.length}:${hash >>> 0}`;
}
