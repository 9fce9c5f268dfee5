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
