import type { Acceptor } from './acceptor.js';
import { assert } from './assert.js';
import { type Ballot, ballotEquals, formatBallot } from './ballot.js';
import type { DurableState } from './durable-state.js';
import type { OutputBuilder } from './output-builder.js';
import { SlotLog } from './slot-log.js';
import { type ConfigurationState, Epochs } from './configuration/epochs.js';
import { type Value, valueMayBe } from './value.js';

/**
 * The learner: which slots are chosen, with what value; the commit index (the end of
 * the contiguous chosen prefix); and handing chosen slots out to be applied, once and
 * in order.
 * @internal
 */
export class Learner {
  private readonly chosen = new SlotLog<Value>();
  private commit = 0;
  private handedOut = 0;
  private appliedSlot = 0;
  /** Which configuration governs which slots, folded from the committed prefix. */
  readonly epochs: Epochs;

  /**
   * `snapshotSlot`: the driver restored a snapshot of every slot up to it (applied
   * already); `configuration`: the configurations that snapshot carried (or, without
   * one, the cluster's first).
   */
  constructor(state: DurableState, acceptor: Acceptor, snapshotSlot: number, configuration: ConfigurationState) {
    this.epochs = new Epochs(configuration, snapshotSlot);
    this.chosen.forgetThrough(snapshotSlot);
    for (const e of state.chosen) this.chosen.set(e.slot, e.value);
    for (let slot = snapshotSlot + 1; slot <= state.commitIndex; slot++) {
      if (this.chosen.has(slot)) continue;
      // Marked chosen because this replica accepted it in the announcing leader's
      // ballot; later ballots can only carry the same value.
      const accepted = acceptor.accepted(slot);
      assert(accepted !== undefined, () => `commit index ${state.commitIndex} covers slot ${slot}, which has no value`);
      this.chosen.set(slot, accepted.value);
    }
    this.commit = snapshotSlot;
    this.handedOut = snapshotSlot;
    this.appliedSlot = snapshotSlot;
    this.foldThrough(Math.max(state.commitIndex, snapshotSlot));
  }

  /** Moves the commit index to `slot` (every slot up to it chosen), folding configurations on the way. */
  private foldThrough(slot: number): void {
    for (let s = this.commit + 1; s <= slot; s++) {
      const value = this.chosen.get(s)!;
      this.epochs.fold(s, value.kind === 'config' ? value.config : undefined);
    }
    if (slot > this.commit) this.commit = slot;
  }

  /** Slots up to this one are compacted: their values are only in a snapshot. */
  get compactedThrough(): number {
    return this.chosen.forgotten;
  }

  /**
   * Forgets the values of applied slots up to `slot`: a snapshot covers them. A replica
   * that needs them gets the snapshot instead.
   */
  compact(slot: number): void {
    assert(slot <= this.appliedSlot, () => `compact(${slot}) beyond the applied slot ${this.appliedSlot}`);
    this.chosen.forgetThrough(slot);
    this.epochs.forgetThrough(slot);
  }

  /**
   * The driver installed a snapshot of every slot up to `slot`, ahead of what this
   * replica applied: those slots count as chosen, handed out and applied.
   */
  installSnapshot(slot: number, configuration: ConfigurationState, out: OutputBuilder): void {
    assert(slot > this.appliedSlot, () => `snapshot of slot ${slot} is not ahead of the applied slot ${this.appliedSlot}`);
    this.chosen.forgetThrough(slot);
    // Slots handed out and not applied yet (the driver held them while it restored the
    // snapshot): those the snapshot covers are done; the driver applies the rest after it.
    this.handedOut = Math.max(this.handedOut, slot);
    this.appliedSlot = slot;
    if (slot > this.commit) {
      this.commit = slot;
      out.persistCommitIndex(slot);
    }
    if (slot > this.epochs.folded) this.epochs.restore(configuration, slot);
    this.advance(out);
  }

  get commitIndex(): number {
    return this.commit;
  }

  get appliedIndex(): number {
    return this.appliedSlot;
  }

  /** The chosen value of `slot`, if this replica knows it. */
  value(slot: number): Value | undefined {
    return this.chosen.get(slot);
  }

  /** The highest slot known chosen (0 if none); may lie beyond the commit index. */
  get lastChosenSlot(): number {
    return this.chosen.lastSlot;
  }

  /** Records that `value` is chosen for `slot`. Returns false if it was known already. */
  learn(slot: number, value: Value): boolean {
    const known = this.chosen.get(slot);
    if (known !== undefined) {
      if (!valueMayBe(known, value)) assert(false, `slot ${slot} learned two different chosen values`);
      return false;
    }
    this.chosen.set(slot, value);
    return true;
  }

  /** Moves the commit index over every contiguous chosen slot. */
  advance(out: OutputBuilder): void {
    let c = this.commit;
    while (this.chosen.has(c + 1)) c++;
    if (c === this.commit) return;
    this.foldThrough(c);
    out.persistCommitIndex(c);
  }

  /**
   * A leader in `ballot` says every slot up to `leaderCommit` is chosen. Marks the
   * slots this replica accepted in that same ballot: the leader proposed one value a
   * slot, and it is the chosen one. Returns the first slot whose value must be fetched
   * (catch-up), if any.
   */
  followLeader(ballot: Ballot, leaderCommit: number, acceptor: Acceptor, out: OutputBuilder): number | undefined {
    for (let slot = this.commit + 1; slot <= leaderCommit; slot++) {
      if (this.chosen.has(slot)) continue;
      const accepted = acceptor.accepted(slot);
      if (accepted === undefined || !ballotEquals(accepted.ballot, ballot)) {
        this.advance(out);
        return slot;
      }
      this.chosen.set(slot, accepted.value);
    }
    this.advance(out);
    return undefined;
  }

  /** Hands every newly committed slot to the output, in order. */
  takeCommitted(out: OutputBuilder): void {
    for (let slot = this.handedOut + 1; slot <= this.commit; slot++) {
      const value = this.chosen.get(slot);
      if (value === undefined) assert(false, `slot ${slot} is below the commit index ${this.commit} but has no value`);
      out.commit({ slot, value });
    }
    this.handedOut = this.commit;
  }

  /** The driver applied every slot up to `slot`. */
  applied(slot: number): void {
    // Runs after every apply: messages are built only on failure.
    if (slot > this.handedOut) assert(false, `applied(${slot}) beyond the last slot handed out, ${this.handedOut}`);
    if (slot < this.appliedSlot) assert(false, `applied(${slot}) goes back from ${this.appliedSlot}`);
    this.appliedSlot = slot;
  }

  /** A precondition check for leaders: every slot below `slot` must be known. */
  assertKnownBelow(slot: number, ballot: Ballot): void {
    assert(this.commit >= slot - 1, () => `leader ${formatBallot(ballot)} starts at slot ${slot} but its commit index is ${this.commit}`);
  }
}
