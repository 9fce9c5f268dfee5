/**
 * The bytes a server holds for frames its connections have sent only part of (and any
 * whole frames it has received but not read yet), summed over all of them, against one
 * bound (a KV server's `partialFrameBytesMax`). Each connection's frame loop charges
 * what it holds.
 */
import { assert } from '../core/assert.js';

/** @internal */
export class PartialFrameBudget {
  private heldBytes = 0;

  constructor(readonly bytesMax: number) {
    assert(Number.isSafeInteger(bytesMax) && bytesMax > 0, `partialFrameBytesMax ${bytesMax}`);
  }

  /** Bytes charged now, over all connections. */
  get held(): number {
    return this.heldBytes;
  }

  /**
   * Moves one connection's charge from `from` to `to` bytes. A growth that would take
   * the total over `bytesMax` is refused (false) and nothing changes; a shrink always
   * succeeds.
   */
  recharge(from: number, to: number): boolean {
    assert(from >= 0 && to >= 0 && from <= this.heldBytes, `a charge from ${from} to ${to} bytes with ${this.heldBytes} held`);
    const next = this.heldBytes - from + to;
    if (to > from && next > this.bytesMax) return false;
    this.heldBytes = next;
    return true;
  }
}
