import type { Learner } from './learner.js';
import { type Limits, messageEnd } from './limits.js';
import type { ChosenMessage } from './messages.js';
import type { NodeId } from './node-id.js';
import { type Value, valueBytes } from './value.js';

/**
 * Catch-up of a lagging replica: it asks for the chosen values it lacks, one bounded
 * request at a time, retried if unanswered; any replica that knows them answers.
 * @internal
 */
export class CatchUp {
  /** The request waiting for its answer, if any. */
  private outstanding: number | undefined;
  /** Ticks until an unanswered request may be sent again. */
  private cooldown = 0;

  constructor(private readonly limits: Limits) {}

  tick(): void {
    if (this.cooldown > 0) this.cooldown--;
    if (this.cooldown === 0) this.outstanding = undefined;
  }

  /**
   * The range to request from `firstSlot`, or nothing while a request is outstanding:
   * one request at a time, so duplicated or pushed answers can never multiply requests.
   */
  request(firstSlot: number, knownCommit: number): [first: number, last: number] | undefined {
    if (this.outstanding !== undefined || firstSlot > knownCommit) return undefined;
    this.outstanding = firstSlot;
    this.cooldown = 2 * this.limits.heartbeatTicks;
    return [firstSlot, Math.min(knownCommit, firstSlot + this.limits.catchUpSlotsMax - 1)];
  }

  /** A snapshot was installed: whatever was asked for before is stale, ask again at once. */
  reset(): void {
    this.outstanding = undefined;
    this.cooldown = 0;
  }

  /** Chosen values from `firstSlot` arrived: if they answer the outstanding request, the next may follow at once. */
  received(firstSlot: number): void {
    if (this.outstanding !== firstSlot) return;
    this.outstanding = undefined;
    this.cooldown = 0;
  }

  /**
   * The answer to a request for `first..last`: the contiguous known chosen values (as
   * many as one message carries: the asker asks again from where they end), or
   * `'snapshot'` when `first` was compacted away (the asker needs the snapshot).
   */
  static serve(learner: Learner, self: NodeId, to: NodeId, first: number, last: number, limits: Limits): ChosenMessage | 'snapshot' | undefined {
    if (first <= learner.compactedThrough) return 'snapshot';
    if (first < 1 || Math.min(last, learner.commitIndex) < first) return undefined;
    const end = messageEnd(first, Math.min(last, learner.commitIndex), limits.catchUpSlotsMax, limits, (slot) => valueBytes(learner.value(slot)!));
    const values: Value[] = [];
    for (let slot = first; slot <= end; slot++) values.push(learner.value(slot)!);
    return { type: 'chosen', from: self, to, firstSlot: first, values, commitIndex: learner.commitIndex };
  }
}
