import {
  type ChangeMembersResult,
  type Configuration,
  type DurableState,
  type MembershipChange,
  windowSlotsDefault,
  type Limits,
  type Message,
  type NodeId,
  type Output,
  type ProposeResult,
  type Quorum,
  type Role,
  type Value,
  ConfigError,
  defaultLimits,
  Replica,
  compareBallots,
  flexible,
  formatBallot,
  isEmptyOutput,
  mayPrecedePersist,
  majority,
  persistNeedsSync,
} from '../core/index.js';
import { type Fault, describeFault, networkConditionsOf } from './faults.js';
import { Invariants } from './invariants.js';
import { Prng } from './prng.js';
import { SimDisk, type SimSnapshot } from './sim-disk.js';
import { type NetworkConditions, SimNetwork, calmNetwork } from './sim-network.js';
import { HashStateMachine, type SimStateMachine } from './state-machine.js';
import { Trace } from './trace.js';

/** Which quorum system the simulated cluster uses. */
export type QuorumSpec = { readonly kind: 'majority' } | { readonly kind: 'flexible'; readonly phase1: number; readonly phase2: number };

/** A snapshot on its way to a replica that needs slots its sender compacted. */
export interface SnapshotTransfer {
  readonly type: 'snapshot';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly snapshot: SimSnapshot;
}

/** What the simulated network carries: the core's messages, and snapshots. */
export type SimMessage = Message | SnapshotTransfer;

/**
 * One event of a tick, as {@link Simulator.step} reports it: the tick began (due
 * writes completed), a message was delivered (and handled), or a replica ticked.
 */
export type SimEvent =
  | { readonly kind: 'tickBegun'; readonly at: number }
  | { readonly kind: 'delivered'; readonly message: SimMessage }
  | { readonly kind: 'ticked'; readonly node: NodeId };

/** When simulated nodes snapshot and compact. */
export interface SimSnapshotOptions {
  /** A node snapshots its state machine once it applied this many slots since its last snapshot. */
  readonly everySlots: number;
  /** Applied slots kept in the log below each snapshot, for peers that lag a little. */
  readonly trailingSlots: number;
}

/** How to build a {@link Simulator}. */
export interface SimulatorOptions {
  /** Seeds every random choice: the same seed and inputs replay the same run. */
  readonly seed: number;
  /** Number of voters, named `n1..nN`. 1 to 9. */
  readonly voters: number;
  /** Number of observers, named `o1..oM`. Default 0. */
  readonly observers?: number;
  /**
   * Number of spare nodes, named `s1..sK`: down and outside the cluster until a
   * `changeMembers` fault adds one (then it starts, empty, as an observer). Default 0.
   */
  readonly spares?: number;
  /** The configuration window (slots between a configuration being chosen and governing). Default the core's. */
  readonly windowSlots?: number;
  /** Default majority. */
  readonly quorum?: QuorumSpec;
  /** Replica limits; defaults from the core. */
  readonly limits?: Partial<Limits>;
  /** Largest disk write latency in ticks (each write draws in [0, max]). Default 1. */
  readonly diskDelayTicksMax?: number;
  /** Initial network conditions. Default {@link calmNetwork}. */
  readonly network?: NetworkConditions;
  /** Builds each replica's state machine. Default {@link HashStateMachine}. */
  readonly stateMachine?: () => SimStateMachine;
  /** Lines of trace kept for failure reports (default 400), and an optional live sink. */
  readonly trace?: { readonly limit?: number; readonly sink?: (line: string) => void };
  /** Trace every commit at the leader (verbose). Default false. */
  readonly traceCommits?: boolean;
  /**
   * Snapshots and log compaction, so that lagging or restarted replicas are sent a
   * snapshot (over the simulated network, with its loss, delays and cuts). Default off.
   */
  readonly snapshots?: SimSnapshotOptions;
  /**
   * Idle leaders quiesce their groups (the replicas' `quiesceAfterTicks`), and the
   * simulator plays what a group host's liveness does for them: a quiesced replica
   * whose leader is down, or cut off from it either way, for `suspectTicks` ticks in a
   * row is woken ({@link Replica.wake}). Default off.
   */
  readonly quiescence?: { readonly afterTicks: number; readonly suspectTicks: number };
}

interface SimNode {
  readonly id: NodeId;
  disk: SimDisk;
  replica: Replica | undefined;
  machine: SimStateMachine;
  /** Messages waiting for the write with this seq (and every earlier one) to be durable. */
  held: { seq: number; messages: readonly Message[] }[];
  role: Role | undefined;
  lastApplied: number;
  /** The slot of the node's last snapshot (0 if none). */
  lastSnapshot: number;
  /** The node ticks once every this many simulator ticks (a slow clock); 1 normally. */
  tickEvery: number;
  /** One of the spare nodes, outside the cluster until a change adds it. */
  readonly spare: boolean;
  /** The configuration it starts from (until a snapshot says more): for a spare, the one that added it. */
  joinedWith: Configuration | undefined;
  /** Ticks in a row it has been quiesced while its leader was down or cut off from it. */
  suspectTicks: number;
}

/**
 * A deterministic cluster simulator: the real {@link Replica} of every node, a
 * simulated network (delay, loss, duplication, reordering, partitions), simulated
 * disks (writes durable after a delay; a crash loses the rest) and virtual time, with
 * the safety {@link Invariants} checked as every event happens. Persist before send is
 * enforced: a node's messages leave only once its earlier writes are durable.
 *
 * @example
 * ```ts
 * const sim = new Simulator({ seed: 42, voters: 3 });
 * sim.runUntil(() => sim.leader() !== undefined, 200);
 * sim.propose(new TextEncoder().encode('x'));
 * sim.run(50);
 * ```
 */
export class Simulator {
  readonly ids: readonly NodeId[];
  readonly quorum: Quorum;
  readonly invariants: Invariants;
  readonly network: SimNetwork<SimMessage>;
  readonly trace: Trace;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly random: Prng;
  private readonly observerIds: readonly NodeId[];
  private readonly diskDelayTicksMax: number;
  private readonly newMachine: () => SimStateMachine;
  private readonly traceCommits: boolean;
  /** With {@link SimulatorOptions.quiescence}: quiesce messages sent, and replicas woken because their leader was down or cut off. */
  readonly quiescenceCounts = { quiesces: 0, wakes: 0 };
  private time = 0;
  private readIds = 0;
  /** The tick under way, while {@link step} walks it event by event. */
  private stepping: { readonly due: readonly SimMessage[]; delivered: number; ticked: number } | undefined;
  /** Called for every command a replica applies: (node, slot, command). */
  onApply: ((node: NodeId, slot: number, command: Uint8Array) => void) | undefined;
  /** Called with commands a leader gave back when it stepped down: (commands, that node). */
  onDropped: ((commands: readonly Uint8Array[], node: NodeId) => void) | undefined;

  constructor(private readonly options: SimulatorOptions) {
    if (!Number.isInteger(options.voters) || options.voters < 1 || options.voters > 9) {
      throw new ConfigError('Simulator', 'voters', 'must be an integer from 1 to 9');
    }
    const voterIds = Array.from({ length: options.voters }, (_, i) => `n${i + 1}`);
    this.observerIds = Array.from({ length: options.observers ?? 0 }, (_, i) => `o${i + 1}`);
    const spareIds = Array.from({ length: options.spares ?? 0 }, (_, i) => `s${i + 1}`);
    this.ids = [...voterIds, ...this.observerIds, ...spareIds];
    const spec = options.quorum ?? { kind: 'majority' };
    this.quorum = spec.kind === 'majority' ? majority(voterIds) : flexible(voterIds, spec);
    this.random = new Prng(options.seed);
    this.network = new SimNetwork<SimMessage>(this.random.fork());
    this.network.conditions = options.network ?? calmNetwork;
    this.invariants = new Invariants(this.quorum, {
      messageBytesMax: options.limits?.messageBytesMax ?? defaultLimits.messageBytesMax,
      configuration: {
        id: 0,
        voters: voterIds,
        quorum: spec.kind === 'majority' ? 'majority' : { phase1: spec.phase1, phase2: spec.phase2 },
        observers: this.observerIds,
        addresses: {},
        windowSlots: options.windowSlots ?? windowSlotsDefault,
      },
    });
    this.trace = new Trace(options.trace?.limit ?? 400, options.trace?.sink);
    this.diskDelayTicksMax = options.diskDelayTicksMax ?? 1;
    this.newMachine = options.stateMachine ?? (() => new HashStateMachine());
    this.traceCommits = options.traceCommits ?? false;
    for (const id of this.ids) {
      const node: SimNode = {
        id,
        disk: new SimDisk(),
        replica: undefined,
        machine: this.newMachine(),
        held: [],
        role: undefined,
        lastApplied: 0,
        lastSnapshot: 0,
        tickEvery: 1,
        spare: spareIds.includes(id),
        joinedWith: undefined,
        suspectTicks: 0,
      };
      this.nodes.set(id, node);
      if (!spareIds.includes(id)) this.boot(node);
    }
  }

  /** Virtual time, in ticks. */
  get now(): number {
    return this.time;
  }

  /** The name of node `index` (voters first, then observers). */
  name(index: number): NodeId {
    const id = this.ids[index];
    if (id === undefined) throw new ConfigError('Simulator', 'node', `index ${index} is out of range`);
    return id;
  }

  /** The live replica of `id`, or undefined while it is crashed. */
  replica(id: NodeId): Replica | undefined {
    return this.nodes.get(id)?.replica;
  }

  /** The members of the latest configuration the chosen log holds: the nodes that must converge. */
  members(): NodeId[] {
    const config = this.invariants.latestConfiguration;
    if (config === undefined) return [...this.ids];
    const voters = config.leaving === undefined ? config.voters : [...new Set([...config.voters, ...config.leaving.voters])];
    return this.ids.filter((id) => voters.includes(id) || config.observers.includes(id));
  }

  /** What `id`'s disk holds durably: what it would restart from (for drawing and checks). */
  durableState(id: NodeId): DurableState | undefined {
    return this.nodes.get(id)?.disk.load();
  }

  /** Whether `id` is up. */
  isUp(id: NodeId): boolean {
    return this.nodes.get(id)?.replica !== undefined;
  }

  /** The state machine fingerprint of a live node. */
  fingerprint(id: NodeId): string | undefined {
    const n = this.nodes.get(id);
    return n?.replica === undefined ? undefined : n.machine.fingerprint();
  }

  /** The live leader with the highest ballot, if any. */
  leader(): NodeId | undefined {
    let best: Replica | undefined;
    for (const n of this.nodes.values()) {
      const r = n.replica;
      if (r === undefined || r.role !== 'leader') continue;
      if (best === undefined || compareBallots(r.status.promised, best.status.promised) > 0) best = r;
    }
    return best?.id;
  }

  /** Proposes one command to the current leader (or to `to`). */
  propose(command: Uint8Array, to?: NodeId): ProposeResult {
    this.invariants.proposedCommand(command);
    const target = to ?? this.leader();
    const node = target === undefined ? undefined : this.nodes.get(target);
    if (node?.replica === undefined) return { ok: false, reason: 'not-leader', leaderHint: undefined };
    const result = node.replica.propose([command]);
    this.drain(node);
    return result;
  }

  /**
   * Asks every node that believes it leads (a deposed leader too) for a read index;
   * the invariants check each confirmed index against what was applied before.
   */
  readAtLeaders(): void {
    for (const node of this.nodes.values()) {
      const r = node.replica;
      if (r === undefined || r.role !== 'leader') continue;
      const id = ++this.readIds;
      if (!r.readIndex(id).ok) continue;
      this.invariants.readRequested(node.id, id);
      this.drain(node);
    }
  }

  /** Injects a fault now. */
  inject(fault: Fault): void {
    this.trace.add(
      this.time,
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
      case 'partition': {
        const group = new Map<NodeId, number>();
        fault.groups.forEach((g, gi) => g.forEach((i) => group.set(this.name(i), gi)));
        for (const a of this.ids) for (const b of this.ids) if (a !== b && group.get(a) !== group.get(b)) this.network.cut(a, b);
        return;
      }
      case 'cut':
        if (fault.from !== fault.to) this.network.cut(this.name(fault.from), this.name(fault.to));
        return;
      case 'bridge': {
        const a = this.name(fault.a);
        const c = this.name(fault.c);
        if (a !== c) {
          this.network.cut(a, c);
          this.network.cut(c, a);
        }
        return;
      }
      case 'crashLeader': {
        const leader = this.leader();
        if (leader !== undefined) this.crash(leader);
        return;
      }
      case 'isolateLeader': {
        const leader = this.leader();
        if (leader !== undefined) for (const other of this.ids) if (other !== leader) this.isolate(leader, other);
        return;
      }
      case 'transferLeader': {
        const leader = this.leader();
        const replica = leader === undefined ? undefined : this.nodes.get(leader)?.replica;
        if (replica === undefined) return;
        replica.transferLeadership(this.name(fault.to));
        return this.drain(this.nodes.get(leader!)!);
      }
      case 'changeMembers':
        this.changeMembers(fault.change, this.name(fault.node));
        return;
      case 'slowClock':
        this.nodes.get(this.name(fault.node))!.tickEvery = Math.max(1, Math.floor(fault.factor));
        return;
      case 'heal':
        return this.network.heal();
      case 'network':
        this.network.conditions = networkConditionsOf(fault);
        return;
    }
  }

  /** Asks the leader for a membership change about `id` (see the `changeMembers` fault); a spare it adds starts. */
  changeMembers(kind: Extract<Fault, { kind: 'changeMembers' }>['change'], id: NodeId): ChangeMembersResult | undefined {
    const leader = this.leader();
    const replica = leader === undefined ? undefined : this.nodes.get(leader)?.replica;
    if (replica === undefined) return undefined;
    const spare = this.ids.find((s) => this.isSpare(this.nodes.get(s)!) && s === id) ?? this.ids.find((s) => this.isSpare(this.nodes.get(s)!));
    let change: MembershipChange | undefined;
    switch (kind) {
      case 'addObserver':
        if (spare !== undefined) change = { type: 'addObserver', id: spare };
        break;
      case 'replace': {
        // The voter `id` gives its place to an observer; with none, a spare is added as
        // one first, as an operator would (a later replace then uses it).
        const observer = replica.status.configuration.observers[0];
        if (observer !== undefined) change = { type: 'replace', remove: id, add: observer };
        else if (spare !== undefined) change = { type: 'addObserver', id: spare };
        break;
      }
      case 'removeLeader':
        change = { type: 'remove', id: replica.id };
        break;
      default:
        change = { type: kind, id };
    }
    if (change === undefined) return undefined;
    const result = replica.changeMembers(change);
    this.trace.add(this.time, replica.id, `change ${JSON.stringify(change)}: ${result.ok ? `configuration ${result.config.id} queued` : result.reason}`);
    if (result.ok) {
      const added = change.type === 'addObserver' ? change.id : undefined;
      const node = added === undefined ? undefined : this.nodes.get(added);
      if (node !== undefined && node.replica === undefined && node.joinedWith === undefined) {
        node.joinedWith = result.config;
        this.boot(node);
      }
    }
    this.drain(this.nodes.get(replica.id)!);
    return result;
  }

  /** A spare not added yet. */
  private isSpare(node: SimNode): boolean {
    return node.spare && node.joinedWith === undefined;
  }

  private isolate(a: NodeId, b: NodeId): void {
    this.network.cut(a, b);
    this.network.cut(b, a);
  }

  /**
   * Kills `id`: writes not yet durable and messages not yet sent are lost. With
   * `keepUnsynced`, completed writes no sync covered survive (a process crash, not a
   * power loss); writes still in progress are lost either way.
   */
  crash(id: NodeId, options: { readonly keepUnsynced?: boolean } = {}): void {
    const node = this.nodes.get(id);
    if (node?.replica === undefined) return;
    node.disk.crash(options.keepUnsynced ?? false);
    this.invariants.crashed(id);
    node.held = [];
    node.replica = undefined;
    node.role = undefined;
  }

  /** Kills `id`, erases its disk and restarts it empty under the same id (amnesia). */
  wipe(id: NodeId): void {
    const node = this.nodes.get(id);
    if (node === undefined) return;
    this.crash(id);
    node.disk = new SimDisk();
    this.invariants.wiped(id);
    // Restarted as an operator would: with the cluster's current members, not those it joined with.
    const latest = this.invariants.latestConfiguration;
    if (latest !== undefined && latest.id > 0) node.joinedWith = latest;
    this.restart(id);
  }

  /** Restarts a crashed `id` from its durable state, with a fresh state machine. */
  restart(id: NodeId): void {
    const node = this.nodes.get(id);
    if (node === undefined || node.replica !== undefined) return;
    if (this.isSpare(node)) return;
    this.boot(node);
    this.invariants.restarted(id, node.replica!.status.promised, node.lastApplied);
  }

  private boot(node: SimNode): void {
    const rng = this.random.fork();
    node.machine = this.newMachine();
    const snapshot = node.disk.snapshot;
    if (snapshot !== undefined) node.machine.restore(snapshot.state);
    node.lastApplied = snapshot?.slot ?? 0;
    node.lastSnapshot = node.lastApplied;
    const configuration = snapshot?.configuration ?? (node.joinedWith !== undefined ? [{ from: 1, source: 0, config: node.joinedWith }] : undefined);
    node.replica = new Replica({
      id: node.id,
      quorum: this.quorum,
      observers: this.observerIds,
      ...(this.options.windowSlots !== undefined ? { windowSlots: this.options.windowSlots } : {}),
      ...(configuration !== undefined ? { configuration } : {}),
      ...(this.options.limits !== undefined ? { limits: this.options.limits } : {}),
      ...(this.options.quiescence !== undefined ? { quiesceAfterTicks: this.options.quiescence.afterTicks } : {}),
      random: () => rng.next(),
      state: node.disk.load(),
      snapshotSlot: node.lastApplied,
    });
    node.role = node.replica.role;
  }

  /** Advances virtual time by one tick: durable writes, deliveries, then every replica's tick. */
  tick(): void {
    if (this.stepping === undefined) this.beginTick();
    while (this.next() !== undefined);
  }

  /**
   * Whether a tick is under way: begun by {@link step}, with deliveries or replica
   * ticks still to do.
   */
  get midTick(): boolean {
    return this.stepping !== undefined;
  }

  /**
   * Does the next event of the current tick (beginning a new tick first if none is
   * under way, which completes due writes): one delivery, or one replica's tick, in
   * the order {@link tick} does them. Returns the event, or undefined once the tick
   * is done. A tick stepped event by event is the same tick: for debuggers and the
   * playground, which show the cluster between events.
   */
  step(): SimEvent | undefined {
    if (this.stepping === undefined) {
      this.beginTick();
      return { kind: 'tickBegun', at: this.time };
    }
    const done = this.next();
    if (done === undefined) return undefined;
    return typeof done === 'string' ? { kind: 'ticked', node: done } : { kind: 'delivered', message: done };
  }

  /** The next event of the tick under way: the message delivered or the node that ticked; undefined (and the tick over) when none is left. */
  private next(): SimMessage | NodeId | undefined {
    const tick = this.stepping!;
    while (tick.delivered < tick.due.length) {
      const m = tick.due[tick.delivered++]!;
      const node = this.nodes.get(m.to);
      if (node?.replica === undefined) continue;
      if (m.type === 'snapshot') this.install(node, node.replica, m.snapshot);
      else node.replica.step(m);
      this.drain(node);
      return m;
    }
    while (tick.ticked < this.ids.length) {
      const node = this.nodes.get(this.ids[tick.ticked++]!)!;
      if (node.replica === undefined || this.time % node.tickEvery !== 0) continue;
      this.watchLeader(node, node.replica);
      node.replica.tick();
      this.drain(node);
      return node.id;
    }
    this.stepping = undefined;
    return undefined;
  }

  /**
   * A group host's liveness, played: wakes a quiesced replica whose leader has been
   * down or cut off from it (either way) for `suspectTicks` of its ticks.
   */
  private watchLeader(node: SimNode, replica: Replica): void {
    const q = this.options.quiescence;
    if (q === undefined) return;
    if (!replica.quiesced) {
      node.suspectTicks = 0;
      return;
    }
    const leader = replica.status.leader;
    const reachable =
      leader === undefined ||
      leader === node.id ||
      (this.nodes.get(leader)?.replica !== undefined && this.network.connected(leader, node.id) && this.network.connected(node.id, leader));
    node.suspectTicks = reachable ? 0 : node.suspectTicks + 1;
    if (node.suspectTicks < q.suspectTicks) return;
    node.suspectTicks = 0;
    this.trace.add(this.time, node.id, `woken: its leader ${leader} is down or cut off`);
    this.quiescenceCounts.wakes++;
    replica.wake();
  }

  private beginTick(): void {
    this.time++;
    for (const node of this.nodes.values()) this.completeWrites(node);
    this.stepping = { due: this.network.takeDue(this.time), delivered: 0, ticked: 0 };
  }

  /** Runs `ticks` ticks. */
  run(ticks: number): void {
    for (let i = 0; i < ticks; i++) this.tick();
  }

  /** Ticks until `done()` holds or `ticksMax` ticks passed; returns whether it holds. */
  runUntil(done: () => boolean, ticksMax: number): boolean {
    for (let i = 0; i < ticksMax; i++) {
      if (done()) return true;
      this.tick();
    }
    return done();
  }

  private completeWrites(node: SimNode): void {
    const replica = node.replica;
    if (replica === undefined) return;
    let completed: number | undefined;
    for (let w = node.disk.completeNext(this.time); w !== undefined; w = node.disk.completeNext(this.time)) {
      this.invariants.durableWrite(node.id, node.disk.state.promised, w.batch.accepted, w.batch.chosen);
      completed = w.seq;
      while (node.held.length > 0 && node.held[0]!.seq <= w.seq) {
        for (const m of node.held.shift()!.messages) this.send(node, m);
      }
    }
    if (completed !== undefined) {
      replica.persisted(completed);
      this.drain(node);
    }
  }

  /** A snapshot arrived: save it, restore it and tell the replica, unless it is stale. */
  private install(node: SimNode, replica: Replica, snapshot: SimSnapshot): void {
    if (snapshot.slot <= replica.status.appliedIndex) return;
    this.invariants.installed(node.id, snapshot.slot, snapshot.state);
    node.disk.saveSnapshot(snapshot, snapshot.slot + 1);
    node.machine.restore(snapshot.state);
    node.lastApplied = snapshot.slot;
    node.lastSnapshot = snapshot.slot;
    replica.installSnapshot(snapshot.slot, snapshot.configuration);
    this.trace.add(this.time, node.id, `installs a snapshot of slots 1..${snapshot.slot}`);
  }

  /** Snapshots the state machine and compacts the log once `everySlots` more slots are applied. */
  private maybeSnapshot(node: SimNode, replica: Replica): void {
    const every = this.options.snapshots;
    if (every === undefined || node.lastApplied - node.lastSnapshot < every.everySlots) return;
    const slot = node.lastApplied;
    const keepFrom = Math.max(1, slot - every.trailingSlots + 1);
    node.disk.saveSnapshot({ slot, state: node.machine.snapshot(), configuration: replica.configurationAt(slot) }, keepFrom);
    node.lastSnapshot = slot;
    replica.compact(keepFrom - 1);
  }

  /** Sends `to` the latest snapshot `node` saved, over the network. */
  private sendSnapshot(node: SimNode, to: NodeId): void {
    const snapshot = node.disk.snapshot;
    if (snapshot === undefined) return;
    this.network.send({ type: 'snapshot', from: node.id, to, snapshot }, this.time);
  }

  private send(node: SimNode, m: Message): void {
    if (m.type === 'quiesce') this.quiescenceCounts.quiesces++;
    this.invariants.send(node.id, m, node.disk.state, node.disk.snapshot?.slot);
    this.network.send(m, this.time);
  }

  /** Does all the work a replica handed out, in the order its contract prescribes. */
  private drain(node: SimNode): void {
    for (;;) {
      const replica = node.replica;
      if (replica === undefined) return;
      const out = replica.takeOutput();
      if (isEmptyOutput(out)) break;
      if (out.committed.length > 0) this.applyCommitted(node, replica, out);
      if (out.dropped.length > 0) this.onDropped?.(out.dropped, node.id);
      for (const r of out.reads) this.invariants.readSettled(node.id, r.id, r.ok ? r.index : undefined);
      for (const to of out.snapshotsTo) this.sendSnapshot(node, to);
      if (out.persist === undefined && !node.disk.hasPending) {
        for (const m of out.messages) this.send(node, m);
      } else {
        // The leader's and learner's messages leave now; the acceptor's wait for the write.
        const waiting: Message[] = [];
        for (const m of out.messages) {
          if (mayPrecedePersist(m)) this.send(node, m);
          else waiting.push(m);
        }
        if (out.persist !== undefined) {
          const doneAt = this.time + this.random.int(this.diskDelayTicksMax + 1);
          node.disk.write(out.persistSeq, out.persist, doneAt, persistNeedsSync(out.persist));
        }
        if (waiting.length > 0) node.held.push({ seq: node.disk.lastPendingSeq!, messages: waiting });
        if (out.persist !== undefined) this.completeWrites(node);
      }
    }
    this.traceRole(node);
  }

  private applyCommitted(node: SimNode, replica: Replica, out: Output): void {
    let commands = 0;
    for (const { slot, value } of out.committed) {
      this.invariants.apply(node.id, slot, value);
      node.lastApplied = slot;
      commands += applyValue(node.machine, slot, value, (c) => this.onApply?.(node.id, slot, c));
      if (this.options.snapshots !== undefined) this.invariants.appliedState(node.id, slot, node.machine.snapshot());
    }
    const first = out.committed[0]!.slot;
    replica.applied(node.lastApplied);
    this.maybeSnapshot(node, replica);
    if (this.traceCommits && replica.role === 'leader') {
      const range = first === node.lastApplied ? `slot ${first}` : `slots ${first}..${node.lastApplied}`;
      this.trace.add(this.time, node.id, `commits ${range} (${commands} command${commands === 1 ? '' : 's'})`);
    }
  }

  private traceRole(node: SimNode): void {
    const replica = node.replica;
    if (replica === undefined || replica.role === node.role) return;
    const before = node.role;
    node.role = replica.role;
    const s = replica.status;
    if (s.role === 'leader') this.trace.add(this.time, node.id, `elected leader in ballot ${formatBallot(s.promised)} (commit index ${s.commitIndex})`);
    else if (s.role === 'candidate') this.trace.add(this.time, node.id, `campaigns with ballot ${formatBallot(s.promised)}`);
    else if (before === 'leader') this.trace.add(this.time, node.id, `steps down (promised ${formatBallot(s.promised)})`);
  }
}

function applyValue(machine: SimStateMachine, slot: number, value: Value, each: (c: Uint8Array) => void): number {
  if (value.kind !== 'batch') return 0;
  for (const c of value.commands) {
    machine.apply(c, slot);
    each(c);
  }
  return value.commands.length;
}
