/**
 * The binary encoding of every message nodes exchange (the core's and the runtime's).
 * A frame is a 4-byte header (magic "SY", protocol version, message type), then the
 * sender and addressee ids, then the message's fields in a fixed order. A group's
 * message (a `GroupMessage`, many groups over one transport) is its inner message's
 * frame with the type's high bit set and the group id, a varint, after the ids. Decoding is
 * pure and hostile-input safe: every length is checked against what is left and
 * against {@link CodecLimits} before anything is allocated, and the only error thrown
 * is {@link CodecError}. Byte strings (commands, snapshot chunks) are views into the
 * frame: no copies; the values of an accept or a chosen are checked when the frame is
 * decoded and cut into views when first read (see `frame-values.ts`). The frame must
 * not change while a message decoded from it lives.
 */
import type { AcceptedEntry, Ballot, ChosenEntry, Value } from '../../core/index.js';
import { encodeConfiguration, noop } from '../../core/index.js';
import {
  type GroupHeartbeat,
  type GroupMemberMessage,
  type HostHeartbeatsMessage,
  type HostPingMessage,
  type NodeMessage,
  groupIdMax,
  isGroupId,
} from '../../runtime/index.js';
import { CodecError } from '../../encoding/codec-error.js';
import { configMark, configValueOf, readAccept, readChosen } from './frame-values.js';
import { Reader } from '../../encoding/reader.js';
import { Writer } from '../../encoding/writer.js';

/** Bounds a decoder enforces. */
export interface CodecLimits {
  /** The largest frame taken. Default 16 MiB. */
  readonly frameBytesMax: number;
  /** The longest node or client id, in UTF-8 bytes. Default 255. */
  readonly idBytesMax: number;
}

/** The default {@link CodecLimits}. */
export const defaultCodecLimits: CodecLimits = Object.freeze({ frameBytesMax: 16 * 1024 * 1024, idBytesMax: 255 });

/**
 * The protocol version this build speaks. 3: a snapshot chunk carries the CRC-32 of the
 * snapshot up to its end.
 */
export const protocolVersion = 3;
const magic0 = 0x53; // 'S'
const magic1 = 0x59; // 'Y'

/** Message type numbers on the wire. Never reuse a number. */
const types = [
  'precheck',
  'precheckReply',
  'prepare',
  'promise',
  'accept',
  'accepted',
  'reject',
  'heartbeat',
  'heartbeatReply',
  'catchUp',
  'chosen',
  'timeoutNow',
  'commit',
  'probe',
  'probeReply',
  'forward',
  'forwardRefused',
  'readRequest',
  'readReply',
  'snapshotChunk',
  'snapshotAck',
  // Added after the others, so no earlier number moved.
  'quiesce',
  'wake',
  'hostPing',
  'hostHeartbeats',
] as const satisfies readonly Exclude<NodeMessage['type'], 'group'>[];
const typeNumbers = new Map<string, number>(types.map((t, i) => [t, i + 1]));
/** Set in the type byte of a group's message: the group id follows the ids. */
const groupFlag = 0x80;

/**
 * Encodes `message` into one frame.
 * @throws {@link CodecError} if a field cannot be encoded (not an unsigned safe integer).
 */
export function encodeMessage(message: NodeMessage): Uint8Array {
  const w = new Writer();
  writeMessage(w, message);
  return w.finish();
}

/**
 * Appends the frame of `message` to `w`, so a transport can lay many frames into one
 * buffer. On a throw, `w` holds part of a frame: truncate it back. @internal
 */
export function writeMessage(w: Writer, message: NodeMessage): void {
  writeMessageHead(w, message);
  const inner = message.type === 'group' ? message.message : message;
  if (inner.type === 'snapshotChunk') w.raw(inner.data);
}

/**
 * Appends the frame of `message` to `w` but for a snapshot chunk's data, whose bytes
 * (after their length, which is written) belong right after: a transport writes them
 * from the sender's buffer rather than copy a large chunk into the frame. @internal
 */
export function writeMessageHead(w: Writer, message: NodeMessage): void {
  const m = message.type === 'group' ? message.message : message;
  const type = typeNumbers.get(m.type);
  if (type === undefined) throw new CodecError(`unknown message type ${String(m.type)}`);
  if (message.type === 'group') {
    if (!isGroupId(message.group)) throw new CodecError(`group id ${String(message.group)} is not an integer from 0 to ${groupIdMax}`);
    if (m.from !== message.from || m.to !== message.to) {
      throw new CodecError(`a group's message from ${message.from} to ${message.to} wraps one from ${m.from} to ${m.to}`);
    }
  }
  // The header's 4 bytes in one go: magic, version, type (with the group flag).
  const typeByte = message.type === 'group' ? type | groupFlag : type;
  w.setU32(w.reserveU32(), magic0 | (magic1 << 8) | (protocolVersion << 16) | (typeByte << 24));
  w.string(m.from);
  w.string(m.to);
  if (message.type === 'group') w.uint(message.group);
  switch (m.type) {
    case 'precheck':
      w.uint(m.commitIndex);
      break;
    case 'precheckReply':
      w.bool(m.granted);
      ballot(w, m.promised);
      break;
    case 'prepare':
      ballot(w, m.ballot);
      w.uint(m.firstSlot);
      break;
    case 'promise':
      ballot(w, m.ballot);
      acceptedList(w, m.accepted);
      w.uint(m.chosen.length);
      for (const e of m.chosen) {
        w.uint(e.slot);
        value(w, e.value);
      }
      break;
    case 'accept':
      ballot(w, m.ballot);
      w.uint(m.firstSlot);
      w.uint(m.commitIndex);
      values(w, m.values);
      break;
    case 'accepted':
      ballot(w, m.ballot);
      w.uint(m.firstSlot);
      w.uint(m.count);
      break;
    case 'reject':
      ballot(w, m.ballot);
      ballot(w, m.promised);
      break;
    case 'heartbeat':
    case 'heartbeatReply':
      ballot(w, m.ballot);
      w.uint(m.commitIndex);
      w.uint(m.seq);
      break;
    case 'catchUp':
      w.uint(m.firstSlot);
      w.uint(m.lastSlot);
      break;
    case 'chosen':
      w.uint(m.firstSlot);
      w.uint(m.commitIndex);
      values(w, m.values);
      break;
    case 'timeoutNow':
    case 'wake':
      ballot(w, m.ballot);
      break;
    case 'commit':
    case 'quiesce':
      ballot(w, m.ballot);
      w.uint(m.commitIndex);
      break;
    case 'probe':
      ballot(w, m.fence);
      break;
    case 'probeReply':
      ballot(w, m.fence);
      ballot(w, m.promised);
      w.uint(m.commitIndex);
      acceptedList(w, m.accepted);
      break;
    case 'forward':
      w.byteStrings(m.commands);
      break;
    case 'forwardRefused':
      w.uint(m.requests.length);
      for (const [clientId, seq] of m.requests) {
        w.string(clientId);
        w.uint(seq);
      }
      w.bool(m.reason === 'overloaded');
      optionalString(w, m.leaderHint);
      break;
    case 'readRequest':
      w.uint(m.id);
      break;
    case 'readReply':
      w.uint(m.id);
      w.bool(m.index !== undefined);
      if (m.index !== undefined) w.uint(m.index);
      optionalString(w, m.leaderHint);
      break;
    case 'snapshotChunk':
      w.uint(m.transfer);
      w.uint(m.slot);
      w.uint(m.total);
      w.uint(m.offset);
      w.uint(m.crc);
      w.uint(m.data.byteLength); // the bytes follow: see writeMessage
      break;
    case 'snapshotAck':
      w.uint(m.transfer);
      w.uint(m.received);
      w.u8(m.status === 'more' ? 0 : m.status === 'done' ? 1 : 2);
      break;
    case 'hostPing':
      break;
    case 'hostHeartbeats':
      w.uint(m.beats.length);
      for (const b of m.beats) {
        if (!isGroupId(b.group)) throw new CodecError(`group id ${String(b.group)} is not an integer from 0 to ${groupIdMax}`);
        w.uint(b.group);
        w.bool(b.reply);
        w.uint(b.round);
        w.uint(b.commitIndex);
        w.uint(b.seq);
      }
      break;
  }
}

/**
 * Decodes one frame (all of `frame`).
 * @throws {@link CodecError} for anything malformed, and only that.
 */
export function decodeMessage(frame: Uint8Array, limits: CodecLimits = defaultCodecLimits): NodeMessage {
  return decodeMessageIn(frame, 0, frame.byteLength, limits);
}

/**
 * Decodes the frame lying in `bytes` from `start` to `end`, as {@link decodeMessage}
 * does, without a view of it: a transport reads frames in place in what the socket gave.
 * @throws {@link CodecError} for anything malformed, and only that. @internal
 */
export function decodeMessageIn(bytes: Uint8Array, start: number, end: number, limits: CodecLimits): NodeMessage {
  const frameBytes = end - start;
  if (frameBytes > limits.frameBytesMax) throw new CodecError(`${frameBytes} bytes, more than the frame limit ${limits.frameBytesMax}`);
  const r = new Reader(bytes, start, end);
  if (r.u8('magic') !== magic0 || r.u8('magic') !== magic1) throw new CodecError('bad magic: not a synod frame');
  const version = r.u8('version');
  if (version !== protocolVersion) throw new CodecError(`protocol version ${version}; this build speaks ${protocolVersion}`);
  const typeByte = r.u8('type');
  const type = types[(typeByte & ~groupFlag) - 1];
  if (type === undefined) throw new CodecError('unknown message type');
  const from = r.string('from', limits.idBytesMax);
  const to = r.string('to', limits.idBytesMax);
  let group: number | undefined;
  if ((typeByte & groupFlag) !== 0) {
    group = r.uint('group');
    if (group > groupIdMax) throw new CodecError(`group id ${group} is more than ${groupIdMax}`);
  }
  const id = limits.idBytesMax;
  let m: GroupMemberMessage | HostPingMessage | HostHeartbeatsMessage;
  switch (type) {
    case 'precheck':
      m = { type, from, to, commitIndex: r.uint('commitIndex') };
      break;
    case 'precheckReply':
      m = { type, from, to, granted: r.bool('granted'), promised: readBallot(r, id) };
      break;
    case 'prepare':
      m = { type, from, to, ballot: readBallot(r, id), firstSlot: r.uint('firstSlot') };
      break;
    case 'promise': {
      const b = readBallot(r, id);
      const accepted = readAcceptedList(r, id);
      const chosen: ChosenEntry[] = [];
      for (let i = r.count('chosen', 2); i > 0; i--) chosen.push({ slot: r.uint('slot'), value: readValue(r) });
      m = { type, from, to, ballot: b, accepted, chosen };
      break;
    }
    case 'accept':
      m = readAccept(r, bytes, from, to, readBallot(r, id));
      break;
    case 'accepted':
      m = { type, from, to, ballot: readBallot(r, id), firstSlot: r.uint('firstSlot'), count: r.uint('count') };
      break;
    case 'reject':
      m = { type, from, to, ballot: readBallot(r, id), promised: readBallot(r, id) };
      break;
    case 'heartbeat':
    case 'heartbeatReply':
      m = { type, from, to, ballot: readBallot(r, id), commitIndex: r.uint('commitIndex'), seq: r.uint('seq') };
      break;
    case 'catchUp':
      m = { type, from, to, firstSlot: r.uint('firstSlot'), lastSlot: r.uint('lastSlot') };
      break;
    case 'chosen':
      m = readChosen(r, bytes, from, to);
      break;
    case 'timeoutNow':
    case 'wake':
      m = { type, from, to, ballot: readBallot(r, id) };
      break;
    case 'commit':
    case 'quiesce':
      m = { type, from, to, ballot: readBallot(r, id), commitIndex: r.uint('commitIndex') };
      break;
    case 'probe':
      m = { type, from, to, fence: readBallot(r, id) };
      break;
    case 'probeReply': {
      const fence = readBallot(r, id);
      const promised = readBallot(r, id);
      const commitIndex = r.uint('commitIndex');
      m = { type, from, to, fence, promised, commitIndex, accepted: readAcceptedList(r, id) };
      break;
    }
    case 'forward': {
      const commands: Uint8Array[] = [];
      for (let i = r.count('commands', 1); i > 0; i--) commands.push(r.bytesOf('command', limits.frameBytesMax));
      m = { type, from, to, commands };
      break;
    }
    case 'forwardRefused': {
      const requests: [string, number][] = [];
      for (let i = r.count('requests', 2); i > 0; i--) requests.push([r.string('clientId', id), r.uint('seq')]);
      const reason = r.bool('reason') ? 'overloaded' : 'not-leader';
      m = { type, from, to, requests, reason, leaderHint: readOptionalString(r, id) };
      break;
    }
    case 'readRequest':
      m = { type, from, to, id: r.uint('id') };
      break;
    case 'readReply': {
      const readId = r.uint('id');
      const index = r.bool('has index') ? r.uint('index') : undefined;
      m = { type, from, to, id: readId, index, leaderHint: readOptionalString(r, id) };
      break;
    }
    case 'snapshotChunk': {
      const transfer = r.uint('transfer');
      const slot = r.uint('slot');
      const total = r.uint('total');
      const offset = r.uint('offset');
      const crc = r.uint('crc');
      if (crc > 0xffffffff) throw new CodecError(`snapshot chunk crc ${crc} is wider than 32 bits`);
      m = { type, from, to, transfer, slot, total, offset, crc, data: r.bytesOf('data', limits.frameBytesMax) };
      break;
    }
    case 'snapshotAck': {
      const transfer = r.uint('transfer');
      const received = r.uint('received');
      const status = r.u8('status');
      if (status > 2) throw new CodecError(`snapshot ack status ${status}`);
      m = { type, from, to, transfer, received, status: status === 0 ? 'more' : status === 1 ? 'done' : 'failed' };
      break;
    }
    case 'hostPing':
      m = { type, from, to };
      break;
    case 'hostHeartbeats':
      m = { type, from, to, beats: readHeartbeats(r) };
      break;
  }
  r.end();
  if (group === undefined) return m;
  if (m.type === 'hostPing' || m.type === 'hostHeartbeats') throw new CodecError(`a host's ${m.type} tagged with a group`);
  return { type: 'group', from, to, group, message: m };
}

/** A host's heartbeats: a count, then per group its id, whether a reply, the round, the commit index and the seq (5 bytes at least each). */
function readHeartbeats(r: Reader): GroupHeartbeat[] {
  const n = r.uint('heartbeats');
  if (n * 5 > r.left) throw new CodecError(`heartbeats: ${n} is more than the ${r.left} bytes left hold`);
  const beats = new Array<GroupHeartbeat>(n);
  for (let i = 0; i < n; i++) {
    const group = r.uint('group');
    if (group > groupIdMax) throw new CodecError(`group id ${group} is more than ${groupIdMax}`);
    beats[i] = { group, reply: r.bool('reply'), round: r.uint('ballot round'), commitIndex: r.uint('commitIndex'), seq: r.uint('seq') };
  }
  return beats;
}

function ballot(w: Writer, b: Ballot): void {
  w.uint(b.round);
  w.string(b.node);
}

function readBallot(r: Reader, idBytesMax: number): Ballot {
  return { round: r.uint('ballot round'), node: r.string('ballot node', idBytesMax) };
}

function value(w: Writer, v: Value): void {
  if (v.kind === 'noop') {
    w.uint(0);
    return;
  }
  if (v.kind === 'config') {
    // Commands never number 2^32: that count marks a configuration.
    w.uint(configMark);
    w.bytesOf(encodeConfiguration(v.config));
    return;
  }
  w.byteStrings(v.commands);
}

/** A value: a command count (0 for a no-op, 2^32 for a configuration), then each command or the configuration's bytes. */
function readValue(r: Reader): Value {
  const n = r.uint('value commands');
  if (n === 0) return noop;
  if (n === configMark) return configValueOf(r.bytesOf('configuration', r.left));
  if (n > r.left) throw new CodecError(`value commands: ${n} is more than the ${r.left} bytes left`);
  const commands: Uint8Array[] = new Array<Uint8Array>(n);
  for (let i = 0; i < n; i++) commands[i] = r.bytesOf('command', r.left);
  return { kind: 'batch', commands };
}

function values(w: Writer, list: readonly Value[]): void {
  w.uint(list.length);
  for (const v of list) value(w, v);
}

function acceptedList(w: Writer, list: readonly AcceptedEntry[]): void {
  w.uint(list.length);
  for (const e of list) {
    w.uint(e.slot);
    ballot(w, e.ballot);
    value(w, e.value);
  }
}

function readAcceptedList(r: Reader, idBytesMax: number): AcceptedEntry[] {
  const out: AcceptedEntry[] = [];
  for (let i = r.count('accepted', 4); i > 0; i--) out.push({ slot: r.uint('slot'), ballot: readBallot(r, idBytesMax), value: readValue(r) });
  return out;
}

function optionalString(w: Writer, s: string | undefined): void {
  w.bool(s !== undefined);
  if (s !== undefined) w.string(s);
}

function readOptionalString(r: Reader, max: number): string | undefined {
  return r.bool('has hint') ? r.string('hint', max) : undefined;
}
