/**
 * The primitives of the binary codec: a growable writer and a bounds-checked reader.
 * Integers are unsigned LEB128 varints up to 2^53 - 1; strings and byte strings carry
 * a varint length. Pure: no Node imports, so a browser transport can reuse it.
 */
import { CodecError } from './codec-error.js';

const encoder = new TextEncoder();
// ignoreBOM: a string that begins with U+FEFF must come back with it.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

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
    this.bytes[at] = n & 0xff;
    this.bytes[at + 1] = (n >>> 8) & 0xff;
    this.bytes[at + 2] = (n >>> 16) & 0xff;
    this.bytes[at + 3] = (n >>> 24) & 0xff;
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

  /** The bytes written, as a view (no copy). */
  finish(): Uint8Array {
    return this.bytes.subarray(0, this.at);
  }
}

/**
 * Short ASCII strings read lately (node and client ids, which repeat in every frame),
 * by a hash of their bytes: a hit is compared byte by byte and given back without
 * building a new string.
 */
const recentStrings: (string | undefined)[] = new Array<string | undefined>(64).fill(undefined);

/** Reads values back, checking every length against what is left. @internal */
export class Reader {
  private at: number;
  /** Where the bytes end. */
  private readonly limit: number;

  /** Reads `bytes` from `from` up to `to` (the end of `bytes` unless given). */
  constructor(
    private readonly bytes: Uint8Array,
    from = 0,
    to = bytes.byteLength,
  ) {
    this.at = from;
    this.limit = to;
  }

  /** Where the next read starts, from the start of the bytes. */
  get position(): number {
    return this.at;
  }

  get left(): number {
    return this.limit - this.at;
  }

  u8(what: string): number {
    if (this.at >= this.limit) throw new CodecError(`${what}: frame ends early`);
    return this.bytes[this.at++]!;
  }

  /** A varint. `suffix` completes `what` in an error (kept apart so no label is built per call). */
  uint(what: string, suffix = ''): number {
    const bytes = this.bytes;
    const at = this.at;
    // Most varints are one byte: a count, a length under 128.
    if (at < this.limit) {
      const b = bytes[at]!;
      if (b < 0x80) {
        this.at = at + 1;
        return b;
      }
    }
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.at >= this.limit) throw new CodecError(`${what}${suffix}: frame ends early`);
      const b = bytes[this.at++]!;
      n += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(n)) throw new CodecError(`${what}${suffix}: ${n} is beyond 2^53`);
        if (i > 0 && b === 0) throw new CodecError(`${what}${suffix}: varint not in its shortest form`);
        return n;
      }
      scale *= 0x80;
    }
    throw new CodecError(`${what}${suffix}: varint longer than 8 bytes`);
  }

  bool(what: string): boolean {
    const b = this.u8(what);
    if (b > 1) throw new CodecError(`${what}: ${b} is not a boolean`);
    return b === 1;
  }

  /** A byte string, as a view of the frame (no copy), at most `max` bytes. */
  bytesOf(what: string, max: number): Uint8Array {
    const length = this.lengthOf(what, max);
    const at = this.at;
    this.at = at + length;
    return this.bytes.subarray(at, at + length);
  }

  /** Checks a byte string (at most `max` bytes) and steps over it, making no view of it. */
  skipBytes(what: string, max: number): void {
    const length = this.lengthOf(what, max); // moves past the length first
    this.at += length;
  }

  /** A byte string's length, checked against `max` and against what is left. */
  private lengthOf(what: string, max: number): number {
    const length = this.uint(what, ' length');
    if (length > max) throw new CodecError(`${what}: ${length} bytes, more than the limit ${max}`);
    const left = this.limit - this.at;
    if (length > left) throw new CodecError(`${what}: ${length} bytes, but ${left} are left`);
    return length;
  }

  string(what: string, max: number): string {
    // The common case, a short ASCII id, is read in place: no view, no TextDecoder, and
    // no new string when it was read lately.
    const bytes = this.bytes;
    const start = this.at + 1;
    const length = bytes[this.at];
    if (length !== undefined && length <= 16 && length <= max && start + length <= this.limit) {
      let hash = length;
      let ascii = true;
      for (let i = start; i < start + length; i++) {
        const c = bytes[i]!;
        if (c >= 0x80) {
          ascii = false;
          break;
        }
        hash = (hash * 31 + c) & 63;
      }
      if (ascii) {
        this.at = start + length;
        const recent = recentStrings[hash];
        if (recent !== undefined && recent.length === length) {
          let same = true;
          for (let i = 0; i < length; i++) {
            if (recent.charCodeAt(i) !== bytes[start + i]) {
              same = false;
              break;
            }
          }
          if (same) return recent;
        }
        let out = '';
        for (let i = start; i < start + length; i++) out += String.fromCharCode(bytes[i]!);
        recentStrings[hash] = out;
        return out;
      }
    }
    const raw = this.bytesOf(what, max);
    try {
      return decoder.decode(raw);
    } catch {
      throw new CodecError(`${what}: not valid UTF-8`);
    }
  }

  /**
   * A count of items, each taking at least `itemBytesMin` bytes: checked against what is
   * left before anything is allocated for them.
   */
  count(what: string, itemBytesMin: number): number {
    const n = this.uint(what, ' count');
    const left = this.limit - this.at;
    if (n * itemBytesMin > left) throw new CodecError(`${what}: ${n} items cannot fit in the ${left} bytes left`);
    return n;
  }

  end(): void {
    if (this.left !== 0) throw new CodecError(`${this.left} bytes after the message`);
  }
}
