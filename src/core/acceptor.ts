import { assert } from './assert.js';
import { type Ballot, ballotEquals, compareBallots, formatBallot } from './ballot.js';
import type { DurableState } from './durable-state.js';
import type { AcceptedEntry } from './entries.js';
import type { OutputBuilder } from './output-builder.js';
import { SlotLog } from './slot-log.js';
import { type Value, valueMayBe } from './value.js';

/**
 * The acceptor: Paxos's two safety rules and nothing else (Paxos Made Simple, §2.2).
 *
 * 1. Promise a ballot only if it is at least every ballot promised before.
 * 2. Accept a value in a ballot only if that ballot is at least the promised one.
 *
 * Every change is handed to the output to be persisted; the driver makes it durable
 * before the promise or the acknowledgement leaves (persist before you speak, docs/protocol.md).
 * @internal
 */
export class Acceptor {
  private promisedBallot: Ballot;
  private readonly entries = new SlotLog<AcceptedEntry>();

  /** `snapshotSlot`: the restart point's snapshot covers every slot up to it, so they are forgotten. */
  constructor(state: DurableState, snapshotSlot = 0) {
    this.promisedBallot = state.promised;
    this.entries.forgetThrough(snapshotSlot);
    for (const e of state.accepted) {
      assert(
        compareBallots(e.ballot, state.promised) <= 0,
        () => `slot ${e.slot} accepted in ballot ${formatBallot(e.ballot)} above the promise ${formatBallot(state.promised)}`,
      );
      this.entries.set(e.slot, e);
    }
  }

  /** The highest ballot promised: its round is the highest this node used or promised. */
  get promised(): Ballot {
    return this.promisedBallot;
  }

  /** The highest slot with an accepted value (0 if none). */
  get lastSlot(): number {
    return this.entries.lastSlot;
  }

  /**
   * Forgets the accepted values of every slot up to `slot` (all chosen, and covered by
   * a snapshot). Such a slot is never reported in a promise again: the replica refuses
   * prepares that start at or below it.
   */
  forgetThrough(slot: number): void {
    this.entries.forgetThrough(slot);
  }

  /** The value accepted for `slot`, with its ballot. */
  accepted(slot: number): AcceptedEntry | undefined {
    return this.entries.get(slot);
  }

  /**
   * Rule 1. Promises `ballot` unless a higher one was promised; on success returns
   * every entry accepted at or above `firstSlot`, which the promise must carry.
   */
  prepare(ballot: Ballot, firstSlot: number, out: OutputBuilder): AcceptedEntry[] | undefined {
    const order = compareBallots(ballot, this.promisedBallot);
    if (order < 0) return undefined;
    if (order > 0) {
      this.promisedBallot = ballot;
      out.persistPromised(ballot);
    }
    assert(firstSlot > this.entries.forgotten, () => `prepare from slot ${firstSlot}, but slots up to ${this.entries.forgotten} are forgotten`);
    const reported: AcceptedEntry[] = [];
    for (let slot = Math.max(firstSlot, 1); slot <= this.entries.lastSlot; slot++) {
      const e = this.entries.get(slot);
      if (e !== undefined) reported.push(e);
    }
    return reported;
  }

  /** Raises the promise to `ballot` if it is higher (a rejoin after amnesia), persisting it. */
  raisePromise(ballot: Ballot, out: OutputBuilder): void {
    if (compareBallots(ballot, this.promisedBallot) <= 0) return;
    this.promisedBallot = ballot;
    out.persistPromised(ballot);
  }

  /**
   * Takes on entries other acceptors accepted, each in a ballot at most the promise
   * (a rejoin after amnesia stands them in for accepts it may have forgotten). An entry
   * of a higher ballot already held for a slot stays.
   */
  adopt(entries: readonly AcceptedEntry[], out: OutputBuilder): void {
    for (const e of entries) {
      assert(
        compareBallots(e.ballot, this.promisedBallot) <= 0,
        () => `adopting slot ${e.slot} of ballot ${formatBallot(e.ballot)} above the promise ${formatBallot(this.promisedBallot)}`,
      );
      const held = this.entries.get(e.slot);
      if (held !== undefined && compareBallots(held.ballot, e.ballot) >= 0) continue;
      this.entries.set(e.slot, e);
      out.persistAccepted(e);
    }
  }

  /**
   * Rule 2. Accepts `values` for the slots from `firstSlot` in `ballot` unless a
   * higher ballot was promised (accepting also promises `ballot`). Returns whether it
   * accepted.
   */
  accept(ballot: Ballot, firstSlot: number, values: readonly Value[], out: OutputBuilder): boolean {
    const order = compareBallots(ballot, this.promisedBallot);
    if (order < 0) return false;
    if (order > 0) {
      this.promisedBallot = ballot;
      out.persistPromised(ballot);
    }
    for (let i = 0; i < values.length; i++) {
      const slot = firstSlot + i;
      const value = values[i]!;
      const previous = this.entries.get(slot);
      if (previous !== undefined && ballotEquals(previous.ballot, ballot)) {
        // A duplicate: one ballot proposes one value per slot.
        if (!valueMayBe(previous.value, value)) assert(false, `slot ${slot}: ballot ${formatBallot(ballot)} proposed two values`);
        continue;
      }
      const entry: AcceptedEntry = { slot, ballot, value };
      this.entries.set(slot, entry);
      out.persistAccepted(entry);
    }
    return true;
  }
}
