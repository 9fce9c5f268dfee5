/**
 * What the exactly-once table charges for a result it keeps. The table is replicated
 * state, so the charge must be the same on every replica and on every replay: it is
 * computed from the value's shape alone, never measured on the heap (which differs
 * between processes, engines and moments).
 */

/** Bytes charged for one kept entry besides its value: the map slot and the records around it. */
export const resultEntryBytes = 64;

/** An own property or an array slot: a pointer. */
const slotBytes = 8;
/** An object's header. */
const objectBytes = 16;
/** A binary buffer's header (the view and its backing store). */
const bufferBytes = 64;
/** A Map's or a Set's header; each entry is a slot pair or a slot. */
const collectionBytes = 32;
/** An error's header (its stack is not counted: it is not part of the value). */
const errorBytes = 64;

/**
 * The estimated bytes of `value`, walking it: 8 for a number, a boolean, `null` or
 * `undefined`; 16 plus 2 a UTF-16 code unit for a string; 64 plus `byteLength` for a
 * typed array, a DataView or an ArrayBuffer (the view's own bytes: the size of a
 * shared backing store depends on how the value arrived, which differs between
 * replicas); 16 plus 8 a slot for an array; 16 plus 8 and 2 a key character for each
 * own enumerable property of an object; 32 plus 16 an entry for a Map (8 for a Set);
 * 64 plus the message and the `cause` for an Error. Shared parts are counted each time
 * they are reached.
 *
 * The walk stops as soon as the estimate passes `bytesMax` and then answers a number
 * above it: a result known to be too large costs no more than `bytesMax / 8` steps,
 * however large (or cyclic) it is.
 * @internal
 */
export function estimateBytes(value: unknown, bytesMax: number): number {
  let bytes = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    bytes += visit(pending.pop(), bytesMax - bytes, pending);
    if (bytes > bytesMax) return bytes;
  }
  return bytes;
}

/**
 * The bytes of `v` itself. What it refers to goes on `pending`, but only while the
 * estimate stays within `budget`: a huge array is not copied onto the stack to be
 * found too large.
 */
function visit(v: unknown, budget: number, pending: unknown[]): number {
  switch (typeof v) {
    case 'string':
      return objectBytes + 2 * v.length;
    case 'bigint':
      // Its hexadecimal digits, two to a byte: the same on every engine.
      return objectBytes + Math.ceil(v.toString(16).length / 2);
    case 'object':
      return v === null ? slotBytes : visitObject(v, budget, pending);
    default:
      // number, boolean, undefined, symbol, function: one slot, nothing walked.
      return slotBytes;
  }
}

function visitObject(v: object, budget: number, pending: unknown[]): number {
  if (ArrayBuffer.isView(v)) return bufferBytes + v.byteLength;
  if (v instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && v instanceof SharedArrayBuffer)) return bufferBytes + v.byteLength;
  if (Array.isArray(v)) {
    const bytes = objectBytes + slotBytes * v.length;
    if (bytes <= budget) for (const item of v as unknown[]) pending.push(item);
    return bytes;
  }
  if (v instanceof Map) {
    const bytes = collectionBytes + 2 * slotBytes * v.size;
    if (bytes <= budget) for (const [key, item] of v) pending.push(key, item);
    return bytes;
  }
  if (v instanceof Set) {
    const bytes = collectionBytes + slotBytes * v.size;
    if (bytes <= budget) for (const item of v) pending.push(item);
    return bytes;
  }
  if (v instanceof Error) {
    pending.push(v.message);
    if ('cause' in v) pending.push(v.cause);
    return errorBytes;
  }
  let bytes = objectBytes;
  // for-in (own keys only) rather than Object.keys: an object with a million keys is
  // found too large without listing them all first. The order is the same.
  for (const key in v) {
    if (!Object.hasOwn(v, key)) continue;
    bytes += slotBytes + 2 * key.length;
    if (bytes > budget) return bytes;
    pending.push((v as Record<string, unknown>)[key]);
  }
  return bytes;
}
