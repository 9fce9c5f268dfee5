/**
 * The memo of the linearizability search: the set of configurations (linearized
 * operations, model state) already explored, without a per-lookup allocation.
 */
import { assert } from '../../core/assert.js';
import type { Budget } from './budget.js';
import { linearizabilityLimits } from './limits.js';

/** Bytes one table slot costs: five 32-bit columns. */
const slotBytes = 20;

/**
 * A set of (bitset, state id) pairs. A configuration is found by its two 32-bit
 * Zobrist codes of the bitset and its interned state id in an open-addressed table;
 * the bitsets themselves sit in chunks that double up to a fixed size (never copied
 * as the memo grows)
 * and are compared in full, so two configurations are never confused. Every byte it
 * holds is reserved from the check's {@link Budget} first; `insert` answers
 * `'memory bound'` instead of growing past it. @internal
 */
export class Memo {
  private readonly words: number;
  private readonly chunks: Uint32Array[] = [];
  /** Words used in the last chunk. */
  private used = 0;
  private mask: number;
  private code1: Int32Array;
  private code2: Int32Array;
  private stateIds: Int32Array;
  /** The chunk holding each slot's bitset. */
  private chunkOf: Int32Array;
  /** Word offset + 1 of each slot's bitset in its chunk; 0 for an empty slot. */
  private entries: Int32Array;
  private size = 0;
  private bytes = 0;

  constructor(
    operations: number,
    private readonly budget: Budget,
  ) {
    this.words = Math.max(1, (operations + 31) >>> 5);
    this.mask = -1;
    this.code1 = new Int32Array(0);
    this.code2 = new Int32Array(0);
    this.stateIds = new Int32Array(0);
    this.chunkOf = new Int32Array(0);
    this.entries = new Int32Array(0);
  }

  /** Bytes held now (tables and bitsets). */
  get bytesHeld(): number {
    return this.bytes;
  }

  /**
   * Adds the configuration (`bits`, `stateId`), whose bitset codes are `h1`, `h2`:
   * `'new'` if it was not there, `'seen'` if it was, `'memory bound'` if adding it
   * would exceed the check's memory bound (nothing is added then).
   */
  insert(h1: number, h2: number, stateId: number, bits: Uint32Array): 'new' | 'seen' | 'memory bound' {
    if (this.entries.length === 0 && !this.allocateTable(linearizabilityLimits.memoSlotsInitial)) return 'memory bound';
    let slot = this.slotOf(h1, h2, stateId);
    for (;;) {
      const entry = this.entries[slot]!;
      if (entry === 0) break;
      if (this.code1[slot] === (h1 | 0) && this.code2[slot] === (h2 | 0) && this.stateIds[slot] === stateId && this.sameBits(this.chunkOf[slot]!, entry - 1, bits)) return 'seen';
      slot = (slot + 1) & this.mask;
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
    this.code1[slot] = h1;
    this.code2[slot] = h2;
    this.stateIds[slot] = stateId;
    this.chunkOf[slot] = this.chunks.length - 1;
    this.entries[slot] = this.used + 1;
    this.used += this.words;
    this.size++;
    return 'new';
  }

  /** Gives every byte back to the budget; the memo is empty and unusable after. */
  release(): void {
    this.budget.releaseBytes(this.bytes);
    this.bytes = 0;
    this.chunks.length = 0;
    this.code1 = this.code2 = this.stateIds = this.chunkOf = this.entries = new Int32Array(0);
    this.size = 0;
  }

  private slotOf(h1: number, h2: number, stateId: number): number {
    let h = Math.imul(h1 ^ Math.imul(stateId, 0x9e3779b1), 0x85ebca6b) ^ h2;
    h ^= h >>> 15;
    return h & this.mask;
  }

  private sameBits(chunkIndex: number, offset: number, bits: Uint32Array): boolean {
    const chunk = this.chunks[chunkIndex]!;
    for (let i = 0; i < this.words; i++) if (chunk[offset + i] !== bits[i]) return false;
    return true;
  }

  private allocateTable(slots: number): boolean {
    assert((slots & (slots - 1)) === 0, `memo table size ${slots} is not a power of two`);
    const bytes = slots * slotBytes;
    if (!this.budget.reserveBytes(bytes)) return false;
    this.bytes += bytes;
    this.code1 = new Int32Array(slots);
    this.code2 = new Int32Array(slots);
    this.stateIds = new Int32Array(slots);
    this.chunkOf = new Int32Array(slots);
    this.entries = new Int32Array(slots);
    this.mask = slots - 1;
    return true;
  }

  /** Doubles the table and rehashes; false (and unchanged) if the memory bound forbids it. */
  private grow(): boolean {
    const [code1, code2, stateIds, chunkOf, entries] = [this.code1, this.code2, this.stateIds, this.chunkOf, this.entries];
    const oldBytes = entries.length * slotBytes;
    assert(oldBytes > 0, 'growing a memo table never allocated');
    if (!this.allocateTable(entries.length * 2)) return false;
    for (let slot = 0; slot < entries.length; slot++) {
      if (entries[slot] === 0) continue;
      let target = this.slotOf(code1[slot]!, code2[slot]!, stateIds[slot]!);
      while (this.entries[target] !== 0) target = (target + 1) & this.mask;
      this.code1[target] = code1[slot]!;
      this.code2[target] = code2[slot]!;
      this.stateIds[target] = stateIds[slot]!;
      this.chunkOf[target] = chunkOf[slot]!;
      this.entries[target] = entries[slot]!;
    }
    this.budget.releaseBytes(oldBytes);
    this.bytes -= oldBytes;
    return true;
  }
}
