import {
  type Configuration,
  ConfigError,
  type DurableState,
  type MembershipChange,
  type NodeId,
  type Quorum,
  SynodError,
  compareBallots,
  flexible,
  formatBallot,
  majority,
  windowSlotsDefault,
} from '../core/index.js';
import { votersOf } from '../core/configuration/configuration.js';
import { assert, unreachable } from '../core/assert.js';
import {
  ClosedError,
  type Codec,
  type NodeMessage,
  isCoreMessage,
  type NodeOptions,
  type NodeStatus,
  type ProposeOptions,
  type StateMachine,
  type Storage,
  type SynodNode,
  type Transport,
  type WaitOptions,
  createNode,
  jsonCodec,
} from '../runtime/index.js';
import { decodeEnvelope, requestKey } from '../runtime/envelope.js';
import { type Fault, describeFault, networkConditionsOf } from './faults.js';
import { Invariants, SafetyViolation } from './invariants.js';
import { Prng } from './prng.js';
import { RecordingStateMachine } from './recording-state-machine.js';
import { LivenessFailure } from './run-simulation.js';
import type { NetworkConditions } from './sim-network.js';
import { SimStorage } from './sim-storage.js';
import { SimTransportHub } from './sim-transport.js';
import type { QuorumSpec } from './simulator.js';
import { Trace } from './trace.js';
import { VirtualClock, type VirtualClockView, settlePromises } from './virtual-clock.js';

/**
 * Node options a {@link RuntimeSimulation} passes through to every `createNode` call:
 * everything but what the simulation provides itself (identity, membership, quorum,
 * configuration window, transport, storage, state machine, codec, clock, randomness,
 * client id).
 */
export type SimulatedNodeOptions = Omit<
  NodeOptions<unknown, unknown>,
  | 'id'
  | 'members'
  | 'observers'
  | 'quorum'
  | 'windowSlots'
  | 'transport'
  | 'storage'
  | 'stateMachine'
  | 'codec'
  | 'resultCodec'
  | 'clock'
  | 'random'
  | 'clientId'
>;

/** The membership a node is created with (`createNode`'s `members`, `observers` and `quorum`). */
interface StartMembers {
  readonly members: readonly NodeId[];
  readonly observers: readonly NodeId[];
  readonly quorum: NodeOptions<unknown, unknown>['quorum'];
}

/** A membership change the `changeMembers` fault asks for, as it resolves against the configuration of the moment. */
export type ChangeMembersFault = Extract<Fault, { kind: 'changeMembers' }>['change'];

/** How to build a {@link RuntimeSimulation}. */
export interface RuntimeSimulationOptions<Command = unknown, Result = number> {
  /** Seeds everything random: election timeouts, the network, the disks. */
  readonly seed: number;
  /** Voting members, named `n1`, `n2`, ... 1 to 9. */
  readonly voters: number;
  /** Observers (learn and apply, never vote), named `o1`, `o2`, ... Default 0. */
  readonly observers?: number;
  /**
   * Spare nodes, named `s1`, `s2`, ...: down and outside the cluster until a
   * `changeMembers` fault (or {@link RuntimeSimulation.changeMembers} followed by
   * {@link RuntimeSimulation.startSpare}) adds one as an observer; it then starts with
   * empty storage, as `synod serve --join` starts a new member. 0 to 9, default 0.
   */
  readonly spares?: number;
  /** The configuration window in slots (`createNode`'s `windowSlots`), the same on every node. Default 256. */
  readonly windowSlots?: number;
  /** Default majority. */
  readonly quorum?: QuorumSpec;
  /**
   * Makes each node's state machine, at every (re)start: a restarted node re-applies
   * the log from slot 1 into a fresh one. Default a {@link RecordingStateMachine}.
   */
  readonly stateMachine?: (id: NodeId) => StateMachine<Command, Result>;
  /** The command codec. Default JSON. */
  readonly codec?: Codec<Command>;
  /**
   * More node options (timeouts, limits, logger). The simulation's defaults: `tickMs`
   * 10, `proposeTimeoutMs` and `readTimeoutMs` 2,000; the rest are the runtime's.
   */
  readonly node?: SimulatedNodeOptions;
  /** Longest delay before a write is durable, in virtual ms. Default 5. */
  readonly persistDelayMsMax?: number;
  /** Initial network conditions (delays in ticks of `node.tickMs`). Default calm. */
  readonly network?: NetworkConditions;
  /**
   * Decorators around each node incarnation's storage and transport, for tests that
   * want a hand in them (fast-check's scheduler deciding the order promises resolve
   * in, fault injection). The checks sit outside them: a decorated transport is
   * still checked at the moment the node sends.
   */
  readonly wrap?: {
    readonly storage?: (id: NodeId, storage: Storage) => Storage;
    readonly transport?: (id: NodeId, transport: Transport) => Transport;
  };
  /** Trace lines kept (default 400), and an optional sink for every line. */
  readonly trace?: { readonly limit?: number; readonly sink?: (line: string) => void };
  /**
   * The voters' ids, `voters` of them, instead of `n1`, `n2`, ...: a group of a
   * {@link GroupsSimulation} names its members after the hosts it runs on.
   */
  readonly voterIds?: readonly NodeId[];
  /**
   * Runs this simulation as one group among several sharing each process's transport
   * (a {@link GroupsSimulation} sets it): time and the network are `clock` and `hub`,
   * shared with the other groups, and each node incarnation's transport is
   * `transport(id)` (its group's view of its host's transport) rather than an endpoint
   * of its own. Crashing a node crashes its host's endpoint, so the caller crashes the
   * host's nodes of every group together, as a process dies.
   */
  readonly shared?: {
    readonly clock: VirtualClock;
    readonly hub: SimTransportHub;
    readonly transport: (id: NodeId) => Transport;
  };
}

/** A command a replica applied, as the checkers identify it. */
export interface AppliedCommand {
  readonly slot: number;
  readonly clientId: string;
  readonly seq: number;
  readonly origin: NodeId;
  /** The codec's bytes of the command. */
  readonly payload: Uint8Array;
}

/** A promise the simulation watches: it must settle, and settle with a SynodError if it rejects. */
interface Watched {
  readonly label: string;
  readonly node: NodeId;
  readonly incarnation: number;
  readonly at: number;
  state: 'pending' | 'resolved' | 'rejected' | 'abandoned';
}

/** An acknowledged proposal: it must never be lost. */
interface Acknowledged {
  readonly label: string;
  /** `request` keys name one (clientId, seq); `payload` keys one of several proposals of the same bytes. */
  readonly key: { readonly kind: 'request' | 'payload'; readonly value: string };
}

interface Member<Command, Result> {
  readonly id: NodeId;
  /** One of the spares: outside the cluster until a change adds it. */
  readonly spare: boolean;
  /**
   * The membership it is (re)started with; undefined for a spare not started yet.
   * A spare gets the configuration that adds it; a wiped member the latest one.
   */
  start: StartMembers | undefined;
  /** Wiped after the cluster removed it: never started again. */
  retired: boolean;
  storage: SimStorage;
  node: SynodNode<Command, Result> | undefined;
  clock: VirtualClockView | undefined;
  machine: StateMachine<Command, Result> | undefined;
  incarnation: number;
  clientId: string;
  applied: AppliedCommand[];
  /** Request key → the slot that applied it, this incarnation. */
  appliedRequests: Map<string, number>;
  /** (clientId, payload) key → how many times applied, this incarnation. */
  appliedPayloads: Map<string, number>;
  /** Where in the log the next applied command must be found. */
  cursor: { slot: number; index: number };
  /** The payload the runtime decoded for the command it is about to apply. */
  decoding: Uint8Array | undefined;
  /** How many times slower than the shared clock this node's clock runs (1: in step). */
  slowdown: number;
  /** How far this node's wall clock was stepped, in ms (0: in step). */
  wallStepMs: number;
}

/** Outcomes of the promises the simulation watched. */
export interface RuntimeSimulationCounts {
  proposed: number;
  acknowledged: number;
  rejected: number;
  abandoned: number;
  reads: number;
  readsChecked: number;
  applies: number;
  /** Snapshots restored (at a start or from a peer), each checked against the log. */
  restores: number;
  /** Rejections by error code. */
  readonly rejections: Record<string, number>;
}

const simDefaults = { tickMs: 10, proposeTimeoutMs: 2_000, readTimeoutMs: 2_000 } as const;

/**
 * Real runtime nodes ({@link createNode}, unchanged) on simulated time, network and
 * disks: a {@link VirtualClock}, a {@link SimTransportHub} and one {@link SimStorage}
 * per node, all seeded, so a run replays exactly from its seed. Bring your own state
 * machine to test it against crashes, partitions and lossy networks with the real
 * runtime.
 *
 * Checked as events happen (the first violation is thrown by the next call that
 * moves time, {@link check} or {@link finish}):
 * - persist before send: a promise or an accepted message leaves a node only once
 *   the state it reports is durable on that node's storage;
 * - only voters vote: an accepted message for a slot comes from a voter of the
 *   configuration governing that slot, derived from the chosen log (a promoted
 *   observer votes from the slot its configuration governs on, a demoted voter stops
 *   there), and a promise from a voter of a configuration governing the slots it covers;
 * - agreement and validity, from what acceptors made durable, each slot chosen by a
 *   phase-2 quorum of its configuration, and a new configuration's first slot accepted
 *   only once a phase-2 quorum of it durably holds every earlier slot ({@link Invariants});
 * - every applied command is one of its slot's chosen commands (durability), in log
 *   order, and every replica applies the same commands at the same positions
 *   (prefix agreement; a restarted node re-applies from slot 1);
 * - exactly-once: a request (client id, seq) is applied at most once per replica state;
 * - linearizable reads: a read resolves only once its node applied every proposal
 *   acknowledged before the read began;
 * - a promise that rejects does so with a `SynodError`.
 * And by {@link finish}: every watched promise of a live node settled (none hangs),
 * and every acknowledged proposal is in the applied commands of every live member of
 * the latest configuration.
 *
 * Membership changes run as on a real cluster: {@link changeMembers} asks a leader,
 * {@link startSpare} starts a spare as a joining observer. A node the latest
 * configuration no longer names (removed) is held to the safety checks for as long as
 * it runs, but not to {@link converged} nor to holding acknowledged proposals: nothing
 * makes the cluster send it what was chosen after its removal. It may still be needed
 * to answer for the slots it voted in, so it is restarted like the others.
 *
 * @example
 * ```ts
 * const sim = new RuntimeSimulation({ seed: 7, voters: 3 });
 * await sim.start();
 * await sim.runUntil(() => sim.leader() !== undefined, 5_000);
 * const position = await sim.settle(sim.propose('n2', { op: 'set', key: 'x' }), 2_000);
 * sim.crash(sim.leader()!);
 * await sim.advance(1_000);
 * sim.finish();
 * ```
 */
export class RuntimeSimulation<Command = unknown, Result = number> {
  /** Every node id: voters, then observers, then spares. */
  readonly ids: readonly NodeId[];
  /** The first voting members: `n1`, `n2`, ... */
  readonly voterIds: readonly NodeId[];
  /** The first observers: `o1`, `o2`, ... */
  readonly observerIds: readonly NodeId[];
  /** The spares: `s1`, `s2`, ... */
  readonly spareIds: readonly NodeId[];
  /** The virtual clock every node, disk and link runs on. */
  readonly clock: VirtualClock;
  /** The simulated network: conditions, cuts, counts. */
  readonly hub: SimTransportHub;
  /** The Paxos checkers, fed with durable writes and sends. */
  readonly invariants: Invariants;
  /** One line per event: roles, crashes, faults, violations. */
  readonly trace: Trace;
  /** How the first voters form quorums. */
  readonly quorum: Quorum;
  /** What happened to the promises watched. */
  readonly counts: RuntimeSimulationCounts = {
    proposed: 0,
    acknowledged: 0,
    rejected: 0,
    abandoned: 0,
    reads: 0,
    readsChecked: 0,
    applies: 0,
    restores: 0,
    rejections: {},
  };
  private readonly options: RuntimeSimulationOptions<Command, Result>;
  private readonly members = new Map<NodeId, Member<Command, Result>>();
  private readonly random: Prng;
  private readonly codec: Codec<Command>;
  private readonly watched = new Set<Watched>();
  private readonly acknowledged: Acknowledged[] = [];
  /** The commands applied at each position of the log, by whichever replica got there first. */
  private readonly canonical: AppliedCommand[] = [];
  private violation: Error | undefined;
  private started = false;

  constructor(options: RuntimeSimulationOptions<Command, Result>) {
    if (!Number.isInteger(options.voters) || options.voters < 1 || options.voters > 9) {
      throw new ConfigError('RuntimeSimulation', 'voters', 'must be an integer from 1 to 9');
    }
    const observers = options.observers ?? 0;
    if (!Number.isInteger(observers) || observers < 0 || observers > 9)
      throw new ConfigError('RuntimeSimulation', 'observers', 'must be an integer from 0 to 9');
    const spares = options.spares ?? 0;
    if (!Number.isInteger(spares) || spares < 0 || spares > 9) throw new ConfigError('RuntimeSimulation', 'spares', 'must be an integer from 0 to 9');
    const windowSlots = options.windowSlots ?? windowSlotsDefault;
    if (!Number.isSafeInteger(windowSlots) || windowSlots < 1) throw new ConfigError('RuntimeSimulation', 'windowSlots', 'must be a positive integer');
    this.options = options;
    if (options.voterIds !== undefined && (options.voterIds.length !== options.voters || new Set(options.voterIds).size !== options.voters)) {
      throw new ConfigError('RuntimeSimulation', 'voterIds', `must list ${options.voters} distinct ids, one per voter`);
    }
    this.voterIds = options.voterIds ?? Array.from({ length: options.voters }, (_, i) => `n${i + 1}`);
    this.observerIds = Array.from({ length: observers }, (_, i) => `o${i + 1}`);
    this.spareIds = Array.from({ length: spares }, (_, i) => `s${i + 1}`);
    this.ids = [...this.voterIds, ...this.observerIds, ...this.spareIds];
    const spec = options.quorum ?? { kind: 'majority' };
    this.quorum = spec.kind === 'majority' ? majority(this.voterIds) : flexible(this.voterIds, spec);
    const rule = spec.kind === 'majority' ? 'majority' : { phase1: spec.phase1, phase2: spec.phase2 };
    this.random = new Prng(options.seed);
    this.codec = options.codec ?? (jsonCodec as Codec<Command>);
    this.clock = options.shared?.clock ?? new VirtualClock();
    this.trace = new Trace(options.trace?.limit ?? 400, options.trace?.sink);
    // The checkers see envelopes in the log; validity compares the payloads with what was
    // proposed. They derive each slot's configuration from the chosen log, from the first.
    this.invariants = new Invariants(this.quorum, {
      proposedBytes: payloadOf,
      configuration: { id: 0, voters: this.voterIds, quorum: rule, observers: this.observerIds, addresses: {}, windowSlots },
    });
    this.hub =
      options.shared?.hub ??
      new SimTransportHub({
        clock: this.clock,
        random: this.random.fork(),
        tickMs: this.tickMs,
        ...(options.network !== undefined ? { conditions: options.network } : {}),
      });
    for (const id of this.ids) {
      const storageRandom = this.random.fork();
      const storage = new SimStorage({
        node: id,
        clock: this.clock,
        random: () => storageRandom.next(),
        persistDelayMsMax: options.persistDelayMsMax ?? 5,
        onDurable: (node, batch, state) => this.guard(() => this.invariants.durableWrite(node, state.promised, batch.accepted, batch.chosen)),
        onDurableSnapshot: (node, snapshot) => this.guard(() => this.invariants.durableSnapshot(node, snapshot.slot)),
      });
      const spare = this.spareIds.includes(id);
      this.members.set(id, {
        id,
        spare,
        start: spare ? undefined : { members: this.voterIds, observers: this.observerIds, quorum: rule },
        retired: false,
        storage,
        node: undefined,
        clock: undefined,
        machine: undefined,
        incarnation: 0,
        clientId: '',
        applied: [],
        appliedRequests: new Map(),
        appliedPayloads: new Map(),
        cursor: { slot: 0, index: 0 },
        decoding: undefined,
        slowdown: 1,
        wallStepMs: 0,
      });
    }
  }

  /** Length of a tick, in virtual ms. */
  get tickMs(): number {
    return this.options.node?.tickMs ?? simDefaults.tickMs;
  }

  /** Virtual time, in ms. */
  get now(): number {
    return this.clock.now();
  }

  /** Starts every node but the spares. */
  async start(): Promise<void> {
    if (this.started) throw new ConfigError('RuntimeSimulation.start', 'this', 'was started already');
    this.started = true;
    await Promise.all([...this.members.values()].filter((m) => m.start !== undefined).map((m) => this.boot(m)));
    this.check();
  }

  // ---------------------------------------------------------------- the nodes

  /** The name of node `index` (voters first, then observers, then spares). */
  name(index: number): NodeId {
    const id = this.ids[index];
    if (id === undefined) throw new ConfigError('RuntimeSimulation', 'node', `index ${index} is out of range (0 to ${this.ids.length - 1})`);
    return id;
  }

  /** The live node `id`, or undefined while it is down. */
  node(id: NodeId): SynodNode<Command, Result> | undefined {
    return this.member(id).node;
  }

  /** The state machine of the live incarnation of `id`, or undefined while it is down. */
  machine(id: NodeId): StateMachine<Command, Result> | undefined {
    const m = this.member(id);
    return m.node === undefined ? undefined : m.machine;
  }

  /** Whether `id` is up. */
  isUp(id: NodeId): boolean {
    return this.member(id).node !== undefined;
  }

  /**
   * The members of the latest configuration the chosen log holds (voters, those a
   * joint configuration is leaving, observers): the nodes that must converge.
   */
  memberIds(): NodeId[] {
    const config = this.latestConfiguration;
    const voters = votersOf(config);
    return this.ids.filter((id) => voters.includes(id) || config.observers.includes(id));
  }

  /** The latest configuration the chosen log holds (the first one until a change is chosen). */
  get latestConfiguration(): Configuration {
    const config = this.invariants.latestConfiguration;
    assert(config !== undefined, 'the checkers follow the configurations');
    return config;
  }

  /** A spare that no change added and that was not started yet. */
  isSpare(id: NodeId): boolean {
    const m = this.member(id);
    return m.spare && m.start === undefined;
  }

  /** Whether `id` was started at some point and may be restarted: not a spare nobody added, not retired. */
  isStartable(id: NodeId): boolean {
    const m = this.member(id);
    return m.start !== undefined && !m.retired;
  }

  /** The commands the live incarnation of `id` applied, in order. */
  applied(id: NodeId): readonly AppliedCommand[] {
    return this.member(id).applied;
  }

  /** What `id`'s storage holds durably now: what a crash would leave it. */
  durable(id: NodeId): DurableState {
    return this.member(id).storage.durable.build();
  }

  /** The status of `id`, or undefined while it is down. */
  status(id: NodeId): NodeStatus | undefined {
    return this.member(id).node?.status();
  }

  /** How many times `id` was started: 1 for the first boot, one more for every restart. */
  incarnation(id: NodeId): number {
    return this.member(id).incarnation;
  }

  /** The client id proposals without an explicit `request` carry on the live incarnation of `id`. */
  clientIdOf(id: NodeId): string | undefined {
    const m = this.member(id);
    return m.node === undefined ? undefined : m.clientId;
  }

  /** The live node that leads with the highest ballot, if any. */
  leader(): NodeId | undefined {
    let best: NodeStatus | undefined;
    for (const m of this.members.values()) {
      const s = m.node?.status();
      if (s === undefined || s.role !== 'leader' || s.promised === undefined) continue;
      if (best === undefined || compareBallots(s.promised, best.promised!) > 0) best = s;
    }
    return best?.id;
  }

  // ---------------------------------------------------------------- clients

  /**
   * Proposes `command` on node `id` and returns the node's own promise (watched: it
   * must settle, and an acknowledged command must never be lost). Rejects with
   * `ClosedError` if `id` is down.
   */
  propose(id: NodeId, command: Command, options: ProposeOptions = {}): Promise<Result> {
    const m = this.member(id);
    const node = m.node;
    if (node === undefined) return Promise.reject(new ClosedError(`RuntimeSimulation: ${id} is down`));
    const payload = this.codec.encode(command);
    this.invariants.proposedCommand(payload);
    const clientId = options.request?.clientId ?? m.clientId;
    const ack: Acknowledged['key'] =
      options.request !== undefined
        ? { kind: 'request', value: requestKey(clientId, options.request.seq) }
        : { kind: 'payload', value: payloadKey(clientId, payload) };
    const label = `propose ${show(payload)}${options.request !== undefined ? ` as ${clientId}#${options.request.seq}` : ''} on ${id}`;
    this.counts.proposed++;
    const promise = node.propose(command, options);
    this.watch(m, label, promise, () => {
      this.counts.acknowledged++;
      this.acknowledged.push({ label, key: ack });
    });
    return promise;
  }

  /**
   * A linearizable read on node `id` (the node's promise, watched): when it resolves,
   * the node must have applied every proposal acknowledged before it began.
   */
  read(id: NodeId, options: WaitOptions = {}): Promise<void> {
    const m = this.member(id);
    const node = m.node;
    if (node === undefined) return Promise.reject(new ClosedError(`RuntimeSimulation: ${id} is down`));
    const before = this.acknowledged.length;
    const incarnation = m.incarnation;
    this.counts.reads++;
    const promise = node.read(options);
    this.watch(m, `read on ${id}`, promise, () => {
      if (m.incarnation !== incarnation) return;
      this.counts.readsChecked++;
      const missing = this.acknowledged.slice(0, before).find((a) => !this.hasApplied(m, a, this.acknowledged.slice(0, before)));
      if (missing !== undefined) {
        this.fail(
          new SafetyViolation('linearizable-reads', `a read on ${id} resolved before ${id} applied "${missing.label}", acknowledged before the read began`),
        );
      }
    });
    return promise;
  }

  /** Asks the leader `from` to hand over to `to` (the node's promise, watched). */
  transferLeadership(from: NodeId, to: NodeId, options: WaitOptions = {}): Promise<void> {
    const m = this.member(from);
    const node = m.node;
    if (node === undefined) return Promise.reject(new ClosedError(`RuntimeSimulation: ${from} is down`));
    const promise = node.transferLeadership(to, options);
    this.watch(m, `transfer leadership from ${from} to ${to}`, promise, () => {});
    return promise;
  }

  /**
   * Asks node `from` (a leader) for a membership change: the node's promise, watched.
   * A spare it adds must then be started ({@link startSpare}), as an operator starts
   * the new server.
   */
  changeMembers(from: NodeId, change: MembershipChange, options: WaitOptions = {}): Promise<Configuration> {
    const m = this.member(from);
    const node = m.node;
    if (node === undefined) return Promise.reject(new ClosedError(`RuntimeSimulation: ${from} is down`));
    const label = `change ${JSON.stringify(change)} on ${from}`;
    const promise = node.changeMembers(change, options);
    this.watch(m, label, promise, (config) => this.trace.add(this.now, from, `${label}: configuration ${config.id} in effect`));
    promise.catch((error: unknown) =>
      this.trace.add(
        this.now,
        from,
        `${label}: ${error instanceof SynodError ? error.code : 'failed'} (${error instanceof Error ? error.message : String(error)})`,
      ),
    );
    return promise;
  }

  /**
   * Starts spare `id`, with empty storage, as an observer of the current leader's
   * configuration (of the latest chosen one without a leader): as `synod serve --join`
   * starts a new member before the cluster adds it. It learns the log, and the
   * configurations in it, from the cluster.
   */
  async startSpare(id: NodeId): Promise<void> {
    const m = this.member(id);
    if (!m.spare) throw new ConfigError('RuntimeSimulation.startSpare', 'id', `${id} is not a spare (${this.spareIds.join(', ')})`);
    if (m.start !== undefined) return;
    const leader = this.leader();
    const config = (leader === undefined ? undefined : this.status(leader)?.configuration) ?? this.latestConfiguration;
    m.start = startMembersOf(config, id);
    await this.boot(m);
    this.check();
  }

  /**
   * Advances time until `promise` settles (or `msMax` passes) and returns its outcome;
   * throws if it did not settle.
   */
  async settle<T>(promise: Promise<T>, msMax: number): Promise<T> {
    let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    promise.then(
      (value) => (outcome = { ok: true, value }),
      (error: unknown) => (outcome = { ok: false, error }),
    );
    await this.runUntil(() => outcome !== undefined, msMax);
    if (outcome === undefined) throw new LivenessFailure(`a promise did not settle within ${msMax} ms (t=${this.now})`);
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  // ---------------------------------------------------------------- faults

  /**
   * Kills `id`: the node object is abandoned without `close()`. Its timers are
   * dropped, its transport stops at once, its storage loses what was not durable, and
   * its pending promises will never settle (the caller died with it). Idempotent.
   */
  crash(id: NodeId): void {
    const m = this.member(id);
    if (m.node === undefined) return;
    this.trace.add(this.now, id, `crashes (commit index ${m.node.status().commitIndex})`);
    m.clock?.dispose();
    this.hub.crash(id);
    m.storage.crash();
    for (const w of this.watched) {
      if (w.node === id && w.incarnation === m.incarnation && w.state === 'pending') {
        w.state = 'abandoned';
        this.counts.abandoned++;
        this.watched.delete(w);
      }
    }
    m.node = undefined;
    this.invariants.crashed(id);
  }

  /**
   * Stops `id` gracefully with `node.close()`, running the clock until it finishes (it
   * flushes what waits to be written): its pending promises reject with `ClosedError`.
   * `restart(id)` starts it again.
   */
  async close(id: NodeId, msMax = 10_000): Promise<void> {
    const m = this.member(id);
    const node = m.node;
    if (node === undefined) return;
    this.trace.add(this.now, id, 'closes');
    await this.settle(node.close(), msMax);
    assert(node.status().state === 'closed', `${id} is ${node.status().state} after close()`);
    m.clock?.dispose();
    m.node = undefined;
    this.invariants.crashed(id);
  }

  /** Starts a crashed or closed `id` again: a new node on its durable state, with a fresh state machine. */
  async restart(id: NodeId): Promise<void> {
    const m = this.member(id);
    if (m.node !== undefined || m.start === undefined || m.retired) return;
    m.storage = m.storage.reopen();
    await this.boot(m);
    const promised = m.node!.status().promised;
    if (promised !== undefined) this.guard(() => this.invariants.restarted(id, promised));
    this.check();
  }

  /**
   * Kills `id`, erases its storage and starts it again, empty, under the same id
   * (amnesia), with the members of the latest configuration, as an operator would
   * restart it. A node the latest configuration does not name (removed) stays down for
   * good (retired); a spare not started yet is left alone.
   */
  async wipe(id: NodeId): Promise<void> {
    const m = this.member(id);
    if (m.start === undefined || m.retired) return;
    this.crash(id);
    if (m.node !== undefined) return;
    this.trace.add(this.now, id, 'storage wiped');
    m.storage = m.storage.wipe();
    this.invariants.wiped(id);
    const latest = this.latestConfiguration;
    if (latest.id > 0) {
      if (!votersOf(latest).includes(id) && !latest.observers.includes(id)) {
        this.trace.add(this.now, id, `retired: configuration ${latest.id} does not name it`);
        m.retired = true;
        return;
      }
      m.start = startMembersOf(latest, id);
    }
    await this.boot(m);
    this.check();
  }

  /** Nodes talk only within their group; nodes in no group form one more. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    this.trace.add(this.now, 'sim', `partition ${groups.map((g) => `{${g.join(',')}}`).join(' ')}`);
    this.hub.partition(groups, this.ids);
  }

  /** Messages from `from` to `to` are lost (one way). */
  cut(from: NodeId, to: NodeId): void {
    this.trace.add(this.now, 'sim', `cut ${from} -> ${to}`);
    this.hub.cut(from, to);
  }

  /** Restores every link. */
  heal(): void {
    this.trace.add(this.now, 'sim', 'heal the network');
    this.hub.heal();
  }

  /**
   * `id`'s clock runs `factor` times slower (1 restores it), across restarts too: its
   * ticks, timeouts and timestamps lag, as on a machine whose clock drifts.
   */
  slowClock(id: NodeId, factor: number): void {
    const m = this.member(id);
    this.trace.add(this.now, id, factor === 1 ? 'clock runs normally' : `clock runs ${factor}x slower`);
    m.slowdown = factor;
    if (m.clock !== undefined) m.clock.slowdown = factor;
  }

  /**
   * Steps `id`'s wall clock by `ms` (negative: back), as an NTP step or `date -s`
   * would, across restarts too: its `wallTime()` jumps (the leader's command
   * timestamps read it), its monotonic clock and timers go on.
   */
  stepWallClock(id: NodeId, ms: number): void {
    const m = this.member(id);
    this.trace.add(this.now, id, `wall clock stepped ${ms >= 0 ? '+' : ''}${ms} ms`);
    m.wallStepMs += ms;
    m.clock?.stepWallTime(ms);
  }

  /** New loss, duplication and delay for messages sent from now on. */
  network(conditions: NetworkConditions): void {
    this.hub.conditions = conditions;
  }

  /**
   * Injects a {@link Fault} addressed by node index, as the core simulator does:
   * `transferLeader` asks the leader to hand over (its promise is watched).
   */
  async inject(fault: Fault): Promise<void> {
    this.trace.add(
      this.now,
      'sim',
      describeFault(fault, (i) => this.name(i)),
    );
    switch (fault.kind) {
      case 'crash':
        return this.crash(this.name(fault.node));
      case 'restart':
        return this.restart(this.name(fault.node));
      case 'wipe':
        return this.wipe(this.name(fault.node));
      case 'partition':
        return this.hub.partition(
          fault.groups.map((g) => g.map((i) => this.name(i))),
          this.ids,
        );
      case 'cut':
        return this.hub.cut(this.name(fault.from), this.name(fault.to));
      case 'bridge':
        return this.hub.isolate(this.name(fault.a), this.name(fault.c));
      case 'crashLeader': {
        const leader = this.leader();
        if (leader !== undefined) this.crash(leader);
        return;
      }
      case 'isolateLeader': {
        const leader = this.leader();
        if (leader !== undefined) for (const other of this.ids) this.hub.isolate(leader, other);
        return;
      }
      case 'transferLeader': {
        const leader = this.leader();
        const to = this.name(fault.to);
        const voters = leader === undefined ? [] : (this.status(leader)?.configuration?.voters ?? []);
        if (leader !== undefined && leader !== to && voters.includes(to)) void this.transferLeadership(leader, to).catch(() => {});
        return;
      }
      case 'slowClock':
        return this.slowClock(this.name(fault.node), fault.factor);
      case 'heal':
        return this.hub.heal();
      case 'network':
        this.hub.conditions = networkConditionsOf(fault);
        return;
      case 'changeMembers':
        return this.changeMembersFault(fault.change, this.name(fault.node));
      default:
        return unreachable(fault);
    }
  }

  /**
   * The `changeMembers` fault, resolved as the core simulator resolves it against the
   * leader's configuration: `addObserver` adds a spare (`id` if it is one); `replace`
   * puts the first observer in `id`'s place, or, with none, adds a spare as an observer
   * first, as an operator would; `removeLeader` removes the leader; the others apply to
   * `id`. No leader, no spare or a refusal: a no-op (traced). A spare the leader takes
   * starts at once, empty, as an observer of the configuration that adds it.
   */
  private async changeMembersFault(kind: ChangeMembersFault, id: NodeId): Promise<void> {
    const leader = this.leader();
    const config = leader === undefined ? undefined : this.status(leader)?.configuration;
    if (leader === undefined || config === undefined) {
      this.trace.add(this.now, 'sim', 'no leader to change the members');
      return;
    }
    const spare = this.isSpare(id) ? id : this.spareIds.find((s) => this.isSpare(s));
    let change: MembershipChange | undefined;
    switch (kind) {
      case 'addObserver':
        if (spare !== undefined) change = { type: 'addObserver', id: spare };
        break;
      case 'replace': {
        const observer = config.observers[0];
        if (observer !== undefined) change = { type: 'replace', remove: id, add: observer };
        else if (spare !== undefined) change = { type: 'addObserver', id: spare };
        break;
      }
      case 'removeLeader':
        change = { type: 'remove', id: leader };
        break;
      default:
        change = { type: kind, id };
    }
    if (change === undefined) {
      this.trace.add(this.now, 'sim', 'no spare left to add');
      return;
    }
    let refused = false;
    const outcome = this.changeMembers(leader, change);
    outcome.catch(() => (refused = true));
    // A refusal rejects at once; taking the change needs time (messages, disks) to pass.
    await settlePromises();
    if (refused || change.type !== 'addObserver' || !this.isSpare(change.id)) return;
    const m = this.member(change.id);
    m.start = startMembersOf(config, change.id);
    await this.boot(m);
    this.check();
  }

  // ---------------------------------------------------------------- time

  /** Lets `ms` virtual milliseconds pass; throws the first violation found meanwhile. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    await this.clock.runUntil(() => this.violation !== undefined, ms);
    this.check();
    assert(this.now === end, `time stopped at ${this.now}, not ${end}`);
  }

  /** Runs until `done()` holds or `msMax` ms passed; returns whether it holds. Throws a violation found meanwhile. */
  async runUntil(done: () => boolean, msMax: number): Promise<boolean> {
    await this.clock.runUntil(() => this.violation !== undefined || done(), msMax);
    this.check();
    return done();
  }

  // ---------------------------------------------------------------- checks

  /** Whether a violation was found (which {@link check} throws). */
  get violated(): boolean {
    return this.violation !== undefined;
  }

  /** Throws the first violation found, if any. */
  check(): void {
    if (this.violation !== undefined) throw this.violation;
  }

  /** Watched promises of live nodes that have not settled yet. */
  pending(): readonly string[] {
    return [...this.watched].filter((w) => w.state === 'pending').map((w) => `${w.label} (since t=${w.at})`);
  }

  /**
   * Whether every member of the latest configuration ({@link memberIds}) is up and has
   * applied the same log as far as it is chosen: equal commit and applied indexes, at
   * least the end of the chosen prefix (as the acceptors' durable state says), the same
   * commands applied. Spares not added and removed nodes do not count, so a removed
   * leader that learned more than the members cannot hide that they lag.
   */
  converged(): boolean {
    let target: number | undefined;
    let commands: number | undefined;
    const chosen = this.invariants.chosenThrough;
    for (const id of this.memberIds()) {
      const m = this.member(id);
      const s = m.node?.status();
      if (s === undefined || s.state !== 'running') return false;
      if (s.commitIndex !== s.appliedIndex || s.appliedIndex < chosen) return false;
      target ??= s.appliedIndex;
      commands ??= m.applied.length;
      if (s.appliedIndex !== target || m.applied.length !== commands) return false;
    }
    return true;
  }

  /**
   * The end-of-run checks, after a liveness phase: no violation, every watched promise
   * of a live node settled (none hangs), and every acknowledged proposal is in the
   * applied commands of every live member of the latest configuration.
   */
  finish(): void {
    this.check();
    const hanging = this.pending();
    if (hanging.length > 0) {
      throw new LivenessFailure(
        `${hanging.length} promise(s) never settled: ${hanging.slice(0, 5).join('; ')}${hanging.length > 5 ? '; ...' : ''}\n${this.describe()}`,
      );
    }
    for (const id of this.memberIds()) {
      const m = this.member(id);
      if (m.node === undefined) continue;
      const lost = this.acknowledged.find((a) => !this.hasApplied(m, a, this.acknowledged));
      if (lost !== undefined) {
        throw new SafetyViolation('acknowledged-lost', `"${lost.label}" was acknowledged, but ${m.id} never applied it\n${this.describe()}`);
      }
    }
  }

  /** One line per node: up or down, role, commit and applied indexes, commands applied. */
  describe(): string {
    return [...this.members.values()]
      .map((m) => {
        const s = m.node?.status();
        if (s === undefined) return `${m.id}: ${this.isSpare(m.id) ? 'spare' : 'down'}`;
        const config = s.configuration === undefined ? '' : ` configuration ${s.configuration.id}`;
        return `${m.id}: ${s.role} ballot ${s.promised === undefined ? '-' : formatBallot(s.promised)} commit=${s.commitIndex} applied=${s.appliedIndex} commands=${m.applied.length}${config}`;
      })
      .join('\n');
  }

  // ---------------------------------------------------------------- internals

  private member(id: NodeId): Member<Command, Result> {
    const m = this.members.get(id);
    if (m === undefined) throw new ConfigError('RuntimeSimulation', 'id', `${id} is not a node of this simulation (${this.ids.join(', ')})`);
    return m;
  }

  /** Records the first violation; the next call that moves time throws it. */
  private fail(error: Error): void {
    if (this.violation !== undefined) return;
    this.trace.add(this.now, 'sim', `VIOLATION ${error.message}`);
    const trace = this.trace.tail(60).join('\n');
    error.message = `${error.message}\n  at t=${this.now}; last trace lines:\n${trace}`;
    this.violation = error;
  }

  /** Runs a check from inside a node's call path, where a throw would be caught by the runtime. */
  private guard(check: () => void): void {
    try {
      check();
    } catch (error) {
      this.fail(error instanceof Error ? error : new SafetyViolation('check', String(error)));
    }
  }

  private async boot(m: Member<Command, Result>): Promise<void> {
    const start = m.start;
    assert(start !== undefined, `${m.id} is a spare nobody added`);
    const incarnation = ++m.incarnation;
    const id = m.id;
    m.clock = this.clock.child();
    m.clock.slowdown = m.slowdown;
    m.clock.stepWallTime(m.wallStepMs);
    m.clientId = `${id}~${incarnation}`;
    m.applied = [];
    m.appliedRequests = new Map();
    m.appliedPayloads = new Map();
    m.cursor = { slot: 0, index: 0 };
    m.decoding = undefined;
    const machine = this.options.stateMachine?.(id) ?? (new RecordingStateMachine<Command>() as unknown as StateMachine<Command, Result>);
    m.machine = machine;
    const live = (): boolean => m.incarnation === incarnation && m.node !== undefined;
    const stateMachine: StateMachine<Command, Result> = {
      apply: (command, meta) => {
        if (live()) this.guard(() => this.onApply(m, meta, machine.readOnly?.(command) === true));
        return machine.apply(command, meta);
      },
      ...(machine.readOnly !== undefined ? { readOnly: (command: Command) => machine.readOnly!(command) } : {}),
      // Snapshots carry the checkers' record of what was applied beside the machine's
      // bytes, so a node restored from one is checked against the log like the others.
      ...(machine.snapshot !== undefined
        ? {
            snapshot: () => {
              const capture = machine.snapshot!();
              const records = encodeRecords(m.applied);
              return { write: async () => joinSnapshot(records, await capture.write()) };
            },
          }
        : {}),
      ...(machine.restore !== undefined
        ? {
            restore: (data: Uint8Array) => {
              const { records, machine: bytes } = splitSnapshot(data);
              const restored = (): void => {
                if (m.incarnation === incarnation) this.guard(() => this.onRestore(m, records));
              };
              // A restore in steps: checked once it is done, as the runtime applies nothing before.
              const restoring = machine.restore!(bytes);
              if (restoring === undefined) return restored();
              return restoring.then(restored);
            },
          }
        : {}),
    };
    const codec: Codec<Command> = {
      encode: (command) => this.codec.encode(command),
      decode: (bytes) => {
        // The runtime decodes a command right before it applies it: remember its bytes.
        m.decoding = undefined;
        const command = this.codec.decode(bytes);
        m.decoding = bytes;
        return command;
      },
    };
    let transport: Transport = this.options.shared?.transport(id) ?? this.hub.transport(id);
    if (this.options.wrap?.transport !== undefined) transport = this.options.wrap.transport(id, transport);
    const inner = transport;
    const checked: Transport = {
      start: (handlers) => inner.start(handlers),
      send: (message) => {
        if (live()) this.guard(() => this.onSend(m, message));
        inner.send(message);
      },
      close: () => inner.close(),
    };
    let storage: Storage = m.storage;
    if (this.options.wrap?.storage !== undefined) storage = this.options.wrap.storage(id, storage);
    const random = this.random.fork();
    const node = createNode<Command, Result>({
      proposeTimeoutMs: simDefaults.proposeTimeoutMs,
      readTimeoutMs: simDefaults.readTimeoutMs,
      ...this.options.node,
      tickMs: this.tickMs,
      id,
      members: start.members,
      observers: start.observers,
      ...(start.quorum !== undefined ? { quorum: start.quorum } : {}),
      ...(this.options.windowSlots !== undefined ? { windowSlots: this.options.windowSlots } : {}),
      transport: checked,
      storage,
      stateMachine,
      codec,
      clock: m.clock,
      random: () => random.next(),
      clientId: m.clientId,
    });
    node.on('roleChange', ({ role }) => {
      if (!live()) return;
      const s = node.status();
      this.trace.add(this.now, id, `${role} (ballot ${s.promised === undefined ? '-' : formatBallot(s.promised)}, commit index ${s.commitIndex})`);
    });
    node.on('error', ({ error, fatal }) => {
      if (live() && fatal)
        this.fail(
          new SafetyViolation(
            'node-failure',
            `${id} failed and closed itself: ${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}`,
          ),
        );
    });
    m.node = node;
    this.trace.add(
      this.now,
      id,
      incarnation === 1 ? (m.spare ? `starts empty, joining as an observer of ${start.members.join(',')}` : 'starts') : `restarts (incarnation ${incarnation})`,
    );
    await node.start();
  }

  /** Persist before send, and only the voters of a slot's configuration vote for it. */
  private onSend(m: Member<Command, Result>, message: NodeMessage): void {
    if (!isCoreMessage(message)) return;
    this.invariants.send(m.id, message, m.storage.durable, m.storage.durableSnapshot?.slot);
  }

  /**
   * Identifies the command the runtime is applying on `m` and checks it. A read-only
   * command (the machine's `readOnly`) may be applied again: it keeps no exactly-once
   * entry, and running it again changes nothing.
   */
  private onApply(m: Member<Command, Result>, meta: { slot: number; clientId: string; origin: NodeId }, readOnly: boolean): void {
    this.counts.applies++;
    const payload = m.decoding;
    m.decoding = undefined;
    if (payload === undefined) throw new SafetyViolation('apply', `${m.id} applied a command at slot ${meta.slot} without decoding one`);
    const { slot } = meta;
    const value = this.invariants.chosenValue(slot);
    if (value === undefined) throw new SafetyViolation('durability', `${m.id} applied a command at slot ${slot}, which no phase-2 quorum has durably accepted`);
    if (value.kind !== 'batch') throw new SafetyViolation('durability', `${m.id} applied a command at slot ${slot}, where a ${value.kind} was chosen`);
    if (slot < m.cursor.slot) throw new SafetyViolation('prefix', `${m.id} applied slot ${slot} after slot ${m.cursor.slot}`);
    if (slot > m.cursor.slot) m.cursor = { slot, index: 0 };
    let again: { key: string; slot: number } | undefined;
    for (let i = m.cursor.index; i < value.commands.length; i++) {
      const e = tryDecode(value.commands[i]!);
      if (e === undefined || e.clientId !== meta.clientId || e.origin !== meta.origin || !bytesEqual(e.payload, payload)) continue;
      const key = requestKey(e.clientId, e.seq);
      const before = readOnly ? undefined : m.appliedRequests.get(key);
      if (before !== undefined) {
        again ??= { key: `${e.clientId}#${e.seq}`, slot: before };
        continue;
      }
      m.cursor.index = i + 1;
      this.record(m, { slot, clientId: e.clientId, seq: e.seq, origin: e.origin, payload });
      return;
    }
    if (again !== undefined) {
      throw new SafetyViolation(
        'exactly-once',
        `${m.id} applied request ${again.key} (${show(payload)}) again at slot ${slot}; it was applied at slot ${again.slot}`,
      );
    }
    throw new SafetyViolation(
      'durability',
      `${m.id} applied ${show(payload)} from ${meta.clientId} at slot ${slot}, which is not (or no more often) among the slot's chosen commands`,
    );
  }

  /**
   * `m` restored a snapshot holding `records`: they must be the start of the log every
   * replica applied (prefix); the node continues after them.
   */
  private onRestore(m: Member<Command, Result>, records: readonly AppliedCommand[]): void {
    this.counts.restores++;
    for (let i = 0; i < records.length; i++) {
      const c = records[i]!;
      const first = this.canonical[i];
      if (first === undefined || first.slot !== c.slot || first.clientId !== c.clientId || first.seq !== c.seq || !bytesEqual(first.payload, c.payload)) {
        throw new SafetyViolation(
          'prefix',
          `${m.id} restored a snapshot whose command ${i + 1} (${c.clientId}#${c.seq}, slot ${c.slot}) is not the one the replicas applied there`,
        );
      }
    }
    m.applied = [...records];
    m.appliedRequests = new Map(records.map((c) => [requestKey(c.clientId, c.seq), c.slot]));
    m.appliedPayloads = new Map();
    for (const c of records) {
      const k = payloadKey(c.clientId, c.payload);
      m.appliedPayloads.set(k, (m.appliedPayloads.get(k) ?? 0) + 1);
    }
    const last = records[records.length - 1];
    m.cursor = { slot: last?.slot ?? 0, index: Number.MAX_SAFE_INTEGER };
  }

  private record(m: Member<Command, Result>, c: AppliedCommand): void {
    const position = m.applied.length;
    m.applied.push(c);
    m.appliedRequests.set(requestKey(c.clientId, c.seq), c.slot);
    const k = payloadKey(c.clientId, c.payload);
    m.appliedPayloads.set(k, (m.appliedPayloads.get(k) ?? 0) + 1);
    const first = this.canonical[position];
    if (first === undefined) {
      assert(position === this.canonical.length, `position ${position} skips past ${this.canonical.length}`);
      this.canonical.push(c);
    } else if (first.slot !== c.slot || first.clientId !== c.clientId || first.seq !== c.seq || !bytesEqual(first.payload, c.payload)) {
      throw new SafetyViolation(
        'prefix',
        `${m.id} applied ${c.clientId}#${c.seq} ${show(c.payload)} (slot ${c.slot}) as command ${position + 1}; another replica applied ${first.clientId}#${first.seq} ${show(first.payload)} (slot ${first.slot}) there`,
      );
    }
  }

  /** Whether `m` applied acknowledged proposal `a`; payload keys count, since several proposals may carry the same bytes. */
  private hasApplied(m: Member<Command, Result>, a: Acknowledged, all: readonly Acknowledged[]): boolean {
    if (a.key.kind === 'request') return m.appliedRequests.has(a.key.value);
    const needed = all.filter((b) => b.key.kind === 'payload' && b.key.value === a.key.value).length;
    return (m.appliedPayloads.get(a.key.value) ?? 0) >= needed;
  }

  private watch<T>(m: Member<Command, Result>, label: string, promise: Promise<T>, onResolved: (value: T) => void): void {
    const w: Watched = { label, node: m.id, incarnation: m.incarnation, at: this.now, state: 'pending' };
    this.watched.add(w);
    promise.then(
      (value) => {
        if (w.state !== 'pending') return;
        w.state = 'resolved';
        this.watched.delete(w);
        onResolved(value);
      },
      (error: unknown) => {
        if (w.state !== 'pending') return;
        w.state = 'rejected';
        this.watched.delete(w);
        this.counts.rejected++;
        const code = error instanceof SynodError ? error.code : 'not a SynodError';
        this.counts.rejections[code] = (this.counts.rejections[code] ?? 0) + 1;
        if (!(error instanceof SynodError)) this.fail(new SafetyViolation('errors', `${label} rejected with ${String(error)}, not a SynodError`));
      },
    );
  }
}

/**
 * The membership a node joining or restarting from nothing is created with: the voters
 * and observers of `config` (itself an observer if `config` does not name it, as
 * `synod serve --join` starts). The rule is the configuration's when it fits the voters
 * listed, majority otherwise (a joint configuration's voters are listed together).
 */
function startMembersOf(config: Configuration, id: NodeId): StartMembers {
  const members = votersOf(config);
  const observers = config.observers.includes(id) || members.includes(id) ? config.observers : [...config.observers, id];
  const quorum = config.leaving === undefined ? config.quorum : 'majority';
  return { members, observers, quorum };
}

function tryDecode(bytes: Uint8Array): ReturnType<typeof decodeEnvelope> | undefined {
  try {
    return decodeEnvelope(bytes);
  } catch {
    return undefined;
  }
}

/** The user's bytes inside a runtime envelope (the bytes themselves if they are not one). */
function payloadOf(command: Uint8Array): Uint8Array {
  return tryDecode(command)?.payload ?? command;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function payloadKey(clientId: string, payload: Uint8Array): string {
  let s = `${clientId}\u0000`;
  for (const b of payload) s += String.fromCharCode(b);
  return s;
}

const decoder = new TextDecoder();

/** A short, printable form of command bytes. */
function show(bytes: Uint8Array): string {
  const text = decoder.decode(bytes.subarray(0, 40));
  return bytes.byteLength > 40 ? `${text}...` : text;
}

/** The checkers' records as JSON bytes (payloads in base64). */
function encodeRecords(records: readonly AppliedCommand[]): Uint8Array {
  const plain = records.map((c) => ({ ...c, payload: btoa(String.fromCharCode(...c.payload)) }));
  return new TextEncoder().encode(JSON.stringify(plain));
}

/** A simulated node's snapshot: the records' length (4 bytes), the records, the machine's bytes. */
function joinSnapshot(records: Uint8Array, machine: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + records.byteLength + machine.byteLength);
  new DataView(out.buffer).setUint32(0, records.byteLength);
  out.set(records, 4);
  out.set(machine, 4 + records.byteLength);
  return out;
}

function splitSnapshot(data: Uint8Array): { records: AppliedCommand[]; machine: Uint8Array } {
  const length = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
  const plain = JSON.parse(new TextDecoder().decode(data.subarray(4, 4 + length))) as (Omit<AppliedCommand, 'payload'> & { payload: string })[];
  const records = plain.map((c) => ({ ...c, payload: Uint8Array.from(atob(c.payload), (ch) => ch.charCodeAt(0)) }));
  return { records, machine: data.subarray(4 + length) };
}
