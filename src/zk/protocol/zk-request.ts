/**
 * A client's request frame after the handshake: a request header (xid, opcode) and the
 * opcode's record. {@link decodeRequest} validates every field and throws
 * {@link CodecError} on bytes it cannot read; an opcode it does not know decodes to
 * `unknown` so the server can answer `unimplemented`.
 */
import { CodecError } from '../../encoding/codec-error.js';
import { zkLimits } from '../zk-limits.js';
import type { ZkWriteOp, ZkWriteRequest } from '../zk-types.js';
import { JuteReader } from './jute-reader.js';
import { JuteWriter } from './jute-writer.js';
import { ZkOpCode } from './zk-opcode.js';
import { readAcl, readStrings, writeAcl, writeStrings } from './zk-records.js';

/** The watches a client re-registers after a reconnect (setWatches: the first three; setWatches2: all five). */
export interface ZkWatchSet {
  readonly relativeZxid: number;
  readonly data: readonly string[];
  readonly exist: readonly string[];
  readonly child: readonly string[];
  readonly persistent: readonly string[];
  readonly persistentRecursive: readonly string[];
}

/** A decoded request. */
export type ZkRequest =
  | { readonly type: 'ping' }
  | { readonly type: 'closeSession' }
  | { readonly type: 'auth'; readonly scheme: string; readonly auth: Uint8Array }
  | { readonly type: 'setWatches'; readonly version: 1 | 2; readonly watches: ZkWatchSet }
  | { readonly type: 'sync'; readonly path: string }
  | { readonly type: 'exists' | 'getData' | 'getChildren' | 'getChildren2'; readonly path: string; readonly watch: boolean }
  | { readonly type: 'getACL' | 'getAllChildrenNumber'; readonly path: string }
  | { readonly type: 'getEphemerals'; readonly prefix: string }
  | { readonly type: 'addWatch'; readonly path: string; readonly mode: number }
  | { readonly type: 'removeWatches' | 'checkWatches'; readonly path: string; readonly watcherType: number }
  | { readonly type: 'multiRead'; readonly ops: readonly { readonly type: 'getData' | 'getChildren'; readonly path: string }[] }
  /** create, create2, delete, setData, setACL, check, multi. `opcode` says which create (1, 15). */
  | { readonly type: 'write'; readonly request: ZkWriteRequest }
  | { readonly type: 'unknown'; readonly opcode: number };

/** A request with its header. */
export interface ZkRequestFrame {
  readonly xid: number;
  readonly opcode: number;
  readonly request: ZkRequest;
}

const max = zkLimits.requestBytesMax;

function readCreate(r: JuteReader, opcode: number): ZkWriteOp {
  const path = r.string('path', max);
  const data = r.buffer('data', max);
  const acl = readAcl(r);
  const flags = r.int('flags');
  const base = { op: 'create', path, data, acl, flags, withStat: opcode !== ZkOpCode.create } as const;
  if (opcode === ZkOpCode.createContainer) return { ...base, kind: 'container' };
  if (opcode !== ZkOpCode.createTTL) return base;
  // The tree answers a TTL out of bounds with badArguments; one beyond 2^53 ms is malformed (CodecError), so the decoding stays exact.
  return { ...base, kind: 'ttl', ttlMs: r.long('ttl') };
}

function readWriteOp(r: JuteReader, opcode: number): ZkWriteOp {
  switch (opcode) {
    case ZkOpCode.create:
    case ZkOpCode.create2:
    case ZkOpCode.createContainer:
    case ZkOpCode.createTTL:
      return readCreate(r, opcode);
    case ZkOpCode.delete:
      return { op: 'delete', path: r.string('path', max), version: r.int('version') };
    case ZkOpCode.setData:
      return { op: 'setData', path: r.string('path', max), data: r.buffer('data', max), version: r.int('version') };
    case ZkOpCode.setACL:
      return { op: 'setACL', path: r.string('path', max), acl: readAcl(r), version: r.int('version') };
    case ZkOpCode.check:
      return { op: 'check', path: r.string('path', max), version: r.int('version') };
    default:
      throw new CodecError(`jute: opcode ${opcode} in a multi`);
  }
}

/**
 * A create in a multi as ZooKeeper rebuilds it (`Op.create` from the mode): mode 4 is a
 * container whatever the header, modes 5 and 6 a TTL node under a createTTL header, any
 * other a plain create, which answers no Stat. (A TTL mode under another header fails
 * ZooKeeper's whole multi with marshallingError; here that operation gets badArguments.)
 */
function multiCreate(op: Extract<ZkWriteOp, { op: 'create' }>, opcode: number): ZkWriteOp {
  const { kind: _kind, ttlMs, ...base } = op;
  if (op.flags === 4) return { ...base, withStat: true, kind: 'container' };
  if ((op.flags === 5 || op.flags === 6) && opcode === ZkOpCode.createTTL) return { ...base, withStat: true, kind: 'ttl', ttlMs: ttlMs ?? 0 };
  return { ...base, withStat: false };
}

function readMulti(r: JuteReader): ZkWriteOp[] {
  const ops: ZkWriteOp[] = [];
  for (;;) {
    const type = r.int('multi header type');
    const done = r.bool('multi header done');
    r.int('multi header err');
    if (done) {
      if (type !== -1) throw new CodecError(`jute: a multi's last header has type ${type}, not -1`);
      return ops;
    }
    if (ops.length >= zkLimits.multiOpsMax) throw new CodecError(`jute: a multi of more than ${zkLimits.multiOpsMax} operations`);
    if (type === ZkOpCode.setACL) throw new CodecError('jute: setACL in a multi');
    const op = readWriteOp(r, type);
    ops.push(op.op === 'create' ? multiCreate(op, type) : op);
  }
}

function readWatchSet(r: JuteReader, version: 1 | 2): ZkWatchSet {
  const relativeZxid = r.long('relativeZxid');
  const data = readStrings(r, 'dataWatches');
  const exist = readStrings(r, 'existWatches');
  const child = readStrings(r, 'childWatches');
  const persistent = version === 2 ? readStrings(r, 'persistentWatches') : [];
  const persistentRecursive = version === 2 ? readStrings(r, 'persistentRecursiveWatches') : [];
  return { relativeZxid, data, exist, child, persistent, persistentRecursive };
}

function readBody(r: JuteReader, opcode: number): ZkRequest {
  switch (opcode) {
    case ZkOpCode.ping:
      return { type: 'ping' };
    case ZkOpCode.closeSession:
      return { type: 'closeSession' };
    case ZkOpCode.auth: {
      r.int('auth type');
      return { type: 'auth', scheme: r.string('auth scheme', max), auth: r.buffer('auth', max) };
    }
    case ZkOpCode.setWatches:
      return { type: 'setWatches', version: 1, watches: readWatchSet(r, 1) };
    case ZkOpCode.setWatches2:
      return { type: 'setWatches', version: 2, watches: readWatchSet(r, 2) };
    case ZkOpCode.sync:
      return { type: 'sync', path: r.string('path', max) };
    case ZkOpCode.exists:
    case ZkOpCode.getData:
    case ZkOpCode.getChildren:
    case ZkOpCode.getChildren2: {
      const type =
        opcode === ZkOpCode.exists ? 'exists' : opcode === ZkOpCode.getData ? 'getData' : opcode === ZkOpCode.getChildren ? 'getChildren' : 'getChildren2';
      return { type, path: r.string('path', max), watch: r.bool('watch') };
    }
    case ZkOpCode.getACL:
      return { type: 'getACL', path: r.string('path', max) };
    case ZkOpCode.getAllChildrenNumber:
      return { type: 'getAllChildrenNumber', path: r.string('path', max) };
    case ZkOpCode.getEphemerals:
      return { type: 'getEphemerals', prefix: r.string('prefixPath', max) };
    case ZkOpCode.addWatch:
      return { type: 'addWatch', path: r.string('path', max), mode: r.int('mode') };
    case ZkOpCode.removeWatches:
    case ZkOpCode.checkWatches:
      return { type: opcode === ZkOpCode.removeWatches ? 'removeWatches' : 'checkWatches', path: r.string('path', max), watcherType: r.int('type') };
    case ZkOpCode.multiRead: {
      const ops: { type: 'getData' | 'getChildren'; path: string }[] = [];
      for (;;) {
        const type = r.int('multi header type');
        const done = r.bool('multi header done');
        r.int('multi header err');
        if (done) return { type: 'multiRead', ops };
        if (ops.length >= zkLimits.multiOpsMax) throw new CodecError(`jute: a multiRead of more than ${zkLimits.multiOpsMax} operations`);
        if (type !== ZkOpCode.getData && type !== ZkOpCode.getChildren) throw new CodecError(`jute: opcode ${type} in a multiRead`);
        const path = r.string('path', max);
        r.bool('watch');
        ops.push({ type: type === ZkOpCode.getData ? 'getData' : 'getChildren', path });
      }
    }
    case ZkOpCode.create:
    case ZkOpCode.create2:
    case ZkOpCode.createContainer:
    case ZkOpCode.createTTL:
    case ZkOpCode.delete:
    case ZkOpCode.setData:
    case ZkOpCode.setACL:
    case ZkOpCode.check:
      return { type: 'write', request: readWriteOp(r, opcode) };
    case ZkOpCode.multi:
      return { type: 'write', request: { op: 'multi', ops: readMulti(r) } };
    default:
      return { type: 'unknown', opcode };
  }
}

/** Decodes a request frame's content (without its 4-byte length). Throws {@link CodecError} on malformed bytes. */
export function decodeRequest(frame: Uint8Array): ZkRequestFrame {
  const r = new JuteReader(frame);
  const xid = r.int('xid');
  const opcode = r.int('type');
  const request = readBody(r, opcode);
  // An unknown opcode's body is not read: the server answers it without.
  if (request.type !== 'unknown') r.end(`opcode ${opcode}`);
  return { xid, opcode, request };
}

function opcodeOf(op: ZkWriteOp): number {
  switch (op.op) {
    case 'create':
      if (op.kind === 'container') return ZkOpCode.createContainer;
      if (op.kind === 'ttl') return ZkOpCode.createTTL;
      return op.withStat ? ZkOpCode.create2 : ZkOpCode.create;
    case 'delete':
      return ZkOpCode.delete;
    case 'setData':
      return ZkOpCode.setData;
    case 'setACL':
      return ZkOpCode.setACL;
    case 'check':
      return ZkOpCode.check;
  }
}

function writeWriteOp(w: JuteWriter, op: ZkWriteOp): void {
  switch (op.op) {
    case 'create':
      w.string(op.path).buffer(op.data);
      writeAcl(w, op.acl);
      w.int(op.flags);
      if (op.kind === 'ttl') w.long(op.ttlMs ?? 0);
      return;
    case 'delete':
    case 'check':
      w.string(op.path).int(op.version);
      return;
    case 'setData':
      w.string(op.path).buffer(op.data).int(op.version);
      return;
    case 'setACL':
      w.string(op.path);
      writeAcl(w, op.acl);
      w.int(op.version);
      return;
  }
}

/** The opcode a request is sent with. */
function requestOpcode(request: ZkRequest): number {
  switch (request.type) {
    case 'write':
      return request.request.op === 'multi' ? ZkOpCode.multi : opcodeOf(request.request);
    case 'setWatches':
      return request.version === 1 ? ZkOpCode.setWatches : ZkOpCode.setWatches2;
    case 'unknown':
      return request.opcode;
    default:
      return ZkOpCode[request.type];
  }
}

/** Encodes a request frame's content (a client's side; used by tests and tools). */
export function encodeRequest(xid: number, request: ZkRequest): Uint8Array {
  const w = new JuteWriter().int(xid).int(requestOpcode(request));
  switch (request.type) {
    case 'ping':
    case 'closeSession':
    case 'unknown':
      break;
    case 'auth':
      w.int(0).string(request.scheme).buffer(request.auth);
      break;
    case 'setWatches': {
      const s = request.watches;
      w.long(s.relativeZxid);
      for (const list of request.version === 1 ? [s.data, s.exist, s.child] : [s.data, s.exist, s.child, s.persistent, s.persistentRecursive])
        writeStrings(w, list);
      break;
    }
    case 'sync':
    case 'getACL':
    case 'getAllChildrenNumber':
      w.string(request.path);
      break;
    case 'getEphemerals':
      w.string(request.prefix);
      break;
    case 'exists':
    case 'getData':
    case 'getChildren':
    case 'getChildren2':
      w.string(request.path).bool(request.watch);
      break;
    case 'addWatch':
      w.string(request.path).int(request.mode);
      break;
    case 'removeWatches':
    case 'checkWatches':
      w.string(request.path).int(request.watcherType);
      break;
    case 'multiRead':
      for (const op of request.ops)
        w.int(op.type === 'getData' ? ZkOpCode.getData : ZkOpCode.getChildren)
          .bool(false)
          .int(-1)
          .string(op.path)
          .bool(false);
      w.int(-1).bool(true).int(-1);
      break;
    case 'write': {
      const req = request.request;
      if (req.op !== 'multi') {
        writeWriteOp(w, req);
        break;
      }
      for (const op of req.ops) {
        w.int(opcodeOf(op)).bool(false).int(-1);
        writeWriteOp(w, op);
      }
      w.int(-1).bool(true).int(-1);
      break;
    }
  }
  return w.finish();
}
