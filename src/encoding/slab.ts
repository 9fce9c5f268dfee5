/**
 * Small fresh buffers carved out of shared 64 KiB slabs, like Node's buffer pool: V8
 * gives every typed array over 64 bytes a backing store of its own, and for a command
 * envelope or a log record of a few hundred bytes that allocation costs more than the
 * encoding. A slab lives as long as any piece of it does. Pure: no Node imports.
 */

/** Bytes of each slab. */
const slabBytes = 64 * 1024;
/** A piece larger than this gets a buffer of its own: a slab is for many small pieces. */
const slabPieceBytesMax = 4 * 1024;

let slab = new ArrayBuffer(slabBytes);
let slabUsed = 0;

/**
 * `length` fresh (zero-filled) bytes: no two pieces overlap, and a slab is never reused.
 * Pieces start 8-byte aligned; nothing depends on it, but it keeps pieces apart.
 * @internal
 */
export function carve(length: number): Uint8Array {
  if (length > slabPieceBytesMax) return new Uint8Array(length);
  if (slabUsed + length > slabBytes) {
    slab = new ArrayBuffer(slabBytes);
    slabUsed = 0;
  }
  const piece = new Uint8Array(slab, slabUsed, length);
  slabUsed += (length + 7) & ~7;
  return piece;
}
