/**
 * The copy of a value the store keeps. A decoded value is a view into the bytes it came
 * in (a frame, a log entry, a snapshot), which it would pin whole, so the store keeps a
 * copy (unless those bytes are little more than the value). A small value is copied
 * into a shared slab rather than a buffer of its own: each buffer costs about 200 bytes
 * beside its data (its ArrayBuffer object and its allocation), twice a 100-byte value,
 * and most keys hold small values.
 *
 * A slab lives while any value in it does, as Node's own pool for small Buffers: after
 * most keys of a slab are deleted or overwritten, the rest keep it (at most
 * {@link slabBytes} in all). Larger values get a buffer of their own.
 * @internal
 */

/** Values of at most this many bytes go in a slab. */
export const slabValueBytesMax = 512;
/** Bytes per slab: 16 values of the largest pooled size, far more of the usual ones. */
export const slabBytes = 8 * 1024;

const empty = new Uint8Array(0);
let slab = empty;
let used = 0;

/**
 * The value to keep for `bytes`: a copy, in a slab if small. A larger value whose buffer
 * holds little more than it (at most an eighth more, and 256 bytes: a large value in its
 * own log entry, or a buffer of its own) is kept as it is, with no copy: the runtime
 * decodes each command from bytes of its own, never reused or written over. One among
 * other commands in a frame is copied, so it does not pin them.
 */
export function keptValue(bytes: Uint8Array): Uint8Array {
  const length = bytes.byteLength;
  if (length === 0) return empty;
  if (length > slabValueBytesMax) return pinsLittle(bytes) ? bytes : bytes.slice();
  if (used + length > slab.byteLength) {
    slab = new Uint8Array(slabBytes);
    used = 0;
  }
  const kept = slab.subarray(used, used + length);
  kept.set(bytes);
  used += length;
  return kept;
}

/** Whether keeping `bytes` (a view) keeps alive at most an eighth more than its own bytes, and 256 bytes. */
function pinsLittle(bytes: Uint8Array): boolean {
  return bytes.buffer.byteLength - bytes.byteLength <= (bytes.byteLength >>> 3) + 256;
}
