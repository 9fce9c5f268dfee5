/**
 * Fixed-width numbers in little-endian byte order, read and written in place in a
 * `Uint8Array`: the one byte order of every synod format. Integers are unsigned;
 * floats are IEEE 754 doubles. Pure: no Node imports, and no `DataView` (one over a
 * small array's buffer would move it off V8's heap).
 */

// Floats go through one scratch double, byte by byte.
const scratch = new Float64Array(1);
const scratchBytes = new Uint8Array(scratch.buffer);
/** Whether this machine stores a double's bytes least significant first (every machine Node runs on today). */
const hostLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Writes the low 16 bits of `n` at `at`. @internal */
export function setU16(bytes: Uint8Array, at: number, n: number): void {
  bytes[at] = n;
  bytes[at + 1] = n >>> 8;
}

/** The unsigned 16-bit integer at `at`. @internal */
export function getU16(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8);
}

/** Writes the low 32 bits of `n` at `at`. @internal */
export function setU32(bytes: Uint8Array, at: number, n: number): void {
  bytes[at] = n;
  bytes[at + 1] = n >>> 8;
  bytes[at + 2] = n >>> 16;
  bytes[at + 3] = n >>> 24;
}

/** The unsigned 32-bit integer at `at`. @internal */
export function getU32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** Writes `n` as a double at `at`. @internal */
export function setF64(bytes: Uint8Array, at: number, n: number): void {
  scratch[0] = n;
  if (hostLittleEndian) for (let i = 0; i < 8; i++) bytes[at + i] = scratchBytes[i]!;
  else for (let i = 0; i < 8; i++) bytes[at + i] = scratchBytes[7 - i]!;
}

/** The double at `at`. @internal */
export function getF64(bytes: Uint8Array, at: number): number {
  if (hostLittleEndian) for (let i = 0; i < 8; i++) scratchBytes[i] = bytes[at + i]!;
  else for (let i = 0; i < 8; i++) scratchBytes[7 - i] = bytes[at + i]!;
  return scratch[0]!;
}
