import {
  type AcceptedEntry,
  type Ballot,
  type Message,
  type NodeId,
  type Quorum,
  type Value,
  SynodError,
  compareBallots,
  formatBallot,
  quorumsMeet,
  valueBytes,
  valueEquals,
} from '../core/index.js';
import type { Configuration, DurableStateBuilder } from '../core/index.js';
import { Epochs } from '../core/configuration/epochs.js';

/** A broken safety property found by the checkers. Carries the rule and the numbers. */
export class SafetyViolation extends SynodError {
  /**
   * Which property: `agreement`, `validity`, `prefix`, `promise-monotonicity`,
   * `persist-before-send`, `observers`, `configuration`, `durability`, `convergence`,
   * `linearizable-reads`; and, from the runtime simulation, `exactly-once`,
   * `acknowledged-lost`, `errors`, `apply` and `node-failure`.
   */
  readonly property: string;

  constructor(property: string, message: string) {
    super('SAFETY', `${property}: ${message}`);
    this.property = property;
  }
}

interface BallotVotes {
  readonly ballot: Ballot;
  readonly value: Value;
  readonly voters: Set<NodeId>;
}

interface Chosen {
  readonly ballot: Ballot;
  readonly value: Value;
}

/** How an {@link Invariants} reads the commands it checks. */
export interface InvariantsOptions {
  /**
   * The bytes that were proposed, given a command found in a chosen value, for the
   * validity check. Default: the command itself. The runtime wraps each proposal in
   * an envelope the leader stamps, so its simulation passes a function that unwraps
   * the payload.
   */
  readonly proposedBytes?: (command: Uint8Array) => Uint8Array;
  /**
   * The cluster's first configuration, for a cluster whose members change: the checker
   * then derives which configuration governs each slot from the chosen values alone,
   * as the protocol defines it, and counts a slot chosen only by a phase-2 quorum of
   * that configuration. Default: `quorum` governs every slot.
   */
  readonly configuration?: Configuration;
  /**
   * The replicas' `messageBytesMax`: then every accept or chosen message (and a
   * promise's chosen values) carrying more than one value is checked to carry at most
   * that many bytes of values, so it fits in a transport's frame. Default: unchecked.
   */
  readonly messageBytesMax?: number;
}

/**
 * The safety checkers, fed by the simulator as things happen, each check incremental:
 *
 * - agreement: never two values chosen for one slot, where chosen is computed from the
 *   acceptors' durable state across the cluster (a phase-2 quorum durably accepted the
 *   same ballot), never from what learners claim;
 * - validity: every chosen value is a no-op or a batch of proposed commands;
 * - durability: a slot a replica commits is chosen in that sense, with that value;
 * - prefix consistency: every replica applies slot after slot the one chosen value;
 * - promise monotonicity: an acceptor never promises or accepts below a ballot it
 *   promised before, across restarts too, and its durable promise never goes back;
 * - persist before send: a promise or an acknowledgement leaves only once the state it
 *   reports is durable;
 * - only voters vote: an acknowledgement of a slot comes from a voter of the
 *   configuration governing it, a promise from a voter of a configuration governing
 *   some slot from its prepare's first slot on;
 * - linearizable reads: a read index a leader confirms covers every slot any replica
 *   had applied (so acknowledged) when the read was asked for;
 * - bounded messages (given `messageBytesMax`): no message carries several values of
 *   more bytes than that, so each fits in a transport's frame.
 */
export class Invariants {
  private readonly votes = new Map<number, BallotVotes[]>();
  private readonly chosen = new Map<number, Chosen>();
  /** Slots up to this one are all chosen. */
  private prefix = 0;
  private readonly applied = new Map<NodeId, number>();
  private readonly appliedValues: Value[] = [];
  private readonly promisedSent = new Map<NodeId, Ballot>();
  private readonly durablePromised = new Map<NodeId, Ballot>();
  private readonly proposed = new Set<string>();
  /** Per waiting read (`node/id`): the highest slot applied anywhere when it was asked for. */
  private readonly readsWaiting = new Map<string, number>();
  /** Counts of checks made, to show the checkers ran. */
  readonly counts = { durableWrites: 0, sends: 0, applies: 0, reads: 0, snapshots: 0 };
  /** The state machine's state after each slot (when snapshots are on), the first replica's. */
  private readonly statesAt = new Map<number, string>();

  private readonly proposedBytes: (command: Uint8Array) => Uint8Array;
  private readonly messageBytesMax: number | undefined;
  /** The configurations of the chosen log, when members change; folded as the chosen prefix grows. */
  private readonly epochs: Epochs | undefined;
  /** Slots voted on whose configuration was not known yet: decided once it is. */
  private readonly undecided = new Set<number>();
  /** Per node, per slot: the values it holds durably (accepted, or learned chosen). */
  private readonly held = new Map<NodeId, Map<number, Value[]>>();
  /** Per node: the slot its installed snapshot covers. */
  private readonly snapshotThrough = new Map<NodeId, number>();
  /** The first slots of configurations checked for the handover. */
  private readonly handedOver = new Set<number>();
  /** Per (addressee, ballot): the lowest first slot of the prepares sent, which its promise answers. */
  private readonly prepared = new Map<string, number>();

  constructor(
    private readonly quorum: Quorum,
    options: InvariantsOptions = {},
  ) {
    this.proposedBytes = options.proposedBytes ?? ((command) => command);
    this.messageBytesMax = options.messageBytesMax;
    if (options.configuration !== undefined) this.epochs = new Epochs([{ from: 1, source: 0, config: options.configuration }], 0);
  }

  /** The latest configuration the chosen log holds (the first one, for a cluster whose members never change). */
  get latestConfiguration(): Configuration | undefined {
    return this.epochs?.latest.config;
  }

  /** A command entered the system (validity). */
  proposedCommand(command: Uint8Array): void {
    this.proposed.add(key(command));
  }

  /** How many slots are chosen. */
  get chosenSlots(): number {
    return this.chosen.size;
  }

  /** The end of the contiguous chosen prefix: every slot up to it is chosen. */
  get chosenThrough(): number {
    return this.prefix;
  }

  /** The chosen value of `slot`, per the acceptors' durable state. */
  chosenValue(slot: number): Value | undefined {
    return this.chosen.get(slot)?.value;
  }

  /** `node` made `accepted` (and the learned `chosen` values) durable, with its durable promise now `promised`. */
  durableWrite(
    node: NodeId,
    promised: Ballot,
    accepted: readonly AcceptedEntry[],
    chosen: readonly { readonly slot: number; readonly value: Value }[] = [],
  ): void {
    this.counts.durableWrites++;
    if (this.epochs !== undefined) for (const e of [...accepted, ...chosen]) this.hold(node, e.slot, e.value);
    const before = this.durablePromised.get(node);
    if (before !== undefined && compareBallots(promised, before) < 0) {
      throw new SafetyViolation('promise-monotonicity', `${node}'s durable promise went back from ${formatBallot(before)} to ${formatBallot(promised)}`);
    }
    this.durablePromised.set(node, promised);
    for (const e of accepted) this.vote(node, e);
  }

  private hold(node: NodeId, slot: number, value: Value): void {
    let slots = this.held.get(node);
    if (slots === undefined) this.held.set(node, (slots = new Map()));
    const values = slots.get(slot);
    if (values === undefined) slots.set(slot, [value]);
    else if (!values.some((v) => valueEquals(v, value))) values.push(value);
  }

  /** Whether `node` durably holds the chosen value of every slot below `slot`. */
  private holdsBelow(node: NodeId, slot: number): boolean {
    const covered = this.snapshotThrough.get(node) ?? 0;
    const slots = this.held.get(node);
    for (let s = covered + 1; s < slot; s++) {
      const chosen = this.chosen.get(s);
      if (chosen === undefined || !(slots?.get(s) ?? []).some((v) => valueEquals(v, chosen.value))) return false;
    }
    return true;
  }

  private vote(node: NodeId, e: AcceptedEntry): void {
    let list = this.votes.get(e.slot);
    if (list === undefined) this.votes.set(e.slot, (list = []));
    let votes = list.find((v) => compareBallots(v.ballot, e.ballot) === 0);
    if (votes === undefined) list.push((votes = { ballot: e.ballot, value: e.value, voters: new Set() }));
    else if (!valueEquals(votes.value, e.value)) {
      throw new SafetyViolation('agreement', `slot ${e.slot}: ballot ${formatBallot(e.ballot)} carries two different values`);
    }
    votes.voters.add(node);
    this.decide(e.slot, votes);
  }

  /** Whether `votes` chose their value for `slot`: a phase-2 quorum of the slot's configuration. */
  private decide(slot: number, votes: BallotVotes): void {
    const e = { slot, ballot: votes.ballot, value: votes.value };
    const voters = votes.voters;
    let quorum = this.quorum;
    if (this.epochs !== undefined) {
      if (slot > this.epochs.knownThrough) {
        this.undecided.add(slot);
        return;
      }
      const epoch = this.epochs.at(slot);
      if (epoch.source > 0 && slot === epoch.from && !this.handedOver.has(slot)) {
        // The handover: a configuration decides nothing before a phase-2 quorum of it
        // durably holds every slot the configurations before it chose.
        this.handedOver.add(slot);
        if (epoch.quorum.phase2((v) => (this.holdsBelow(v, slot) ? true : undefined)) !== 'won') {
          throw new SafetyViolation(
            'durability',
            `slot ${slot}, the first of configuration ${epoch.config.id}, was accepted before a phase-2 quorum of it held every earlier slot`,
          );
        }
      }
      for (const v of voters) {
        if (!epoch.quorum.isVoter(v))
          throw new SafetyViolation('configuration', `${v} accepted slot ${slot}, but it does not vote in configuration ${epoch.config.id}, which governs it`);
      }
      quorum = epoch.quorum;
    }
    if (quorum.phase2((v) => (voters.has(v) ? true : undefined)) !== 'won') return;
    const previous = this.chosen.get(e.slot);
    if (previous === undefined) {
      this.checkValid(e.slot, e.value);
      this.chosen.set(e.slot, { ballot: e.ballot, value: e.value });
      while (this.chosen.has(this.prefix + 1)) this.prefix++;
      this.foldChosen();
    } else if (!valueEquals(previous.value, e.value)) {
      throw new SafetyViolation(
        'agreement',
        `slot ${e.slot} chosen twice: ballot ${formatBallot(previous.ballot)} chose ${describe(previous.value)}, ballot ${formatBallot(e.ballot)} chose ${describe(e.value)}`,
      );
    }
  }

  /** Folds the contiguous chosen prefix into the configurations, and decides the slots that makes known. */
  private foldChosen(): void {
    const epochs = this.epochs;
    if (epochs === undefined) return;
    const before = epochs.knownThrough;
    for (let c = this.chosen.get(epochs.folded + 1); c !== undefined; c = this.chosen.get(epochs.folded + 1)) {
      const previous = epochs.latest.config;
      if (epochs.fold(epochs.folded + 1, c.value.kind === 'config' ? c.value.config : undefined) && !quorumsMeet(previous, epochs.latest.config)) {
        // A leader that still believes `previous` governs must not be able to confirm a
        // read without a voter of the new configuration's quorums hearing of it.
        throw new SafetyViolation(
          'configuration',
          `configuration ${epochs.latest.config.id} follows ${previous.id}, but a phase-1 quorum of ${previous.id} can miss a phase-2 quorum of it`,
        );
      }
    }
    if (epochs.knownThrough === before) return;
    for (const slot of [...this.undecided].sort((a, b) => a - b)) {
      if (slot > epochs.knownThrough) continue;
      this.undecided.delete(slot);
      for (const votes of this.votes.get(slot) ?? []) this.decide(slot, votes);
    }
  }

  private checkValid(slot: number, value: Value): void {
    if (value.kind !== 'batch') return;
    for (const c of value.commands) {
      const proposed = key(this.proposedBytes(c));
      if (!this.proposed.has(proposed)) throw new SafetyViolation('validity', `slot ${slot} chose a command nobody proposed: ${proposed}`);
    }
  }

  /** Bounded messages: several values travel together only within `max` bytes. */
  private checkMessageBytes(node: NodeId, m: Message, max: number): void {
    const values = m.type === 'accept' || m.type === 'chosen' ? m.values : m.type === 'promise' ? m.chosen.map((e) => e.value) : [];
    if (values.length < 2) return;
    let bytes = 0;
    for (const v of values) bytes += valueBytes(v);
    if (bytes > max)
      throw new SafetyViolation(
        'bounded-messages',
        `${node} sent ${m.type} to ${m.to} with ${values.length} values of ${bytes} bytes, more than messageBytesMax ${max}`,
      );
  }

  /**
   * `node` is about to send `m`; `durable` is its durable state now, and its durable
   * snapshot covers the slots up to `snapshotSlot` (chosen, so their entries may be gone).
   */
  send(node: NodeId, m: Message, durable: DurableStateBuilder, snapshotSlot = 0): void {
    this.counts.sends++;
    if (this.messageBytesMax !== undefined) this.checkMessageBytes(node, m, this.messageBytesMax);
    if (m.type === 'prepare') {
      const k = prepareKey(m.to, m.ballot);
      this.prepared.set(k, Math.min(m.firstSlot, this.prepared.get(k) ?? Infinity));
    }
    if (m.type !== 'promise' && m.type !== 'accepted') return;
    this.checkVotes(node, m);
    const promisedBefore = this.promisedSent.get(node);
    if (promisedBefore !== undefined && compareBallots(m.ballot, promisedBefore) < 0) {
      throw new SafetyViolation(
        'promise-monotonicity',
        `${node} sent ${m.type} for ballot ${formatBallot(m.ballot)} after promising ${formatBallot(promisedBefore)}`,
      );
    }
    if (m.type === 'promise') this.promisedSent.set(node, m.ballot);
    if (compareBallots(durable.promised, m.ballot) < 0) {
      throw new SafetyViolation(
        'persist-before-send',
        `${node} sent ${m.type} for ballot ${formatBallot(m.ballot)} while its durable promise is ${formatBallot(durable.promised)}`,
      );
    }
    if (m.type === 'accepted') {
      for (let slot = m.firstSlot; slot < m.firstSlot + m.count; slot++) {
        if (slot <= snapshotSlot) continue;
        const e = durable.accepted.get(slot);
        if (e === undefined || compareBallots(e.ballot, m.ballot) < 0) {
          throw new SafetyViolation('persist-before-send', `${node} acknowledged slot ${slot} in ballot ${formatBallot(m.ballot)} before making it durable`);
        }
      }
    }
  }

  /**
   * Only voters vote: an `accepted` for a slot comes from a voter of the configuration
   * governing that slot, and a promise (which covers every slot from its first on) from
   * a voter of some configuration governing a slot from its first on. A promoted
   * observer votes from the slot its configuration governs; a demoted or removed voter
   * still answers for the slots it voted in. Slots whose configuration is not known yet
   * are checked when their votes are counted ({@link decide}).
   */
  private checkVotes(node: NodeId, m: Extract<Message, { type: 'promise' | 'accepted' }>): void {
    const epochs = this.epochs;
    if (epochs === undefined) {
      if (!this.quorum.isVoter(node))
        throw new SafetyViolation('observers', `${node}, which does not vote, sent a ${m.type} for ballot ${formatBallot(m.ballot)}`);
      return;
    }
    const known = epochs.knownThrough;
    if (m.type === 'promise') {
      // The promise answers a prepare for the slots from its `firstSlot` on (the lowest
      // of those sent to this node for this ballot; from slot 1 if none was seen).
      const first = Math.min(this.prepared.get(prepareKey(node, m.ballot)) ?? 1, known);
      const governing = epochs.between(first, known);
      if (!governing.some((e) => e.quorum.isVoter(node))) {
        throw new SafetyViolation(
          'observers',
          `${node} promised ballot ${formatBallot(m.ballot)} for the slots from ${first} on, but it votes in none of the configurations governing them (${governing.map((e) => e.config.id).join(', ')})`,
        );
      }
      return;
    }
    for (let slot = m.firstSlot; slot < m.firstSlot + m.count && slot <= known; slot++) {
      const epoch = epochs.at(slot);
      if (!epoch.quorum.isVoter(node)) {
        throw new SafetyViolation(
          'observers',
          `${node} acknowledged slot ${slot} in ballot ${formatBallot(m.ballot)}, but it does not vote in configuration ${epoch.config.id}, which governs it`,
        );
      }
    }
  }

  /**
   * `node` made a snapshot of the slots up to `slot` durable (its own, or one installed
   * from a peer): it holds their chosen values from now on, entries or not.
   */
  durableSnapshot(node: NodeId, slot: number): void {
    this.counts.snapshots++;
    for (let s = (this.snapshotThrough.get(node) ?? 0) + 1; s <= slot; s++) {
      if (!this.chosen.has(s)) throw new SafetyViolation('durability', `${node} made a snapshot of slots up to ${slot} durable, but slot ${s} is not chosen`);
    }
    this.snapshotThrough.set(node, Math.max(slot, this.snapshotThrough.get(node) ?? 0));
  }

  /**
   * `node`'s storage was erased: its durable promise starts again from nothing. What it
   * sent before still binds it (the promises it sent are checked across the wipe), and
   * its earlier votes still count toward what was chosen.
   */
  wiped(node: NodeId): void {
    this.durablePromised.delete(node);
    this.held.delete(node);
    this.snapshotThrough.delete(node);
    this.applied.set(node, 0);
  }

  /** `node` restarted with in-memory promise `promised`, from a snapshot of slots up to `snapshotSlot`. */
  restarted(node: NodeId, promised: Ballot, snapshotSlot = 0): void {
    this.applied.set(node, snapshotSlot);
    const durable = this.durablePromised.get(node);
    // A wiped node restarts with no promise at all; it may not vote until it rebuilt one.
    // A voter that restarts with no real promise (round 0) does not vote until it rebuilt one.
    const sent = durable === undefined || promised.round === 0 ? undefined : this.promisedSent.get(node);
    for (const before of [durable, sent]) {
      if (before !== undefined && compareBallots(promised, before) < 0) {
        throw new SafetyViolation(
          'promise-monotonicity',
          `${node} restarted promising ${formatBallot(promised)}, below its earlier promise ${formatBallot(before)}`,
        );
      }
    }
  }

  /** `node` applied `value` at `slot`. */
  apply(node: NodeId, slot: number, value: Value): void {
    this.counts.applies++;
    const last = this.applied.get(node) ?? 0;
    if (slot !== last + 1) throw new SafetyViolation('prefix', `${node} applied slot ${slot} after slot ${last}`);
    this.applied.set(node, slot);
    const chosen = this.chosen.get(slot);
    if (chosen === undefined) {
      throw new SafetyViolation('durability', `${node} committed slot ${slot}, which no phase-2 quorum has durably accepted`);
    }
    if (!valueEquals(chosen.value, value)) {
      throw new SafetyViolation('durability', `${node} committed ${describe(value)} at slot ${slot}, but ${describe(chosen.value)} was chosen`);
    }
    const first = this.appliedValues[slot - 1];
    if (first === undefined) this.appliedValues[slot - 1] = value;
    else if (!valueEquals(first, value)) {
      throw new SafetyViolation('prefix', `${node} applied ${describe(value)} at slot ${slot}, another replica applied ${describe(first)}`);
    }
  }

  /** `node`'s state machine holds `state` after applying `slot`: every replica must hold the same there. */
  appliedState(node: NodeId, slot: number, state: string): void {
    const first = this.statesAt.get(slot);
    if (first === undefined) this.statesAt.set(slot, state);
    else if (first !== state) throw new SafetyViolation('prefix', `${node} holds state ${state} after slot ${slot}, another replica held ${first}`);
  }

  /**
   * `node` installed a snapshot of slots up to `slot` holding `state`: it must be the
   * state a replica reached by applying those chosen slots, and it continues after them.
   */
  installed(node: NodeId, slot: number, state: string): void {
    this.counts.snapshots++;
    const applied = this.applied.get(node) ?? 0;
    if (slot <= applied) throw new SafetyViolation('prefix', `${node} installed a snapshot of slot ${slot}, behind its applied slot ${applied}`);
    const expected = this.statesAt.get(slot);
    if (expected === undefined) throw new SafetyViolation('durability', `${node} installed a snapshot of slot ${slot}, which no replica applied`);
    if (expected !== state)
      throw new SafetyViolation('prefix', `${node} installed a snapshot of slot ${slot} holding ${state}, but applying the chosen slots gives ${expected}`);
    this.applied.set(node, slot);
    this.snapshotThrough.set(node, Math.max(slot, this.snapshotThrough.get(node) ?? 0));
  }

  /** `node` took read-index request `id`. */
  readRequested(node: NodeId, id: number): void {
    this.readsWaiting.set(`${node}/${id}`, this.appliedSlots);
  }

  /** `node` confirmed read `id` at `index`, or (`index` undefined) failed it. */
  readSettled(node: NodeId, id: number, index: number | undefined): void {
    const k = `${node}/${id}`;
    const required = this.readsWaiting.get(k);
    if (required === undefined) throw new SafetyViolation('linearizable-reads', `${node} settled read ${id}, which it never took`);
    this.readsWaiting.delete(k);
    if (index === undefined) return;
    this.counts.reads++;
    if (index < required) {
      throw new SafetyViolation('linearizable-reads', `${node} confirmed read ${id} at slot ${index}, but slot ${required} was applied before the read began`);
    }
  }

  /** `node` crashed: its waiting reads died with it. */
  crashed(node: NodeId): void {
    for (const k of this.readsWaiting.keys()) if (k.startsWith(`${node}/`)) this.readsWaiting.delete(k);
  }

  /** The highest slot any replica applied. */
  get appliedSlots(): number {
    return this.appliedValues.length;
  }
}

function prepareKey(to: NodeId, ballot: Ballot): string {
  return `${to}|${formatBallot(ballot)}`;
}

function key(command: Uint8Array): string {
  let s = '';
  for (const b of command) s += String.fromCharCode(b);
  return s;
}

/** A short description of a value for messages: `noop` or `[c1,c2]`. */
export function describe(value: Value): string {
  if (value.kind === 'noop') return 'noop';
  if (value.kind === 'config') return `config ${value.config.id}`;
  const shown = value.commands.slice(0, 3).map(key).join(',');
  return `[${shown}${value.commands.length > 3 ? `,+${value.commands.length - 3}` : ''}]`;
}
