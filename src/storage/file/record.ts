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
 *
 * A shared log (many groups in one log) has record types of its own: a group's batch,
 * a group's base state and a group's removal, whose payload starts with the group id
 * (a varint), followed by a batch payload as above (none for a removal).
 */
import { crc32 } from 'node:zlib';
import {
  type AcceptedEntry,
  type Ballot,
  type ChosenEntry,
  type DurableStateBuilder,
  type PersistBatch,
  type Value,
  decodeConfiguration,
  encodeConfiguration,
  noop,
} from '../../core/index.js';
import { InvariantError } from '../../core/errors.js';
import { getU32, setU32 } from '../../encoding/little-endian.js';
import { carve } from '../../encoding/slab.js';
import { Reader } from '../../encoding/reader.js';
import { Writer } from '../../encoding/writer.js';

/** Bytes of a record's frame before its payload: length, type, CRC. */
export const recordHeaderBytes = 9;

/** What a record holds. */
export const RecordType = Object.freeze({
  /** A {@link PersistBatch}, merged into the state replayed so far. */
  batch: 1,
  /** A whole durable state written by compaction: it replaces the state replayed so far. */
  base: 2,
  /** A shared log's {@link PersistBatch} of one group: the group id (varint), then a batch payload. */
  groupBatch: 3,
  /** A shared log's whole durable state of one group: the group id (varint), then a batch payload. */
  groupBase: 4,
  /** A shared log's removal of one group: the group id (varint) alone; it empties the group's state. */
  groupDrop: 5,
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

/**
 * One framed record, ready to append. Framing the payload {@link encodeBatch} returned
 * last writes the header into the room it left in front of the payload, so the common
 * `encodeRecord(type, encodeBatch(batch))` copies nothing and allocates nothing more.
 */
export function encodeRecord(type: RecordType, payload: Uint8Array): Uint8Array {
  if (payload.byteLength > 0xffffffff) throw new InvariantError(`record payload of ${payload.byteLength} bytes exceeds 4 GiB`);
  let out: Uint8Array;
  if (payload === lastPayload) {
    // Once only: a second frame of the same payload must not share (and rewrite) this one.
    out = lastFrame!;
    lastPayload = lastFrame = undefined;
  } else {
    out = carve(recordHeaderBytes + payload.byteLength);
    out.set(payload, recordHeaderBytes);
  }
  setU32(out, 0, payload.byteLength);
  out[4] = type;
  setU32(out, 5, frameChecksum(type, payload));
  return out;
}

/** The payload {@link encodeBatch} returned last and the frame around it, until {@link encodeRecord} frames it. */
let lastPayload: Uint8Array | undefined;
let lastFrame: Uint8Array | undefined;

/**
 * One framed record of a shared log, tagged with `group` (a varint in front of the
 * payload, inside the CRC): a {@link RecordType.groupBatch} or
 * {@link RecordType.groupBase} with a payload of {@link encodeBatch}, or a
 * {@link RecordType.groupDrop} with an empty one.
 */
export function encodeGroupRecord(type: RecordType, group: number, payload: Uint8Array): Uint8Array {
  if (type !== RecordType.groupBatch && type !== RecordType.groupBase && type !== RecordType.groupDrop) {
    throw new InvariantError(`record type ${type} carries no group`);
  }
  if (!Number.isSafeInteger(group) || group < 0) throw new InvariantError(`group id ${group} is not a non-negative integer`);
  if (type === RecordType.groupDrop && payload.byteLength > 0) throw new InvariantError('a group drop record has no payload');
  const tag = new Writer(8);
  tag.uint(group);
  const tagBytes = tag.finish();
  const tagged = carve(tagBytes.byteLength + payload.byteLength);
  tagged.set(tagBytes);
  tagged.set(payload, tagBytes.byteLength);
  return encodeRecord(type, tagged);
}

/**
 * The group a shared log's record payload is tagged with, and the payload after the tag.
 *
 * @throws {@link MalformedPayloadError} if the tag does not decode.
 */
export function splitGroupRecord(payload: Uint8Array): { readonly group: number; readonly payload: Uint8Array } {
  let group: number;
  let at: number;
  try {
    const reader = new Reader(payload);
    group = reader.uint('group id');
    at = reader.position;
  } catch (error) {
    throw new MalformedPayloadError(0, (error as Error).message);
  }
  return { group, payload: payload.subarray(at) };
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
  const length = getU32(bytes, offset);
  if (length > left - recordHeaderBytes) {
    return { kind: 'truncated', why: `record length ${length} exceeds the ${left - recordHeaderBytes} bytes left` };
  }
  const end = offset + recordHeaderBytes + length;
  const type = bytes[offset + 4]!;
  const stored = getU32(bytes, offset + 5);
  const payload = bytes.subarray(offset + recordHeaderBytes, end);
  const actual = frameChecksum(type, payload);
  if (stored !== actual) return { kind: 'bad-crc', end, why: `CRC mismatch: stored ${hex(stored)}, computed ${hex(actual)}` };
  return { kind: 'record', type, payload, end };
}

/** The CRC-32 of each possible type byte alone, to start a frame's checksum from. */
const typeChecksums = Array.from({ length: 256 }, (_, type) => crc32(Uint8Array.of(type)));

/** CRC-32 over the type byte, then the payload. */
function frameChecksum(type: number, payload: Uint8Array): number {
  return crc32(payload, typeChecksums[type]!);
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const flagPromised = 1;
const flagCommitIndex = 2;
const valueNoop = 0;
const valueBatch = 1;
const valueConfig = 2;
/** Smallest encodings, to bound counts against the bytes left before allocating. */
const ballotBytesMin = 8 + 2;
const valueBytesMin = 1;
const acceptedBytesMin = 8 + ballotBytesMin + valueBytesMin;
const chosenBytesMin = 8 + valueBytesMin;

/**
 * The payload of `batch`. Checks what decoding checks, so a record that would not
 * decode is never written. The payload's buffer keeps room for a frame header in front
 * of it, which {@link encodeRecord} fills when it frames this payload next.
 *
 * @throws {@link InvariantError} if a field is out of range (a driver bug).
 */
export function encodeBatch(batch: PersistBatch): Uint8Array {
  const w = scratch;
  // Room for the frame's header, so that encodeRecord can frame the payload in place.
  w.truncate(0);
  w.skip(recordHeaderBytes);
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
  // A copy in a piece of a slab: the scratch writer is reused for the next payload.
  const frame = w.copy();
  if (w.capacity > scratchBytesKept) scratch = new Writer(scratchBytesInitial);
  lastFrame = frame;
  lastPayload = frame.subarray(recordHeaderBytes);
  return lastPayload;
}

/**
 * The batch `payload` holds.
 *
 * @throws {@link MalformedPayloadError} if it does not decode, with the offset.
 */
export function decodeBatch(payload: Uint8Array): PersistBatch {
  const d = new BatchDecoder(payload);
  const { promised, commitIndex } = d.head();
  const accepted: AcceptedEntry[] = [];
  for (let i = d.count('accepted', acceptedBytesMin); i > 0; i--) accepted.push(d.accepted());
  const chosen: ChosenEntry[] = [];
  for (let i = d.count('chosen', chosenBytesMin); i > 0; i--) chosen.push(d.chosen());
  d.end();
  return {
    ...(promised !== undefined ? { promised } : {}),
    accepted,
    chosen,
    ...(commitIndex !== undefined ? { commitIndex } : {}),
  };
}

/**
 * Merges the batch `payload` holds into `state`: the effect of
 * `state.merge(decodeBatch(payload))`, without building the batch's lists (replay's hot
 * path: a log of a million entries decodes a million of them).
 *
 * @throws {@link MalformedPayloadError} if it does not decode, with the offset; `state`
 *   may then hold part of the batch, so the caller must discard it.
 */
export function mergeBatch(payload: Uint8Array, state: DurableStateBuilder): void {
  const d = new BatchDecoder(payload);
  const { promised, commitIndex } = d.head();
  for (let i = d.count('accepted', acceptedBytesMin); i > 0; i--) {
    const entry = d.accepted();
    state.accepted.set(entry.slot, entry);
  }
  for (let i = d.count('chosen', chosenBytesMin); i > 0; i--) {
    const entry = d.chosen();
    state.chosen.set(entry.slot, entry);
  }
  d.end();
  if (promised !== undefined) state.promised = promised;
  if (commitIndex !== undefined) state.commitIndex = commitIndex;
}

function writeBallot(w: Writer, ballot: Ballot): void {
  w.f64(checkInteger('ballot round', ballot.round, 0));
  if (typeof ballot.node !== 'string') throw new InvariantError('FileStorage: a ballot node id must be a string');
  // A node id: its UTF-8 byte length as a u16, then the bytes.
  const at = w.length;
  try {
    w.u16String(ballot.node);
  } catch {
    w.truncate(at);
    throw new InvariantError(`FileStorage: node id of more than 65535 bytes`);
  }
}

function writeValue(w: Writer, value: Value): void {
  if (value.kind === 'noop') {
    w.u8(valueNoop);
    return;
  }
  if (value.kind === 'config') {
    w.u8(valueConfig);
    const bytes = encodeConfiguration(value.config);
    w.u32(checkCount('configuration bytes', bytes.byteLength));
    w.raw(bytes);
    return;
  }
  if (value.kind !== 'batch') throw new InvariantError(`FileStorage: unknown value kind ${String((value as Value).kind)}`);
  w.u8(valueBatch);
  w.u32(checkCount('commands', value.commands.length));
  for (const command of value.commands) {
    if (!(command instanceof Uint8Array)) throw new InvariantError('FileStorage: a command must be a Uint8Array');
    w.u32(checkCount('command bytes', command.byteLength));
    w.raw(command);
  }
}

function checkInteger(field: string, n: number, min: number): number {
  if (!Number.isSafeInteger(n) || n < min) throw new InvariantError(`FileStorage: ${field} must be an integer >= ${min}, got ${n}`);
  return n;
}

function checkCount(field: string, n: number): number {
  if (n > 0xffffffff) throw new InvariantError(`FileStorage: ${field} count ${n} exceeds 2^32 - 1`);
  return n;
}

/** Bytes of the scratch writer payloads are encoded in, at first and after a large payload. */
const scratchBytesInitial = 4096;
/** A scratch writer grown past this (by a large payload) is dropped after use rather than kept. */
const scratchBytesKept = 1 << 20;

/**
 * The writer every payload is encoded in, reused from one payload to the next (encoding
 * is synchronous): a payload costs its copy into a piece of a slab, and no buffer of its
 * own.
 */
let scratch = new Writer(scratchBytesInitial);

/**
 * Reads one batch payload, checking every length against the bytes that remain.
 *
 * What it decodes shares what it can, since a replay may decode millions of entries:
 * an entry's ballot equal to the one before it in the payload is the same object (and
 * its node id is decoded once), a no-op is the shared {@link noop}, and commands are
 * views into one copy of the payload (made at the first command), so no entry keeps the
 * file's buffer alive and no command costs an allocation of its own bytes.
 */
class BatchDecoder {
  private offset = 0;
  private readonly end_: number;
  private readonly view: DataView;
  /** The payload's copy that commands view, made at the first command. */
  private commands: Uint8Array | undefined;
  /** The last ballot decoded, and where its node id's bytes are. */
  private lastBallot: Ballot | undefined;
  private lastNodeAt = 0;
  private lastNodeLength = 0;

  constructor(private readonly bytes: Uint8Array) {
    this.end_ = bytes.byteLength;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Flags, then the promised ballot and the commit index they announce. */
  head(): { promised: Ballot | undefined; commitIndex: number | undefined } {
    const flags = this.u8();
    if ((flags & ~(flagPromised | flagCommitIndex)) !== 0) this.fail(0, `unknown flags 0x${flags.toString(16)}`);
    const promised = (flags & flagPromised) !== 0 ? this.ballot() : undefined;
    const commitIndex = (flags & flagCommitIndex) !== 0 ? this.integer('commitIndex', 0) : undefined;
    return { promised, commitIndex };
  }

  accepted(): AcceptedEntry {
    const slot = this.integer('accepted slot', 1);
    const ballot = this.ballot();
    return { slot, ballot, value: this.value() };
  }

  chosen(): ChosenEntry {
    const slot = this.integer('chosen slot', 1);
    return { slot, value: this.value() };
  }

  /** Checks that the payload ends here. */
  end(): void {
    if (this.offset !== this.end_) this.fail(this.offset, `${this.end_ - this.offset} bytes after the batch`);
  }

  /** A u32 count of items of at least `itemBytesMin` bytes each, checked against the bytes left. */
  count(field: string, itemBytesMin: number): number {
    const at = this.offset;
    const n = this.u32();
    const left = this.end_ - this.offset;
    if (n * itemBytesMin > left) this.fail(at, `${field} count ${n} needs at least ${n * itemBytesMin} bytes, ${left} left`);
    return n;
  }

  private ballot(): Ballot {
    const round = this.integer('ballot round', 0);
    const length = this.u16();
    this.need(length, 'a node id');
    const at = this.offset;
    this.offset += length;
    const last = this.lastBallot;
    if (last !== undefined && last.round === round && this.sameNode(at, length)) return last;
    let node: string;
    try {
      node = utf8.decode(this.bytes.subarray(at, at + length));
    } catch {
      return this.fail(at, 'a node id is not valid UTF-8');
    }
    this.lastNodeAt = at;
    this.lastNodeLength = length;
    this.lastBallot = { round, node };
    return this.lastBallot;
  }

  /** Whether the `length` bytes at `at` are those of the last ballot's node id. */
  private sameNode(at: number, length: number): boolean {
    if (length !== this.lastNodeLength) return false;
    const { bytes } = this;
    for (let i = 0, j = this.lastNodeAt; i < length; i++, j++) if (bytes[at + i] !== bytes[j]) return false;
    return true;
  }

  private value(): Value {
    const at = this.offset;
    const kind = this.u8();
    if (kind === valueNoop) return noop;
    if (kind === valueConfig) return this.configuration(this.count('configuration bytes', 1));
    if (kind !== valueBatch) return this.fail(at, `unknown value kind ${kind}`);
    const count = this.count('commands', 4);
    // Sized up front: an array grown by push keeps spare capacity for as long as the entry lives.
    const commands = new Array<Uint8Array>(count);
    for (let i = 0; i < count; i++) commands[i] = this.command(this.count('command bytes', 1));
    return { kind: 'batch', commands };
  }

  private configuration(length: number): Value {
    const at = this.offset;
    this.need(length, 'a configuration');
    const bytes = this.bytes.slice(this.offset, this.offset + length);
    this.offset += length;
    try {
      return { kind: 'config', config: decodeConfiguration(bytes) };
    } catch (e) {
      return this.fail(at, `bad configuration: ${(e as Error).message}`);
    }
  }

  /** `length` bytes, as a view into the payload's copy. */
  private command(length: number): Uint8Array {
    this.need(length, 'a command');
    this.commands ??= this.bytes.slice();
    const out = new Uint8Array(this.commands.buffer, this.commands.byteOffset + this.offset, length);
    this.offset += length;
    return out;
  }

  private fail(at: number, why: string): never {
    throw new MalformedPayloadError(at, why);
  }

  private need(n: number, what: string): void {
    const left = this.end_ - this.offset;
    if (n > left) this.fail(this.offset, `${what} needs ${n} bytes, ${left} left`);
  }

  private u8(): number {
    this.need(1, 'a u8');
    return this.view.getUint8(this.offset++);
  }

  private u16(): number {
    this.need(2, 'a u16');
    const n = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return n;
  }

  private u32(): number {
    this.need(4, 'a u32');
    const n = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return n;
  }

  private integer(field: string, min: number): number {
    this.need(8, field);
    const at = this.offset;
    const n = this.view.getFloat64(at, true);
    this.offset += 8;
    if (!Number.isSafeInteger(n) || n < min) this.fail(at, `${field} ${n} is not an integer >= ${min}`);
    // As a small integer where it fits: a float64 would be boxed (an allocation, kept alive
    // by every entry and map key that holds it).
    return n <= smallIntegerMax ? n | 0 : n;
  }
}

/** The largest integer V8 keeps unboxed everywhere (a 31-bit Smi). */
const smallIntegerMax = 2 ** 30 - 1;
