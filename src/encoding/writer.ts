/**
 * The writing half of the byte layer, used by every synod format: a growable buffer
 * taking varints (unsigned LEB128, up to 2^53 - 1), fixed-width little-endian integers
 * and doubles, byte strings and strings (after a varint length, or a u16 one). Pure: no
 * Node imports, so a browser transport can reuse it; {@link Reader} reads it back.
 */
import { CodecError } from './codec-error.js';
import { setF64, setU16, setU32 } from './little-endian.js';
import { carve } from './slab.js';

const encoder = new TextEncoder();

/** Appends values to a buffer that grows by doubling. @internal */
export class Writer {
  private bytes: Uint8Array;
  /** `bytes.byteLength`, kept in a field: read before every write, it costs less so. */
  private end: number;
  private at = 0;

  /**
   * @param start the initial capacity in bytes, or a buffer to start writing into (a
   *   transport may pass one it allocated without zero-filling).
   */
  constructor(start: number | Uint8Array = 256) {
    this.bytes = typeof start === 'number' ? new Uint8Array(Math.max(16, start)) : start;
    this.end = this.bytes.byteLength;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.at;
  }

  /** Bytes it can hold before it grows. */
  get capacity(): number {
    return this.bytes.byteLength;
  }

  /** Forgets everything written after `length` bytes (to undo a half-written value). */
  truncate(length: number): void {
    this.at = Math.min(this.at, length);
  }

  /** Reserves 4 bytes for a length written later with {@link setU32}; returns where. */
  reserveU32(): number {
    this.room(4);
    const at = this.at;
    this.at += 4;
    return at;
  }

  /** Writes `n` as 4 little-endian bytes at `at` (a place {@link reserveU32} returned). */
  setU32(at: number, n: number): void {
    // Written out here (not through little-endian.ts's setU32): every frame's header takes this path.
    const bytes = this.bytes;
    bytes[at] = n & 0xff;
    bytes[at + 1] = (n >>> 8) & 0xff;
    bytes[at + 2] = (n >>> 16) & 0xff;
    bytes[at + 3] = (n >>> 24) & 0xff;
  }

  /** Steps over `n` bytes (zeros in a fresh buffer), for a header written later in place; returns where they start. */
  skip(n: number): number {
    this.room(n);
    const at = this.at;
    this.at += n;
    return at;
  }

  private room(n: number): void {
    if (this.at + n > this.end) this.grow(n);
  }

  private grow(n: number): void {
    let size = this.end * 2;
    while (size < this.at + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.at));
    this.bytes = grown;
    this.end = size;
  }

  u8(n: number): void {
    this.room(1);
    this.bytes[this.at++] = n;
  }

  /** An unsigned integer (a safe integer), 1 to 8 bytes. */
  uint(n: number): void {
    // Most are one byte (a count, a small length); any number in [0, 128) is one.
    if (n >= 0 && n < 0x80 && (n | 0) === n) {
      this.room(1);
      this.bytes[this.at++] = n;
      return;
    }
    if (!Number.isSafeInteger(n) || n < 0) throw new CodecError(`cannot encode ${n}: not an unsigned safe integer`);
    this.room(8);
    while (n >= 0x80) {
      this.bytes[this.at++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.bytes[this.at++] = n;
  }

  bool(b: boolean): void {
    this.u8(b ? 1 : 0);
  }

  /** The low 16 bits of `n`, 2 bytes little-endian. */
  u16(n: number): void {
    this.room(2);
    setU16(this.bytes, this.at, n);
    this.at += 2;
  }

  /** The low 32 bits of `n`, 4 bytes little-endian. */
  u32(n: number): void {
    this.room(4);
    setU32(this.bytes, this.at, n);
    this.at += 4;
  }

  /** `n` as an IEEE 754 double, 8 bytes little-endian. */
  f64(n: number): void {
    this.room(8);
    setF64(this.bytes, this.at, n);
    this.at += 8;
  }

  bytesOf(data: Uint8Array): void {
    this.uint(data.byteLength);
    this.raw(data);
  }

  /**
   * A count, then each byte string with its length: room is made once for all of them,
   * and short ones are copied byte by byte (cheaper than a `set` call).
   */
  byteStrings(list: readonly Uint8Array[]): void {
    let size = 8;
    for (let i = 0; i < list.length; i++) size += 8 + list[i]!.byteLength;
    this.room(size);
    this.varint(list.length);
    const bytes = this.bytes;
    for (let i = 0; i < list.length; i++) {
      const data = list[i]!;
      const length = data.byteLength;
      this.varint(length);
      if (length <= 16) {
        for (let k = 0; k < length; k++) bytes[this.at + k] = data[k]!;
      } else {
        bytes.set(data, this.at);
      }
      this.at += length;
    }
  }

  /** A count or a length (a safe integer by nature) where room was made. */
  private varint(n: number): void {
    const bytes = this.bytes;
    while (n >= 0x80) {
      bytes[this.at++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    bytes[this.at++] = n;
  }

  /** `data` as it is, without its length. */
  raw(data: Uint8Array): void {
    this.room(data.byteLength);
    this.bytes.set(data, this.at);
    this.at += data.byteLength;
  }

  string(s: string): void {
    // Ids and names are short ASCII: written in place in one pass, skipping
    // TextEncoder's allocation; anything else is encoded over what was written.
    const length = s.length;
    if (length < 0x80) {
      this.room(1 + length);
      const bytes = this.bytes;
      const at = this.at;
      bytes[at] = length;
      let i = 0;
      for (; i < length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        bytes[at + 1 + i] = c;
      }
      if (i === length) {
        this.at = at + 1 + length;
        return;
      }
    }
    this.bytesOf(encoder.encode(s));
  }

  /**
   * A string after its UTF-8 byte length as a u16 (ASCII written in place).
   * @throws {@link CodecError} if it takes more than 65,535 bytes.
   */
  u16String(s: string): void {
    const length = s.length;
    this.room(2 + length);
    const bytes = this.bytes;
    const at = this.at;
    let i = 0;
    for (; i < length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      bytes[at + 2 + i] = c;
    }
    if (i === length && length <= 0xffff) {
      setU16(bytes, at, length);
      this.at = at + 2 + length;
      return;
    }
    const encoded = encoder.encode(s);
    if (encoded.byteLength > 0xffff) throw new CodecError(`a string of ${encoded.byteLength} bytes: more than a u16 length holds`);
    this.u16(encoded.byteLength);
    this.raw(encoded);
  }

  /** The bytes written, as a view (no copy). */
  finish(): Uint8Array {
    return this.bytes.subarray(0, this.at);
  }

  /**
   * A copy of the bytes written, carved from a shared slab when small (see {@link carve}),
   * for a writer reused from one encoding to the next.
   */
  copy(): Uint8Array {
    const out = carve(this.at);
    out.set(this.bytes.subarray(0, this.at));
    return out;
  }
}
