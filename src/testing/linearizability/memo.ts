/**
 * The memo of the linearizability search: the set of configurations (linearized
 * operations, model state) already explored, without a per-lookup allocation.
 */
import { assert } from '../../core/assert.js';
import type { Budget } from './budget.js';
import { linearizabilityLimits } from './limits.js';

/**
 * Slots a memo or transition table of a key of `operations` operations starts with:
 * about twice as many, a power of two, at most `memoSlotsInitialMax`. @internal
 */
export function slotsFor(operations: number): number {
  return Math.min(linearizabilityLimits.memoSlotsInitialMax, 1 << Math.max(4, Math.ceil(Math.log2(2 * (operations + 1)))));
}

/**
 * A set of (bitset, state id) pairs. A configuration is found by the 32-bit Zobrist
 * code of its bitset and its interned state id in an open-addressed table; a slot
 * holds the code, the state id + 1 (0: empty), and the bitset itself when it is at
 * most `memoInlineWordsMax` words (a slot of 16 or 32 bytes: one probe, one cache
 * line), else where the bitset sits in chunks that double up to a fixed size (never
 * copied as the memo grows). Bitsets are compared in full, so two configurations are
 * never confused. Every byte it holds is reserved from the check's {@link Budget}
 * first, and borrowed from the budget's scratch buffers (given back on release);
 * `insert` answers `'memory bound'` instead of growing past it. @internal
 */
export class Memo {
  private readonly words: number;
  /** Whether bitsets sit in the slots. */
  private readonly inline: boolean;
  /** 32-bit fields per slot: a power of two, so slots never straddle more cache lines than they must. */
  private readonly stride: number;
  private readonly chunks: Uint32Array<ArrayBuffer>[] = [];
  /** Words used in the last chunk. */
  private used = 0;
  private mask = -1;
  private table: Int32Array<ArrayBuffer> = new Int32Array(0);
  private size = 0;
  private bytes = 0;
  /** Slots of the first table. */
  private readonly slotsInitial: number;

  constructor(
    operations: number,
    private readonly budget: Budget,
  ) {
    this.slotsInitial = slotsFor(operations);
    this.words = Math.max(1, (operations + 31) >>> 5);
    this.inline = this.words <= linearizabilityLimits.memoInlineWordsMax;
    // Code, state id + 1, then the bitset inline, or its chunk and offset.
    const fields = this.inline ? 2 + this.words : 4;
    this.stride = 1 << Math.ceil(Math.log2(fields));
  }

  /** Bytes held now (table and bitsets). */
  get bytesHeld(): number {
    return this.bytes;
  }

  /** Configurations held. */
  get count(): number {
    return this.size;
  }

  /**
   * Adds the configuration (`bits`, `stateId`), whose bitset's Zobrist code is
   * `code`: `'new'` if it was not there, `'seen'` if it was, `'memory bound'` if adding
   * it would exceed the check's memory bound (nothing is added then).
   */
  insert(code: number, stateId: number, bits: Uint32Array): 'new' | 'seen' | 'memory bound' {
    // Grown before the lookup (so possibly for a configuration already there), and the
    // first table made the same way: every memo takes this path at its first insert, so
    // a search whose memo outgrows its first table does not deoptimize this function
    // for the others.
    if ((this.size + 1) * 2 > this.mask + 1 && !this.grow()) return 'memory bound';
    const { table, words, stride } = this;
    const c = code | 0;
    const tag = stateId + 1;
    let at = this.slotOf(c, tag) * stride;
    for (;;) {
      const slotTag = table[at + 1]!;
      if (slotTag === 0) break;
      if (slotTag === tag && table[at] === c && this.sameBits(at, bits)) return 'seen';
      at += stride;
      if (at === table.length) at = 0;
    }
    if (this.inline) {
      for (let i = 0; i < words; i++) table[at + 2 + i] = bits[i]! | 0;
    } else {
      let chunk = this.chunks[this.chunks.length - 1];
      if (chunk === undefined || this.used + words > chunk.length) {
        // Chunks double from one bitset per table slot up to memoChunkWords, so a small search stays small.
        const wordsMax = Math.max(linearizabilityLimits.memoChunkWords, words);
        const length = chunk === undefined ? Math.min(wordsMax, words * this.slotsInitial) : Math.min(wordsMax, chunk.length * 2);
        if (!this.budget.reserveBytes(length * 4)) return 'memory bound';
        this.bytes += length * 4;
        chunk = new Uint32Array(this.budget.scratch.borrow(length * 4), 0, length);
        this.chunks.push(chunk);
        this.used = 0;
      }
      chunk.set(bits, this.used);
      table[at + 2] = this.chunks.length - 1;
      table[at + 3] = this.used;
      this.used += words;
    }
    table[at] = c;
    table[at + 1] = tag;
    this.size++;
    return 'new';
  }

  /** Gives every byte back to the budget; the memo is empty and unusable after. */
  release(): void {
    const { scratch } = this.budget;
    for (const chunk of this.chunks) scratch.giveBack(chunk.buffer);
    if (this.table.length > 0) scratch.giveBack(this.table.buffer);
    this.budget.releaseBytes(this.bytes);
    this.bytes = 0;
    this.chunks.length = 0;
    this.table = new Int32Array(0);
    this.size = 0;
  }

  /** Whether the bitset of the slot at `at` is `bits`. */
  private sameBits(at: number, bits: Uint32Array): boolean {
    const { table, words } = this;
    if (this.inline) {
      for (let i = 0; i < words; i++) if (table[at + 2 + i] !== (bits[i]! | 0)) return false;
      return true;
    }
    const chunk = this.chunks[table[at + 2]!]!;
    const start = table[at + 3]!;
    for (let i = 0; i < words; i++) if (chunk[start + i] !== bits[i]) return false;
    return true;
  }

  private slotOf(code: number, tag: number): number {
    let h = Math.imul(code ^ Math.imul(tag, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    return h & this.mask;
  }

  private allocateTable(slots: number): boolean {
    assert((slots & (slots - 1)) === 0, `memo table size ${slots} is not a power of two`);
    const bytes = slots * this.stride * 4;
    if (!this.budget.reserveBytes(bytes)) return false;
    this.bytes += bytes;
    this.table = new Int32Array(this.budget.scratch.borrow(bytes), 0, slots * this.stride);
    this.mask = slots - 1;
    return true;
  }

  /** Makes the first table, or doubles the table and rehashes; false (and unchanged) if the memory bound forbids it. */
  private grow(): boolean {
    const old = this.table;
    const stride = this.stride;
    if (!this.allocateTable(old.length === 0 ? this.slotsInitial : (old.length / stride) * 2)) return false;
    const table = this.table;
    for (let from = 0; from < old.length; from += stride) {
      if (old[from + 1] === 0) continue;
      let at = this.slotOf(old[from]!, old[from + 1]!) * stride;
      while (table[at + 1] !== 0) {
        at += stride;
        if (at === table.length) at = 0;
      }
      for (let i = 0; i < stride; i++) table[at + i] = old[from + i]!;
    }
    if (old.length > 0) this.budget.scratch.giveBack(old.buffer);
    this.budget.releaseBytes(old.length * 4);
    this.bytes -= old.length * 4;
    return true;
  }
}
