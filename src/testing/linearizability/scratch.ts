/**
 * The buffers the searches of one check pass on to each other. A typed array of its own
 * costs a search about a microsecond to allocate outside the heap, and the off-heap
 * bytes push V8 into full garbage collections ("external memory pressure"); a history
 * of a hundred keys made some fifteen hundred of them per check, about a third of the
 * check's time. A search borrows its arrays here and gives them back when it is
 * released, so the next key reuses them.
 */
import { assert } from '../../core/assert.js';
import { linearizabilityLimits } from './limits.js';

/** Smallest buffer lent, as a power of two: 4 KiB. */
const bytesMinLog2 = 12;

/**
 * A pool of `ArrayBuffer`s in power-of-two sizes, from 4 KiB to
 * `linearizabilityLimits.scratchBufferBytesMax`; larger ones are lent once and left to
 * the garbage collector. It keeps at most `scratchFreeBytesMax` bytes of returned
 * buffers. The bytes lent are not counted here: whoever borrows reserves them from the
 * check's `Budget` as before. @internal
 */
export class Scratch {
  /** Returned buffers by size: `free[k]` holds buffers of 2^k bytes. */
  private readonly free: ArrayBuffer[][] = [];
  private freeBytes = 0;
  /** Buffers lent and not given back (to catch a buffer given back twice). */
  private readonly lent = new Set<ArrayBuffer>();

  /** A buffer of at least `bytes` bytes whose first `bytes` bytes are zero. */
  borrow(bytes: number): ArrayBuffer {
    assert(Number.isInteger(bytes) && bytes >= 0, `borrowing ${bytes} bytes`);
    const buffer = bytes > linearizabilityLimits.scratchBufferBytesMax ? new ArrayBuffer(bytes) : this.pooled(bytes);
    this.lent.add(buffer);
    return buffer;
  }

  /** Takes back a buffer from {@link borrow}; its borrower must not touch it again. */
  giveBack(buffer: ArrayBuffer): void {
    assert(this.lent.delete(buffer), () => `a buffer of ${buffer.byteLength} bytes given back that is not lent (twice?)`);
    const size = buffer.byteLength;
    if (size > linearizabilityLimits.scratchBufferBytesMax || this.freeBytes + size > linearizabilityLimits.scratchFreeBytesMax) return;
    const k = Math.log2(size);
    assert(Number.isInteger(k), `a pooled buffer of ${size} bytes is not a power of two`);
    (this.free[k] ??= []).push(buffer);
    this.freeBytes += size;
  }

  /** Bytes of returned buffers kept for reuse. */
  get bytesKept(): number {
    return this.freeBytes;
  }

  private pooled(bytes: number): ArrayBuffer {
    const k = Math.max(bytesMinLog2, Math.ceil(Math.log2(Math.max(1, bytes))));
    const buffer = this.free[k]?.pop();
    if (buffer === undefined) return new ArrayBuffer(2 ** k);
    this.freeBytes -= buffer.byteLength;
    new Uint8Array(buffer, 0, bytes).fill(0);
    return buffer;
  }
}

/**
 * Typed arrays laid one after another on a buffer borrowed from a {@link Scratch}.
 * Each array starts at a multiple of its element size. @internal
 */
export class Carving {
  private offset = 0;

  constructor(private readonly buffer: ArrayBuffer) {}

  /** The bytes `lengths` arrays of element sizes `sizes` take, laid out as {@link Carving} does. */
  static bytes(parts: readonly (readonly [elementBytes: number, length: number])[]): number {
    let offset = 0;
    for (const [size, length] of parts) offset = Math.ceil(offset / size) * size + size * length;
    return offset;
  }

  float64(length: number): Float64Array {
    return new Float64Array(this.buffer, this.take(8, length), length);
  }

  int32(length: number): Int32Array {
    return new Int32Array(this.buffer, this.take(4, length), length);
  }

  uint32(length: number): Uint32Array {
    return new Uint32Array(this.buffer, this.take(4, length), length);
  }

  uint8(length: number): Uint8Array {
    return new Uint8Array(this.buffer, this.take(1, length), length);
  }

  /** Bytes carved so far. */
  get used(): number {
    return this.offset;
  }

  private take(size: number, length: number): number {
    const at = Math.ceil(this.offset / size) * size;
    this.offset = at + size * length;
    assert(this.offset <= this.buffer.byteLength, () => `carving ${length} x ${size} bytes at ${at} overruns a buffer of ${this.buffer.byteLength}`);
    return at;
  }
}
