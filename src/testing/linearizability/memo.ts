/**
 * The memo of the linearizability search: the set of configurations (linearized
 * operations, model state) already explored, without a per-lookup allocation.
 */
import { assert } from '../../core/assert.js';
import type { Budget } from './budget.js';
import { linearizabilityLimits } from './limits.js';

/** 32-bit fields per table slot: code 1, code 2, state id, chunk, offset + 1 (0: empty). */
const stride = 5;

/**
 * A set of (bitset, state id) pairs. A configuration is found by the two 32-bit
 * Zobrist codes of its bitset and its interned state id in an open-addressed table
 * whose slots are interleaved (one probe, one cache line); the bitsets themselves sit
 * in chunks that double up to a fixed size (never copied as the memo grows) and are
 * compared in full, so two configurations are never confused. Every byte it holds is
 * reserved from the check's {@link Budget} first; `insert` answers `'memory bound'`
 * instead of growing past it. @internal
 */
export class Memo {
  private readonly words: number;
  private readonly chunks: Uint32Array[] = [];
  /** Words used in the last chunk. */
  private used = 0;
  private mask = -1;
  private table = new Int32Array(0);
  private size = 0;
  private bytes = 0;

  constructor(
    operations: number,
    private readonly budget: Budget,
  ) {
    this.words = Math.max(1, (operations + 31) >>> 5);
  }

  /** Bytes held now (table and bitsets). */
  get bytesHeld(): number {
    return this.bytes;
  }

  /**
   * Adds the configuration (`bits`, `stateId`), whose bitset codes are `h1`, `h2`:
   * `'new'` if it was not there, `'seen'` if it was, `'memory bound'` if adding it
   * would exceed the check's memory bound (nothing is added then).
   */
  insert(h1: number, h2: number, stateId: number, bits: Uint32Array): 'new' | 'seen' | 'memory bound' {
    if (this.table.length === 0 && !this.allocateTable(linearizabilityLimits.memoSlotsInitial)) return 'memory bound';
    const table = this.table;
    const words = this.words;
    const c1 = h1 | 0;
    const c2 = h2 | 0;
    let at = this.slotOf(c1, c2, stateId) * stride;
    for (;;) {
      const offset = table[at + 4]!;
      if (offset === 0) break;
      if (table[at] === c1 && table[at + 1] === c2 && table[at + 2] === stateId) {
        const chunk = this.chunks[table[at + 3]!]!;
        const start = offset - 1;
        let same = true;
        for (let i = 0; i < words && same; i++) same = chunk[start + i] === bits[i];
        if (same) return 'seen';
      }
      at += stride;
      if (at === table.length) at = 0;
    }
    if ((this.size + 1) * 2 > this.mask + 1) {
      if (!this.grow()) return 'memory bound';
      return this.insert(h1, h2, stateId, bits);
    }
    let chunk = this.chunks[this.chunks.length - 1];
    if (chunk === undefined || this.used + this.words > chunk.length) {
      // Chunks double from 16 bitsets up to memoChunkWords, so a small search stays small.
      const wordsMax = Math.max(linearizabilityLimits.memoChunkWords, this.words);
      const length = chunk === undefined ? Math.min(wordsMax, this.words * 16) : Math.min(wordsMax, chunk.length * 2);
      if (!this.budget.reserveBytes(length * 4)) return 'memory bound';
      this.bytes += length * 4;
      chunk = new Uint32Array(length);
      this.chunks.push(chunk);
      this.used = 0;
    }
    chunk.set(bits, this.used);
    table[at] = c1;
    table[at + 1] = c2;
    table[at + 2] = stateId;
    table[at + 3] = this.chunks.length - 1;
    table[at + 4] = this.used + 1;
    this.used += this.words;
    this.size++;
    return 'new';
  }

  /** Gives every byte back to the budget; the memo is empty and unusable after. */
  release(): void {
    this.budget.releaseBytes(this.bytes);
    this.bytes = 0;
    this.chunks.length = 0;
    this.table = new Int32Array(0);
    this.size = 0;
  }

  private slotOf(c1: number, c2: number, stateId: number): number {
    let h = Math.imul(c1 ^ Math.imul(stateId, 0x9e3779b1), 0x85ebca6b) ^ c2;
    h ^= h >>> 15;
    return h & this.mask;
  }

  private allocateTable(slots: number): boolean {
    assert((slots & (slots - 1)) === 0, `memo table size ${slots} is not a power of two`);
    const bytes = slots * stride * 4;
    if (!this.budget.reserveBytes(bytes)) return false;
    this.bytes += bytes;
    this.table = new Int32Array(slots * stride);
    this.mask = slots - 1;
    return true;
  }

  /** Doubles the table and rehashes; false (and unchanged) if the memory bound forbids it. */
  private grow(): boolean {
    const old = this.table;
    assert(old.length > 0, 'growing a memo table never allocated');
    if (!this.allocateTable((old.length / stride) * 2)) return false;
    const table = this.table;
    for (let from = 0; from < old.length; from += stride) {
      if (old[from + 4] === 0) continue;
      let at = this.slotOf(old[from]!, old[from + 1]!, old[from + 2]!) * stride;
      while (table[at + 4] !== 0) {
        at += stride;
        if (at === table.length) at = 0;
      }
      for (let i = 0; i < stride; i++) table[at + i] = old[from + i]!;
    }
    this.budget.releaseBytes(old.length * 4);
    this.bytes -= old.length * 4;
    return true;
  }
}
