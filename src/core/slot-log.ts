import { assert } from './assert.js';

/**
 * A map from slot (from 1) to `T`, dense in practice, stored in an array that starts
 * after the slots forgotten by {@link forgetThrough} (compaction).
 * @internal
 */
export class SlotLog<T> {
  private items: (T | undefined)[] = [];
  /** Slots up to this one are forgotten: `items[0]` is slot `base + 1`. */
  private base = 0;
  private last = 0;

  get(slot: number): T | undefined {
    return this.items[slot - 1 - this.base];
  }

  has(slot: number): boolean {
    return this.items[slot - 1 - this.base] !== undefined;
  }

  set(slot: number, item: T): void {
    // Runs for every slot: the message is built only on failure, and no closure is made.
    if (!Number.isSafeInteger(slot) || slot < 1) assert(false, `slot ${slot} is not a positive integer`);
    if (slot <= this.base) return; // forgotten for good: compaction covers it
    this.items[slot - 1 - this.base] = item;
    if (slot > this.last) this.last = slot;
  }

  /** Forgets every slot up to and including `slot`; later sets of them are ignored. */
  forgetThrough(slot: number): void {
    if (slot <= this.base) return;
    this.items = this.items.slice(Math.min(slot - this.base, this.items.length));
    this.base = slot;
  }

  /** The last forgotten slot (0 if none). */
  get forgotten(): number {
    return this.base;
  }

  /** The highest slot ever set (0 if none). */
  get lastSlot(): number {
    return this.last;
  }
}
