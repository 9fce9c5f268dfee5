/**
 * Jute's encoding, the one ZooKeeper's wire protocol uses: big-endian 32-bit ints and
 * 64-bit longs, booleans as one byte, buffers and strings with a 32-bit length (-1 for
 * null), vectors with a 32-bit count.
 */

const utf8 = new TextEncoder();

/** Writes jute fields into a growing buffer. */
export class JuteWriter {
  private bytes: Uint8Array;
  private view: DataView;
  private at = 0;

  constructor(capacity = 128) {
    this.bytes = new Uint8Array(capacity);
    this.view = new DataView(this.bytes.buffer);
  }

  private room(n: number): void {
    if (this.at + n <= this.bytes.byteLength) return;
    const bigger = new Uint8Array(Math.max(this.bytes.byteLength * 2, this.at + n));
    bigger.set(this.bytes.subarray(0, this.at));
    this.bytes = bigger;
    this.view = new DataView(bigger.buffer);
  }

  int(n: number): this {
    this.room(4);
    this.view.setInt32(this.at, n);
    this.at += 4;
    return this;
  }

  /** A long from a safe integer (ids, zxids and times all fit in 53 bits). */
  long(n: number): this {
    this.room(8);
    this.view.setBigInt64(this.at, BigInt(n));
    this.at += 8;
    return this;
  }

  bool(b: boolean): this {
    this.room(1);
    this.bytes[this.at++] = b ? 1 : 0;
    return this;
  }

  /** A buffer; undefined writes jute's null (-1). */
  buffer(data: Uint8Array | undefined): this {
    if (data === undefined) return this.int(-1);
    this.int(data.byteLength);
    this.room(data.byteLength);
    this.bytes.set(data, this.at);
    this.at += data.byteLength;
    return this;
  }

  /** A string; undefined writes jute's null (-1). */
  string(s: string | undefined): this {
    return this.buffer(s === undefined ? undefined : utf8.encode(s));
  }

  /** Raw bytes, no length. */
  raw(data: Uint8Array): this {
    this.room(data.byteLength);
    this.bytes.set(data, this.at);
    this.at += data.byteLength;
    return this;
  }

  /** The bytes written (a view of the buffer). */
  finish(): Uint8Array {
    return this.bytes.subarray(0, this.at);
  }
}
