import { assert } from './assert.js';

/**
 * A map from slot (from 1) to `T`, dense in practice, stored in an array.
 * @internal
 */
export class SlotLog<T> {
  private readonly items: (T | undefined)[] = [];
  private last = 0;

  get(slot: number): T | undefined {
    return this.items[slot - 1];
  }

  has(slot: number): boolean {
    return this.items[slot - 1] !== undefined;
  }

  set(slot: number, item: T): void {
    // Runs for every slot: the message is built only on failure, and no closure is made.
    if (!Number.isSafeInteger(slot) || slot < 1) assert(false, `slot ${slot} is not a positive integer`);
    this.items[slot - 1] = item;
    if (slot > this.last) this.last = slot;
  }

  /** The highest slot ever set (0 if none). */
  get lastSlot(): number {
    return this.last;
  }
}
