import { assert } from './assert.js';
import { type Ballot, compareBallots, formatBallot } from './ballot.js';
import type { Limits } from './limits.js';
import type { AcceptedEntry, ChosenEntry } from './entries.js';
import type { NodeId } from './node-id.js';
import type { Quorum, VoteResult } from './quorum/quorum.js';
import { type Value, batch, noop, valueEquals } from './value.js';
import type { Configuration } from './configuration/configuration.js';
import type { Epoch } from './configuration/epochs.js';

/**
 * Phase 1 of one candidacy: a single prepare for every slot from the candidate's
 * first unchosen slot, and the promises that answer it.
 * @internal
 */
export class Candidacy {
  private readonly promises = new Map<NodeId, readonly AcceptedEntry[]>();
  /** Values some promise reported chosen: they outrank every accepted value of their slot. */
  private readonly chosen = new Map<number, Value>();
  private readonly refusals = new Set<NodeId>();
  private ticks = 0;

  constructor(
    readonly ballot: Ballot,
    readonly firstSlot: number,
  ) {}

  onPromise(from: NodeId, accepted: readonly AcceptedEntry[], chosen: readonly ChosenEntry[]): void {
    for (const e of accepted) {
      assert(e.slot >= this.firstSlot, () => `promise from ${from} reports slot ${e.slot} below the prepare's first slot ${this.firstSlot}`);
      assert(
        compareBallots(e.ballot, this.ballot) < 0,
        () => `promise from ${from} for ${formatBallot(this.ballot)} reports slot ${e.slot} accepted in ${formatBallot(e.ballot)}`,
      );
    }
    for (const e of chosen) {
      assert(e.slot >= this.firstSlot, () => `promise from ${from} reports chosen slot ${e.slot} below the prepare's first slot ${this.firstSlot}`);
      const known = this.chosen.get(e.slot);
      assert(known === undefined || valueEquals(known, e.value), () => `promises report two chosen values for slot ${e.slot}`);
      this.chosen.set(e.slot, e.value);
    }
    this.promises.set(from, accepted);
  }

  /** Ticks since this candidacy began. */
  get elapsed(): number {
    return this.ticks;
  }

  /** One tick passed; returns whether this one is due to ask again the voters that did not answer. */
  tick(heartbeatTicks: number): boolean {
    this.ticks++;
    return this.ticks % heartbeatTicks === 0;
  }

  onRefusal(from: NodeId): void {
    this.refusals.add(from);
  }

  hasAnswered(voter: NodeId): boolean {
    return this.promises.has(voter) || this.refusals.has(voter);
  }

  /** The voters that promised. */
  promisers(): NodeId[] {
    return [...this.promises.keys()];
  }

  vote(quorum: Quorum): VoteResult {
    return quorum.phase1((v) => (this.promises.has(v) ? true : this.refusals.has(v) ? false : undefined));
  }

  /**
   * The values the new leader must propose from `firstSlot` on: for each slot, the
   * value accepted in the highest ballot any promise reports; a no-op where none does
   * (Paxos Made Simple, §2.3; Paxos Made Moderately Complex, "pmax").
   */
  adoptedValues(): Value[] {
    const best = new Map<number, AcceptedEntry>();
    let lastSlot = this.firstSlot - 1;
    for (const entries of this.promises.values()) {
      for (const e of entries) {
        const current = best.get(e.slot);
        if (current === undefined || compareBallots(e.ballot, current.ballot) > 0) best.set(e.slot, e);
        if (e.slot > lastSlot) lastSlot = e.slot;
      }
    }
    const values: Value[] = [];
    for (const slot of this.chosen.keys()) if (slot > lastSlot) lastSlot = slot;
    for (let slot = this.firstSlot; slot <= lastSlot; slot++) values.push(this.chosen.get(slot) ?? best.get(slot)?.value ?? noop);
    return values;
  }
}

/** A range of slots a voter acknowledged out of order. */
type AckRange = [first: number, last: number];

/**
 * The most heartbeat rounds a lagging voter waits between two resends (see
 * {@link Leadership.retransmitStalled}): 8 rounds of the default 2 ticks, 16 ticks,
 * under a second at the CLI's 50 ms tick. A voter that lost messages gets them again
 * at most that late; one that is only slow is not flooded meanwhile.
 * @internal
 */
export const resendBackoffRoundsMax = 8;

/**
 * Phase 2 of one leadership: assigns slots to queued commands (batched, within the
 * pipeline window), tracks which voter accepted which slots in this ballot, and
 * computes the commit index from a quorum of acknowledgements.
 * @internal
 */
export class Leadership {
  private next: number;
  /** Per voter: every slot from `firstSlot` to this one is accepted in this ballot. */
  private readonly through = new Map<NodeId, number>();
  /** `through` as the quorum's lookup, made once: {@link committedSlot} runs on every accepted message. */
  private readonly acknowledged = (voter: NodeId): number => this.through.get(voter) ?? 0;
  private readonly ranges = new Map<NodeId, AckRange[]>();
  private readonly sendNextOf = new Map<NodeId, number>();
  /** Per voter: the next slot to send it. */
  readonly sendNext: ReadonlyMap<NodeId, number> = this.sendNextOf;
  /** Per voter: `through` at the last heartbeat, to spot a stalled follower. */
  private readonly throughAtHeartbeat = new Map<NodeId, number>();
  /**
   * Per voter lagging behind the last slot proposed: heartbeat rounds it has stalled
   * since the last resend to it, and how many it must stall before the next (doubled
   * by each resend, back to 1 once it holds every slot proposed).
   */
  private readonly resendBackoff = new Map<NodeId, { stalled: number; rounds: number }>();
  private readonly lastHeardOf = new Map<NodeId, number>();
  /** Per peer: the tick it was last heard from in this ballot. */
  readonly lastHeard: ReadonlyMap<NodeId, number> = this.lastHeardOf;
  private readonly commitSentOf = new Map<NodeId, number>();
  /** Per voter: the commit index last sent to it (in an accept, a heartbeat or a commit message). */
  readonly commitSent: ReadonlyMap<NodeId, number> = this.commitSentOf;
  private readonly observerNextOf = new Map<NodeId, number>();
  /** Per observer: the next chosen slot to push. */
  readonly observerNext: ReadonlyMap<NodeId, number> = this.observerNextOf;
  /** This node's own acceptances waiting to be durable: [persistSeq, lastSlot]. */
  private readonly selfAcks: [seq: number, lastSlot: number][] = [];
  private queue: Uint8Array[] = [];
  private queueHead = 0;
  private ticksSinceHeartbeat = 0;
  private ticks = 0;
  private adoptedThrough: number;
  private heartbeatRounds = 0;
  /**
   * The values phase 1 found for the slots from `firstSlot` to `adoptedEnd` (index
   * `slot - firstSlot`): proposed before any new command, each once its slot's
   * configuration is known and covered by promises.
   */
  private adopted: (Value | undefined)[] = [];
  /** Their ballots, so a promise that arrives later (a configuration entering the window) merges by Paxos's rule. */
  private adoptedBallots: (Ballot | undefined)[] = [];
  private readonly promisersOf = new Set<NodeId>();
  /** The voters that promised this ballot. */
  readonly promisers: ReadonlySet<NodeId> = this.promisersOf;
  /** Per voter asked to promise after the election (a configuration entered the window): when. */
  private readonly prepareSent = new Map<NodeId, number>();
  /** Configurations this leader may propose in: covered by promises, and handed over to. */
  private readonly ready = new Set<Epoch>();
  private readonly reportedCommitOf = new Map<NodeId, number>();
  /** Per member: the commit index it last reported (heartbeat replies speak for durable state). */
  readonly reportedCommit: ReadonlyMap<NodeId, number> = this.reportedCommitOf;
  private change: Configuration | undefined;
  private changeAt = 0;
  private firstReadRound = Infinity;
  /** The commit index at which this leader last asked for commit reports to hand over to a configuration. */
  private gateRoundAt = -1;
  /** Per voter: the highest heartbeat `seq` it answered in this ballot. */
  private readonly echoed = new Map<NodeId, number>();
  /** Reads waiting for a phase-2 quorum to answer heartbeat round `seq` or later, in `seq` order. */
  private readonly reads: { id: number; index: number; seq: number }[] = [];
  private readRoundPending = false;
  private transferState: { readonly to: NodeId; elapsed: number; told: boolean } | undefined;

  /**
   * `heldSeq` is the persist that makes this node hold every slot before `firstSlot`
   * durably (0 if it does already): it learned some of them chosen while it campaigned,
   * and counts for them, as for its own accepts, once that write is durable.
   */
  constructor(
    readonly ballot: Ballot,
    readonly firstSlot: number,
    private readonly self: NodeId,
    now: number,
    heldSeq = 0,
  ) {
    this.next = firstSlot;
    this.adoptedThrough = firstSlot - 1;
    this.addVoter(self, firstSlot, now);
    if (heldSeq > 0) {
      this.through.set(self, 0);
      this.selfAcks.push([heldSeq, firstSlot - 1]);
    }
  }

  /** The next slot to assign. */
  get nextSlot(): number {
    return this.next;
  }

  /** The last slot phase 1 adopted a value for: every value chosen before this leadership lies at or below it. */
  get adoptedEnd(): number {
    return this.adoptedThrough;
  }

  /** Ticks since leadership began. */
  get elapsed(): number {
    return this.ticks;
  }

  /** Ticks since the last heartbeat round. */
  get heartbeatElapsed(): number {
    return this.ticksSinceHeartbeat;
  }

  /** The `seq` of the last heartbeat round sent. */
  get heartbeatSeq(): number {
    return this.heartbeatRounds;
  }

  /** Heartbeat rounds from this one on may confirm reads: sent once the adopted slots were committed. */
  get firstReadSeq(): number {
    return this.firstReadRound;
  }

  /** Whether a read (or the handover to a configuration) waits for a heartbeat round not yet sent. */
  get readRoundWanted(): boolean {
    return this.readRoundPending;
  }

  /** A configuration to propose in the next free slot. */
  get pendingChange(): Configuration | undefined {
    return this.change;
  }

  /** The slot this leader proposed a configuration at (0 if none is on its way). */
  get changeSlot(): number {
    return this.changeAt;
  }

  /** A leadership transfer under way: the target, the ticks since it began, and whether it was told to campaign. */
  get transfer(): { readonly to: NodeId; readonly elapsed: number; readonly told: boolean } | undefined {
    return this.transferState;
  }

  /**
   * One tick passed. Returns `'lost-quorum'` when, past its first `electionTicksMin`
   * ticks, this leader heard no phase-2 quorum of `quorum` within that window (it must
   * step down), `'heartbeat'` when a heartbeat round is due (stalled voters were set to
   * be sent again), else undefined. A transfer not done within `electionTicksMax` ticks is given up.
   */
  tick(now: number, limits: Limits, quorum: Quorum): 'lost-quorum' | 'heartbeat' | undefined {
    this.ticks++;
    if (this.ticks >= limits.electionTicksMin && !this.hearsQuorum(now, limits.electionTicksMin, quorum)) return 'lost-quorum';
    const t = this.transferState;
    if (t !== undefined && ++t.elapsed >= limits.electionTicksMax) this.transferState = undefined;
    if (++this.ticksSinceHeartbeat < limits.heartbeatTicks) return undefined;
    this.ticksSinceHeartbeat = 0;
    this.retransmitStalled();
    this.trimRanges(limits.ackRangesMax);
    return 'heartbeat';
  }

  /**
   * A heartbeat round announcing `commitIndex` goes to every peer; `voters` are told
   * that commit index by it. Returns the round's `seq`. The first round sent once the
   * adopted slots are committed is the first that may confirm reads.
   */
  heartbeatRound(commitIndex: number, voters: readonly NodeId[]): number {
    const seq = ++this.heartbeatRounds;
    this.readRoundPending = false;
    if (this.firstReadRound === Infinity && commitIndex >= this.adoptedThrough) this.firstReadRound = seq;
    for (const v of voters) this.commitSentOf.set(v, commitIndex);
    return seq;
  }

  /** Whether a heartbeat round must go out now: one was asked for, or reads wait for the first round that may confirm them. */
  heartbeatWanted(commitIndex: number): boolean {
    return this.readRoundPending || (this.firstReadRound === Infinity && commitIndex >= this.adoptedThrough && this.hasReads);
  }

  /** Asks for a heartbeat round so voters report their commit index at `commitIndex`, once per commit index (the handover to a configuration). */
  wantCommitReports(commitIndex: number): void {
    if (this.gateRoundAt === commitIndex) return;
    this.gateRoundAt = commitIndex;
    this.readRoundPending = true;
  }

  /** `from` spoke in this ballot at tick `now`. */
  heard(from: NodeId, now: number): void {
    this.lastHeardOf.set(from, now);
  }

  /** `from` answered a heartbeat at tick `now`, reporting `commitIndex` (kept unless it goes back). */
  reported(from: NodeId, commitIndex: number, now: number): void {
    this.lastHeardOf.set(from, now);
    if (commitIndex >= (this.reportedCommitOf.get(from) ?? -1)) this.reportedCommitOf.set(from, commitIndex);
  }

  /** `voter` is sent the slots before `next`, and its accepts or commit messages told it `commitIndex`. */
  sentTo(voter: NodeId, next: number, commitIndex: number): void {
    assert(this.sendNextOf.has(voter), () => `slots sent to ${voter}, who does not vote`);
    this.sendNextOf.set(voter, next);
    this.commitSentOf.set(voter, commitIndex);
  }

  /** `observer` is pushed the chosen slots before `next`. */
  pushedTo(observer: NodeId, next: number): void {
    assert(this.observerNextOf.has(observer), () => `chosen slots pushed to ${observer}, not an observer of this leader`);
    this.observerNextOf.set(observer, next);
  }

  /** Whether to ask `voter` (again) to promise this ballot at tick `now`: not within `intervalTicks` of the last time. Records it. */
  askToPromise(voter: NodeId, now: number, intervalTicks: number): boolean {
    const sent = this.prepareSent.get(voter);
    if (sent !== undefined && now - sent < intervalTicks) return false;
    this.prepareSent.set(voter, now);
    return true;
  }

  /** Whether this leader was found able to propose in `epoch` (see {@link markReady}). */
  isReady(epoch: Epoch): boolean {
    return this.ready.has(epoch);
  }

  /** This leader may propose in `epoch` from now on: a phase-1 quorum of it promised, and it was handed over to. */
  markReady(epoch: Epoch): void {
    this.ready.add(epoch);
  }

  /** Queues `config` to be proposed in the next free slot. */
  queueChange(config: Configuration): void {
    assert(this.change === undefined, () => `a change is queued already, to configuration ${this.change?.id}`);
    this.change = config;
  }

  /** Takes the queued change, proposed at `slot`. */
  takeChange(slot: number): Configuration {
    const config = this.change;
    assert(config !== undefined, () => `no change queued for slot ${slot}`);
    assert(slot >= this.next, () => `a change proposed at slot ${slot}, below the next free slot ${this.next}`);
    this.changeAt = slot;
    this.change = undefined;
    return config;
  }

  /** Hands leadership to `to` once it accepted every slot this leader proposed. */
  startTransfer(to: NodeId): void {
    assert(to !== this.self, () => `${this.self} transfers leadership to itself`);
    this.transferState = { to, elapsed: 0, told: false };
  }

  /** The transfer target, once it accepted every slot up to `lastSlot` and was not yet told to campaign; it counts as told. */
  transferDue(lastSlot: number): NodeId | undefined {
    const t = this.transferState;
    if (t === undefined || t.told || this.acknowledgedThrough(t.to) < lastSlot) return undefined;
    t.told = true;
    return t.to;
  }

  /** The next `count` slots were assigned, and this node accepted them in the write `persistSeq`. */
  assigned(count: number, persistSeq: number): void {
    assert(count > 0, () => `${count} slots assigned from slot ${this.next}`);
    this.next += count;
    this.selfAccepted(persistSeq, this.next - 1);
  }

  /** Phase 1's outcome: the values to propose from `firstSlot` on, and who promised. */
  adopt(values: readonly Value[], promisers: readonly NodeId[]): void {
    assert(this.next === this.firstSlot, () => `values adopted after slot ${this.next} was assigned`);
    this.adopted = [...values];
    this.adoptedBallots = values.map(() => undefined);
    this.adoptedThrough = this.firstSlot + values.length - 1;
    for (const p of promisers) this.promisersOf.add(p);
  }

  /**
   * A promise for this ballot arrived while leading (asked for when a configuration
   * entered the window): its entries for slots not yet assigned join the adopted
   * values, the highest ballot winning and a chosen value above all.
   */
  onLatePromise(from: NodeId, accepted: readonly AcceptedEntry[], chosen: readonly ChosenEntry[]): void {
    this.promisersOf.add(from);
    for (const e of accepted) {
      // A promise answered late may report our own accepts: those slots are assigned.
      assert(
        compareBallots(e.ballot, this.ballot) <= 0,
        () => `promise from ${from} for ${formatBallot(this.ballot)} reports slot ${e.slot} accepted in ${formatBallot(e.ballot)}`,
      );
      if (e.slot < this.next || compareBallots(e.ballot, this.ballot) === 0) continue;
      const i = e.slot - this.firstSlot;
      const held = this.adoptedBallots[i];
      if (this.adopted[i] !== undefined && (held === undefined || compareBallots(held, e.ballot) >= 0)) continue;
      this.setAdopted(e.slot, e.value, e.ballot);
    }
    for (const e of chosen) if (e.slot >= this.next) this.setAdopted(e.slot, e.value, undefined);
  }

  private setAdopted(slot: number, value: Value, ballot: Ballot | undefined): void {
    const i = slot - this.firstSlot;
    while (this.adopted.length <= i) {
      this.adopted.push(undefined);
      this.adoptedBallots.push(undefined);
    }
    this.adopted[i] = value;
    // A chosen value keeps no ballot: nothing outranks it.
    this.adoptedBallots[i] = ballot;
    if (slot > this.adoptedThrough) this.adoptedThrough = slot;
  }

  /** The value phase 1 found for `slot` (at most `adoptedEnd`): a no-op fills a hole. */
  adoptedValue(slot: number): Value {
    return this.adopted[slot - this.firstSlot] ?? noop;
  }

  /** `voter` votes from slot `from` on (a configuration that includes it entered the window). */
  addVoter(voter: NodeId, from: number, now: number): void {
    if (this.through.has(voter)) return;
    this.through.set(voter, from - 1);
    this.sendNextOf.set(voter, from);
    this.throughAtHeartbeat.set(voter, from - 1);
    this.lastHeardOf.set(voter, now);
  }

  /** `observer` is pushed chosen values from `from` on. */
  addObserver(observer: NodeId, from: number, now: number): void {
    if (this.observerNextOf.has(observer)) return;
    this.observerNextOf.set(observer, from);
    if (!this.lastHeardOf.has(observer)) this.lastHeardOf.set(observer, now);
  }

  get queued(): number {
    return this.queue.length - this.queueHead;
  }

  enqueue(commands: readonly Uint8Array[]): void {
    for (const c of commands) this.queue.push(c);
  }

  /** Takes every queued command (on step-down). */
  drain(): Uint8Array[] {
    const rest = this.queue.slice(this.queueHead);
    this.queue = [];
    this.queueHead = 0;
    return rest;
  }

  /**
   * Cuts queued commands into slot values: at most `batchCommandsMax` commands and
   * `batchBytesMax` bytes a slot, and no slot beyond the window.
   */
  takeBatches(room: number, limits: Limits): Value[] {
    const values: Value[] = [];
    while (this.queued > 0 && values.length < room) {
      // Find where this slot's batch ends, then copy it out in one exact-size slice.
      const first = this.queueHead;
      const end = Math.min(this.queue.length, first + limits.batchCommandsMax);
      let last = first;
      let bytes = 0;
      while (last < end) {
        const size = this.queue[last]!.byteLength;
        if (last > first && bytes + size > limits.batchBytesMax) break;
        bytes += size;
        last++;
      }
      assert(last > first, 'a batch took no command');
      values.push(batch(this.queue.slice(first, last)));
      this.queueHead = last;
    }
    if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return values;
  }

  /** This node accepted slots up to `lastSlot`; it counts once `persistSeq` is durable. */
  selfAccepted(persistSeq: number, lastSlot: number): void {
    this.selfAcks.push([persistSeq, lastSlot]);
  }

  /** The driver reported persists up to `persistSeq` durable. */
  persisted(persistSeq: number): void {
    let last = -1;
    let i = 0;
    while (i < this.selfAcks.length && this.selfAcks[i]![0] <= persistSeq) {
      last = this.selfAcks[i]![1];
      i++;
    }
    if (i === 0) return;
    if (i === this.selfAcks.length) this.selfAcks.length = 0;
    else this.selfAcks.splice(0, i);
    // This node's writes are durable in order, and it accepts its slots in order: no gaps.
    assert(last < this.next, () => `${this.self} acknowledged slot ${last}, never proposed (next ${this.next})`);
    if (last > this.acknowledged(this.self)) this.through.set(this.self, last);
  }

  /** `voter` accepted slots `first..last` in this ballot. */
  acknowledge(voter: NodeId, first: number, last: number): void {
    const through = this.through.get(voter);
    // Runs for every accepted message: messages are built only on failure.
    if (through === undefined) assert(false, `acknowledgement from ${voter}, who does not vote`);
    if (last >= this.next) assert(false, `${voter} acknowledged slot ${last}, never proposed (next ${this.next})`);
    if (last <= through) return;
    let ranges = this.ranges.get(voter);
    if (first > through + 1) {
      // Out of order: remember it until the gap fills; a bounded list, since a
      // forgotten range is only retransmitted.
      if (ranges === undefined) this.ranges.set(voter, (ranges = []));
      ranges.push([first, last]);
      return;
    }
    let t = last;
    if (ranges !== undefined && ranges.length > 0) {
      let merged = true;
      while (merged) {
        merged = false;
        for (let i = 0; i < ranges.length; i++) {
          const r = ranges[i]!;
          if (r[0] <= t + 1) {
            if (r[1] > t) t = r[1];
            ranges.splice(i, 1);
            merged = true;
            break;
          }
        }
      }
    }
    this.through.set(voter, t);
  }

  /**
   * `voter` is sent a snapshot covering every slot up to `slot`, all committed: count
   * them as acknowledged (they need no quorum any more) and send from the next one.
   */
  skipTo(voter: NodeId, slot: number): void {
    const through = this.through.get(voter);
    assert(through !== undefined, () => `snapshot for ${voter}, who does not vote`);
    if (slot > through) {
      // Acknowledging the last slot merges any out-of-order ranges that now connect.
      this.through.set(voter, slot - 1);
      this.acknowledge(voter, slot, slot);
    }
    if (slot >= (this.sendNextOf.get(voter) ?? 0)) this.sendNextOf.set(voter, slot + 1);
  }

  /** Keeps each voter's out-of-order list within `ackRangesMax`. */
  trimRanges(max: number): void {
    for (const ranges of this.ranges.values()) if (ranges.length > max) ranges.splice(0, ranges.length - max);
  }

  /** The highest slot a phase-2 quorum of `quorum` acknowledged (contiguously). */
  committedSlot(quorum: Quorum): number {
    return quorum.committedSlot(this.acknowledged);
  }

  /**
   * Go-back-N, with exponential backoff: a voter whose acknowledgements did not move
   * since the last heartbeat while slots are outstanding gets everything after its last
   * acknowledgement again. The first time at once; after that, only once it has
   * stalled for twice as many rounds as before the last resend (at most
   * {@link resendBackoffRoundsMax}), until it holds every slot proposed.
   *
   * Why the backoff: over a connection that delivers in order, a voter that has not
   * answered is far more often slow (its disk, its CPU) than missing what was sent,
   * and resending a window of large values to a slow voter makes it slower: it
   * receives and compares each duplicate, while the leader encodes and writes it
   * again. Resending at every stalled round turned a 1 MB-value write load into a
   * storm of duplicates (a follower's CPU went half to comparing them). A lost
   * message still goes again at the next heartbeat.
   */
  retransmitStalled(): void {
    const lastProposed = this.next - 1;
    for (const [voter, through] of this.through) {
      if (voter === this.self) continue;
      const stalled = through < lastProposed && through === this.throughAtHeartbeat.get(voter);
      this.throughAtHeartbeat.set(voter, through);
      if (through >= lastProposed) {
        this.resendBackoff.delete(voter);
        continue;
      }
      let backoff = this.resendBackoff.get(voter);
      if (backoff === undefined) {
        backoff = { stalled: 0, rounds: 1 };
        this.resendBackoff.set(voter, backoff);
      }
      if (!stalled) continue;
      if (++backoff.stalled < backoff.rounds) continue;
      assert(backoff.stalled === backoff.rounds, () => `voter ${voter} stalled ${backoff.stalled} rounds, past its backoff of ${backoff.rounds}`);
      this.sendNextOf.set(voter, through + 1);
      backoff.stalled = 0;
      backoff.rounds = Math.min(backoff.rounds * 2, resendBackoffRoundsMax);
    }
  }

  /** The slots `voter` accepted in this ballot, contiguously from the first. */
  acknowledgedThrough(voter: NodeId): number {
    return this.through.get(voter) ?? 0;
  }

  /**
   * Registers a read that may be served at `index` once a phase-2 quorum answers a
   * heartbeat round sent from now on (read-index).
   */
  addRead(id: number, index: number): void {
    this.reads.push({ id, index, seq: this.heartbeatRounds + 1 });
    this.readRoundPending = true;
  }

  /** `voter` answered heartbeat round `seq`; returns the reads this confirms, in order. */
  echo(voter: NodeId, seq: number, quorum: Quorum): { id: number; index: number }[] {
    if (seq > (this.echoed.get(voter) ?? 0)) this.echoed.set(voter, seq);
    return this.confirmedReads(quorum);
  }

  /**
   * The reads a phase-2 quorum (this leader included) of `quorum` has confirmed, taken
   * off the list. Only rounds sent once this leader committed what phase 1 adopted
   * count: until then a configuration it has not heard of may govern, and a leader of
   * it would not have needed this quorum (see "Membership changes" in docs/protocol.md).
   */
  confirmedReads(quorum: Quorum): { id: number; index: number }[] {
    let n = 0;
    while (n < this.reads.length) {
      const seq = Math.max(this.reads[n]!.seq, this.firstReadRound);
      if (seq === Infinity) break;
      const vote = quorum.phase2((v) => (v === this.self || (this.echoed.get(v) ?? 0) >= seq ? true : undefined));
      if (vote !== 'won') break;
      n++;
    }
    return n === 0 ? [] : this.reads.splice(0, n);
  }

  /** Whether reads wait for confirmation. */
  get hasReads(): boolean {
    return this.reads.length > 0;
  }

  /** Takes every waiting read (on step-down). */
  drainReads(): number[] {
    return this.reads.splice(0).map((r) => r.id);
  }

  /**
   * Whether this leadership has nothing under way at commit index `commitIndex`: no
   * command queued, every slot it assigned committed, its adopted slots settled, no
   * read, configuration change or transfer pending, and every one of `peers` heard
   * from within `windowTicks` of tick `now`, reporting `commitIndex` (so each holds
   * every chosen slot: none needs another message from this leader).
   */
  idle(commitIndex: number, peers: readonly NodeId[], now: number, windowTicks: number): boolean {
    if (this.queued > 0 || this.next - 1 > commitIndex || this.firstReadRound === Infinity) return false;
    if (this.reads.length > 0 || this.readRoundPending || this.change !== undefined || this.changeAt > commitIndex || this.transferState !== undefined)
      return false;
    for (const p of peers) {
      if ((this.reportedCommitOf.get(p) ?? -1) < commitIndex) return false;
      if (now - (this.lastHeardOf.get(p) ?? -Infinity) >= windowTicks) return false;
    }
    return true;
  }

  /** Whether a phase-2 quorum was heard from within the last `windowTicks` ticks. */
  hearsQuorum(now: number, windowTicks: number, quorum: Quorum): boolean {
    return quorum.phase2((v) => (v === this.self || now - (this.lastHeardOf.get(v) ?? -Infinity) < windowTicks ? true : undefined)) === 'won';
  }
}
