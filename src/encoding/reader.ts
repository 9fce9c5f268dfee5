/**
 * The reading half of the byte layer: a bounds-checked reader of what {@link Writer}
 * writes (varints, fixed-width little-endian integers and floats, byte strings,
 * strings). Every length is checked against the bytes left before anything is
 * allocated for it. Pure: no Node imports.
 */
import { CodecError } from './codec-error.js';
import { getF64, getU16, getU32 } from './little-endian.js';

// ignoreBOM: a string that begins with U+FEFF must come back with it.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

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

  /** A u16, 2 bytes little-endian. */
  u16(what: string): number {
    const at = this.fixed(what, 2);
    return getU16(this.bytes, at);
  }

  /** A u32, 4 bytes little-endian. */
  u32(what: string): number {
    const at = this.fixed(what, 4);
    return getU32(this.bytes, at);
  }

  /** An IEEE 754 double, 8 bytes little-endian. */
  f64(what: string): number {
    const at = this.fixed(what, 8);
    return getF64(this.bytes, at);
  }

  /** Steps over `n` bytes of a fixed-width value; returns where they start. */
  private fixed(what: string, n: number): number {
    const at = this.at;
    if (at + n > this.limit) throw new CodecError(`${what}: frame ends early`);
    this.at = at + n;
    return at;
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

  /** A string after its UTF-8 byte length as a u16 (what {@link Writer.u16String} writes). */
  u16String(what: string): string {
    const length = this.u16(what);
    const left = this.limit - this.at;
    if (length > left) throw new CodecError(`${what}: ${length} bytes, but ${left} are left`);
    const at = this.at;
    this.at = at + length;
    try {
      return decoder.decode(this.bytes.subarray(at, at + length));
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
