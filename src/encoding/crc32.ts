/**
 * CRC-32 (the IEEE polynomial of zlib, PNG and Ethernet) in plain TypeScript, for the
 * runtime, which imports nothing from Node: a snapshot streamed to a peer carries it, so
 * the receiver refuses bytes damaged or misplaced on the way. The same values as
 * `zlib.crc32`. Slicing by 8 bytes: about 1 GB/s here, half of zlib's native speed.
 */

/** Eight tables of 256 entries: table k maps a byte to its CRC shifted through k more zero bytes. */
const tables = ((): Int32Array => {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) {
      const previous = t[(k - 1) * 256 + n]!;
      t[k * 256 + n] = (previous >>> 8) ^ t[previous & 0xff]!;
    }
  }
  return t;
})();

/**
 * The CRC-32 of `bytes`, continuing from `previous` (the CRC-32 of the bytes before
 * them; 0 to start), as an unsigned 32-bit integer.
 * @internal
 */
export function crc32(bytes: Uint8Array, previous = 0): number {
  const t = tables;
  let c = ~previous;
  let i = 0;
  const n = bytes.length;
  const end = n - (n & 7);
  for (; i < end; i += 8) {
    const low = (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) ^ c;
    c =
      t[1792 + (low & 0xff)]! ^
      t[1536 + ((low >>> 8) & 0xff)]! ^
      t[1280 + ((low >>> 16) & 0xff)]! ^
      t[1024 + (low >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^
      t[512 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < n; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** The CRC-32 polynomial, bit-reversed: bit 31 is the coefficient of x^0. */
const reversedPolynomial = 0xedb88320;

/** `a * b` modulo the CRC-32 polynomial, both in the bit-reversed form the CRC uses. */
function multiplyModulo(a: number, b: number): number {
  let product = 0;
  for (let bit = 0x80000000; bit !== 0; bit >>>= 1) {
    if (a & bit) product ^= b;
    // b times x: a shift towards the high powers, reduced by the polynomial.
    b = b & 1 ? (b >>> 1) ^ reversedPolynomial : b >>> 1;
  }
  return product >>> 0;
}

/** x^(2^k) modulo the polynomial, for k from 0: squaring the previous one each time. */
const xToPowersOfTwo = ((): Uint32Array => {
  const t = new Uint32Array(64);
  t[0] = 0x40000000; // x^1
  for (let k = 1; k < 64; k++) t[k] = multiplyModulo(t[k - 1]!, t[k - 1]!);
  return t;
})();

/**
 * The CRC-32 of `a` followed by `length` more bytes, given the CRC of `a` and that of the
 * bytes after it: CRC-32 is affine, so the CRC of a whole follows from those of its
 * parts without reading the bytes again (a few dozen multiplications, whatever the
 * length). `crc32Combine(crc32(a), crc32(b), b.length) === crc32(a ‖ b)`.
 * @internal
 */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (!Number.isSafeInteger(lengthB) || lengthB < 0) throw new RangeError(`crc32Combine: length ${lengthB} is not a non-negative integer`);
  // crcA carried through 8 * lengthB zero bits: multiplied by x^(8 lengthB).
  let shifted = crcA >>> 0;
  let bits = lengthB * 8;
  for (let k = 0; bits > 0; k++, bits = Math.floor(bits / 2)) {
    if (bits % 2 === 1) shifted = multiplyModulo(xToPowersOfTwo[k]!, shifted);
  }
  return (shifted ^ crcB) >>> 0;
}
