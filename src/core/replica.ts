import { Acceptor } from './acceptor.js';
import { assert, unreachable } from './assert.js';
import { type Ballot, ballotEquals, ballotZero, compareBallots, formatBallot } from './ballot.js';
import { CatchUp } from './catch-up.js';
import { type DurableState, emptyDurableState } from './durable-state.js';
import type { AcceptedEntry, ChosenEntry } from './entries.js';
import { Election } from './election.js';
import { ConfigError } from './errors.js';
import { Learner } from './learner.js';
import { type Limits, defaultLimits, messageEnd, validateLimits } from './limits.js';
import type {
  AcceptMessage,
  AcceptedMessage,
  CatchUpMessage,
  ChosenMessage,
  CommitMessage,
  HeartbeatMessage,
  HeartbeatReplyMessage,
  Message,
  MessageType,
  PrecheckMessage,
  PrecheckReplyMessage,
  PrepareMessage,
  ProbeMessage,
  ProbeReplyMessage,
  PromiseMessage,
  QuiesceMessage,
  RejectMessage,
  TimeoutNowMessage,
  WakeMessage,
} from './messages.js';
import type { NodeId } from './node-id.js';
import type { Output } from './output.js';
import { OutputBuilder } from './output-builder.js';
import { Candidacy, Leadership } from './proposer.js';
import type { Quorum } from './quorum/quorum.js';
import { joint } from './quorum/joint.js';
import { ThresholdQuorum } from './quorum/flexible.js';
import { type Configuration, checkConfiguration, configurationProblem, isMember, quorumOf, windowSlotsDefault } from './configuration/configuration.js';
import type { ConfigurationState, Epoch } from './configuration/epochs.js';
import { type MembershipChange, type ChangeRefusal, finishJoint, planChange, votersAdded } from './configuration/membership-change.js';
import { Rejoin } from './rejoin.js';
import { type Value, noop, valueBytes, valueEquals } from './value.js';

/** What a replica currently does. */
export type Role = RoleState['kind'];

/** The candidate's own promise: it counts once the write that records it is durable. */
interface SelfPromise {
  readonly seq: number;
  readonly reported: readonly AcceptedEntry[];
  readonly chosen: readonly ChosenEntry[];
}

/**
 * What a replica does, with the state only that role has: a candidate always has its
 * candidacy, a leader its leadership, and no other role has either. Set in one place
 * per transition ({@link Replica.becomeFollower} and its siblings).
 */
type RoleState =
  | { readonly kind: 'follower' | 'observer' | 'removed'; readonly candidacy: undefined; readonly selfPromise: undefined; readonly leadership: undefined }
  | {
      readonly kind: 'candidate';
      readonly candidacy: Candidacy;
      /** Its own promise, until counted. */
      selfPromise: SelfPromise | undefined;
      readonly leadership: undefined;
    }
  | { readonly kind: 'leader'; readonly candidacy: undefined; readonly selfPromise: undefined; readonly leadership: Leadership };

// Every variant has the same fields in the same order (absent ones undefined), so V8
// gives them one shape and reading the role stays monomorphic on the hot path.
/** The roles without state of their own: shared (never written). */
const follower: RoleState = { kind: 'follower', candidacy: undefined, selfPromise: undefined, leadership: undefined };
const observer: RoleState = { kind: 'observer', candidacy: undefined, selfPromise: undefined, leadership: undefined };
const removed: RoleState = { kind: 'removed', candidacy: undefined, selfPromise: undefined, leadership: undefined };

/** How to build a {@link Replica}. */
export interface ReplicaOptions {
  /** This node's id: one of the quorum's voters or one of `observers`. */
  readonly id: NodeId;
  /**
   * The cluster's first voters and how they form quorums: `majority(ids)` or
   * `flexible(...)`. Later configurations come from the log (and from `configuration`).
   */
  readonly quorum: Quorum;
  /** Nodes that learn every chosen value but never vote. Default none. */
  readonly observers?: readonly NodeId[];
  /** Each first member's address, an opaque string the driver gives meaning to. Default none. */
  readonly addresses?: Readonly<Record<NodeId, string>>;
  /**
   * The slots between a configuration being chosen and governing (the same on every
   * replica of a cluster, for its whole life). Default {@link windowSlotsDefault} (256).
   */
  readonly windowSlots?: number;
  /**
   * The configurations a restored snapshot carried ({@link Replica.configurationAt} of
   * its slot). Overrides `quorum`, `observers`, `addresses` and `windowSlots`. Default:
   * the first configuration they describe.
   */
  readonly configuration?: ConfigurationState;
  /** Bounds and timings; each missing field takes its default from {@link defaultLimits}. */
  readonly limits?: Partial<Limits>;
  /** The only randomness: returns a number in [0, 1). Used for election timeouts. */
  readonly random: () => number;
  /** What this node persisted before (its restart point). Default: a new node. */
  readonly state?: DurableState;
  /**
   * The slot of the snapshot the driver restored into the state machine before building
   * the replica (its restart point): every slot up to it counts as applied, and log
   * entries at or below it are ignored. Default 0 (no snapshot).
   */
  readonly snapshotSlot?: number;
  /**
   * Lets an idle leader quiesce its group after this many ticks with nothing under way
   * (every peer heard from lately and holding every chosen slot, nothing queued, in
   * flight, read or changing). It sends its peers a `quiesce` message and stops
   * counting time; so does each peer that holds every chosen slot: their
   * {@link Replica.tick} does nothing (no heartbeat, no election timer) until a
   * message, a proposal or a read rouses them, or the driver calls {@link Replica.wake}.
   * A quiesced follower cannot notice its leader fail by itself: enable this only when
   * something else watches the leader's process and calls `wake()` when it may have
   * failed (a group host's liveness of its peers does). Safety never depends on it.
   * Default: never quiesce.
   */
  readonly quiesceAfterTicks?: number;
  /**
   * The driver knows this voter never voted in this group: its storage is empty because
   * it never held anything, not because it was wiped (for example, its first start in the
   * group was recorded once, in another replicated store, before it). With no promise on
   * record it then records that it joined and votes at once, instead of asking every
   * other voter first (the amnesia guard, which needs all of them to answer). A voter
   * whose storage was wiped must never be started with it: it could let two values be
   * chosen for one slot. Ignored when a promise is on record. Default false.
   */
  readonly neverVoted?: boolean;
}

/** Why a proposal was refused, or that it was queued. */
export type ProposeResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'not-leader'; readonly leaderHint: NodeId | undefined }
  | { readonly ok: false; readonly reason: 'overloaded'; readonly queued: number; readonly limit: number }
  | { readonly ok: false; readonly reason: 'too-large'; readonly bytes: number; readonly limit: number };

/** Whether a leadership transfer began, or why not. */
export type TransferResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'not-leader'; readonly leaderHint: NodeId | undefined }
  | { readonly ok: false; readonly reason: 'not-voter' };

/** Whether a membership change was queued, or why not. */
export type ChangeMembersResult =
  | { readonly ok: true; readonly config: Configuration }
  | { readonly ok: false; readonly reason: 'not-leader'; readonly leaderHint: NodeId | undefined }
  | { readonly ok: false; readonly reason: 'in-progress'; readonly config: Configuration }
  | { readonly ok: false; readonly reason: 'behind'; readonly id: NodeId; readonly commitIndex: number; readonly required: number }
  | { readonly ok: false; readonly reason: 'would-lose-quorum'; readonly voters: readonly NodeId[] }
  | ({ readonly ok: false } & ChangeRefusal);

/** Whether a read-index request was registered, or why not. */
export type ReadIndexRequestResult = { readonly ok: true } | { readonly ok: false; readonly reason: 'not-leader'; readonly leaderHint: NodeId | undefined };

/** A replica's state at a glance. */
export interface ReplicaStatus {
  readonly id: NodeId;
  readonly role: Role;
  /** The highest ballot this node promised (its own, when it leads). */
  readonly promised: Ballot;
  /**
   * The node this replica believes leads, if any: a hint, which may name a candidate
   * that asked for its promise and has not won yet.
   */
  readonly leader: NodeId | undefined;
  /**
   * The ballot of the leader this replica last heard lead (an accept, a heartbeat or a
   * commit: phase 2, which only a node that won phase 1 sends), since it last led
   * itself; undefined while leading or before any. Unlike {@link leader}, never a mere
   * candidate.
   */
  readonly heardLeader: Ballot | undefined;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** Slots up to this one were compacted away: peers that need them get a snapshot. */
  readonly compactedThrough: number;
  /** The highest slot this replica accepted a value for. */
  readonly lastAcceptedSlot: number;
  /** Commands queued on a leader, waiting for a slot. */
  readonly queuedCommands: number;
  /**
   * Set while this voter does not vote because its storage held no promise (new, or
   * wiped): `'probing'` asks every other voter what it holds; `'rebuilding'` learns the
   * chosen log up to `rejoinTarget` first. See the amnesia guard in `docs/protocol.md`.
   */
  readonly rejoining: 'probing' | 'rebuilding' | undefined;
  /** While rebuilding: the commit index to reach before voting again. */
  readonly rejoinTarget: number | undefined;
  /** The voter this leader is handing leadership to, while a transfer is under way. */
  readonly transferTarget: NodeId | undefined;
  /** Messages dropped by the input guards (malformed, misaddressed, unknown sender). */
  readonly droppedMessages: number;
  /** Whether this replica is quiesced: it needs no ticks until something rouses it (see {@link ReplicaOptions.quiesceAfterTicks}). */
  readonly quiesced: boolean;
  /** Ticks since this replica started. */
  readonly now: number;
  /** The latest configuration chosen: it governs from {@link configurationFrom} on. */
  readonly configuration: Configuration;
  /** The first slot {@link configuration} governs. */
  readonly configurationFrom: number;
}

/** One member as its leader sees it; see {@link Replica.memberProgress}. */
export interface MemberProgress {
  readonly id: NodeId;
  /** The commit index it last reported in this leadership, if it has. */
  readonly commitIndex: number | undefined;
  /** Ticks since the leader last heard from it in this leadership, if it has. */
  readonly silentTicks: number | undefined;
}

const api = 'Replica';

/**
 * Messages a quiesced replica takes without waking: another quiesce, late answers to
 * what its leader sent before it went quiet (a heartbeat round's replies, the last
 * slots' acknowledgements, which reach the quorum they had already), and requests for
 * chosen values, answered at once. Waking on them would keep a leader whose replies
 * straggle in from ever staying quiet.
 */
const quietMessages: ReadonlySet<string> = new Set<MessageType>(['quiesce', 'heartbeatReply', 'accepted', 'catchUp']);

/** The answer to every accepted request: shared, since results are read-only. */
const proposalQueued = Object.freeze({ ok: true as const });

/**
 * One Multi-Paxos replica: acceptor, learner and (when elected) the distinguished
 * proposer, or an observer that only learns. Pure and deterministic: no I/O, no clock,
 * no timers; the only randomness is `options.random`.
 *
 * Drive it with {@link step} (a message arrived), {@link tick} (a unit of time passed),
 * {@link propose}, {@link persisted} and {@link applied}; then collect the work with
 * {@link takeOutput} and do it in the order {@link Output} prescribes.
 *
 * @example
 * ```ts
 * const replica = new Replica({ id: 'a', quorum: majority(['a', 'b', 'c']), random: Math.random });
 * replica.tick();
 * const out = replica.takeOutput();
 * await storage.persist(out.persist); replica.persisted(out.persistSeq);
 * for (const m of out.messages) transport.send(m);
 * ```
 */
export class Replica {
  readonly id: NodeId;
  /**
   * The configurations governing the slots from the commit index on to where the
   * window ends: every vote (precheck, phase 1, reads, a leader's quorum check) must
   * win in each of them, so `quorum` is their joint. Recomputed by {@link refreshView}.
   */
  private view: readonly Epoch[] = [];
  private quorum!: Quorum;
  private observers: NodeId[] = [];
  /** Every member but this node. */
  private peers: NodeId[] = [];
  /**
   * Every voter but this node: the addressees of prechecks, prepares and accepts. A
   * plain array, unlike the quorum's frozen `voters`, which V8 (Node 20) does not
   * iterate without allocating, and the leader walks it on every `takeOutput()`.
   */
  private otherVoters: NodeId[] = [];
  private members: ReadonlySet<NodeId> = new Set();
  private isVoter = false;
  /** The view holds until the commit index reaches this slot or a configuration is added. */
  private viewUntil = 0;
  private viewEpochs = 0;
  private readonly limits: Limits;
  private readonly acceptor: Acceptor;
  private readonly learner: Learner;
  private readonly election: Election;
  private readonly catchUp: CatchUp;
  private readonly out = new OutputBuilder();
  private roleState: RoleState = follower;
  /** Set while this voter may not vote yet (amnesia guard). */
  private rejoin: Rejoin | undefined;
  private leaderHint: NodeId | undefined;
  /** The latest leader ballot heard and the commit index it announced. */
  private followed: { ballot: Ballot; commitIndex: number } | undefined;
  /** The highest round seen anywhere, so a new candidacy outbids it. */
  private roundSeen = 0;
  private persistedSeq = 0;
  private now = 0;
  private dropped = 0;
  /** Quiesced: ticks do nothing (see {@link ReplicaOptions.quiesceAfterTicks}). Only a leader, follower or observer is. */
  private quiet = false;
  private readonly quiesceAfterTicks: number | undefined;
  /** Ticks this leader has been idle in a row (with quiescence enabled). */
  private idleTicks = 0;

  constructor(options: ReplicaOptions) {
    const { id } = options;
    if (typeof id !== 'string' || id.length === 0) throw new ConfigError(api, 'id', 'must be a non-empty string');
    if (typeof options.random !== 'function') throw new ConfigError(api, 'random', 'must be a function returning a number in [0, 1)');
    const limits: Limits = { ...defaultLimits, ...options.limits };
    const bad = validateLimits(limits);
    if (bad !== undefined) throw new ConfigError(api, `limits.${bad[0]}`, bad[1]);
    const configuration = options.configuration ?? [{ from: 1, source: 0, config: firstConfiguration(options) }];
    if (!Array.isArray(configuration) || configuration.length === 0) throw new ConfigError(api, 'configuration', 'must list at least one configuration');
    for (const e of configuration) checkConfiguration(api, e.config);

    const quiesceAfterTicks = options.quiesceAfterTicks;
    if (quiesceAfterTicks !== undefined && (!Number.isSafeInteger(quiesceAfterTicks) || quiesceAfterTicks < 1))
      throw new ConfigError(api, 'quiesceAfterTicks', `must be a positive integer, got ${String(quiesceAfterTicks)}`);
    this.quiesceAfterTicks = quiesceAfterTicks;
    this.id = id;
    this.limits = limits;
    const state = options.state ?? emptyDurableState;
    const snapshotSlot = options.snapshotSlot ?? 0;
    if (!Number.isSafeInteger(snapshotSlot) || snapshotSlot < 0)
      throw new ConfigError(api, 'snapshotSlot', `must be a slot (an integer >= 0), got ${snapshotSlot}`);
    this.acceptor = new Acceptor(state, snapshotSlot);
    this.learner = new Learner(state, this.acceptor, snapshotSlot, configuration);
    this.election = new Election(limits, options.random);
    this.catchUp = new CatchUp(limits);
    this.roundSeen = state.promised.round;
    if (options.configuration === undefined && !isMember(configuration[0]!.config, id))
      throw new ConfigError(api, 'id', `${id} is neither a voter nor an observer`);
    // The log it holds may have moved it out since: then it starts removed.
    this.computeView();
    if (!this.isVoter) this.becomeNonVoter();
    if (this.roleState.kind === 'observer' && ballotEquals(state.promised, ballotZero)) {
      // Recorded so that a promotion later finds it: this node joined as an observer and
      // has voted on nothing (a wiped voter restarts with nothing and runs the guard).
      this.acceptor.raisePromise(joinedMark(id), this.out);
    }
    if (this.isVoter && options.neverVoted === true && ballotEquals(state.promised, ballotZero)) {
      // Known to be new: it has forgotten nothing, so it may vote as soon as it is on record.
      this.acceptor.raisePromise(joinedMark(id), this.out);
    }
    // No promise on record: a new voter, or one whose storage was wiped. Ask first.
    if (this.isVoter && this.otherVoters.length > 0 && ballotEquals(this.acceptor.promised, ballotZero)) {
      this.rejoin = new Rejoin(id, this.otherVoters);
      this.sendProbes();
    }
  }

  // ---------------------------------------------------------------- roles

  /** This leader's phase 2; undefined unless leading. */
  private get leadership(): Leadership | undefined {
    return this.roleState.leadership;
  }

  /** This candidate's phase 1; undefined unless campaigning. */
  private get candidacy(): Candidacy | undefined {
    return this.roleState.candidacy;
  }

  /** A voter that neither leads nor campaigns: a leader's or candidate's state is gone. */
  private becomeFollower(): void {
    assert(this.isVoter, () => `${this.id} follows, but is no voter`);
    this.roleState = follower;
    this.quiet = false;
  }

  /** A voter that campaigns with `candidacy`; its own promise counts once write `selfPromise.seq` is durable. */
  private becomeCandidate(candidacy: Candidacy, selfPromise: SelfPromise): void {
    assert(this.roleState.kind === 'follower', () => `${this.id} campaigns as ${this.roleState.kind}`);
    assert(this.rejoin === undefined, () => `${this.id} campaigns while rejoining`);
    assert(
      ballotEquals(this.acceptor.promised, candidacy.ballot),
      () => `${this.id} campaigns for ${formatBallot(candidacy.ballot)} but promised ${formatBallot(this.acceptor.promised)}`,
    );
    this.roleState = { kind: 'candidate', candidacy, selfPromise, leadership: undefined };
    this.quiet = false;
  }

  /** A candidate that won phase 1 leads with `leadership`. */
  private becomeLeader(leadership: Leadership): void {
    assert(this.roleState.kind === 'candidate', () => `${this.id} leads as ${this.roleState.kind}`);
    assert(this.isVoter, () => `${this.id} leads, but is no voter`);
    this.roleState = { kind: 'leader', candidacy: undefined, selfPromise: undefined, leadership };
    this.quiet = false;
    this.idleTicks = 0;
  }

  /** Not a voter of the configurations governing now: an observer if one of them names it so, else removed. */
  private becomeNonVoter(): void {
    assert(!this.isVoter, () => `${this.id} stops voting, but is a voter`);
    this.roleState = this.observers.includes(this.id) ? observer : removed;
    this.quiet = false;
  }

  /** The configurations governing the slots from the commit index on, to the window's end. */
  private computeView(): void {
    const epochs = this.learner.epochs;
    const commit = this.learner.commitIndex;
    const view = epochs.between(commit + 1, Math.min(commit + epochs.windowSlots, epochs.knownThrough));
    this.view = view;
    this.viewEpochs = epochs.version;
    this.viewUntil = view.length > 1 ? view[1]!.from : epochs.lastSlotOf(view[0]!) + 1;
    let quorum = view[0]!.quorum;
    for (let i = 1; i < view.length; i++) quorum = joint(quorum, view[i]!.quorum);
    this.quorum = quorum;
    const voters = new Set<NodeId>();
    const observers = new Set<NodeId>();
    for (const e of view) {
      for (const v of e.voters) voters.add(v);
      for (const o of e.config.observers) observers.add(o);
    }
    for (const v of voters) observers.delete(v);
    this.isVoter = voters.has(this.id);
    this.otherVoters = [...voters].filter((v) => v !== this.id);
    this.observers = [...observers];
    this.members = new Set([...voters, ...observers]);
    this.peers = [...this.members].filter((m) => m !== this.id);
  }

  /**
   * Recomputes the view when the commit index left the slots it covers or a
   * configuration was chosen, and moves this node between roles accordingly.
   */
  private refreshView(): void {
    const epochs = this.learner.epochs;
    if (epochs.version === this.viewEpochs && this.learner.commitIndex + 1 < this.viewUntil) return;
    const wasMember = this.members;
    const wasLeading = this.leadership;
    this.computeView();
    if (wasLeading !== undefined && !this.isVoter) {
      // This leader removed itself. The voter that reported the most campaigns at once,
      // instead of after a timeout (told first: once it learns the change, it no longer
      // takes this node's word). Then the commit index that says so must reach the
      // others, or a voter that missed it campaigns in a configuration this node left.
      let heir: NodeId | undefined;
      for (const v of this.otherVoters)
        if (heir === undefined || (wasLeading.reportedCommit.get(v) ?? -1) > (wasLeading.reportedCommit.get(heir) ?? -1)) heir = v;
      if (heir !== undefined) this.out.send({ type: 'timeoutNow', from: this.id, to: heir, ballot: wasLeading.ballot });
      const commitIndex = this.learner.commitIndex;
      for (const m of wasMember) {
        if (m !== this.id) this.out.send({ type: 'commit', from: this.id, to: m, ballot: wasLeading.ballot, commitIndex });
      }
    }
    const kind = this.roleState.kind;
    if (this.isVoter) {
      if (kind === 'observer' || kind === 'removed') {
        this.becomeFollower();
        this.election.heardLeader();
        if (ballotEquals(this.acceptor.promised, ballotZero) && this.otherVoters.length > 0 && this.rejoin === undefined) {
          this.rejoin = new Rejoin(this.id, this.otherVoters);
          this.sendProbes();
        }
      }
    } else {
      if (kind === 'leader') this.stepDown(undefined); // (a candidate has nothing to hand back: becomeNonVoter ends it)
      if (kind !== 'observer' && kind !== 'removed') this.rejoin = undefined;
      this.becomeNonVoter();
    }
    const l = this.leadership;
    if (l !== undefined) {
      for (const e of this.view) {
        for (const v of e.voters) if (v !== this.id) l.addVoter(v, Math.max(e.from, l.firstSlot), this.now);
        for (const o of e.config.observers) l.addObserver(o, l.firstSlot, this.now);
      }
      // Members that left still need to hear the commit index that moved them out.
      for (const m of wasMember) {
        if (m !== this.id && !this.members.has(m))
          this.out.send({ type: 'commit', from: this.id, to: m, ballot: l.ballot, commitIndex: this.learner.commitIndex });
      }
    }
  }

  /**
   * What a snapshot of every slot up to `slot` must carry about configurations, so a
   * replica restored from it knows which configuration governs the slots that follow.
   * `slot` must be applied and not compacted.
   */
  configurationAt(slot: number): ConfigurationState {
    assert(slot <= this.learner.commitIndex, () => `configurationAt(${slot}) beyond the commit index ${this.learner.commitIndex}`);
    return this.learner.epochs.stateAt(slot);
  }

  /** This replica's state at a glance. */
  get status(): ReplicaStatus {
    return {
      id: this.id,
      role: this.roleState.kind,
      promised: this.acceptor.promised,
      leader: this.roleState.kind === 'leader' ? this.id : this.leaderHint,
      heardLeader: this.followed?.ballot,
      commitIndex: this.learner.commitIndex,
      appliedIndex: this.learner.appliedIndex,
      compactedThrough: this.learner.compactedThrough,
      lastAcceptedSlot: this.acceptor.lastSlot,
      queuedCommands: this.leadership?.queued ?? 0,
      rejoining: this.rejoin?.state,
      rejoinTarget: this.rejoin?.plan?.commitIndex,
      transferTarget: this.leadership?.transfer?.to,
      droppedMessages: this.dropped,
      quiesced: this.quiet,
      now: this.now,
      configuration: this.learner.epochs.latest.config,
      configurationFrom: this.learner.epochs.latest.from,
    };
  }

  /**
   * Ticks since this replica last heard from a leader (0 while it leads). A follower cut
   * off from the leader keeps naming it in {@link status}; this is what grows.
   */
  get leaderSilentTicks(): number {
    return this.roleState.kind === 'leader' ? 0 : this.election.leaderElapsed;
  }

  /** The commit index the leader last announced to this replica (its own while it leads; 0 before any). */
  get leaderCommitIndex(): number {
    if (this.roleState.kind === 'leader') return this.learner.commitIndex;
    return Math.max(this.followed?.commitIndex ?? 0, this.learner.commitIndex);
  }

  /**
   * While this replica leads: every other member, with the commit index it last reported
   * in this leadership (undefined if none yet) and the ticks since it was last heard
   * from (undefined if never). Empty unless leading. A new array each call: for metrics,
   * not for the hot path.
   */
  memberProgress(): readonly MemberProgress[] {
    const l = this.leadership;
    if (l === undefined) return [];
    return this.peers.map((id) => {
      const heard = l.lastHeard.get(id);
      return { id, commitIndex: l.reportedCommit.get(id), silentTicks: heard === undefined ? undefined : this.now - heard };
    });
  }

  /** Whether `id` is a member of a configuration this replica knows governs now or will. */
  isMember(id: NodeId): boolean {
    return this.members.has(id) || this.id === id || isMember(this.learner.epochs.latest.config, id);
  }

  /** Whether this replica is quiesced: its ticks do nothing until something rouses it (see {@link ReplicaOptions.quiesceAfterTicks}). */
  get quiesced(): boolean {
    return this.quiet;
  }

  /** What this replica does now. */
  get role(): Role {
    return this.roleState.kind;
  }

  /** The chosen value of `slot`, if this replica knows it. */
  chosenValue(slot: number): Value | undefined {
    return this.learner.value(slot);
  }

  // ---------------------------------------------------------------- inputs

  /** A message arrived. Malformed or misaddressed ones are dropped and counted. */
  step(message: Message): void {
    this.refreshView();
    const reason = this.ignore(message);
    if (reason !== undefined) {
      this.dropped++;
      if (reason === 'observers do not vote' && message.type === 'precheck' && message.commitIndex > this.learner.commitIndex) {
        // A voter counts on this node's vote: it learned a configuration this node has not yet.
        this.requestCatchUp(message.from, this.learner.commitIndex + 1, message.commitIndex);
      }
      if (
        membershipReasons.has(reason) &&
        message.from !== this.id &&
        (message.type === 'heartbeat' || message.type === 'commit') &&
        isCount(message.commitIndex) &&
        message.commitIndex > this.learner.commitIndex
      ) {
        // A leader this node does not know as one: a configuration it has not learned
        // made it so. Learn the chosen log from it (its answer is taken from anyone).
        this.requestCatchUp(message.from, this.learner.commitIndex + 1, message.commitIndex);
      }
      if (
        (reason === 'unknown sender' || reason === 'only voters campaign or lead') &&
        message.type === 'precheck' &&
        message.to === this.id &&
        message.from !== this.id
      ) {
        // A member removed or demoted while it was cut off campaigns in a configuration
        // that is gone: send it what it lacks, so it learns the change and stops.
        this.sendLagging(message.from, message.commitIndex);
      }
      return;
    }
    // A message that may need time to pass rouses a quiesced replica (and, from someone
    // other than its leader, the leader too: see rouse).
    if (this.quiet && !quietMessages.has(message.type)) this.rouse(message.from);
    switch (message.type) {
      case 'precheck':
        return this.onPrecheck(message);
      case 'precheckReply':
        return this.onPrecheckReply(message);
      case 'prepare':
        return this.onPrepare(message);
      case 'promise':
        return this.onPromise(message);
      case 'accept':
        return this.onAccept(message);
      case 'accepted':
        return this.onAccepted(message);
      case 'reject':
        return this.onReject(message);
      case 'heartbeat':
        return this.onHeartbeat(message);
      case 'heartbeatReply':
        return this.onHeartbeatReply(message);
      case 'catchUp':
        return this.onCatchUp(message);
      case 'chosen':
        return this.onChosen(message);
      case 'timeoutNow':
        return this.onTimeoutNow(message);
      case 'commit':
        return this.onCommit(message);
      case 'probe':
        return this.onProbe(message);
      case 'probeReply':
        return this.onProbeReply(message);
      case 'quiesce':
        return this.onQuiesce(message);
      case 'wake':
        return this.onWake(message);
      default:
        return unreachable(message);
    }
  }

  /** One unit of logical time passed (none does while quiesced: see {@link wake}). */
  tick(): void {
    if (this.quiet) return;
    this.now++;
    this.refreshView();
    this.catchUp.tick();
    const r = this.roleState;
    switch (r.kind) {
      case 'leader':
        return this.tickLeader(r.leadership);
      case 'candidate':
        return this.tickCandidate(r.candidacy);
      case 'follower':
        return this.tickFollower();
      case 'observer':
      case 'removed':
        return;
      default:
        return unreachable(r);
    }
  }

  /**
   * Queues commands for the next slots. Only a leader takes them; commands are bytes,
   * each at most `batchBytesMax` long.
   */
  propose(commands: readonly Uint8Array[]): ProposeResult {
    const leadership = this.leadership;
    if (leadership === undefined) return { ok: false, reason: 'not-leader', leaderHint: this.leaderHint };
    for (const c of commands) {
      if (c.byteLength > this.limits.batchBytesMax) return { ok: false, reason: 'too-large', bytes: c.byteLength, limit: this.limits.batchBytesMax };
    }
    if (leadership.queued + commands.length > this.limits.proposalQueueMax) {
      return { ok: false, reason: 'overloaded', queued: leadership.queued, limit: this.limits.proposalQueueMax };
    }
    this.rouse(undefined);
    leadership.enqueue(commands);
    return proposalQueued;
  }

  /**
   * Asks for a linearizable read point (read-index). Only a leader takes it: it notes
   * the highest slot that may hold a value chosen before now, confirms with a phase-2
   * quorum's answers to a fresh heartbeat round that no newer leader can have chosen
   * anything, and reports `{ id, ok: true, index }` in a later {@link Output.reads}. A
   * read that observes the state machine once it applied `index` is linearizable. If
   * this replica stops leading first, the read is reported failed.
   */
  readIndex(id: number): ReadIndexRequestResult {
    const l = this.leadership;
    if (l === undefined) return { ok: false, reason: 'not-leader', leaderHint: this.leaderHint };
    assert(Number.isSafeInteger(id), () => `read id ${id} is not an integer`);
    this.rouse(undefined);
    l.addRead(id, Math.max(this.learner.commitIndex, l.adoptedEnd));
    return proposalQueued;
  }

  /**
   * Hands leadership to the voter `to`: this leader stops assigning slots, waits until
   * `to` accepted every slot it proposed, then tells it to campaign at once. The
   * transfer is given up after `electionTicksMax` ticks; the caller learns the outcome
   * from {@link status} (`leader`).
   */
  transferLeadership(to: NodeId): TransferResult {
    const l = this.leadership;
    if (l === undefined) return { ok: false, reason: 'not-leader', leaderHint: this.leaderHint };
    if (!this.quorum.isVoter(to)) return { ok: false, reason: 'not-voter' };
    if (to === this.id) return proposalQueued;
    this.rouse(undefined);
    l.startTransfer(to);
    return proposalQueued;
  }

  /** Every persist up to output `persistSeq` is durable. */
  persisted(persistSeq: number): void {
    // Runs after every persist: messages are built only on failure.
    if (persistSeq > this.out.lastPersistSeq) assert(false, `persisted(${persistSeq}) but only ${this.out.lastPersistSeq} persists were handed out`);
    if (persistSeq < this.persistedSeq) assert(false, `persisted(${persistSeq}) goes back from ${this.persistedSeq}`);
    this.persistedSeq = persistSeq;
    const r = this.roleState;
    if (r.kind === 'leader') {
      r.leadership.persisted(persistSeq);
      this.advanceLeaderCommit();
    } else if (r.kind === 'candidate' && r.selfPromise !== undefined && r.selfPromise.seq <= persistSeq) {
      r.candidacy.onPromise(this.id, r.selfPromise.reported, r.selfPromise.chosen);
      r.selfPromise = undefined;
      this.checkCandidacy();
    }
  }

  /** The driver applied every committed slot up to `slot`. */
  applied(slot: number): void {
    this.learner.applied(slot);
  }

  /**
   * The driver saved a snapshot covering every slot up to at least `slot` (applied
   * already): the log up to `slot` may be forgotten. Peers that later need those slots
   * are named in {@link Output.snapshotsTo}. Keep some applied slots below the
   * snapshot's in the log, so briefly lagging peers catch up from the log instead.
   */
  compact(slot: number): void {
    assert(Number.isSafeInteger(slot) && slot >= 0, () => `compact(${slot}): not a slot`);
    if (slot <= this.learner.compactedThrough) return;
    this.learner.compact(slot);
    this.acceptor.forgetThrough(slot);
  }

  /**
   * The driver received a snapshot of every slot up to `slot`, made it durable, and
   * restored it into the state machine: this replica continues from `slot + 1`. Call
   * it only when `slot` is above {@link ReplicaStatus.appliedIndex} (check before
   * restoring: an older snapshot must be discarded). Slots handed out meanwhile and not
   * applied (the driver holds them while a restore takes its time) may stay so: those up
   * to `slot` are covered by the snapshot; the driver applies the others after it, in
   * order, and reports them with {@link applied} as usual. A leader or candidate steps
   * down first.
   */
  installSnapshot(slot: number, configuration?: ConfigurationState): void {
    assert(
      Number.isSafeInteger(slot) && slot > this.learner.appliedIndex,
      () => `installSnapshot(${slot}) is not ahead of the applied slot ${this.learner.appliedIndex}`,
    );
    const epochs = this.learner.epochs;
    // A driver that stores no configuration in its snapshots only works for a cluster
    // whose members never changed: fail loudly rather than guess past a change.
    assert(
      configuration !== undefined || (epochs.latest.source === 0 && epochs.latest.config.id === 0),
      () => `installSnapshot(${slot}) without the snapshot's configuration, in a cluster that changed members`,
    );
    if (this.roleState.kind === 'leader' || this.roleState.kind === 'candidate') this.stepDown(undefined);
    this.quiet = false;
    this.learner.installSnapshot(slot, configuration ?? [{ from: 1, source: 0, config: epochs.latest.config }], this.out);
    this.refreshView();
    this.acceptor.forgetThrough(slot);
    this.catchUp.reset();
    const f = this.followed;
    if (f !== undefined) {
      const gap = this.learner.followLeader(f.ballot, f.commitIndex, this.acceptor, this.out);
      if (gap !== undefined) this.requestCatchUp(f.ballot.node, gap, f.commitIndex);
    }
  }

  /** Collects the work produced since the last call. See {@link Output} for the order. */
  takeOutput(): Output {
    this.refreshView();
    if (this.rejoin !== undefined) this.checkRejoin(this.rejoin);
    if (this.leadership !== undefined) this.flushLeader(this.leadership);
    this.learner.takeCommitted(this.out);
    return this.out.take();
  }

  // ---------------------------------------------------------------- guards

  /** Why `m` must be dropped, or undefined when it may be stepped. */
  private ignore(m: Message): string | undefined {
    if (m.to !== this.id) return 'misaddressed';
    if (m.from === this.id) return 'unknown sender';
    // The amnesia guard needs the answer of every voter it asked, including one a change
    // removed since: that voter still holds what it voted, and keeps answering.
    const askedByRejoin = m.type === 'probeReply' && this.rejoin !== undefined && this.rejoin.asks(m.from);
    // Chosen values are facts whoever sends them: a member that left may still ask for
    // the values that tell it so, and a member that lags learns of the new ones from them.
    if (!this.members.has(m.from) && m.type !== 'catchUp' && m.type !== 'chosen' && !askedByRejoin) return 'unknown sender';
    const fromVoter = this.quorum.isVoter(m.from);
    switch (m.type) {
      case 'precheck':
      case 'prepare':
      case 'accept':
        // A voter that was removed or demoted still answers for the slots it voted in: a
        // leader that does not know of the change yet may need its vote to learn them.
        if (!this.isVoter && this.acceptor.promised.round === 0) return 'observers do not vote';
        if (!fromVoter) return 'only voters campaign or lead';
        break;
      case 'timeoutNow':
        if (!this.isVoter) return 'observers do not vote';
        if (!fromVoter) return 'only voters campaign or lead';
        break;
      case 'precheckReply':
      case 'promise':
      case 'accepted':
      case 'reject':
      case 'heartbeat':
      case 'quiesce':
        if (!fromVoter) return 'only voters vote or lead';
        break;
      case 'commit':
        if (this.roleState.kind === 'observer') return 'observers learn from chosen messages';
        if (!fromVoter) return 'only voters lead';
        break;
      case 'probe':
      case 'probeReply':
        // A voter removed or demoted still holds what it voted: a rejoining voter that
        // counts it must hear its answer.
        if (askedByRejoin) break;
        if ((!this.isVoter && this.acceptor.promised.round === 0) || !fromVoter) return 'only voters probe each other';
        break;
      case 'heartbeatReply':
      case 'catchUp':
      case 'chosen':
      case 'wake':
        break;
      default:
        // A driver may hand over anything a peer sent: never trust the type.
        return 'unknown type';
    }
    if ('ballot' in m && !isBallot(m.ballot)) return 'malformed ballot';
    switch (m.type) {
      case 'prepare':
      case 'accept':
      case 'heartbeat':
      case 'timeoutNow':
      case 'commit':
      case 'quiesce':
        if (m.ballot.node !== m.from) return 'ballot not owned by its sender';
        break;
      case 'promise':
      case 'accepted':
        if (m.ballot.node !== this.id) return 'answer to a ballot that is not ours';
        break;
      case 'reject':
        if (!isBallot(m.promised)) return 'malformed ballot';
        break;
      case 'precheckReply':
        if (!isBallot(m.promised)) return 'malformed ballot';
        break;
      case 'probe':
        if (!isBallot(m.fence)) return 'malformed ballot';
        break;
      case 'probeReply':
        if (!isBallot(m.promised) || !isBallot(m.fence)) return 'malformed ballot';
        break;
      default:
        break;
    }
    switch (m.type) {
      case 'prepare':
        return isSlot(m.firstSlot) ? undefined : 'bad slot';
      case 'accept':
        if (!isSlot(m.firstSlot) || !isCount(m.commitIndex)) return 'bad slot';
        if (!Array.isArray(m.values) || m.values.length < 1 || m.values.length > this.limits.acceptSlotsMax) return 'bad values';
        return isArrayOf(m.values, isValue) ? undefined : 'bad values';
      case 'accepted':
        return isSlot(m.firstSlot) && isCount(m.count) && m.count >= 1 && m.count <= this.limits.acceptSlotsMax ? undefined : 'bad slot';
      case 'promise':
        return isArrayOf(m.accepted, isAcceptedEntry) && isArrayOf(m.chosen, isChosenEntry) ? undefined : 'bad entries';
      case 'probeReply':
        return isCount(m.commitIndex) && isArrayOf(m.accepted, isAcceptedEntry) ? undefined : 'bad probe reply';
      case 'chosen':
        if (!isSlot(m.firstSlot) || !isCount(m.commitIndex)) return 'bad slot';
        if (!Array.isArray(m.values) || m.values.length > this.limits.catchUpSlotsMax) return 'bad values';
        return isArrayOf(m.values, isValue) ? undefined : 'bad values';
      case 'catchUp':
        return isSlot(m.firstSlot) && isSlot(m.lastSlot) && m.lastSlot >= m.firstSlot ? undefined : 'bad slot';
      case 'precheck':
      case 'commit':
      case 'quiesce':
        return isCount(m.commitIndex) ? undefined : 'bad commit index';
      case 'heartbeat':
      case 'heartbeatReply':
        return isCount(m.commitIndex) && isCount(m.seq) ? undefined : 'bad commit index';
      default:
        return undefined;
    }
  }

  // ---------------------------------------------------------------- election

  private tickFollower(): void {
    if (this.rejoin !== undefined) {
      // It may not campaign (that promises its own ballot); it keeps asking instead.
      if (this.rejoin.state === 'probing' && this.now % this.limits.heartbeatTicks === 0) this.sendProbes();
      return;
    }
    this.election.tick();
    if (this.election.timedOut) this.startPrecheck();
  }

  private tickCandidate(c: Candidacy): void {
    this.election.tick();
    const askAgain = c.tick(this.limits.heartbeatTicks);
    if (this.election.timedOut) {
      this.becomeFollower();
      this.startPrecheck();
      return;
    }
    if (askAgain) {
      for (const v of this.otherVoters) {
        if (!c.hasAnswered(v)) this.out.send({ type: 'prepare', from: this.id, to: v, ballot: c.ballot, firstSlot: c.firstSlot });
      }
    }
  }

  private startPrecheck(): void {
    assert(this.isVoter && this.roleState.kind === 'follower', () => `${this.id} prechecks as ${this.roleState.kind}`);
    this.election.startPrecheck(this.id);
    const commitIndex = this.learner.commitIndex;
    for (const v of this.otherVoters) this.out.send({ type: 'precheck', from: this.id, to: v, commitIndex });
    this.checkPrecheck();
  }

  private checkPrecheck(): void {
    if (this.election.precheckVote(this.quorum) === 'won') this.startCandidacy();
  }

  private onPrecheck(m: PrecheckMessage): void {
    // Every precheck is answered: a refusal tells the asker of a higher ballot.
    assert(this.quorum.isVoter(m.from), () => `precheck from ${m.from}, who does not vote`);
    assert(this.isVoter || this.acceptor.promised.round > 0, () => `${this.id} answers a precheck, but never voted and does not vote`);
    const granted = this.rejoin === undefined && this.election.grantsPrecheck(this.roleState.kind === 'leader', m.commitIndex, this.learner.commitIndex);
    this.out.send({ type: 'precheckReply', from: this.id, to: m.from, granted, promised: this.acceptor.promised });
    if (!this.isVoter && m.commitIndex > this.learner.commitIndex) {
      // A voter counts on this node's vote: it learned a configuration this node has not
      // yet (one that promoted it while it lagged). An observer's election timer does not
      // run, so it refuses until it learns that configuration: learn it from the asker.
      this.requestCatchUp(m.from, this.learner.commitIndex + 1, m.commitIndex);
    }
    // Refused for lagging: send what it lacks, or it may never learn that the
    // configuration it campaigns in was replaced.
    this.sendLagging(m.from, m.commitIndex);
  }

  /** Sends `to`, whose commit index is `commitIndex`, the chosen values after it (one bounded message), if it lags. */
  private sendLagging(to: NodeId, commitIndex: number): void {
    if (!isCount(commitIndex) || commitIndex >= this.learner.commitIndex) return;
    const reply = CatchUp.serve(this.learner, this.id, to, commitIndex + 1, this.learner.commitIndex, this.limits);
    if (reply === 'snapshot') this.out.sendSnapshot(to);
    else if (reply !== undefined) this.out.send(reply);
  }

  private ignorePrecheckReply(): string | undefined {
    if (this.roleState.kind !== 'follower' || !this.election.prechecking) return 'not prechecking';
    return undefined;
  }

  private onPrecheckReply(m: PrecheckReplyMessage): void {
    this.roundSeen = Math.max(this.roundSeen, m.promised.round);
    if (this.ignorePrecheckReply() !== undefined) return;
    assert(this.isVoter, () => `${this.id} prechecks, but does not vote`);
    this.election.onPrecheckReply(m.from, m.granted);
    this.checkPrecheck();
  }

  private startCandidacy(): void {
    this.election.stopPrecheck();
    const round = Math.max(this.roundSeen, this.acceptor.promised.round) + 1;
    const ballot: Ballot = { round, node: this.id };
    const firstSlot = this.learner.commitIndex + 1;
    const reported = this.acceptor.prepare(ballot, firstSlot, this.out);
    assert(reported !== undefined, () => `${this.id} could not promise its own new ballot ${formatBallot(ballot)}`);
    this.roundSeen = round;
    this.becomeCandidate(new Candidacy(ballot, firstSlot), { seq: this.out.nextPersistSeq, reported, chosen: this.chosenFrom(firstSlot) });
    this.leaderHint = undefined;
    this.election.resetTimer();
    for (const v of this.otherVoters) this.out.send({ type: 'prepare', from: this.id, to: v, ballot, firstSlot });
  }

  private ignorePrepare(): string | undefined {
    if (this.rejoin !== undefined) return 'rejoining: it may have forgotten a higher promise';
    return undefined;
  }

  private onPrepare(m: PrepareMessage): void {
    this.roundSeen = Math.max(this.roundSeen, m.ballot.round);
    if (this.ignorePrepare() !== undefined) return;
    assert(m.ballot.node === m.from, () => `prepare from ${m.from} for ${formatBallot(m.ballot)}, a ballot of another node`);
    if (m.firstSlot <= this.learner.compactedThrough) {
      // The accepted values of those slots are gone: promising would hide them from the
      // candidate (they are chosen). It needs the snapshot, not our vote.
      this.out.sendSnapshot(m.from);
      return;
    }
    const reported = this.acceptor.prepare(m.ballot, m.firstSlot, this.out);
    if (reported === undefined) {
      this.out.send({ type: 'reject', from: this.id, to: m.from, ballot: m.ballot, promised: this.acceptor.promised });
      return;
    }
    assert(
      ballotEquals(this.acceptor.promised, m.ballot),
      () => `${this.id} promised ${formatBallot(m.ballot)} but holds ${formatBallot(this.acceptor.promised)}`,
    );
    if (this.roleState.kind === 'leader' || this.roleState.kind === 'candidate') this.stepDown(m.from);
    this.election.resetTimer();
    this.out.send({ type: 'promise', from: this.id, to: m.from, ballot: m.ballot, accepted: reported, chosen: this.chosenFrom(m.firstSlot) });
  }

  private ignorePromise(m: PromiseMessage): string | undefined {
    const own = this.leadership?.ballot ?? this.candidacy?.ballot;
    if (own === undefined) return 'not campaigning or leading';
    if (!ballotEquals(m.ballot, own)) return 'an answer to an earlier ballot';
    return undefined;
  }

  private onPromise(m: PromiseMessage): void {
    if (this.ignorePromise(m) !== undefined) return;
    assert(m.ballot.node === this.id, () => `promise from ${m.from} for ${formatBallot(m.ballot)}, not a ballot of ${this.id}`);
    const l = this.leadership;
    if (l !== undefined) {
      // Asked for when a configuration entered the window after the election.
      l.onLatePromise(m.from, m.accepted, m.chosen);
      return;
    }
    const c = this.candidacy;
    assert(c !== undefined, () => `${this.id} takes a promise for ${formatBallot(m.ballot)} as ${this.roleState.kind}`);
    c.onPromise(m.from, m.accepted, m.chosen);
    if (this.learnChosen(m.chosen)) {
      // The commit index moved: the configurations governing from it on may be others.
      this.refreshView();
      if (this.candidacy !== c) return;
    }
    this.checkCandidacy();
  }

  /**
   * Learns the chosen values a promise reported, as from a `chosen` message (they are
   * facts, whoever reports them). A candidate does not propose them again: it may not
   * vote in the configuration governing them. The heir of a leader that removed itself
   * campaigns before it hears the commit index that says so; elected below those
   * slots, it could neither get them chosen nor hand them over to a voter that left.
   * Returns whether the commit index moved.
   */
  private learnChosen(entries: readonly ChosenEntry[]): boolean {
    const before = this.learner.commitIndex;
    for (const e of entries) {
      if (e.slot > before && this.learner.learn(e.slot, e.value)) this.out.persistChosen(e);
    }
    this.learner.advance(this.out);
    return this.learner.commitIndex > before;
  }

  private checkCandidacy(): void {
    const c = this.candidacy;
    if (c === undefined || c.vote(this.quorum) !== 'won') return;
    this.lead(c);
  }

  /** `c` won phase 1: lead in its ballot. */
  private lead(c: Candidacy): void {
    assert(
      ballotEquals(this.acceptor.promised, c.ballot),
      () => `${this.id} wins ${formatBallot(c.ballot)} but promised ${formatBallot(this.acceptor.promised)}`,
    );
    this.learner.assertKnownBelow(c.firstSlot, c.ballot);
    // Slots committed while this node campaigned are chosen and known: it proposes from
    // the slot after them. Proposing them again would accept them in this ballot, and
    // this node may not vote in the configuration governing them (a promoted observer
    // elected as the slot before its configuration's first is chosen); the quorum that
    // elected it is the one of the configurations from the commit index on, which may
    // miss what a quorum of theirs accepted, so what phase 1 found there is no guide.
    const firstSlot = Math.max(c.firstSlot, this.learner.commitIndex + 1);
    const values = c.adoptedValues().slice(firstSlot - c.firstSlot);
    for (let i = 0; i < values.length; i++) {
      const known = this.learner.value(firstSlot + i);
      if (known !== undefined)
        assert(valueEquals(known, values[i]!), () => `leader ${formatBallot(c.ballot)} adopts for slot ${firstSlot + i} a value other than the chosen one`);
    }
    // It holds the slots before `firstSlot` (for the handover) once what it wrote is durable.
    const written = this.out.recordedPersistSeq;
    const l = new Leadership(c.ballot, firstSlot, this.id, this.now, written > this.persistedSeq ? written : 0);
    l.adopt(values, c.promisers());
    this.becomeLeader(l);
    this.leaderHint = this.id;
    this.followed = undefined;
    for (const e of this.view) {
      for (const v of e.voters) if (v !== this.id) l.addVoter(v, Math.max(e.from, l.firstSlot), this.now);
      for (const o of e.config.observers) l.addObserver(o, l.firstSlot, this.now);
    }
    this.broadcastHeartbeat(l);
  }

  private tickLeader(l: Leadership): void {
    const due = l.tick(this.now, this.limits, this.quorum);
    if (due === 'lost-quorum') return this.stepDown(undefined);
    if (this.quiesceAfterTicks !== undefined) {
      const commitIndex = this.learner.commitIndex;
      const idle = this.rejoin === undefined && l.idle(commitIndex, this.peers, this.now, this.limits.electionTicksMin) && !this.changeInProgress(l);
      this.idleTicks = idle ? this.idleTicks + 1 : 0;
      if (this.idleTicks >= this.quiesceAfterTicks) return this.quiesce(l, commitIndex);
    }
    if (due === 'heartbeat') this.broadcastHeartbeat(l);
  }

  /** This idle leader stops ticking, and tells every peer to. */
  private quiesce(l: Leadership, commitIndex: number): void {
    assert(this.roleState.kind === 'leader' && !this.quiet, () => `${this.id} quiesces as ${this.roleState.kind}${this.quiet ? ', quiesced' : ''}`);
    for (const p of this.peers) this.out.send({ type: 'quiesce', from: this.id, to: p, ballot: l.ballot, commitIndex });
    this.quiet = true;
    this.idleTicks = 0;
  }

  /**
   * Rouses this replica if it is quiesced: time passes again. A follower roused by
   * anyone but the leader it follows (`from`: a candidate's precheck; undefined: the
   * driver, which suspects the leader failed) asks that leader to resume heartbeats,
   * so a live leader is heard before anyone's election timer runs out, and a dead one
   * is replaced once it does.
   */
  private rouse(from: NodeId | undefined): void {
    this.idleTicks = 0;
    if (!this.quiet) return;
    this.quiet = false;
    const f = this.followed;
    if (this.roleState.kind === 'follower' && f !== undefined && from !== f.ballot.node) {
      this.out.send({ type: 'wake', from: this.id, to: f.ballot.node, ballot: f.ballot });
    }
  }

  /**
   * Rouses this replica if it is quiesced (see {@link ReplicaOptions.quiesceAfterTicks}):
   * call it when the leader's process may have failed. A follower asks its leader to
   * resume heartbeats and counts time again, so if the leader does not answer, its
   * election timer runs out and it campaigns. Does nothing otherwise.
   */
  wake(): void {
    this.rouse(undefined);
  }

  /** An idle leader quiesced: stop counting time if this replica holds every slot it chose, else ask it to go on. */
  private onQuiesce(m: QuiesceMessage): void {
    if (!this.heardFromLeader(m)) return;
    const kind = this.roleState.kind;
    this.quiet = this.rejoin === undefined && (kind === 'follower' || kind === 'observer') && this.learner.commitIndex >= m.commitIndex;
    if (!this.quiet) this.out.send({ type: 'wake', from: this.id, to: m.from, ballot: m.ballot });
  }

  private ignoreWake(m: WakeMessage): string | undefined {
    return this.notLeadingIn(m.ballot);
  }

  /** A follower asks this leader (roused already, as by any message) to be heard: a heartbeat round now. */
  private onWake(m: WakeMessage): void {
    if (this.ignoreWake(m) !== undefined) return;
    const l = this.leadership;
    if (l === undefined) assert(false, `${this.id} takes a wake as ${this.roleState.kind}`);
    assert(!this.quiet, () => `${this.id} answers a wake while quiesced`);
    this.broadcastHeartbeat(l);
  }

  private broadcastHeartbeat(l: Leadership): void {
    const commitIndex = this.learner.commitIndex;
    const seq = l.heartbeatRound(commitIndex, this.otherVoters);
    for (const p of this.peers) this.out.send({ type: 'heartbeat', from: this.id, to: p, ballot: l.ballot, commitIndex, seq });
  }

  /**
   * Leaves the leader or candidate role; a leader gives back its queued commands and
   * fails its waiting reads, naming `leaderHint` as the node to ask instead.
   */
  private stepDown(leaderHint: NodeId | undefined): void {
    const l = this.leadership;
    if (l !== undefined) {
      this.out.drop(l.drain());
      for (const id of l.drainReads()) this.out.read({ id, ok: false, leaderHint });
    }
    // Only while the view changes (refreshView) may a leader or candidate be no voter.
    if (this.isVoter) this.becomeFollower();
    else this.becomeNonVoter();
    // Never name ourselves: a deposed leader knows at most who deposed it.
    this.leaderHint = leaderHint === this.id ? undefined : leaderHint;
    this.election.stopPrecheck();
    this.election.heardLeader();
  }

  /** After {@link follow}: this node neither leads nor campaigns, and its promise is not above `ballot`. */
  private assertFollowing(ballot: Ballot): void {
    // Runs for every heartbeat and commit message: messages are built only on failure.
    const kind = this.roleState.kind;
    if (kind === 'leader' || kind === 'candidate') assert(false, `${this.id} follows ${formatBallot(ballot)} as ${kind}`);
    if (compareBallots(this.acceptor.promised, ballot) > 0)
      assert(false, `${this.id} follows ${formatBallot(ballot)} but promised the higher ${formatBallot(this.acceptor.promised)}`);
  }

  /** A leader of `ballot` (at least our promise) spoke: follow it. */
  private follow(ballot: Ballot): void {
    if (this.roleState.kind === 'leader' || this.roleState.kind === 'candidate') this.stepDown(ballot.node);
    this.leaderHint = ballot.node;
    this.election.heardLeader();
  }

  private ignoreReject(m: RejectMessage): string | undefined {
    const own = this.leadership?.ballot ?? this.candidacy?.ballot;
    if (own === undefined) return 'not campaigning or leading';
    if (!ballotEquals(m.ballot, own)) return 'an answer to an earlier ballot';
    if (compareBallots(m.promised, own) <= 0) return 'no higher promise';
    return undefined;
  }

  private onReject(m: RejectMessage): void {
    this.roundSeen = Math.max(this.roundSeen, m.promised.round);
    if (this.ignoreReject(m) !== undefined) return;
    // A leader or candidate holds the promise of its own ballot: any higher one ended its role.
    assert(
      ballotEquals(this.acceptor.promised, m.ballot),
      () => `${this.id} leads or campaigns in ${formatBallot(m.ballot)} but promised ${formatBallot(this.acceptor.promised)}`,
    );
    this.candidacy?.onRefusal(m.from);
    this.stepDown(m.promised.node);
  }

  // ---------------------------------------------------------------- membership

  /**
   * Proposes one change to the members. Only a leader takes it, and one change at a
   * time: the configuration it leads to is proposed in the next free slot and governs
   * `windowSlots` slots after it is chosen (the leader fills the gap with no-ops). A
   * change whose old and new quorums need not meet goes through a joint configuration
   * first; the leader proposes the second step itself. A voter added must have
   * reported a commit index within `catchUpSlotsMax` of the leader's. Follow it with
   * {@link status}: `configuration` and `configurationFrom`.
   */
  changeMembers(change: MembershipChange): ChangeMembersResult {
    const l = this.leadership;
    if (l === undefined) return { ok: false, reason: 'not-leader', leaderHint: this.leaderHint };
    const latest = this.learner.epochs.latest;
    if (this.changeInProgress(l)) return { ok: false, reason: 'in-progress', config: l.pendingChange ?? latest.config };
    const plan = planChange(latest.config, change);
    if (!plan.ok) {
      const { ok: _, ...refusal } = plan;
      return { ok: false, ...refusal };
    }
    const commitIndex = this.learner.commitIndex;
    const required = Math.max(0, commitIndex - this.limits.catchUpSlotsMax);
    for (const v of votersAdded(latest.config, plan.config)) {
      // Caught up, and heard from lately: a voter that cannot answer would stall the
      // configuration it joins (its quorums may need it).
      const reported = l.reportedCommit.get(v);
      const heard = l.lastHeard.get(v);
      const silent = reported === undefined || heard === undefined || this.now - heard >= this.limits.electionTicksMin;
      if (silent || reported < required) return { ok: false, reason: 'behind', id: v, commitIndex: reported ?? 0, required };
    }
    // A configuration whose quorums need voters this leader has not heard from lately
    // would stall the cluster the moment it governs (etcd's strict reconfiguration check).
    const live = (v: NodeId): boolean | undefined =>
      v === this.id || this.now - (l.lastHeard.get(v) ?? -Infinity) < this.limits.electionTicksMin ? true : undefined;
    const quorum = quorumOf(plan.config);
    if (quorum.phase1(live) !== 'won' || quorum.phase2(live) !== 'won') {
      return { ok: false, reason: 'would-lose-quorum', voters: plan.config.voters };
    }
    this.rouse(undefined);
    l.queueChange(plan.config);
    return { ok: true, config: plan.config };
  }

  /** A change is queued, on its way to be chosen, or chosen and not yet governing the next slot. */
  private changeInProgress(l: Leadership): boolean {
    if (l.pendingChange !== undefined) return true;
    if (l.changeSlot > this.learner.commitIndex) return true;
    const latest = this.learner.epochs.latest;
    return latest.from > l.nextSlot || latest.config.leaving !== undefined;
  }

  /**
   * Whether this leader may propose in `e`: it votes in it, a phase-1 quorum of it
   * promised this ballot (asking its voters if not), and, for the first slot of a new
   * configuration, a phase-2 quorum of it has durably learned every earlier slot.
   */
  private mayProposeIn(l: Leadership, e: Epoch): boolean {
    if (l.isReady(e)) return true;
    if (!e.quorum.isVoter(this.id)) return false;
    if (e.quorum.phase1((v) => (l.promisers.has(v) ? true : undefined)) !== 'won') {
      const firstSlot = Math.max(e.from, l.nextSlot);
      for (const v of e.voters) {
        if (v === this.id || l.promisers.has(v) || !l.askToPromise(v, this.now, this.limits.heartbeatTicks)) continue;
        this.out.send({ type: 'prepare', from: this.id, to: v, ballot: l.ballot, firstSlot });
      }
      return false;
    }
    if (e.source > 0 && l.nextSlot <= e.from) {
      // The handover: the new voters must hold every slot the old configuration chose,
      // durably, before the new one decides anything (see docs/protocol.md).
      const before = e.from - 1;
      const commitIndex = this.learner.commitIndex;
      if (commitIndex < before) return false;
      // This leader counts once its own acceptance of those slots is durable, like any
      // voter's: its write may still be on its way to the disk.
      const won = e.quorum.phase2((v) => ((v === this.id ? l.acknowledgedThrough(v) : (l.reportedCommit.get(v) ?? 0)) >= before ? true : undefined));
      if (won !== 'won') {
        l.wantCommitReports(commitIndex);
        return false;
      }
    }
    l.markReady(e);
    return true;
  }

  /** The last slot this leader may assign now: the window, and the configurations it may propose in. */
  private proposeLimit(l: Leadership): number {
    const epochs = this.learner.epochs;
    const limit = this.learner.commitIndex + Math.min(this.limits.inflightSlotsMax, epochs.windowSlots);
    for (const e of this.view) {
      if (e.from > limit) break;
      if (epochs.lastSlotOf(e) < l.nextSlot) continue;
      if (!this.mayProposeIn(l, e)) return Math.min(limit, Math.max(e.from, l.nextSlot) - 1);
    }
    return limit;
  }

  /** A leader that is not a voter of the configuration that governs next hands over once its own slots are chosen. */
  private handOver(l: Leadership): void {
    const epochs = this.learner.epochs;
    const e = epochs.at(Math.min(l.nextSlot, epochs.knownThrough));
    if (e.quorum.isVoter(this.id) || l.transfer !== undefined || this.learner.commitIndex < l.nextSlot - 1) return;
    // A voter that reported every slot of `e` committed and votes in no configuration
    // after it knows it left: it ignores timeoutNow. It reports the highest commit
    // index, so it would be picked again after every transfer timeout, and the voters
    // that can campaign, hearing this leader, never would.
    const last = epochs.lastSlotOf(e);
    const later = last === Infinity ? [] : epochs.between(last + 1, epochs.knownThrough);
    const left = (v: NodeId): boolean => (l.reportedCommit.get(v) ?? 0) >= last && !later.some((f) => f.quorum.isVoter(v));
    let best: NodeId | undefined;
    for (const v of e.voters) {
      if (left(v)) continue;
      if (best === undefined || (l.reportedCommit.get(v) ?? 0) > (l.reportedCommit.get(best) ?? 0)) best = v;
    }
    if (best !== undefined) l.startTransfer(best);
  }

  // ---------------------------------------------------------------- phase 2

  /** Runs on every `takeOutput()` of a leader: assigns slots, sends what voters lack. */
  private flushLeader(l: Leadership): void {
    this.proposeNext(l);
    this.handOver(l);
    const last = l.nextSlot - 1;
    const commitIndex = this.learner.commitIndex;
    const epochs = this.learner.epochs;
    // Voters that are up to date are sent the same slots: their accepts share one list.
    let range: { firstSlot: number; values: readonly Value[] } | undefined;
    const compacted = this.learner.compactedThrough;
    for (const v of this.otherVoters) {
      let next = l.sendNext.get(v)!;
      let told = l.commitSent.get(v) ?? 0;
      if (next <= compacted && next <= last) {
        // It lags behind what this leader compacted: the snapshot replaces those slots.
        this.out.sendSnapshot(v);
        l.skipTo(v, compacted);
        next = compacted + 1;
      }
      while (next <= last) {
        // Each slot goes to the voters of the configuration that governs it.
        const e = epochs.at(next);
        const epochEnd = Math.min(last, epochs.lastSlotOf(e));
        if (!e.quorum.isVoter(v)) {
          // Not its slots: count them as done for it, so its acknowledgements stay
          // contiguous across a configuration it did not vote in.
          l.acknowledge(v, next, epochEnd);
          next = epochEnd + 1;
          continue;
        }
        const end = messageEnd(next, epochEnd, this.limits.acceptSlotsMax, this.limits, (slot) => valueBytes(this.ownAccepted(l, slot)));
        if (range === undefined || range.firstSlot !== next || range.values.length !== end - next + 1) {
          range = { firstSlot: next, values: this.ownAcceptedValues(l, next, end) };
        }
        this.out.send({ type: 'accept', from: this.id, to: v, ballot: l.ballot, firstSlot: next, values: range.values, commitIndex });
        told = commitIndex;
        next = end + 1;
      }
      if (told < commitIndex) {
        this.out.send({ type: 'commit', from: this.id, to: v, ballot: l.ballot, commitIndex });
        told = commitIndex;
      }
      l.sentTo(v, next, told);
    }
    for (const o of this.observers) {
      let next = l.observerNext.get(o)!;
      if (next <= compacted) {
        this.out.sendSnapshot(o);
        next = compacted + 1;
      }
      while (next <= commitIndex) {
        const chosen = CatchUp.serve(this.learner, this.id, o, next, commitIndex, this.limits);
        assert(chosen !== undefined && chosen !== 'snapshot' && chosen.values.length > 0, () => `nothing to push to ${o} from slot ${next}`);
        this.out.send(chosen);
        next += chosen.values.length;
      }
      l.pushedTo(o, next);
    }
    if (l.heartbeatWanted(commitIndex)) this.broadcastHeartbeat(l);
    for (const r of l.confirmedReads(this.quorum)) this.out.read({ id: r.id, ok: true, index: r.index });
    const target = l.transferDue(last);
    if (target !== undefined) this.out.send({ type: 'timeoutNow', from: this.id, to: target, ballot: l.ballot });
  }

  /**
   * Assigns the next slots, within the window and the configurations this leader may
   * propose in: first what phase 1 adopted, then a queued membership change (alone in
   * its slot), then queued commands, then no-ops up to where a chosen configuration
   * starts to govern, so it takes effect without waiting for traffic. Accepts them itself.
   */
  private proposeNext(l: Leadership): void {
    const limit = this.proposeLimit(l);
    if (l.nextSlot > limit) return;
    const first = l.nextSlot;
    const values: Value[] = [];
    while (first + values.length <= Math.min(limit, l.adoptedEnd)) values.push(l.adoptedValue(first + values.length));
    // A transfer holds new commands back, so the target can catch up with a fixed end.
    if (l.transfer === undefined) {
      const latest = this.learner.epochs.latest;
      if (
        l.pendingChange === undefined &&
        latest.config.leaving !== undefined &&
        latest.from <= first + values.length &&
        l.changeSlot <= this.learner.commitIndex
      ) {
        // The joint configuration governs: propose its second step.
        l.queueChange(finishJoint(latest.config));
      }
      if (l.pendingChange !== undefined && first + values.length <= limit) values.push({ kind: 'config', config: l.takeChange(first + values.length) });
      if (l.queued > 0) {
        const room = limit - (first + values.length) + 1;
        for (const v of l.takeBatches(room, this.limits)) values.push(v);
      }
    }
    const fillTo = Math.min(limit, this.learner.epochs.latest.from - 1);
    while (first + values.length <= fillTo) values.push(noop);
    if (values.length === 0) return;
    const ok = this.acceptor.accept(l.ballot, first, values, this.out);
    assert(ok, () => `leader ${formatBallot(l.ballot)} refused by its own acceptor`);
    l.assigned(values.length, this.out.nextPersistSeq);
  }

  /** This leader's own values for slots `first..last`, all accepted in its ballot. */
  private ownAcceptedValues(l: Leadership, first: number, last: number): Value[] {
    const values = new Array<Value>(last - first + 1);
    for (let slot = first; slot <= last; slot++) values[slot - first] = this.ownAccepted(l, slot);
    return values;
  }

  private ownAccepted(l: Leadership, slot: number): Value {
    const e = this.acceptor.accepted(slot);
    if (e === undefined || !ballotEquals(e.ballot, l.ballot)) assert(false, `leader ${formatBallot(l.ballot)} lost its own value for slot ${slot}`);
    return e.value;
  }

  private onAccept(m: AcceptMessage): void {
    // Runs for every accept: messages are built only on failure.
    if (m.ballot.node !== m.from) assert(false, `accept from ${m.from} for ${formatBallot(m.ballot)}, a ballot of another node`);
    if (m.values.length < 1 || m.values.length > this.limits.acceptSlotsMax)
      assert(false, `accept of ${m.values.length} slots from ${m.from}, outside 1..${this.limits.acceptSlotsMax}`);
    if (this.rejoin !== undefined) {
      // Learn from the leader without accepting: nothing to acknowledge.
      this.follow(m.ballot);
      this.learnFromLeader(m.ballot, m.commitIndex);
      return;
    }
    if (!this.acceptor.accept(m.ballot, m.firstSlot, m.values, this.out)) {
      this.out.send({ type: 'reject', from: this.id, to: m.from, ballot: m.ballot, promised: this.acceptor.promised });
      return;
    }
    if (!ballotEquals(this.acceptor.promised, m.ballot))
      assert(false, `${this.id} accepted in ${formatBallot(m.ballot)} but holds ${formatBallot(this.acceptor.promised)}`);
    this.follow(m.ballot);
    this.out.send({ type: 'accepted', from: this.id, to: m.from, ballot: m.ballot, firstSlot: m.firstSlot, count: m.values.length });
    this.learnFromLeader(m.ballot, m.commitIndex);
  }

  private onAccepted(m: AcceptedMessage): void {
    // The guard: an answer to a leadership of ours that is over (a one-line check, kept
    // inline so the safety suite's mutant can take the ballot test out of it).
    const l = this.leadership;
    if (l === undefined || !ballotEquals(m.ballot, l.ballot)) return;
    // Runs for every accepted message: messages are built only on failure.
    if (m.count < 1) assert(false, `accepted of ${m.count} slots from ${m.from}`);
    if (!this.quorum.isVoter(m.from)) assert(false, `accepted from ${m.from}, who does not vote`);
    l.heard(m.from, this.now);
    l.acknowledge(m.from, m.firstSlot, m.firstSlot + m.count - 1);
    this.advanceLeaderCommit();
  }

  /** Chosen = accepted by a phase-2 quorum in this leader's ballot. */
  private advanceLeaderCommit(): void {
    const l = this.leadership;
    if (l === undefined) return;
    // Walk the configurations from the commit index: each slot is chosen by a phase-2
    // quorum of the configuration that governs it.
    const epochs = this.learner.epochs;
    let committed = this.learner.commitIndex;
    while (committed + 1 < l.nextSlot) {
      const e = epochs.at(committed + 1);
      const end = Math.min(l.nextSlot - 1, epochs.lastSlotOf(e));
      const c = Math.min(end, l.committedSlot(e.quorum));
      if (c <= committed) break;
      committed = c;
      if (c < end) break;
    }
    if (committed <= this.learner.commitIndex) return;
    for (let slot = this.learner.commitIndex + 1; slot <= committed; slot++) this.learner.learn(slot, this.ownAccepted(l, slot));
    this.learner.advance(this.out);
    if (this.learner.commitIndex < committed) assert(false, `commit index ${this.learner.commitIndex} below the quorum's ${committed}`);
  }

  // ---------------------------------------------------------------- learning

  private onHeartbeat(m: HeartbeatMessage): void {
    if (m.ballot.node !== m.from) assert(false, `heartbeat from ${m.from} for ${formatBallot(m.ballot)}, a ballot of another node`);
    if (!this.heardFromLeader(m)) return;
    // A reply vouches that no higher ballot was promised, which it cannot know yet.
    if (this.rejoin !== undefined) return;
    this.out.send({ type: 'heartbeatReply', from: this.id, to: m.from, ballot: m.ballot, commitIndex: this.learner.commitIndex, seq: m.seq });
  }

  private ignoreHeartbeatReply(m: HeartbeatReplyMessage): string | undefined {
    return this.notLeadingIn(m.ballot);
  }

  /** Why a message to the leader of `ballot` is not for this node: it does not lead, or leads in another ballot. */
  private notLeadingIn(ballot: Ballot): string | undefined {
    const l = this.leadership;
    if (l === undefined) return 'not leading';
    if (!ballotEquals(ballot, l.ballot)) return 'an answer to an earlier ballot';
    return undefined;
  }

  private onHeartbeatReply(m: HeartbeatReplyMessage): void {
    if (this.ignoreHeartbeatReply(m) !== undefined) return;
    const l = this.leadership;
    // Runs for every heartbeat reply: messages are built only on failure.
    if (l === undefined) assert(false, `${this.id} takes a heartbeat reply as ${this.roleState.kind}`);
    if (!this.members.has(m.from)) assert(false, `heartbeat reply from ${m.from}, not a member`);
    l.reported(m.from, m.commitIndex, this.now);
    if (!this.quorum.isVoter(m.from)) return;
    for (const r of l.echo(m.from, m.seq, this.quorum)) this.out.read({ id: r.id, ok: true, index: r.index });
  }

  /**
   * A leader's heartbeat or quiesce: rejected below this node's promise (false), else
   * this node follows its ballot and learns its commit index (true).
   */
  private heardFromLeader(m: HeartbeatMessage | QuiesceMessage): boolean {
    if (compareBallots(m.ballot, this.acceptor.promised) < 0) {
      this.out.send({ type: 'reject', from: this.id, to: m.from, ballot: m.ballot, promised: this.acceptor.promised });
      return false;
    }
    this.follow(m.ballot);
    this.assertFollowing(m.ballot);
    this.learnFromLeader(m.ballot, m.commitIndex);
    return true;
  }

  /** The leader's commit index moved: learn from it as from a heartbeat, without answering. */
  private ignoreCommit(m: CommitMessage): string | undefined {
    if (compareBallots(m.ballot, this.acceptor.promised) < 0) return 'below our promise';
    return undefined;
  }

  private onCommit(m: CommitMessage): void {
    if (this.ignoreCommit(m) !== undefined) return;
    if (m.ballot.node !== m.from) assert(false, `commit from ${m.from} for ${formatBallot(m.ballot)}, a ballot of another node`);
    this.follow(m.ballot);
    this.assertFollowing(m.ballot);
    this.learnFromLeader(m.ballot, m.commitIndex);
  }

  /** The leader hands over: campaign now, skipping the pre-check its followers would refuse. */
  private ignoreTimeoutNow(m: TimeoutNowMessage): string | undefined {
    if (this.rejoin !== undefined) return 'rejoining';
    const f = this.followed;
    if (this.roleState.kind !== 'follower' || f === undefined || !ballotEquals(f.ballot, m.ballot)) return 'not from the leader it follows';
    if (compareBallots(m.ballot, this.acceptor.promised) < 0) return 'below our promise';
    return undefined;
  }

  private onTimeoutNow(m: TimeoutNowMessage): void {
    if (this.ignoreTimeoutNow(m) !== undefined) return;
    assert(this.isVoter, () => `${this.id} told to campaign, but does not vote`);
    assert(m.ballot.node === m.from, () => `timeoutNow from ${m.from} for ${formatBallot(m.ballot)}, a ballot of another node`);
    // Outbid the leader: a target outside its phase-1 quorum may never have promised its ballot.
    this.roundSeen = Math.max(this.roundSeen, m.ballot.round);
    this.startCandidacy();
  }

  /** A leader of `ballot` announced `commitIndex`: learn what we can, fetch the rest. */
  private learnFromLeader(ballot: Ballot, commitIndex: number): void {
    const f = this.followed;
    if (f === undefined || compareBallots(ballot, f.ballot) > 0) this.followed = { ballot, commitIndex };
    else if (ballotEquals(ballot, f.ballot) && commitIndex > f.commitIndex) f.commitIndex = commitIndex;
    const target = this.followed!;
    if (!ballotEquals(target.ballot, ballot)) return;
    const gap = this.learner.followLeader(target.ballot, target.commitIndex, this.acceptor, this.out);
    if (gap !== undefined) this.requestCatchUp(target.ballot.node, gap, target.commitIndex);
  }

  private requestCatchUp(from: NodeId, gap: number, knownCommit: number): void {
    const range = this.catchUp.request(gap, knownCommit);
    if (range !== undefined) this.out.send({ type: 'catchUp', from: this.id, to: from, firstSlot: range[0], lastSlot: range[1] });
  }

  private onCatchUp(m: CatchUpMessage): void {
    if (m.firstSlot < 1 || m.lastSlot < m.firstSlot) assert(false, `catch-up from ${m.from} for slots ${m.firstSlot}..${m.lastSlot}`);
    const reply = CatchUp.serve(this.learner, this.id, m.from, m.firstSlot, m.lastSlot, this.limits);
    if (reply === 'snapshot') this.out.sendSnapshot(m.from);
    else if (reply !== undefined) this.out.send(reply);
  }

  // ---------------------------------------------------------------- amnesia guard

  private sendProbes(): void {
    const fence = this.rejoin!.fence;
    for (const v of this.rejoin!.unanswered()) this.out.send({ type: 'probe', from: this.id, to: v, fence });
  }

  private ignoreProbe(m: ProbeMessage): string | undefined {
    if (m.fence.round > 0 && m.fence.node !== m.from) return 'fence not owned by its sender';
    return undefined;
  }

  private onProbe(m: ProbeMessage): void {
    if (this.ignoreProbe(m) !== undefined) return;
    if (m.fence.round > 0) {
      this.roundSeen = Math.max(this.roundSeen, m.fence.round);
      // A voter rejoining itself accepts nothing, and must keep no promise on record.
      if (this.rejoin === undefined && compareBallots(m.fence, this.acceptor.promised) > 0) {
        // A rejoining voter fences off accepts it sent before it lost its storage. A
        // leader of a lower ballot can no longer get this vote: it steps down.
        this.acceptor.raisePromise(m.fence, this.out);
        if (this.roleState.kind === 'leader' || this.roleState.kind === 'candidate') this.stepDown(undefined);
      }
    }
    assert(
      this.rejoin !== undefined || m.fence.round === 0 || compareBallots(this.acceptor.promised, m.fence) >= 0,
      () => `${this.id} answers fence ${formatBallot(m.fence)} holding the lower ${formatBallot(this.acceptor.promised)}`,
    );
    const commitIndex = this.learner.commitIndex;
    const accepted: AcceptedEntry[] = [];
    for (let slot = Math.max(commitIndex, this.learner.compactedThrough) + 1; slot <= this.acceptor.lastSlot; slot++) {
      const e = this.acceptor.accepted(slot);
      if (e !== undefined) accepted.push(e);
    }
    this.out.send({ type: 'probeReply', from: this.id, to: m.from, fence: m.fence, promised: this.acceptor.promised, commitIndex, accepted });
  }

  private ignoreProbeReply(): string | undefined {
    if (this.rejoin === undefined) return 'not rejoining';
    return undefined;
  }

  private onProbeReply(m: ProbeReplyMessage): void {
    this.roundSeen = Math.max(this.roundSeen, m.promised.round);
    if (this.ignoreProbeReply() !== undefined) return;
    const r = this.rejoin;
    assert(r !== undefined, () => `${this.id} takes a probe reply, not rejoining`);
    assert(this.roleState.kind === 'follower', () => `${this.id} rejoins as ${this.roleState.kind}`);
    const outcome = r.onReply(m);
    if (outcome === 'fresh') {
      // A new cluster. Record that this voter joined: a promise of round 0, below every
      // real ballot, so a restart does not ask again.
      this.acceptor.raisePromise(joinedMark(this.id), this.out);
      this.rejoin = undefined;
      this.election.heardLeader();
    } else if (outcome === 'fence') {
      this.sendProbes();
    } else if (outcome === 'rebuild') {
      const plan = r.plan!;
      if (plan.source !== undefined && this.learner.commitIndex < plan.commitIndex) {
        // Ask the voter that has the chosen log directly: a leader may need our vote.
        this.requestCatchUp(plan.source, this.learner.commitIndex + 1, plan.commitIndex);
      }
    }
  }

  /** A rebuilding voter that learned the chosen log far enough takes its plan on and votes again. */
  private checkRejoin(r: Rejoin): void {
    const plan = r.plan;
    if (plan === undefined) return;
    const commitIndex = this.learner.commitIndex;
    if (commitIndex < plan.commitIndex) {
      if (plan.source !== undefined) this.requestCatchUp(plan.source, commitIndex + 1, plan.commitIndex);
      return;
    }
    const mark = joinedMark(this.id);
    this.acceptor.raisePromise(compareBallots(plan.promised, mark) > 0 ? plan.promised : mark, this.out);
    // Accepted in the fence ballot: the fenced round was a phase 1 answered by every
    // voter, so these are the values a leader of that ballot would propose; a vote in
    // it (which no other voter ever casts) outranks every older entry and no newer one.
    // Only in slots it votes in: a voter demoted and promoted again while cut off
    // rejoins with open slots still governed by the configuration that left it out,
    // and a vote there is no vote (the soak's 468669713:233500). Slots within the
    // window of the commit index have a known configuration; beyond it (no leader
    // proposes there) the entry is kept, as an unknown configuration may count it.
    const fence = r.fence;
    const epochs = this.learner.epochs;
    const votesIn = (slot: number): boolean => slot > commitIndex + epochs.windowSlots || epochs.at(slot).quorum.isVoter(this.id);
    this.acceptor.adopt(
      plan.accepted.filter((e) => e.slot > commitIndex && votesIn(e.slot)).map((e) => ({ slot: e.slot, ballot: fence, value: e.value })),
      this.out,
    );
    this.roundSeen = Math.max(this.roundSeen, plan.promised.round);
    this.rejoin = undefined;
    this.election.heardLeader();
  }

  /**
   * The values this replica knows chosen from `firstSlot` on, for a promise, up to
   * `messageBytesMax` of them. They spare the candidate learning them later; its safety
   * rests on the accepted values the promise reports in full.
   */
  private chosenFrom(firstSlot: number): ChosenEntry[] {
    const chosen: ChosenEntry[] = [];
    let bytes = 0;
    for (let slot = Math.max(firstSlot, this.learner.compactedThrough + 1); slot <= this.learner.lastChosenSlot; slot++) {
      const value = this.learner.value(slot);
      if (value === undefined) continue;
      bytes += valueBytes(value);
      if (bytes > this.limits.messageBytesMax && chosen.length > 0) break;
      chosen.push({ slot, value });
    }
    return chosen;
  }

  private onChosen(m: ChosenMessage): void {
    if (m.values.length > this.limits.catchUpSlotsMax)
      assert(false, `chosen message of ${m.values.length} slots from ${m.from}, above ${this.limits.catchUpSlotsMax}`);
    this.catchUp.received(m.firstSlot);
    // Slots at or below the commit index are known, or compacted (where the learner's
    // lookup finds nothing and would take them as new): none is written again.
    const commit = this.learner.commitIndex;
    for (let i = Math.max(0, commit + 1 - m.firstSlot); i < m.values.length; i++) {
      const slot = m.firstSlot + i;
      const value = m.values[i]!;
      if (this.learner.learn(slot, value)) this.out.persistChosen({ slot, value });
    }
    this.learner.advance(this.out);
    // A slot this leader has not assigned is chosen: a later leader chose it, or the
    // slot holds a value this leader adopted but may not propose (a configuration it
    // does not vote in governs it). Assigning on from its next slot would propose slots
    // the log holds already, and the per-voter bookkeeping of phase 2 knows nothing of
    // them: it steps down, and the next election starts after the commit index.
    const l = this.leadership;
    if (l !== undefined && m.values.length > 0 && m.firstSlot + m.values.length - 1 >= l.nextSlot) {
      this.stepDown(undefined);
      return;
    }
    const f = this.followed;
    if (f !== undefined && this.roleState.kind !== 'leader') {
      const gap = this.learner.followLeader(f.ballot, f.commitIndex, this.acceptor, this.out);
      if (gap !== undefined) this.requestCatchUp(f.ballot.node, gap, f.commitIndex);
    } else if (m.commitIndex > this.learner.commitIndex) {
      this.requestCatchUp(m.from, this.learner.commitIndex + 1, m.commitIndex);
    }
  }
}

/** Why a message is dropped when sender and receiver disagree on the members: one of them lags. */
const membershipReasons: ReadonlySet<string> = new Set(['unknown sender', 'only voters vote or lead', 'only voters lead', 'only voters campaign or lead']);

/** The configuration `options` describe: the cluster's first. */
function firstConfiguration(options: ReplicaOptions): Configuration {
  const { quorum } = options;
  if (!(quorum instanceof ThresholdQuorum)) throw new ConfigError(api, 'quorum', 'must be majority(...) or flexible(...): a configuration records its rule');
  return checkConfiguration(api, {
    id: 0,
    voters: quorum.voters,
    quorum: quorum.rule,
    observers: options.observers ?? [],
    addresses: options.addresses ?? {},
    windowSlots: options.windowSlots ?? windowSlotsDefault,
  });
}

/** The promise a voter records once it may vote: round 0, below every real ballot (rounds start at 1). */
function joinedMark(id: NodeId): Ballot {
  return { round: 0, node: id };
}

function isSlot(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function isBallot(b: unknown): b is Ballot {
  if (typeof b !== 'object' || b === null) return false;
  const { round, node } = b as { round: unknown; node: unknown };
  return isCount(round) && typeof node === 'string';
}

function isValue(v: unknown): v is Value {
  if (typeof v !== 'object' || v === null) return false;
  const value = v as { kind: unknown; commands?: unknown; config?: unknown };
  if (value.kind === 'noop') return true;
  if (value.kind === 'config')
    return typeof value.config === 'object' && value.config !== null && configurationProblem(value.config as Configuration) === undefined;
  return value.kind === 'batch' && Array.isArray(value.commands) && value.commands.length >= 1 && isArrayOf(value.commands, isBytes);
}

function isBytes(b: unknown): b is Uint8Array {
  return b instanceof Uint8Array;
}

function isChosenEntry(e: unknown): e is ChosenEntry {
  if (typeof e !== 'object' || e === null) return false;
  const entry = e as { slot: unknown; value: unknown };
  return isSlot(entry.slot) && isValue(entry.value);
}

function isAcceptedEntry(e: unknown): e is AcceptedEntry {
  if (typeof e !== 'object' || e === null) return false;
  const entry = e as { slot: unknown; ballot: unknown; value: unknown };
  return isSlot(entry.slot) && isBallot(entry.ballot) && isValue(entry.value);
}

/**
 * Whether `list` is an array whose every element passes `check`. An indexed loop, not
 * `every`: a hole is checked (as undefined) rather than skipped, and no callback or
 * iterator is allocated for what runs on every command of every accept.
 */
function isArrayOf<T>(list: unknown, check: (item: unknown) => item is T): list is readonly T[] {
  if (!Array.isArray(list)) return false;
  for (let i = 0; i < list.length; i++) if (!check(list[i])) return false;
  return true;
}
