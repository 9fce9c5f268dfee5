/**
 * The records of the write-ahead log: framing and the binary form of a
 * {@link PersistBatch}.
 *
 * Frame: `[length u32][type u8][crc32 u32][payload]`, little-endian, where `length` is
 * the payload's byte length and the CRC-32 covers the type byte and the payload.
 *
 * Payload of a batch (and of a base record, which holds a whole durable state):
 * ```
 * flags u8             bit 0: promised present, bit 1: commitIndex present
 * [promised ballot]    round f64, node: u16 byte length + UTF-8
 * [commitIndex f64]
 * accepted count u32, then per entry: slot f64, ballot, value
 * chosen count u32,   then per entry: slot f64, value
 * value: kind u8 (0 no-op, 1 batch); a batch: count u32, then per command u32 length + bytes
 * ```
 * Every length is checked against the bytes that remain before anything is allocated.
 */
import { crc32 } from 'node:zlib';
import type { AcceptedEntry, Ballot, ChosenEntry, PersistBatch, Value } from '../../core/index.js';
import { InvariantError } from '../../core/errors.js';

/** Bytes of a record's frame before its payload: length, type, CRC. */
export const recordHeaderBytes = 9;

/** What a record holds. */
export const RecordType = Object.freeze({
  /** A {@link PersistBatch}, merged into the state replayed so far. */
  batch: 1,
  /** A whole durable state written by compaction: it replaces the state replayed so far. */
  base: 2,
});
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

/** A payload that does not decode. `offset` is relative to the payload's start. @internal */
export class MalformedPayloadError extends Error {
  constructor(
    readonly offset: number,
    why: string,
  ) {
    super(why);
  }
}

/** One framed record, ready to append. */
export function encodeRecord(type: RecordType, payload: Uint8Array): Uint8Array {
  if (payload.byteLength > 0xffffffff) throw new InvariantError(`record payload of ${payload.byteLength} bytes exceeds 4 GiB`);
  const out = new Uint8Array(recordHeaderBytes + payload.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.byteLength, true);
  out[4] = type;
  out.set(payload, recordHeaderBytes);
  view.setUint32(5, frameChecksum(type, payload), true);
  return out;
}

/** What {@link readRecord} found at an offset. */
export type ReadResult =
  | { readonly kind: 'record'; readonly type: number; readonly payload: Uint8Array; readonly end: number }
  /** The frame claims more bytes than `bytes` holds from `offset` on. */
  | { readonly kind: 'truncated'; readonly why: string }
  /** A complete frame whose CRC does not match; `end` is where it would end. */
  | { readonly kind: 'bad-crc'; readonly end: number; readonly why: string };

/** Reads the record framed at `offset` in `bytes` (whose end is the end of the file). */
export function readRecord(bytes: Uint8Array, offset: number): ReadResult {
  const left = bytes.byteLength - offset;
  if (left < recordHeaderBytes) return { kind: 'truncated', why: `${left} bytes left, a record header needs ${recordHeaderBytes}` };
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, left);
  const length = view.getUint32(0, true);
  if (length > left - recordHeaderBytes) {
    return { kind: 'truncated', why: `record length ${length} exceeds the ${left - recordHeaderBytes} bytes left` };
  }
  const end = offset + recordHeaderBytes + length;
  const stored = view.getUint32(5, true);
  const actual = frameChecksum(bytes[offset + 4]!, bytes.subarray(offset + recordHeaderBytes, end));
  if (stored !== actual) return { kind: 'bad-crc', end, why: `CRC mismatch: stored ${hex(stored)}, computed ${hex(actual)}` };
  return { kind: 'record', type: bytes[offset + 4]!, payload: bytes.subarray(offset + recordHeaderBytes, end), end };
}

/** CRC-32 over the type byte, then the payload. */
function frameChecksum(type: number, payload: Uint8Array): number {
  return crc32(payload, crc32(new Uint8Array([type])));
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const flagPromised = 1;
const flagCommitIndex = 2;
const valueNoop = 0;
const valueBatch = 1;
/** Smallest encodings, to bound counts against the bytes left before allocating. */
const ballotBytesMin = 8 + 2;
const valueBytesMin = 1;
const acceptedBytesMin = 8 + ballotBytesMin + valueBytesMin;
const chosenBytesMin = 8 + valueBytesMin;

/**
 * The payload of `batch`. Checks what decoding checks, so a record that would not
 * decode is never written.
 *
 * @throws {@link InvariantError} if a field is out of range (a driver bug).
 */
export function encodeBatch(batch: PersistBatch): Uint8Array {
  const w = new ByteWriter();
  let flags = 0;
  if (batch.promised !== undefined) flags |= flagPromised;
  if (batch.commitIndex !== undefined) flags |= flagCommitIndex;
  w.u8(flags);
  if (batch.promised !== undefined) writeBallot(w, batch.promised);
  if (batch.commitIndex !== undefined) w.f64(checkInteger('commitIndex', batch.commitIndex, 0));
  w.u32(checkCount('accepted', batch.accepted.length));
  for (const entry of batch.accepted) {
    w.f64(checkInteger('accepted slot', entry.slot, 1));
    writeBallot(w, entry.ballot);
    writeValue(w, entry.value);
  }
  w.u32(checkCount('chosen', batch.chosen.length));
  for (const entry of batch.chosen) {
    w.f64(checkInteger('chosen slot', entry.slot, 1));
    writeValue(w, entry.value);
  }
  return w.finish();
}

/**
 * The batch `payload` holds.
 *
 * @throws {@link MalformedPayloadError} if it does not decode, with the offset.
 */
export function decodeBatch(payload: Uint8Array): PersistBatch {
  const r = new ByteReader(payload);
  const flags = r.u8();
  if ((flags & ~(flagPromised | flagCommitIndex)) !== 0) r.fail(0, `unknown flags 0x${flags.toString(16)}`);
  const promised = (flags & flagPromised) !== 0 ? readBallot(r) : undefined;
  const commitIndex = (flags & flagCommitIndex) !== 0 ? r.integer('commitIndex', 0) : undefined;
  const acceptedCount = r.count('accepted', acceptedBytesMin);
  const accepted: AcceptedEntry[] = [];
  for (let i = 0; i < acceptedCount; i++) {
    const slot = r.integer('accepted slot', 1);
    const ballot = readBallot(r);
    accepted.push({ slot, ballot, value: readValue(r) });
  }
  const chosenCount = r.count('chosen', chosenBytesMin);
  const chosen: ChosenEntry[] = [];
  for (let i = 0; i < chosenCount; i++) {
    const slot = r.integer('chosen slot', 1);
    chosen.push({ slot, value: readValue(r) });
  }
  if (r.left() !== 0) r.fail(r.offset, `${r.left()} bytes after the batch`);
  return {
    ...(promised !== undefined ? { promised } : {}),
    accepted,
    chosen,
    ...(commitIndex !== undefined ? { commitIndex } : {}),
  };
}

function writeBallot(w: ByteWriter, ballot: Ballot): void {
  w.f64(checkInteger('ballot round', ballot.round, 0));
  if (typeof ballot.node !== 'string') throw new InvariantError('FileStorage: a ballot node id must be a string');
  const node = Buffer.from(ballot.node, 'utf8');
  if (node.byteLength > 0xffff) throw new InvariantError(`FileStorage: node id of ${node.byteLength} bytes exceeds 65535`);
  w.u16(node.byteLength);
  w.bytes(node);
}

function readBallot(r: ByteReader): Ballot {
  const round = r.integer('ballot round', 0);
  const length = r.u16();
  return { round, node: r.utf8(length) };
}

function writeValue(w: ByteWriter, value: Value): void {
  if (value.kind === 'noop') {
    w.u8(valueNoop);
    return;
  }
  if (value.kind !== 'batch') throw new InvariantError(`FileStorage: unknown value kind ${String((value as Value).kind)}`);
  w.u8(valueBatch);
  w.u32(checkCount('commands', value.commands.length));
  for (const command of value.commands) {
    if (!(command instanceof Uint8Array)) throw new InvariantError('FileStorage: a command must be a Uint8Array');
    w.u32(checkCount('command bytes', command.byteLength));
    w.bytes(command);
  }
}

function readValue(r: ByteReader): Value {
  const at = r.offset;
  const kind = r.u8();
  if (kind === valueNoop) return { kind: 'noop' };
  if (kind !== valueBatch) return r.fail(at, `unknown value kind ${kind}`);
  const count = r.count('commands', 4);
  const commands: Uint8Array[] = [];
  for (let i = 0; i < count; i++) commands.push(r.copy(r.count('command bytes', 1)));
  return { kind: 'batch', commands };
}

function checkInteger(field: string, n: number, min: number): number {
  if (!Number.isSafeInteger(n) || n < min) throw new InvariantError(`FileStorage: ${field} must be an integer >= ${min}, got ${n}`);
  return n;
}

function checkCount(field: string, n: number): number {
  if (n > 0xffffffff) throw new InvariantError(`FileStorage: ${field} count ${n} exceeds 2^32 - 1`);
  return n;
}

/** An append-only buffer that grows by doubling. */
class ByteWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private length = 0;

  u8(n: number): void {
    this.reserve(1);
    this.view.setUint8(this.length, n);
    this.length += 1;
  }
  u16(n: number): void {
    this.reserve(2);
    this.view.setUint16(this.length, n, true);
    this.length += 2;
  }
  u32(n: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, n, true);
    this.length += 4;
  }
  f64(n: number): void {
    this.reserve(8);
    this.view.setFloat64(this.length, n, true);
    this.length += 8;
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.byteLength);
    this.buf.set(b, this.length);
    this.length += b.byteLength;
  }
  finish(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
  private reserve(n: number): void {
    if (this.length + n <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}

/** Reads a payload, checking every length against the bytes that remain. */
class ByteReader {
  offset = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  left(): number {
    return this.bytes.byteLength - this.offset;
  }
  fail(at: number, why: string): never {
    throw new MalformedPayloadError(at, why);
  }
  private need(n: number, what: string): void {
    if (n > this.left()) this.fail(this.offset, `${what} needs ${n} bytes, ${this.left()} left`);
  }
  u8(): number {
    this.need(1, 'a u8');
    return this.view.getUint8(this.offset++);
  }
  u16(): number {
    this.need(2, 'a u16');
    const n = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return n;
  }
  u32(): number {
    this.need(4, 'a u32');
    const n = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return n;
  }
  integer(field: string, min: number): number {
    this.need(8, field);
    const at = this.offset;
    const n = this.view.getFloat64(at, true);
    this.offset += 8;
    if (!Number.isSafeInteger(n) || n < min) this.fail(at, `${field} ${n} is not an integer >= ${min}`);
    return n;
  }
  /** A u32 count of items of at least `itemBytesMin` bytes each, checked against the bytes left. */
  count(field: string, itemBytesMin: number): number {
    const at = this.offset;
    const n = this.u32();
    if (n * itemBytesMin > this.left()) this.fail(at, `${field} count ${n} needs at least ${n * itemBytesMin} bytes, ${this.left()} left`);
    return n;
  }
  utf8(length: number): string {
    this.need(length, 'a node id');
    const at = this.offset;
    this.offset += length;
    try {
      return utf8.decode(this.bytes.subarray(at, at + length));
    } catch {
      return this.fail(at, 'a node id is not valid UTF-8');
    }
  }
  /** `length` bytes, copied so that the record's file buffer can be freed. */
  copy(length: number): Uint8Array {
    this.need(length, 'a command');
    const out = new Uint8Array(length);
    out.set(this.bytes.subarray(this.offset, this.offset + length));
    this.offset += length;
    return out;
  }
}
