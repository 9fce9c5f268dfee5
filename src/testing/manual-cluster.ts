import {
  type ChangeMembersResult,
  type CommittedEntry,
  type MembershipChange,
  DurableStateBuilder,
  type Limits,
  type Message,
  type NodeId,
  type ProposeResult,
  type ReadIndexResult,
  Replica,
  type ReplicaStatus,
  ConfigError,
  defaultLimits,
  isEmptyOutput,
  majority,
  windowSlotsDefault,
} from '../core/index.js';
import { Invariants } from './invariants.js';

/** How to build a {@link ManualCluster}. */
export interface ManualClusterOptions {
  /** Voter ids. */
  readonly voters: readonly NodeId[];
  /** Observer ids. Default none. */
  readonly observers?: readonly NodeId[];
  /** Replica limits. */
  readonly limits?: Partial<Limits>;
  /** The configuration window, in slots. Default the core's. */
  readonly windowSlots?: number;
  /** Every replica's `quiesceAfterTicks` (see {@link Replica}): idle leaders quiesce their group. Default: never quiesce. */
  readonly quiesceAfterTicks?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A cluster you drive by hand, for scripted protocol scenarios: nothing is delivered
 * until you say so, so a test can hold a message back (a straggler), drop it, cut a
 * node off, or deliver in any order. Writes are durable at once; every replica's
 * election timeout is `electionTicksMin`. The safety {@link Invariants} are checked
 * throughout.
 *
 * @example
 * ```ts
 * const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
 * c.elect('a');
 * c.propose('a', 'x');
 * c.deliver();
 * expect(c.status('b').commitIndex).toBe(1);
 * ```
 */
export class ManualCluster {
  /** Messages sent and not yet delivered or dropped, oldest first. */
  inFlight: Message[] = [];
  /** Commands leaders gave back when they stepped down, as strings. */
  readonly dropped: string[] = [];
  /** Read-index results each replica reported, in order. */
  readonly reads: { node: NodeId; result: ReadIndexResult }[] = [];
  readonly invariants: Invariants;
  private readonly replicas = new Map<NodeId, Replica | undefined>();
  private readonly disks = new Map<NodeId, DurableStateBuilder>();
  private readonly appliedLog = new Map<NodeId, CommittedEntry[]>();
  private readonly quorum;

  constructor(private readonly options: ManualClusterOptions) {
    this.quorum = majority(options.voters);
    // The checker derives each slot's configuration from the chosen log, as the replicas do.
    this.invariants = new Invariants(this.quorum, {
      messageBytesMax: options.limits?.messageBytesMax ?? defaultLimits.messageBytesMax,
      configuration: {
        id: 0,
        voters: options.voters,
        quorum: 'majority',
        observers: options.observers ?? [],
        addresses: {},
        windowSlots: options.windowSlots ?? windowSlotsDefault,
      },
    });
    for (const id of this.ids) {
      this.disks.set(id, new DurableStateBuilder());
      this.boot(id);
    }
    // A new cluster: every voter asks the others whether they are fresh before it votes
    // (the amnesia guard). Answer those probes now, so scenarios start from a cluster
    // whose voters all vote.
    for (const id of this.ids) this.drain(id);
    this.deliver((m) => m.type === 'probe' || m.type === 'probeReply');
  }

  /** Asks `id` for a read index (see {@link Replica.readIndex}); results land in {@link reads}. */
  readIndex(id: NodeId, readId: number): ReturnType<Replica['readIndex']> {
    const result = this.replica(id).readIndex(readId);
    this.drain(id);
    return result;
  }

  /** Every node, voters first. */
  get ids(): NodeId[] {
    return [...this.options.voters, ...(this.options.observers ?? [])];
  }

  private boot(id: NodeId): void {
    this.appliedLog.set(id, []);
    this.replicas.set(
      id,
      new Replica({
        id,
        quorum: this.quorum,
        observers: this.options.observers ?? [],
        ...(this.options.limits !== undefined ? { limits: this.options.limits } : {}),
        ...(this.options.windowSlots !== undefined ? { windowSlots: this.options.windowSlots } : {}),
        ...(this.options.quiesceAfterTicks !== undefined ? { quiesceAfterTicks: this.options.quiesceAfterTicks } : {}),
        random: () => 0,
        state: this.disks.get(id)!.build(),
      }),
    );
  }

  replica(id: NodeId): Replica {
    const r = this.replicas.get(id);
    if (r === undefined) throw new ConfigError('ManualCluster', 'id', `${id} is crashed or unknown`);
    return r;
  }

  status(id: NodeId): ReplicaStatus {
    return this.replica(id).status;
  }

  /** The commands `id` applied, in order, as strings (no-ops skipped). */
  applied(id: NodeId): string[] {
    return this.appliedLog.get(id)!.flatMap((e) => (e.value.kind === 'batch' ? e.value.commands.map((c) => decoder.decode(c)) : []));
  }

  /** Ticks the given nodes (default all live ones) `times` times. */
  tick(ids: readonly NodeId[] = this.liveIds(), times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of ids) {
        this.replica(id).tick();
        this.drain(id);
      }
    }
  }

  /** Rouses `id` if it is quiesced (see {@link Replica.wake}): what a driver does when `id`'s leader may have failed. */
  wake(id: NodeId): void {
    this.replica(id).wake();
    this.drain(id);
  }

  /** Asks `id` for a membership change (see {@link Replica.changeMembers}). */
  changeMembers(id: NodeId, change: MembershipChange): ChangeMembersResult {
    const result = this.replica(id).changeMembers(change);
    this.drain(id);
    return result;
  }

  /** Proposes a command (a string) at `id`. */
  propose(id: NodeId, command: string): ProposeResult {
    this.invariants.proposedCommand(encoder.encode(command));
    const result = this.replica(id).propose([encoder.encode(command)]);
    this.drain(id);
    return result;
  }

  /** Removes and returns the in-flight messages matching `filter`. */
  take(filter: (m: Message) => boolean): Message[] {
    const taken = this.inFlight.filter(filter);
    this.inFlight = this.inFlight.filter((m) => !filter(m));
    return taken;
  }

  /** Steps one message into its addressee now (which may be a held-back one). */
  inject(m: Message): void {
    const r = this.replicas.get(m.to);
    if (r === undefined) return;
    r.step(m);
    this.drain(m.to);
  }

  /**
   * Delivers in-flight messages matching `filter` (default: all), and those they cause,
   * until none matching is left; messages to crashed nodes are dropped. Returns how
   * many were delivered.
   */
  deliver(filter: (m: Message) => boolean = () => true, roundsMax = 1000): number {
    let delivered = 0;
    for (let round = 0; round < roundsMax; round++) {
      const batch = this.take(filter);
      if (batch.length === 0) return delivered;
      for (const m of batch) {
        delivered++;
        this.inject(m);
      }
    }
    throw new ConfigError('ManualCluster', 'roundsMax', `messages still flowing after ${roundsMax} rounds`);
  }

  /** Delivers only messages between members of `group`. */
  deliverWithin(group: readonly NodeId[]): number {
    const set = new Set(group);
    return this.deliver((m) => set.has(m.from) && set.has(m.to));
  }

  /**
   * Makes `id` leader with the votes of `group` (default all live voters): ticks the
   * group until `id` times out, dropping what the others send meanwhile, then delivers
   * within the group until `id` leads. What the new leader sends then (its first
   * accepts and heartbeats) stays in flight. Messages already in flight within the
   * group may be delivered too: `take()` the ones to hold back first.
   */
  elect(id: NodeId, group: readonly NodeId[] = this.liveIds().filter((v) => this.quorum.isVoter(v))): void {
    const members = new Set([...group, id]);
    for (let i = 0; i < 1000 && this.status(id).role !== 'candidate' && this.status(id).role !== 'leader'; i++) {
      const before = this.inFlight.length;
      this.tick([...members]);
      const fresh = this.inFlight.splice(before);
      this.inFlight.push(...fresh.filter((m) => m.from === id));
    }
    this.deliver((m) => members.has(m.from) && members.has(m.to) && this.status(id).role !== 'leader');
    if (this.status(id).role !== 'leader') throw new ConfigError('ManualCluster', 'id', `${id} did not win the election (role ${this.status(id).role})`);
  }

  /** Crashes `id` (its writes were all durable; its in-flight messages stay in flight). */
  crash(id: NodeId): void {
    this.replicas.set(id, undefined);
  }

  /** Restarts `id` from its durable state. */
  restart(id: NodeId): void {
    this.boot(id);
    this.invariants.restarted(id, this.status(id).promised);
  }

  /**
   * Crashes `id`, erases its disk and starts it again, empty, under the same id
   * (amnesia). Its rejoin probes go in flight.
   */
  wipe(id: NodeId): void {
    this.crash(id);
    this.disks.set(id, new DurableStateBuilder());
    this.invariants.wiped(id);
    this.boot(id);
    this.drain(id);
  }

  private liveIds(): NodeId[] {
    return this.ids.filter((id) => this.replicas.get(id) !== undefined);
  }

  private drain(id: NodeId): void {
    const replica = this.replicas.get(id);
    if (replica === undefined) return;
    const disk = this.disks.get(id)!;
    for (let out = replica.takeOutput(); ; out = replica.takeOutput()) {
      if (isEmptyOutput(out)) return;
      for (const c of out.dropped) this.dropped.push(decoder.decode(c));
      for (const result of out.reads) this.reads.push({ node: id, result });
      if (out.persist !== undefined) {
        disk.merge(out.persist);
        this.invariants.durableWrite(id, disk.promised, out.persist.accepted, out.persist.chosen);
        replica.persisted(out.persistSeq);
      }
      for (const m of out.messages) {
        this.invariants.send(id, m, disk);
        this.inFlight.push(m);
      }
      for (const e of out.committed) {
        this.invariants.apply(id, e.slot, e.value);
        this.appliedLog.get(id)!.push(e);
      }
      if (out.committed.length > 0) replica.applied(out.committed[out.committed.length - 1]!.slot);
    }
  }
}
