/**
 * The transitions of the model seen so far by one search: (state id, operation) to
 * the next state id, or to "does not fit". The search goes through the same few states
 * with the same operations again and again (each backtrack replays them), so after
 * the first time a step is one probe of a typed table instead of the model's `step`
 * and `hash`.
 */
import { assert } from '../../core/assert.js';
import type { Budget } from './budget.js';

/** 32-bit fields per slot: state id + 1 (0: empty), operation, result. */
const stride = 3;

/** What {@link Transitions.get} answers when the transition is not known yet. */
export const unknownTransition = -2;
/** The result of a transition whose operation does not fit the state. */
export const misfit = -1;

/**
 * An open-addressed table from (state id, operation index) to the next state id or
 * {@link misfit}; its bytes are reserved from the check's {@link Budget} and borrowed
 * from its scratch buffers. @internal
 */
export class Transitions {
  private table: Int32Array<ArrayBuffer> = new Int32Array(0);
  private mask = -1;
  private size = 0;
  private bytes = 0;

  constructor(
    private readonly budget: Budget,
    /** Slots of the first table: a power of two, at least 2 (one slot would fill, and a lookup in it never end). */
    private readonly slotsInitial: number,
  ) {
    assert(slotsInitial >= 2 && (slotsInitial & (slotsInitial - 1)) === 0, () => `a first table of ${slotsInitial} slots`);
  }

  /** Bytes held now. */
  get bytesHeld(): number {
    return this.bytes;
  }

  /** The next state id, {@link misfit}, or {@link unknownTransition}. */
  get(stateId: number, op: number): number {
    const table = this.table;
    if (table.length === 0) return unknownTransition;
    let at = this.slotOf(stateId, op) * stride;
    for (;;) {
      const id = table[at]!;
      if (id === 0) return unknownTransition;
      if (id === stateId + 1 && table[at + 1] === op) return table[at + 2]!;
      at += stride;
      if (at === table.length) at = 0;
    }
  }

  /** Records a transition not known yet; false if the memory bound forbids it (nothing changes then). */
  set(stateId: number, op: number, result: number): boolean {
    assert(stateId >= 0 && op >= 0 && result >= misfit, `transition (${stateId}, ${op}) -> ${result}`);
    if ((this.size + 1) * 2 > this.mask + 1 && !this.grow()) return false;
    const table = this.table;
    let at = this.slotOf(stateId, op) * stride;
    while (table[at] !== 0) {
      at += stride;
      if (at === table.length) at = 0;
    }
    table[at] = stateId + 1;
    table[at + 1] = op;
    table[at + 2] = result;
    this.size++;
    return true;
  }

  /** Gives every byte back to the budget; the table is empty after. */
  release(): void {
    if (this.table.length > 0) this.budget.scratch.giveBack(this.table.buffer);
    this.budget.releaseBytes(this.bytes);
    this.bytes = 0;
    this.table = new Int32Array(0);
    this.mask = -1;
    this.size = 0;
  }

  private slotOf(stateId: number, op: number): number {
    let h = Math.imul(stateId, 0x9e3779b1) ^ Math.imul(op, 0x85ebca6b);
    h ^= h >>> 15;
    return h & this.mask;
  }

  private grow(): boolean {
    const old = this.table;
    const slots = old.length === 0 ? this.slotsInitial : (old.length / stride) * 2;
    const bytes = slots * stride * 4;
    if (!this.budget.reserveBytes(bytes)) return false;
    this.bytes += bytes;
    this.table = new Int32Array(this.budget.scratch.borrow(bytes), 0, slots * stride);
    this.mask = slots - 1;
    for (let from = 0; from < old.length; from += stride) {
      if (old[from] === 0) continue;
      let at = this.slotOf(old[from]! - 1, old[from + 1]!) * stride;
      while (this.table[at] !== 0) {
        at += stride;
        if (at === this.table.length) at = 0;
      }
      for (let i = 0; i < stride; i++) this.table[at + i] = old[from + i]!;
    }
    if (old.length > 0) this.budget.scratch.giveBack(old.buffer);
    this.budget.releaseBytes(old.length * 4);
    this.bytes -= old.length * 4;
    return true;
  }
}
