/** Reads jute fields (see jute-writer.ts), throwing {@link CodecError} on anything it cannot read. */
import { CodecError } from '../../encoding/codec-error.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads jute fields from `bytes`, every length checked against what is left and `max`. */
export class JuteReader {
  private readonly view: DataView;
  private at = 0;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes not read yet. */
  get left(): number {
    return this.bytes.byteLength - this.at;
  }

  private need(n: number, what: string): void {
    if (this.left < n) throw new CodecError(`jute: ${what} needs ${n} bytes, ${this.left} left`);
  }

  int(what: string): number {
    this.need(4, what);
    const n = this.view.getInt32(this.at);
    this.at += 4;
    return n;
  }

  /** A long, refused unless it is a safe integer (ids, zxids and times are). */
  long(what: string): number {
    this.need(8, what);
    const n = this.view.getBigInt64(this.at);
    this.at += 8;
    if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) throw new CodecError(`jute: ${what} ${n} is beyond 2^53`);
    return Number(n);
  }

  /**
   * A long as the nearest number, however large: for ids only compared with ours (a
   * real ZooKeeper's session ids start at its server id << 56, beyond 2^53).
   */
  longLossy(what: string): number {
    this.need(8, what);
    const n = this.view.getBigInt64(this.at);
    this.at += 8;
    return Number(n);
  }

  bool(what: string): boolean {
    this.need(1, what);
    const b = this.bytes[this.at++]!;
    if (b > 1) throw new CodecError(`jute: ${what} is ${b}, not a boolean`);
    return b === 1;
  }

  /** A buffer of at most `max` bytes; jute's null (-1) reads as undefined. A view of the input. */
  bufferOrNull(what: string, max: number): Uint8Array | undefined {
    const n = this.int(`${what} length`);
    if (n === -1) return undefined;
    if (n < 0 || n > max) throw new CodecError(`jute: ${what} length ${n} (at most ${max})`);
    this.need(n, what);
    const data = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return data;
  }

  /** A buffer, null read as empty. */
  buffer(what: string, max: number): Uint8Array {
    return this.bufferOrNull(what, max) ?? new Uint8Array(0);
  }

  /** A UTF-8 string of at most `max` bytes; null refused. */
  string(what: string, max: number): string {
    const data = this.bufferOrNull(what, max);
    if (data === undefined) throw new CodecError(`jute: ${what} is null`);
    try {
      return utf8.decode(data);
    } catch {
      throw new CodecError(`jute: ${what} is not valid UTF-8`);
    }
  }

  /** A vector's count, each item at least `itemBytesMin` bytes (so a count cannot claim more than what is left); -1 (null) reads as 0. */
  count(what: string, itemBytesMin: number): number {
    const n = this.int(`${what} count`);
    if (n === -1) return 0;
    if (n < 0 || n * itemBytesMin > this.left) throw new CodecError(`jute: ${what} count ${n} with ${this.left} bytes left`);
    return n;
  }

  /** Throws unless every byte was read. */
  end(what: string): void {
    if (this.left !== 0) throw new CodecError(`jute: ${this.left} bytes left over after ${what}`);
  }
}
