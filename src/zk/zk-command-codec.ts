/**
 * The log's encoding of {@link ZkCommand} and {@link ZkResult}: a tag byte, then jute
 * fields; a write carries its request in the wire protocol's own encoding. Decoding
 * validates everything and throws {@link CodecError}.
 */
import { CodecError } from '../encoding/codec-error.js';
import type { ZkCommand, ZkResult } from './zk-command.js';
import { zkLimits } from './zk-limits.js';
import { JuteReader } from './protocol/jute-reader.js';
import { JuteWriter } from './protocol/jute-writer.js';
import { decodeRequest, encodeRequest } from './protocol/zk-request.js';
import { readStat, writeStat } from './protocol/zk-records.js';
import type { ZkExpiringNode } from './zk-tree.js';
import type { ZkId, ZkOpResult, ZkWriteResult } from './zk-types.js';

/** Tags of the commands. Never reuse a number. */
const commandTag = {
  'session-create': 1,
  'session-touch': 2,
  'session-expire': 3,
  'session-renew': 4,
  'session-close': 5,
  write: 6,
  'node-expire': 7,
} as const;
const resultTag = { session: 1, written: 2, done: 3, 'no-session': 4, invalid: 5 } as const;

function writeIds(w: JuteWriter, ids: readonly number[]): void {
  w.int(ids.length);
  for (const id of ids) w.long(id);
}

function readIds(r: JuteReader): number[] {
  const n = r.count('session ids', 8);
  if (n > zkLimits.sessionsPerCommandMax) throw new CodecError(`zk command: ${n} sessions (at most ${zkLimits.sessionsPerCommandMax})`);
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push(r.long('session id'));
  return ids;
}

export function encodeZkCommand(c: ZkCommand): Uint8Array {
  const w = new JuteWriter().raw(Uint8Array.of(commandTag[c.type]));
  switch (c.type) {
    case 'session-create':
      w.buffer(c.password).int(c.ttlMs);
      break;
    case 'session-touch':
      writeIds(w, c.sessions);
      break;
    case 'session-expire':
      writeIds(w, c.sessions);
      w.long(c.decidedAtSlot);
      break;
    case 'session-renew':
      break;
    case 'session-close':
      w.long(c.session);
      break;
    case 'node-expire':
      w.int(c.nodes.length);
      for (const node of c.nodes) w.string(node.path).long(node.mzxid);
      break;
    case 'write':
      w.long(c.session).int(c.auth.length);
      for (const id of c.auth) w.string(id.scheme).string(id.id);
      w.raw(encodeRequest(0, { type: 'write', request: c.request }));
      break;
  }
  return w.finish();
}

export function decodeZkCommand(bytes: Uint8Array): ZkCommand {
  if (bytes.byteLength === 0) throw new CodecError('zk command: empty');
  const tag = bytes[0]!;
  const r = new JuteReader(bytes.subarray(1));
  let command: ZkCommand;
  switch (tag) {
    case commandTag['session-create']:
      command = { type: 'session-create', password: r.buffer('password', 64), ttlMs: r.int('ttl') };
      break;
    case commandTag['session-touch']:
      command = { type: 'session-touch', sessions: readIds(r) };
      break;
    case commandTag['session-expire']:
      command = { type: 'session-expire', sessions: readIds(r), decidedAtSlot: r.long('decidedAtSlot') };
      break;
    case commandTag['session-renew']:
      command = { type: 'session-renew' };
      break;
    case commandTag['session-close']:
      command = { type: 'session-close', session: r.long('session') };
      break;
    case commandTag['node-expire']: {
      const n = r.count('expiring nodes', 12);
      if (n > zkLimits.expiringNodesPerCommandMax) throw new CodecError(`zk command: ${n} expiring nodes (at most ${zkLimits.expiringNodesPerCommandMax})`);
      const nodes: ZkExpiringNode[] = [];
      for (let i = 0; i < n; i++) nodes.push({ path: r.string('path', zkLimits.requestBytesMax), mzxid: r.long('mzxid') });
      command = { type: 'node-expire', nodes };
      break;
    }
    case commandTag.write: {
      const session = r.long('session');
      const n = r.count('auth ids', 8);
      const auth: ZkId[] = [];
      for (let i = 0; i < n; i++) auth.push({ scheme: r.string('auth scheme', 255), id: r.string('auth id', 4096) });
      const rest = bytes.subarray(bytes.byteLength - r.left);
      const frame = decodeRequest(rest);
      if (frame.request.type !== 'write') throw new CodecError(`zk command: a write carrying opcode ${frame.opcode}`);
      return { type: 'write', session, auth, request: frame.request.request };
    }
    default:
      throw new CodecError(`zk command: unknown tag ${tag}`);
  }
  r.end(`zk command ${command.type}`);
  return command;
}

function writeOpResult(w: JuteWriter, r: ZkOpResult): void {
  switch (r.op) {
    case 'create':
      w.int(1)
        .string(r.path)
        .bool(r.stat !== undefined);
      if (r.stat !== undefined) writeStat(w, r.stat);
      return;
    case 'delete':
      w.int(2);
      return;
    case 'setData':
    case 'setACL':
      w.int(r.op === 'setData' ? 5 : 7);
      writeStat(w, r.stat);
      return;
    case 'check':
      w.int(13);
      return;
    case 'error':
      w.int(-1).int(r.err);
      return;
  }
}

function readOpResult(r: JuteReader): ZkOpResult {
  const type = r.int('result type');
  switch (type) {
    case 1: {
      const path = r.string('path', zkLimits.requestBytesMax);
      return { op: 'create', path, stat: r.bool('has stat') ? readStat(r) : undefined };
    }
    case 2:
      return { op: 'delete' };
    case 5:
      return { op: 'setData', stat: readStat(r) };
    case 7:
      return { op: 'setACL', stat: readStat(r) };
    case 13:
      return { op: 'check' };
    case -1:
      return { op: 'error', err: r.int('err') };
    default:
      throw new CodecError(`zk result: unknown operation result ${type}`);
  }
}

function writeWriteResult(w: JuteWriter, result: ZkWriteResult): void {
  if (result.op !== 'multi') {
    w.bool(false);
    writeOpResult(w, result);
    return;
  }
  w.bool(true).int(result.results.length);
  for (const r of result.results) writeOpResult(w, r);
}

function readWriteResult(r: JuteReader): ZkWriteResult {
  if (!r.bool('multi')) return readOpResult(r);
  const n = r.count('multi results', 4);
  const results: ZkOpResult[] = [];
  for (let i = 0; i < n; i++) results.push(readOpResult(r));
  return { op: 'multi', results };
}

export function encodeZkResult(result: ZkResult): Uint8Array {
  const w = new JuteWriter().raw(Uint8Array.of(resultTag[result.type])).long(result.zxid);
  switch (result.type) {
    case 'session':
      w.long(result.session).buffer(result.password).int(result.ttlMs);
      break;
    case 'written':
      writeWriteResult(w, result.result);
      break;
    case 'invalid':
      w.string(result.reason);
      break;
    case 'done':
    case 'no-session':
      break;
  }
  return w.finish();
}

export function decodeZkResult(bytes: Uint8Array): ZkResult {
  if (bytes.byteLength === 0) throw new CodecError('zk result: empty');
  const tag = bytes[0]!;
  const r = new JuteReader(bytes.subarray(1));
  const zxid = r.long('zxid');
  let result: ZkResult;
  switch (tag) {
    case resultTag.session:
      result = { type: 'session', zxid, session: r.long('session'), password: r.buffer('password', 64), ttlMs: r.int('ttl') };
      break;
    case resultTag.written:
      result = { type: 'written', zxid, result: readWriteResult(r) };
      break;
    case resultTag.done:
      result = { type: 'done', zxid };
      break;
    case resultTag['no-session']:
      result = { type: 'no-session', zxid };
      break;
    case resultTag.invalid:
      result = { type: 'invalid', zxid, reason: r.string('reason', 65_536) };
      break;
    default:
      throw new CodecError(`zk result: unknown tag ${tag}`);
  }
  r.end(`zk result ${result.type}`);
  return result;
}
