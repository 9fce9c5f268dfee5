import { Acceptor } from './acceptor.js';
import { assert, unreachable } from './assert.js';
import { type Ballot, ballotEquals, ballotZero, compareBallots, formatBallot } from './ballot.js';
import { CatchUp } from './catch-up.js';
import { type ChosenEntry, type DurableState, emptyDurableState } from './durable-state.js';
import { Election } from './election.js';
import { ConfigError } from './errors.js';
import { Learner } from './learner.js';
import { type Limits, defaultLimits, validateLimits } from './limits.js';
import type {
  AcceptMessage,
  AcceptedEntry,
  AcceptedMessage,
  CatchUpMessage,
  ChosenMessage,
  CommitMessage,
  HeartbeatMessage,
  HeartbeatReplyMessage,
  Message,
  PrecheckMessage,
  PrecheckReplyMessage,
  PrepareMessage,
  ProbeMessage,
  ProbeReplyMessage,
  PromiseMessage,
  RejectMessage,
  TimeoutNowMessage,
} from './messages.js';
import type { NodeId } from './node-id.js';
import type { Output } from './output.js';
import { OutputBuilder } from './output-builder.js';
import { Candidacy, Leadership } from './proposer.js';
import type { Quorum } from './quorum/quorum.js';
import { Rejoin } from './rejoin.js';
import { type Value, valueEquals } from './value.js';

/** What a replica currently does. */
export type Role = 'follower' | 'candidate' | 'leader' | 'observer';

/** How to build a {@link Replica}. */
export interface ReplicaOptions {
  /** This node's id: one of the quorum's voters or one of `observers`. */
  readonly id: NodeId;
  /** The voters and how they form quorums: `majority(ids)`, `flexible(...)` or `joint(...)`. */
  readonly quorum: Quorum;
  /** Nodes that learn every chosen value but never vote. Default none. */
  readonly observers?: readonly NodeId[];
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

/** Whether a read-index request was registered, or why not. */
export type ReadIndexRequestResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'not-leader'; readonly leaderHint: NodeId | undefined };

/** A replica's state at a glance. */
export interface ReplicaStatus {
  readonly id: NodeId;
  readonly role: Role;
  /** The highest ballot this node promised (its own, when it leads). */
  readonly promised: Ballot;
  /** The node this replica believes leads, if any. */
  readonly leader: NodeId | undefined;
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
  /** Ticks since this replica started. */
  readonly now: number;
}

const api = 'Replica';

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
  private readonly quorum: Quorum;
  private readonly observers: readonly NodeId[];
  /** Every member but this node. */
  private readonly peers: readonly NodeId[];
  /**
   * Every voter but this node: the addressees of prechecks, prepares and accepts. A
   * plain array, unlike the quorum's frozen `voters`, which V8 (Node 20) does not
   * iterate without allocating, and the leader walks it on every `takeOutput()`.
   */
  private readonly otherVoters: readonly NodeId[];
  private readonly members: ReadonlySet<NodeId>;
  private readonly isVoter: boolean;
  private readonly limits: Limits;
  private readonly acceptor: Acceptor;
  private readonly learner: Learner;
  private readonly election: Election;
  private readonly catchUp: CatchUp;
  private readonly out = new OutputBuilder();
  private currentRole: Role;
  private candidacy: Candidacy | undefined;
  private leadership: Leadership | undefined;
  /** The candidate's own promise, counted once durable. */
  private selfPromise: { seq: number; reported: readonly AcceptedEntry[]; chosen: readonly ChosenEntry[] } | undefined;
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

  constructor(options: ReplicaOptions) {
    const { id, quorum } = options;
    const observers = options.observers ?? [];
    if (typeof id !== 'string' || id.length === 0) throw new ConfigError(api, 'id', 'must be a non-empty string');
    if (new Set(observers).size !== observers.length) throw new ConfigError(api, 'observers', 'must not repeat an id');
    for (const o of observers) {
      if (typeof o !== 'string' || o.length === 0) throw new ConfigError(api, 'observers', 'must hold non-empty strings');
      if (quorum.isVoter(o)) throw new ConfigError(api, 'observers', `must not include the voter ${o}`);
    }
    if (!quorum.isVoter(id) && !observers.includes(id)) throw new ConfigError(api, 'id', `${id} is neither a voter nor an observer`);
    if (typeof options.random !== 'function') throw new ConfigError(api, 'random', 'must be a function returning a number in [0, 1)');
    const limits: Limits = { ...defaultLimits, ...options.limits };
    const bad = validateLimits(limits);
    if (bad !== undefined) throw new ConfigError(api, `limits.${bad[0]}`, bad[1]);

    this.id = id;
    this.quorum = quorum;
    this.observers = [...observers];
    this.limits = limits;
    this.isVoter = quorum.isVoter(id);
    this.members = new Set([...quorum.voters, ...observers]);
    this.peers = [...this.members].filter((m) => m !== id);
    this.otherVoters = quorum.voters.filter((v) => v !== id);
    const state = options.state ?? emptyDurableState;
    const snapshotSlot = options.snapshotSlot ?? 0;
    if (!Number.isSafeInteger(snapshotSlot) || snapshotSlot < 0) throw new ConfigError(api, 'snapshotSlot', `must be a slot (an integer >= 0), got ${snapshotSlot}`);
    this.acceptor = new Acceptor(state, snapshotSlot);
    this.learner = new Learner(state, this.acceptor, snapshotSlot);
    this.election = new Election(limits, options.random);
    this.catchUp = new CatchUp(limits);
    this.roundSeen = state.promised.round;
    this.currentRole = this.isVoter ? 'follower' : 'observer';
    // No promise on record: a new voter, or one whose storage was wiped. Ask first.
    if (this.isVoter && this.otherVoters.length > 0 && ballotEquals(state.promised, ballotZero)) {
      this.rejoin = new Rejoin(id, this.otherVoters);
      this.sendProbes();
    }
  }

  /** This replica's state at a glance. */
  get status(): ReplicaStatus {
    return {
      id: this.id,
      role: this.currentRole,
      promised: this.acceptor.promised,
      leader: this.currentRole === 'leader' ? this.id : this.leaderHint,
      commitIndex: this.learner.commitIndex,
      appliedIndex: this.learner.appliedIndex,
      compactedThrough: this.learner.compactedThrough,
      lastAcceptedSlot: this.acceptor.lastSlot,
      queuedCommands: this.leadership?.queued ?? 0,
      rejoining: this.rejoin?.state,
      rejoinTarget: this.rejoin?.plan?.commitIndex,
      transferTarget: this.leadership?.transfer?.to,
      droppedMessages: this.dropped,
      now: this.now,
    };
  }

  /** What this replica does now. */
  get role(): Role {
    return this.currentRole;
  }

  /** The chosen value of `slot`, if this replica knows it. */
  chosenValue(slot: number): Value | undefined {
    return this.learner.value(slot);
  }

  // ---------------------------------------------------------------- inputs

  /** A message arrived. Malformed or misaddressed ones are dropped and counted. */
  step(message: Message): void {
    const reason = this.ignore(message);
    if (reason !== undefined) {
      this.dropped++;
      return;
    }
    switch (message.type) {
      case 'precheck': return this.onPrecheck(message);
      case 'precheckReply': return this.onPrecheckReply(message);
      case 'prepare': return this.onPrepare(message);
      case 'promise': return this.onPromise(message);
      case 'accept': return this.onAccept(message);
      case 'accepted': return this.onAccepted(message);
      case 'reject': return this.onReject(message);
      case 'heartbeat': return this.onHeartbeat(message);
      case 'heartbeatReply': return this.onHeartbeatReply(message);
      case 'catchUp': return this.onCatchUp(message);
      case 'chosen': return this.onChosen(message);
      case 'timeoutNow': return this.onTimeoutNow(message);
      case 'commit': return this.onCommit(message);
      case 'probe': return this.onProbe(message);
      case 'probeReply': return this.onProbeReply(message);
      default: return unreachable(message);
    }
  }

  /** One unit of logical time passed. */
  tick(): void {
    this.now++;
    this.catchUp.tick();
    switch (this.currentRole) {
      case 'leader': return this.tickLeader();
      case 'candidate': return this.tickCandidate();
      case 'follower': return this.tickFollower();
      case 'observer': return;
      default: return unreachable(this.currentRole);
    }
  }

  /**
   * Queues commands for the next slots. Only a leader takes them; commands are bytes,
   * each at most `batchBytesMax` long.
   */
  propose(commands: readonly Uint8Array[]): ProposeResult {
    const leadership = this.leadership;
    if (this.currentRole !== 'leader' || leadership === undefined) return { ok: false, reason: 'not-leader', leaderHint: this.leaderHint };
    for (const c of commands) {
      if (c.byteLength > this.limits.batchBytesMax) return { ok: false, reason: 'too-large', bytes: c.byteLength, limit: this.limits.batchBytesMax };
    }
    if (leadership.queued + commands.length > this.limits.proposalQueueMax) {
      return { ok: false, reason: 'overloaded', queued: leadership.queued, limit: this.limits.proposalQueueMax };
    }
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
    if (this.currentRole !== 'leader' || l === undefined) return { ok: false, reason: 'not-leader', leaderHint: this.leaderHint };
    assert(Number.isSafeInteger(id), () => `read id ${id} is not an integer`);
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
    if (this.currentRole !== 'leader' || l === undefined) return { ok: false, reason: 'not-leader', leaderHint: this.leaderHint };
    if (!this.quorum.isVoter(to)) return { ok: false, reason: 'not-voter' };
    if (to === this.id) return proposalQueued;
    l.transfer = { to, elapsed: 0, told: false };
    return proposalQueued;
  }

  /** Every persist up to output `persistSeq` is durable. */
  persisted(persistSeq: number): void {
    // Runs after every persist: messages are built only on failure.
    if (persistSeq > this.out.lastPersistSeq) assert(false, `persisted(${persistSeq}) but only ${this.out.lastPersistSeq} persists were handed out`);
    if (persistSeq < this.persistedSeq) assert(false, `persisted(${persistSeq}) goes back from ${this.persistedSeq}`);
    this.persistedSeq = persistSeq;
    if (this.leadership !== undefined) {
      this.leadership.persisted(persistSeq);
      this.advanceLeaderCommit();
    } else if (this.candidacy !== undefined && this.selfPromise !== undefined && this.selfPromise.seq <= persistSeq) {
      this.candidacy.onPromise(this.id, this.selfPromise.reported, this.selfPromise.chosen);
      this.selfPromise = undefined;
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
   * restoring: an older snapshot must be discarded) and nothing handed out is left
   * unapplied. A leader or candidate steps down first.
   */
  installSnapshot(slot: number): void {
    assert(Number.isSafeInteger(slot) && slot > this.learner.appliedIndex, () => `installSnapshot(${slot}) is not ahead of the applied slot ${this.learner.appliedIndex}`);
    if (this.currentRole === 'leader' || this.currentRole === 'candidate') this.stepDown(undefined);
    this.learner.installSnapshot(slot, this.out);
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
    if (this.rejoin !== undefined) this.checkRejoin(this.rejoin);
    if (this.leadership !== undefined) this.flushLeader(this.leadership);
    this.learner.takeCommitted(this.out);
    return this.out.take();
  }

  // ---------------------------------------------------------------- guards

  /** Why `m` must be dropped, or undefined when it may be stepped. */
  private ignore(m: Message): string | undefined {
    if (m.to !== this.id) return 'misaddressed';
    if (m.from === this.id || !this.members.has(m.from)) return 'unknown sender';
    const fromVoter = this.quorum.isVoter(m.from);
    switch (m.type) {
      case 'precheck':
      case 'prepare':
      case 'accept':
      case 'timeoutNow':
        if (!this.isVoter) return 'observers do not vote';
        if (!fromVoter) return 'only voters campaign or lead';
        break;
      case 'precheckReply':
      case 'promise':
      case 'accepted':
      case 'reject':
      case 'heartbeat':
        if (!fromVoter) return 'only voters vote or lead';
        break;
      case 'commit':
        if (!this.isVoter) return 'observers learn from chosen messages';
        if (!fromVoter) return 'only voters lead';
        break;
      case 'probe':
      case 'probeReply':
        if (!this.isVoter || !fromVoter) return 'only voters probe each other';
        break;
      case 'heartbeatReply':
      case 'catchUp':
      case 'chosen':
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

  private tickCandidate(): void {
    const c = this.candidacy;
    assert(c !== undefined, 'candidate without a candidacy');
    this.election.tick();
    c.elapsed++;
    if (this.election.timedOut) {
      this.candidacy = undefined;
      this.selfPromise = undefined;
      this.currentRole = 'follower';
      this.startPrecheck();
      return;
    }
    if (c.elapsed % this.limits.heartbeatTicks === 0) {
      for (const v of this.otherVoters) {
        if (!c.hasAnswered(v)) this.out.send({ type: 'prepare', from: this.id, to: v, ballot: c.ballot, firstSlot: c.firstSlot });
      }
    }
  }

  private startPrecheck(): void {
    assert(this.isVoter && this.currentRole === 'follower', () => `${this.id} prechecks as ${this.currentRole}`);
    this.election.startPrecheck(this.id);
    const commitIndex = this.learner.commitIndex;
    for (const v of this.otherVoters) this.out.send({ type: 'precheck', from: this.id, to: v, commitIndex });
    this.checkPrecheck();
  }

  private checkPrecheck(): void {
    if (this.election.precheckVote(this.quorum) === 'won') this.startCandidacy();
  }

  private onPrecheck(m: PrecheckMessage): void {
    const granted = this.rejoin === undefined && this.election.grantsPrecheck(this.currentRole === 'leader', m.commitIndex, this.learner.commitIndex);
    this.out.send({ type: 'precheckReply', from: this.id, to: m.from, granted, promised: this.acceptor.promised });
  }

  private onPrecheckReply(m: PrecheckReplyMessage): void {
    this.roundSeen = Math.max(this.roundSeen, m.promised.round);
    if (this.currentRole !== 'follower' || !this.election.prechecking) return;
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
    this.candidacy = new Candidacy(ballot, firstSlot);
    this.selfPromise = { seq: this.out.nextPersistSeq, reported, chosen: this.chosenFrom(firstSlot) };
    this.currentRole = 'candidate';
    this.leaderHint = undefined;
    this.election.resetTimer();
    for (const v of this.otherVoters) this.out.send({ type: 'prepare', from: this.id, to: v, ballot, firstSlot });
  }

  private onPrepare(m: PrepareMessage): void {
    this.roundSeen = Math.max(this.roundSeen, m.ballot.round);
    if (this.rejoin !== undefined) return; // it may have forgotten a higher promise
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
    if (this.currentRole === 'leader' || this.currentRole === 'candidate') this.stepDown(m.from);
    this.election.resetTimer();
    this.out.send({ type: 'promise', from: this.id, to: m.from, ballot: m.ballot, accepted: reported, chosen: this.chosenFrom(m.firstSlot) });
  }

  private onPromise(m: PromiseMessage): void {
    const c = this.candidacy;
    if (this.currentRole !== 'candidate' || c === undefined || !ballotEquals(m.ballot, c.ballot)) return;
    c.onPromise(m.from, m.accepted, m.chosen);
    this.checkCandidacy();
  }

  private checkCandidacy(): void {
    const c = this.candidacy;
    if (c === undefined || c.vote(this.quorum) !== 'won') return;
    this.becomeLeader(c);
  }

  private becomeLeader(c: Candidacy): void {
    assert(ballotEquals(this.acceptor.promised, c.ballot), () => `${this.id} wins ${formatBallot(c.ballot)} but promised ${formatBallot(this.acceptor.promised)}`);
    this.learner.assertKnownBelow(c.firstSlot, c.ballot);
    const values = c.adoptedValues();
    for (let i = 0; i < values.length; i++) {
      const known = this.learner.value(c.firstSlot + i);
      assert(known === undefined || valueEquals(known, values[i]!), () => `leader ${formatBallot(c.ballot)} adopts for slot ${c.firstSlot + i} a value other than the chosen one`);
    }
    const l = new Leadership(c.ballot, c.firstSlot, this.id, this.quorum, this.observers, this.now);
    this.leadership = l;
    this.candidacy = undefined;
    this.selfPromise = undefined;
    this.currentRole = 'leader';
    this.leaderHint = this.id;
    this.followed = undefined;
    if (values.length > 0) {
      const ok = this.acceptor.accept(c.ballot, c.firstSlot, values, this.out);
      assert(ok, 'a new leader could not accept in its own ballot');
      l.nextSlot = c.firstSlot + values.length;
      l.adoptedEnd = l.nextSlot - 1;
      l.selfAccepted(this.out.nextPersistSeq, l.nextSlot - 1);
    }
    this.broadcastHeartbeat(l);
  }

  private tickLeader(): void {
    const l = this.leadership;
    assert(l !== undefined, 'leader without a leadership');
    l.elapsed++;
    if (l.elapsed >= this.limits.electionTicksMin && !l.hearsQuorum(this.now, this.limits.electionTicksMin)) {
      this.stepDown(undefined);
      return;
    }
    if (l.transfer !== undefined && ++l.transfer.elapsed >= this.limits.electionTicksMax) l.transfer = undefined;
    if (++l.heartbeatElapsed >= this.limits.heartbeatTicks) {
      l.heartbeatElapsed = 0;
      l.retransmitStalled();
      l.trimRanges(this.limits.ackRangesMax);
      this.broadcastHeartbeat(l);
    }
  }

  private broadcastHeartbeat(l: Leadership): void {
    const commitIndex = this.learner.commitIndex;
    const seq = ++l.heartbeatSeq;
    l.readRoundWanted = false;
    for (const p of this.peers) this.out.send({ type: 'heartbeat', from: this.id, to: p, ballot: l.ballot, commitIndex, seq });
    for (const v of this.otherVoters) l.commitSent.set(v, commitIndex);
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
    this.leadership = undefined;
    this.candidacy = undefined;
    this.selfPromise = undefined;
    this.currentRole = 'follower';
    // Never name ourselves: a deposed leader knows at most who deposed it.
    this.leaderHint = leaderHint === this.id ? undefined : leaderHint;
    this.election.stopPrecheck();
    this.election.heardLeader();
  }

  /** A leader of `ballot` (at least our promise) spoke: follow it. */
  private follow(ballot: Ballot): void {
    if (this.currentRole === 'leader' || this.currentRole === 'candidate') this.stepDown(ballot.node);
    this.leaderHint = ballot.node;
    this.election.heardLeader();
  }

  private onReject(m: RejectMessage): void {
    this.roundSeen = Math.max(this.roundSeen, m.promised.round);
    const own = this.leadership?.ballot ?? this.candidacy?.ballot;
    if (own === undefined || !ballotEquals(m.ballot, own) || compareBallots(m.promised, own) <= 0) return;
    this.candidacy?.onRefusal(m.from);
    this.stepDown(m.promised.node);
  }

  // ---------------------------------------------------------------- phase 2

  /** Runs on every `takeOutput()` of a leader: assigns queued commands slots, sends what voters lack. */
  private flushLeader(l: Leadership): void {
    // A transfer holds new commands back, so the target can catch up with a fixed end.
    if (l.queued > 0 && l.transfer === undefined) this.proposeQueued(l);
    const last = l.nextSlot - 1;
    const commitIndex = this.learner.commitIndex;
    // Voters that are up to date are sent the same slots: their accepts share one list.
    let range: { firstSlot: number; values: readonly Value[] } | undefined;
    const compacted = this.learner.compactedThrough;
    for (const v of this.otherVoters) {
      let next = l.sendNext.get(v)!;
      if (next <= compacted && next <= last) {
        // It lags behind what this leader compacted: the snapshot replaces those slots.
        this.out.sendSnapshot(v);
        l.skipTo(v, compacted);
        next = compacted + 1;
      }
      while (next <= last) {
        const end = Math.min(last, next + this.limits.acceptSlotsMax - 1);
        if (range === undefined || range.firstSlot !== next || range.values.length !== end - next + 1) {
          range = { firstSlot: next, values: this.ownAcceptedValues(l, next, end) };
        }
        this.out.send({ type: 'accept', from: this.id, to: v, ballot: l.ballot, firstSlot: next, values: range.values, commitIndex });
        l.commitSent.set(v, commitIndex);
        next = end + 1;
      }
      l.sendNext.set(v, next);
      if ((l.commitSent.get(v) ?? 0) < commitIndex) {
        this.out.send({ type: 'commit', from: this.id, to: v, ballot: l.ballot, commitIndex });
        l.commitSent.set(v, commitIndex);
      }
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
      l.observerNext.set(o, next);
    }
    if (l.readRoundWanted) this.broadcastHeartbeat(l);
    for (const r of l.confirmedReads()) this.out.read({ id: r.id, ok: true, index: r.index });
    const t = l.transfer;
    if (t !== undefined && !t.told && l.acknowledgedThrough(t.to) >= last) {
      t.told = true;
      this.out.send({ type: 'timeoutNow', from: this.id, to: t.to, ballot: l.ballot });
    }
  }

  /** Cuts queued commands into the next slots' values, within the window, and accepts them itself. */
  private proposeQueued(l: Leadership): void {
    const values = l.takeBatches(this.learner.commitIndex, this.limits);
    if (values.length === 0) return;
    const ok = this.acceptor.accept(l.ballot, l.nextSlot, values, this.out);
    assert(ok, () => `leader ${formatBallot(l.ballot)} refused by its own acceptor`);
    l.nextSlot += values.length;
    l.selfAccepted(this.out.nextPersistSeq, l.nextSlot - 1);
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
    this.follow(m.ballot);
    this.out.send({ type: 'accepted', from: this.id, to: m.from, ballot: m.ballot, firstSlot: m.firstSlot, count: m.values.length });
    this.learnFromLeader(m.ballot, m.commitIndex);
  }

  private onAccepted(m: AcceptedMessage): void {
    const l = this.leadership;
    if (l === undefined || !ballotEquals(m.ballot, l.ballot)) return;
    l.lastHeard.set(m.from, this.now);
    l.acknowledge(m.from, m.firstSlot, m.firstSlot + m.count - 1);
    this.advanceLeaderCommit();
  }

  /** Chosen = accepted by a phase-2 quorum in this leader's ballot. */
  private advanceLeaderCommit(): void {
    const l = this.leadership;
    if (l === undefined) return;
    const committed = l.committedSlot();
    if (committed <= this.learner.commitIndex) return;
    for (let slot = this.learner.commitIndex + 1; slot <= committed; slot++) this.learner.learn(slot, this.ownAccepted(l, slot));
    this.learner.advance(this.out);
    if (this.learner.commitIndex < committed) assert(false, `commit index ${this.learner.commitIndex} below the quorum's ${committed}`);
  }

  // ---------------------------------------------------------------- learning

  private onHeartbeat(m: HeartbeatMessage): void {
    if (compareBallots(m.ballot, this.acceptor.promised) < 0) {
      this.out.send({ type: 'reject', from: this.id, to: m.from, ballot: m.ballot, promised: this.acceptor.promised });
      return;
    }
    this.follow(m.ballot);
    this.learnFromLeader(m.ballot, m.commitIndex);
    // A reply vouches that no higher ballot was promised, which it cannot know yet.
    if (this.rejoin !== undefined) return;
    this.out.send({ type: 'heartbeatReply', from: this.id, to: m.from, ballot: m.ballot, commitIndex: this.learner.commitIndex, seq: m.seq });
  }

  private onHeartbeatReply(m: HeartbeatReplyMessage): void {
    const l = this.leadership;
    if (l === undefined || !ballotEquals(m.ballot, l.ballot)) return;
    l.lastHeard.set(m.from, this.now);
    if (!this.quorum.isVoter(m.from)) return;
    for (const r of l.echo(m.from, m.seq)) this.out.read({ id: r.id, ok: true, index: r.index });
  }

  /** The leader's commit index moved: learn from it as from a heartbeat, without answering. */
  private onCommit(m: CommitMessage): void {
    if (compareBallots(m.ballot, this.acceptor.promised) < 0) return;
    this.follow(m.ballot);
    this.learnFromLeader(m.ballot, m.commitIndex);
  }

  /** The leader hands over: campaign now, skipping the pre-check its followers would refuse. */
  private onTimeoutNow(m: TimeoutNowMessage): void {
    if (this.rejoin !== undefined) return;
    const f = this.followed;
    if (this.currentRole !== 'follower' || f === undefined || !ballotEquals(f.ballot, m.ballot)) return;
    if (compareBallots(m.ballot, this.acceptor.promised) < 0) return;
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
    const reply = CatchUp.serve(this.learner, this.id, m.from, m.firstSlot, m.lastSlot, this.limits);
    if (reply === 'snapshot') this.out.sendSnapshot(m.from);
    else if (reply !== undefined) this.out.send(reply);
  }

  // ---------------------------------------------------------------- amnesia guard

  private sendProbes(): void {
    const fence = this.rejoin!.fence;
    for (const v of this.rejoin!.unanswered()) this.out.send({ type: 'probe', from: this.id, to: v, fence });
  }

  private onProbe(m: ProbeMessage): void {
    if (m.fence.round > 0) {
      if (m.fence.node !== m.from) return;
      this.roundSeen = Math.max(this.roundSeen, m.fence.round);
      // A voter rejoining itself accepts nothing, and must keep no promise on record.
      if (this.rejoin === undefined && compareBallots(m.fence, this.acceptor.promised) > 0) {
        // A rejoining voter fences off accepts it sent before it lost its storage. A
        // leader of a lower ballot can no longer get this vote: it steps down.
        this.acceptor.raisePromise(m.fence, this.out);
        if (this.currentRole === 'leader' || this.currentRole === 'candidate') this.stepDown(undefined);
      }
    }
    const commitIndex = this.learner.commitIndex;
    const accepted: AcceptedEntry[] = [];
    for (let slot = Math.max(commitIndex, this.learner.compactedThrough) + 1; slot <= this.acceptor.lastSlot; slot++) {
      const e = this.acceptor.accepted(slot);
      if (e !== undefined) accepted.push(e);
    }
    this.out.send({ type: 'probeReply', from: this.id, to: m.from, fence: m.fence, promised: this.acceptor.promised, commitIndex, accepted });
  }

  private onProbeReply(m: ProbeReplyMessage): void {
    this.roundSeen = Math.max(this.roundSeen, m.promised.round);
    const r = this.rejoin;
    if (r === undefined) return;
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
    const fence = r.fence;
    this.acceptor.adopt(plan.accepted.filter((e) => e.slot > commitIndex).map((e) => ({ slot: e.slot, ballot: fence, value: e.value })), this.out);
    this.roundSeen = Math.max(this.roundSeen, plan.promised.round);
    this.rejoin = undefined;
    this.election.heardLeader();
  }

  /** The values this replica knows chosen from `firstSlot` on, for a promise. */
  private chosenFrom(firstSlot: number): ChosenEntry[] {
    const chosen: ChosenEntry[] = [];
    for (let slot = Math.max(firstSlot, this.learner.compactedThrough + 1); slot <= this.learner.lastChosenSlot; slot++) {
      const value = this.learner.value(slot);
      if (value !== undefined) chosen.push({ slot, value });
    }
    return chosen;
  }

  private onChosen(m: ChosenMessage): void {
    this.catchUp.received(m.firstSlot);
    for (let i = 0; i < m.values.length; i++) {
      const slot = m.firstSlot + i;
      const value = m.values[i]!;
      if (this.learner.learn(slot, value)) this.out.persistChosen({ slot, value });
    }
    this.learner.advance(this.out);
    const f = this.followed;
    if (f !== undefined && this.currentRole !== 'leader') {
      const gap = this.learner.followLeader(f.ballot, f.commitIndex, this.acceptor, this.out);
      if (gap !== undefined) this.requestCatchUp(f.ballot.node, gap, f.commitIndex);
    } else if (m.commitIndex > this.learner.commitIndex) {
      this.requestCatchUp(m.from, this.learner.commitIndex + 1, m.commitIndex);
    }
  }
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
  const value = v as { kind: unknown; commands?: unknown };
  if (value.kind === 'noop') return true;
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
