/**
 * The binary encoding of the client protocol's frames (see `client-frames.ts`): a
 * version byte, a kind byte, the request id, then the kind's fields. Commands and
 * results reuse the log's encoding. Decoding checks every field and length and fails
 * only with `CodecError`.
 */
import { CodecError } from '../../encoding/codec-error.js';
import { Reader } from '../../encoding/reader.js';
import { Writer } from '../../encoding/writer.js';
import {
  checkRangeCounts,
  readCommandWithBytes,
  readCount,
  readFlags,
  readKey,
  readKeyValue,
  readRange,
  readResult,
  readString,
  writeCommand,
  writeCount,
  writeKey,
  writeKeyValue,
  writeRange,
  writeResult,
  writeString,
  writeUint,
} from '../kv-codec.js';
import { kvLimits } from '../kv-limits.js';
import type { KeyValue, SessionListing, WatchEvent } from '../kv-types.js';
import { decodeConfiguration, encodeConfiguration } from '../../core/index.js';
import type { ClientRequest, ErrorBody, MemberAction, RangeRevision, ServerFrame, ServerStatus } from './client-frames.js';
import type { RangeStatus } from '../shard/sharded-kv.js';

/** The client protocol's version; a peer speaking another is refused at the handshake. */
export const clientProtocolVersion = 1;
/**
 * The largest frame a client takes from a server once connected, in bytes. A server
 * never sends a larger one: a range answers less (`more`), watch events go in several
 * frames, and a transaction whose answer is larger gets `AnswerTooLargeError`.
 */
export const answerFrameBytesMax = 64 * 1024 * 1024;
/**
 * The largest request frame a server takes by default (`KvServer`'s
 * `clientLimits.frameBytesMax`), in bytes, and so the largest a client sends by default
 * (`KvClient`'s `requestBytesMax`): 16 MiB.
 */
export const requestFrameBytesMaxDefault = 16 * 1024 * 1024;
/** Events in one `events` frame at most. */
export const eventsPerFrameMax = 1024;
/** Longest node id or client id, in bytes. */
const idBytesMax = 255;
/** Longest error message, in bytes. */
const messageBytesMax = 16 * 1024;
/** Members in a status at most. */
const membersMax = 64;
/**
 * Fewest bytes a key value takes (key length, value length, version, createRevision,
 * modRevision, flags): a list's count is checked against the bytes left with it, so it
 * must not overstate an item, or a valid frame of short items is refused.
 */
const keyValueBytesMin = 6;
/** Fewest bytes a listed session takes: its id, TTL, expiry and key count. */
const sessionBytesMin = 4;
/** Ranges in a `ranges` answer at most. */
const rangesMax = 1 << 20;
/** Fewest bytes a range's status takes: group, start, flags, revision, keys, value bytes. */
const rangeStatusBytesMin = 6;
/** A range's status has an end. */
const rangeHasEnd = 1;
/** A range's status names a leader. */
const rangeHasLeader = 2;
/** Fewest bytes an event takes: its type, its revision, its key value. */
const eventBytesMin = 2 + keyValueBytesMin;

// New kinds go last: a server of an older build refuses one it does not know as a malformed frame, answering the client.
const requestKinds = [
  'command',
  'range',
  'watch',
  'unwatch',
  'status',
  'member',
  'snapshot',
  'sessions',
  'ranges',
  'watchRanges',
] as const satisfies readonly ClientRequest['kind'][];
const frameKinds = [
  'result',
  'range',
  'watching',
  'events',
  'status',
  'error',
  'members',
  'snapshotChunk',
  'sessions',
  'ranges',
  'rangeWatching',
  'rangeEvents',
] as const satisfies readonly ServerFrame['kind'][];
const memberActions = ['list', 'addObserver', 'promote', 'demote', 'remove', 'transfer', 'replace'] as const satisfies readonly MemberAction[];
/** Longest member address, in bytes. */
const addressBytesMax = 256;
/** Longest encoded configuration, in bytes. */
const configurationBytesMax = 64 * 1024;
/**
 * Most bytes of a snapshot in one `snapshotChunk` frame: well below what a client reads
 * in one frame (64 MiB), and small enough that a server sends a large snapshot with
 * the socket's backpressure, not as one buffer.
 */
export const snapshotChunkBytesMax = 1024 * 1024;
/** Bytes of a SHA-256 digest. */
const sha256Bytes = 32;

function header(w: Writer, kindIndex: number, id: number): void {
  w.u8(clientProtocolVersion);
  w.u8(kindIndex + 1);
  writeUint(w, 'request id', id);
}

function readHeader(r: Reader, kinds: readonly string[]): { kind: number; id: number } {
  const version = r.u8('protocol version');
  if (version !== clientProtocolVersion) throw new CodecError(`client protocol version ${version}; this build speaks ${clientProtocolVersion}`);
  const kind = r.u8('frame kind') - 1;
  if (kind < 0 || kind >= kinds.length) throw new CodecError(`unknown frame kind ${kind + 1}`);
  return { kind, id: r.uint('request id') };
}

/** Encodes a client's request. @internal */
export function encodeClientRequest(q: ClientRequest): Uint8Array {
  const w = new Writer(requestBytesGuess(q));
  writeClientRequest(w, q);
  return w.finish();
}

/**
 * A client's request as a frame to write to a stream: its length (4 bytes,
 * little-endian, as `prefixFrame` writes it), then {@link encodeClientRequest}'s
 * bytes, encoded in one buffer (a large value is copied once, not twice). @internal
 */
export function frameClientRequest(q: ClientRequest): Uint8Array {
  const w = new Writer(4 + requestBytesGuess(q));
  const prefix = w.reserveU32();
  writeClientRequest(w, q);
  w.setU32(prefix, w.length - 4);
  return w.finish();
}

/** Room for a request's encoding: a put's value and key, and 64 bytes; the writer grows past it if need be. */
function requestBytesGuess(q: ClientRequest): number {
  return q.kind === 'command' && q.command.type === 'put' ? 64 + 3 * q.command.key.length + q.command.value.byteLength : 64;
}

function writeClientRequest(w: Writer, q: ClientRequest): void {
  header(w, requestKinds.indexOf(q.kind), q.id);
  switch (q.kind) {
    case 'command':
      w.u8(q.request === undefined ? 0 : 1);
      if (q.request !== undefined) {
        writeString(w, 'client id', q.request.clientId, idBytesMax);
        writeUint(w, 'seq', q.request.seq);
        writeUint(w, 'ackedBelow', q.request.ackedBelow);
      }
      writeUint(w, 'timeoutMs', q.timeoutMs);
      writeCommand(w, q.command);
      break;
    case 'range':
      writeRange(w, q.range);
      writeUint(w, 'limit', q.limit);
      writeUint(w, 'revision', q.revision);
      w.bool(q.linearizable);
      break;
    case 'watch':
      writeRange(w, q.range);
      writeUint(w, 'fromRevision', q.fromRevision);
      break;
    case 'unwatch':
    case 'status':
    case 'ranges':
      break;
    case 'member':
      w.u8(memberActions.indexOf(q.action));
      writeString(w, 'member target', q.target, idBytesMax);
      writeString(w, 'member argument', q.argument, addressBytesMax);
      writeUint(w, 'timeoutMs', q.timeoutMs);
      break;
    case 'snapshot':
      writeUint(w, 'timeoutMs', q.timeoutMs);
      break;
    case 'sessions':
      w.bool(q.linearizable);
      break;
    case 'watchRanges':
      writeRange(w, q.range);
      writeRangeRevisions(w, q.from);
      break;
  }
}

/** Fewest bytes a range's revision takes: its group and the revision. */
const rangeRevisionBytesMin = 2;

function writeRangeRevisions(w: Writer, list: readonly RangeRevision[]): void {
  writeCount(w, 'range revisions', list.length, rangesMax);
  for (const { group, revision } of list) {
    writeUint(w, 'range revision group', group);
    writeUint(w, 'range revision', revision);
  }
}

function readRangeRevisions(r: Reader): RangeRevision[] {
  const n = readCount(r, 'range revisions', rangeRevisionBytesMin, rangesMax);
  const list: RangeRevision[] = [];
  for (let i = 0; i < n; i++) list.push({ group: r.uint('range revision group'), revision: r.uint('range revision') });
  return list;
}

/** Decodes a client's request; throws `CodecError` on anything malformed. @internal */
export function decodeClientRequest(frame: Uint8Array): ClientRequest {
  const r = new Reader(frame);
  const { kind, id } = readHeader(r, requestKinds);
  let q: ClientRequest;
  switch (requestKinds[kind]!) {
    case 'command': {
      const hasRequest = readFlags(r, 'request flag', 1) === 1;
      const request = hasRequest ? { clientId: readString(r, 'client id', idBytesMax), seq: r.uint('seq'), ackedBelow: r.uint('ackedBelow') } : undefined;
      if (request !== undefined && (request.clientId.length === 0 || request.ackedBelow > request.seq))
        throw new CodecError(`request identity ${request.clientId}#${request.seq} (ackedBelow ${request.ackedBelow}) is malformed`);
      const timeoutMs = r.uint('timeoutMs');
      q = { kind: 'command', id, request, timeoutMs, command: readCommandWithBytes(r, frame) };
      break;
    }
    case 'range':
      q = { kind: 'range', id, range: readRange(r), limit: r.uint('limit'), revision: r.uint('revision'), linearizable: r.bool('linearizable') };
      break;
    case 'watch':
      q = { kind: 'watch', id, range: readRange(r), fromRevision: r.uint('fromRevision') };
      break;
    case 'unwatch':
      q = { kind: 'unwatch', id };
      break;
    case 'status':
      q = { kind: 'status', id };
      break;
    case 'ranges':
      q = { kind: 'ranges', id };
      break;
    case 'watchRanges':
      q = { kind: 'watchRanges', id, range: readRange(r), from: readRangeRevisions(r) };
      break;
    case 'member': {
      const action = memberActions[r.u8('member action')];
      if (action === undefined) throw new CodecError('unknown member action');
      q = {
        kind: 'member',
        id,
        action,
        target: readString(r, 'member target', idBytesMax),
        argument: readString(r, 'member argument', addressBytesMax),
        timeoutMs: r.uint('timeoutMs'),
      };
      break;
    }
    case 'snapshot':
      q = { kind: 'snapshot', id, timeoutMs: r.uint('timeoutMs') };
      break;
    case 'sessions':
      q = { kind: 'sessions', id, linearizable: r.bool('linearizable') };
      break;
  }
  r.end();
  return q;
}

/**
 * The request id of a frame that failed to decode, if its header can be trusted that
 * far (this protocol version, then a kind byte, then the id), so the refusal can name
 * the request; undefined otherwise. @internal
 */
export function requestIdOf(frame: Uint8Array): number | undefined {
  try {
    const r = new Reader(frame);
    if (r.u8('protocol version') !== clientProtocolVersion) return undefined;
    r.u8('frame kind');
    return r.uint('request id');
  } catch (error) {
    if (error instanceof CodecError) return undefined;
    throw error;
  }
}

function writeEvent(w: Writer, e: WatchEvent): void {
  if (e.kv.modRevision !== e.revision) throw new CodecError(`event at revision ${e.revision} carries a key modified at ${e.kv.modRevision}`);
  w.u8(e.type === 'put' ? 1 : 2);
  writeUint(w, 'event revision', e.revision);
  writeKeyValue(w, e.kv);
}

function readEvent(r: Reader): WatchEvent {
  const type = r.u8('event type');
  if (type !== 1 && type !== 2) throw new CodecError(`unknown event type ${type}`);
  const revision = r.uint('event revision');
  const kv = readKeyValue(r);
  if (kv.modRevision !== revision) throw new CodecError(`event at revision ${revision} carries a key modified at ${kv.modRevision}`);
  return { type: type === 1 ? 'put' : 'delete', revision, kv };
}

/** Events come in revision order (several may share one: a transaction). */
/** A frame's events, in revision order, and the revision they are complete through. */
function writeEvents(w: Writer, events: readonly WatchEvent[], through: number): void {
  writeCount(w, 'events', events.length, eventsPerFrameMax);
  events.forEach((e, i) => {
    checkEventOrder(e, events[i - 1]);
    writeEvent(w, e);
  });
  checkEventsThrough(events, through);
  writeUint(w, 'events through', through);
}

function readEvents(r: Reader): { events: WatchEvent[]; through: number } {
  const n = readCount(r, 'events', eventBytesMin, eventsPerFrameMax);
  const events: WatchEvent[] = [];
  for (let i = 0; i < n; i++) {
    const e = readEvent(r);
    checkEventOrder(e, events[i - 1]);
    events.push(e);
  }
  const through = r.uint('events through');
  checkEventsThrough(events, through);
  return { events, through };
}

function checkEventOrder(e: WatchEvent, previous: WatchEvent | undefined): void {
  if (previous !== undefined && e.revision < previous.revision) throw new CodecError(`events out of revision order: ${e.revision} after ${previous.revision}`);
}

/**
 * `through` covers the frame's events, but for a revision cut across frames (more
 * events than a frame holds): a frame that ends inside revision r is complete through
 * r - 1 only, and the rest of r follows. A client resumes from `through + 1`.
 */
function checkEventsThrough(events: readonly WatchEvent[], through: number): void {
  const last = events[events.length - 1];
  if (last !== undefined && through < last.revision - 1)
    throw new CodecError(`events through ${through}, more than one revision below the last event's revision ${last.revision}`);
}

/** A snapshot piece is not empty, within the frame's bound, inside the whole, with a digest of the right size. */
function checkSnapshotChunk(totalBytes: number, offset: number, data: Uint8Array, sha256: Uint8Array): void {
  if (data.byteLength === 0 || data.byteLength > snapshotChunkBytesMax)
    throw new CodecError(`snapshot chunk of ${data.byteLength} bytes: not between 1 and ${snapshotChunkBytesMax}`);
  if (offset + data.byteLength > totalBytes) throw new CodecError(`snapshot chunk at ${offset} of ${data.byteLength} bytes overruns the ${totalBytes} in all`);
  if (sha256.byteLength !== sha256Bytes) throw new CodecError(`snapshot digest of ${sha256.byteLength} bytes, not ${sha256Bytes}`);
}

/** `s` with every lone surrogate (which UTF-8 cannot carry) replaced by U+FFFD. */
function wellFormed(s: string): string {
  return s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

const errorHasKey = 1;
const errorHasNumber = 2;
const errorHasRevision = 4;
const errorHasLeader = 8;

/** Encodes a server's frame. @internal */
export function encodeServerFrame(f: ServerFrame): Uint8Array {
  const w = new Writer(64);
  writeServerFrame(w, f);
  return w.finish();
}

/**
 * A server's frame ready to write to a stream: its length (4 bytes, little-endian),
 * then {@link encodeServerFrame}'s bytes, encoded in one buffer with the prefix written
 * in place (an answer is not copied to be framed). @internal
 */
export function frameServerFrame(f: ServerFrame): Uint8Array {
  const w = new Writer(64);
  const prefix = w.reserveU32();
  writeServerFrame(w, f);
  w.setU32(prefix, w.length - 4);
  return w.finish();
}

function writeServerFrame(w: Writer, f: ServerFrame): void {
  header(w, frameKinds.indexOf(f.kind), f.id);
  switch (f.kind) {
    case 'result':
      writeResult(w, f.result);
      break;
    case 'range':
      checkRangeCounts(f.result.kvs.length, f.result.more, f.result.count);
      writeCount(w, 'range keys', f.result.kvs.length, kvLimits.rangeKeysMax);
      for (const kv of f.result.kvs) writeKeyValue(w, kv);
      w.bool(f.result.more);
      writeUint(w, 'range count', f.result.count);
      writeUint(w, 'range revision', f.result.revision);
      break;
    case 'watching':
      writeUint(w, 'fromRevision', f.fromRevision);
      break;
    case 'sessions':
      if (f.list.count < f.list.sessions.length) throw new CodecError(`sessions: count ${f.list.count} with ${f.list.sessions.length} listed`);
      writeCount(w, 'sessions', f.list.sessions.length, kvLimits.sessionsListedMax);
      for (const s of f.list.sessions) {
        writeUint(w, 'session id', s.id);
        writeUint(w, 'session ttlMs', s.ttlMs);
        writeUint(w, 'session expiresAt', s.expiresAt);
        writeUint(w, 'session keys', s.keys);
      }
      writeUint(w, 'sessions count', f.list.count);
      writeUint(w, 'sessions revision', f.list.revision);
      break;
    case 'events':
      writeEvents(w, f.events, f.through);
      break;
    case 'status': {
      const s = f.status;
      writeString(w, 'status node', s.node, idBytesMax);
      w.u8(s.leader === undefined ? 0 : 1);
      if (s.leader !== undefined) writeString(w, 'status leader', s.leader, idBytesMax);
      writeString(w, 'status role', s.role, idBytesMax);
      writeCount(w, 'status members', s.members.length, membersMax);
      for (const m of s.members) writeString(w, 'status member', m, idBytesMax);
      writeUint(w, 'status commitIndex', s.commitIndex);
      writeUint(w, 'status appliedIndex', s.appliedIndex);
      writeUint(w, 'status revision', s.revision);
      writeUint(w, 'status compactRevision', s.compactRevision);
      break;
    }
    case 'ranges':
      writeCount(w, 'ranges', f.ranges.length, rangesMax);
      for (const range of f.ranges) {
        writeUint(w, 'range group', range.group);
        writeKey(w, 'range start', range.start);
        w.u8((range.end === undefined ? 0 : rangeHasEnd) | (range.leader === undefined ? 0 : rangeHasLeader));
        if (range.end !== undefined) writeKey(w, 'range end', range.end);
        if (range.leader !== undefined) writeString(w, 'range leader', range.leader, idBytesMax);
        writeUint(w, 'range revision', range.revision);
        writeUint(w, 'range keys', range.keys);
        writeUint(w, 'range valueBytes', range.valueBytes);
      }
      break;
    case 'rangeWatching':
      writeRangeRevisions(w, f.from);
      break;
    case 'rangeEvents':
      writeUint(w, 'events group', f.group);
      writeEvents(w, f.events, f.through);
      break;
    case 'members': {
      const bytes = encodeConfiguration(f.configuration);
      if (bytes.byteLength > configurationBytesMax) throw new CodecError(`a configuration of ${bytes.byteLength} bytes is over ${configurationBytesMax}`);
      w.bytesOf(bytes);
      writeUint(w, 'configuration from', f.from);
      break;
    }
    case 'snapshotChunk':
      checkSnapshotChunk(f.totalBytes, f.offset, f.data, f.sha256);
      writeUint(w, 'snapshot slot', f.slot);
      writeUint(w, 'snapshot bytes', f.totalBytes);
      writeUint(w, 'snapshot offset', f.offset);
      w.bytesOf(f.sha256);
      w.bytesOf(f.data);
      break;
    case 'error': {
      const e = f.error;
      writeString(w, 'error code', e.code, idBytesMax);
      writeString(
        w,
        'error message',
        wellFormed(e.message.length > messageBytesMax / 4 ? e.message.slice(0, messageBytesMax / 4) : e.message),
        messageBytesMax,
      );
      const flags =
        (e.key !== undefined ? errorHasKey : 0) |
        (e.number !== undefined ? errorHasNumber : 0) |
        (e.revision !== undefined ? errorHasRevision : 0) |
        (e.leaderHint !== undefined ? errorHasLeader : 0);
      w.u8(flags);
      if (e.key !== undefined) writeKey(w, 'error key', e.key);
      if (e.number !== undefined) writeUint(w, 'error number', e.number);
      if (e.revision !== undefined) writeUint(w, 'error revision', e.revision);
      if (e.leaderHint !== undefined) writeString(w, 'error leader', e.leaderHint, idBytesMax);
      break;
    }
  }
}

/** Decodes a server's frame; throws `CodecError` on anything malformed. @internal */
export function decodeServerFrame(frame: Uint8Array): ServerFrame {
  const r = new Reader(frame);
  const { kind, id } = readHeader(r, frameKinds);
  let f: ServerFrame;
  switch (frameKinds[kind]!) {
    case 'result':
      f = { kind: 'result', id, result: readResult(r) };
      break;
    case 'range': {
      const n = readCount(r, 'range keys', keyValueBytesMin, kvLimits.rangeKeysMax);
      const kvs: KeyValue[] = [];
      for (let i = 0; i < n; i++) kvs.push(readKeyValue(r));
      const more = r.bool('range more');
      const count = r.uint('range count');
      checkRangeCounts(n, more, count);
      f = { kind: 'range', id, result: { kvs, more, count, revision: r.uint('range revision') } };
      break;
    }
    case 'watching':
      f = { kind: 'watching', id, fromRevision: r.uint('fromRevision') };
      break;
    case 'events':
      f = { kind: 'events', id, ...readEvents(r) };
      break;
    case 'status': {
      const node = readString(r, 'status node', idBytesMax);
      const leader = readFlags(r, 'status leader flag', 1) === 1 ? readString(r, 'status leader', idBytesMax) : undefined;
      const role = readString(r, 'status role', idBytesMax);
      const n = readCount(r, 'status members', 1, membersMax);
      const members: string[] = [];
      for (let i = 0; i < n; i++) members.push(readString(r, 'status member', idBytesMax));
      const status: ServerStatus = {
        node,
        leader,
        role,
        members,
        commitIndex: r.uint('status commitIndex'),
        appliedIndex: r.uint('status appliedIndex'),
        revision: r.uint('status revision'),
        compactRevision: r.uint('status compactRevision'),
      };
      f = { kind: 'status', id, status };
      break;
    }
    case 'error': {
      const code = readString(r, 'error code', idBytesMax);
      const message = readString(r, 'error message', messageBytesMax);
      const flags = readFlags(r, 'error flags', errorHasKey | errorHasNumber | errorHasRevision | errorHasLeader);
      const error: ErrorBody = {
        code,
        message,
        ...((flags & errorHasKey) !== 0 ? { key: readKey(r, 'error key') } : {}),
        ...((flags & errorHasNumber) !== 0 ? { number: r.uint('error number') } : {}),
        ...((flags & errorHasRevision) !== 0 ? { revision: r.uint('error revision') } : {}),
        ...((flags & errorHasLeader) !== 0 ? { leaderHint: readString(r, 'error leader', idBytesMax) } : {}),
      };
      f = { kind: 'error', id, error };
      break;
    }
    case 'members': {
      const bytes = r.bytesOf('configuration', configurationBytesMax);
      let configuration;
      try {
        configuration = decodeConfiguration(bytes);
      } catch (error) {
        throw new CodecError(`bad configuration: ${error instanceof Error ? error.message : String(error)}`);
      }
      f = { kind: 'members', id, configuration, from: r.uint('configuration from') };
      break;
    }
    case 'sessions': {
      const n = readCount(r, 'sessions', sessionBytesMin, kvLimits.sessionsListedMax);
      const sessions: SessionListing[] = [];
      for (let i = 0; i < n; i++)
        sessions.push({ id: r.uint('session id'), ttlMs: r.uint('session ttlMs'), expiresAt: r.uint('session expiresAt'), keys: r.uint('session keys') });
      const count = r.uint('sessions count');
      if (count < n) throw new CodecError(`sessions: count ${count} with ${n} listed`);
      f = { kind: 'sessions', id, list: { sessions, count, revision: r.uint('sessions revision') } };
      break;
    }
    case 'rangeWatching':
      f = { kind: 'rangeWatching', id, from: readRangeRevisions(r) };
      break;
    case 'rangeEvents': {
      const group = r.uint('events group');
      const { events, through } = readEvents(r);
      f = { kind: 'rangeEvents', id, group, events, through };
      break;
    }
    case 'ranges': {
      const n = readCount(r, 'ranges', rangeStatusBytesMin, rangesMax);
      const ranges: RangeStatus[] = [];
      for (let i = 0; i < n; i++) {
        const group = r.uint('range group');
        const start = readKey(r, 'range start');
        const flags = readFlags(r, 'range flags', rangeHasEnd | rangeHasLeader);
        const end = (flags & rangeHasEnd) !== 0 ? readKey(r, 'range end') : undefined;
        const leader = (flags & rangeHasLeader) !== 0 ? readString(r, 'range leader', idBytesMax) : undefined;
        ranges.push({
          group,
          start,
          ...(end === undefined ? {} : { end }),
          ...(leader === undefined ? {} : { leader }),
          revision: r.uint('range revision'),
          keys: r.uint('range keys'),
          valueBytes: r.uint('range valueBytes'),
        });
      }
      f = { kind: 'ranges', id, ranges };
      break;
    }
    case 'snapshotChunk': {
      const slot = r.uint('snapshot slot');
      const totalBytes = r.uint('snapshot bytes');
      const offset = r.uint('snapshot offset');
      const sha256 = r.bytesOf('snapshot digest', sha256Bytes).slice();
      const data = r.bytesOf('snapshot data', snapshotChunkBytesMax).slice();
      checkSnapshotChunk(totalBytes, offset, data, sha256);
      f = { kind: 'snapshotChunk', id, slot, totalBytes, offset, sha256, data };
      break;
    }
  }
  r.end();
  return f;
}
