/**
 * The server's frames: a reply header (xid, zxid, err) and, when err is 0, the
 * opcode's response record; watch events under xid -1.
 */
import type { ZkAcl, ZkOpResult, ZkStat, ZkWriteResult } from '../zk-types.js';
import { JuteWriter } from './jute-writer.js';
import { ZkOpCode, ZkXid, zkStateSyncConnected } from './zk-opcode.js';
import { writeAcl, writeStat, writeStrings } from './zk-records.js';

/** A response's record, by what it answers. */
export type ZkResponseBody =
  | { readonly type: 'empty' }
  | { readonly type: 'stat'; readonly stat: ZkStat }
  | { readonly type: 'data'; readonly data: Uint8Array; readonly stat: ZkStat }
  | { readonly type: 'children'; readonly children: readonly string[]; readonly stat?: ZkStat }
  | { readonly type: 'acl'; readonly acl: readonly ZkAcl[]; readonly stat: ZkStat }
  | { readonly type: 'path'; readonly path: string }
  | { readonly type: 'strings'; readonly strings: readonly string[] }
  | { readonly type: 'number'; readonly n: number }
  | { readonly type: 'write'; readonly result: ZkWriteResult }
  | {
      readonly type: 'multiRead';
      readonly results: readonly (
        | { readonly type: 'data'; readonly data: Uint8Array; readonly stat: ZkStat }
        | { readonly type: 'children'; readonly children: readonly string[] }
        | { readonly type: 'error'; readonly err: number }
      )[];
    };

function writeOpResult(w: JuteWriter, r: ZkOpResult): void {
  switch (r.op) {
    case 'create':
      w.string(r.path);
      if (r.stat !== undefined) writeStat(w, r.stat);
      return;
    case 'setData':
    case 'setACL':
      writeStat(w, r.stat);
      return;
    case 'delete':
    case 'check':
      return;
    case 'error':
      w.int(r.err);
      return;
  }
}

function multiType(r: ZkOpResult): number {
  switch (r.op) {
    case 'create':
      return r.stat === undefined ? ZkOpCode.create : ZkOpCode.create2;
    case 'delete':
      return ZkOpCode.delete;
    case 'setData':
      return ZkOpCode.setData;
    case 'setACL':
      return ZkOpCode.setACL;
    case 'check':
      return ZkOpCode.check;
    case 'error':
      return -1;
  }
}

function writeBody(w: JuteWriter, body: ZkResponseBody): void {
  switch (body.type) {
    case 'empty':
      return;
    case 'stat':
      writeStat(w, body.stat);
      return;
    case 'data':
      w.buffer(body.data);
      writeStat(w, body.stat);
      return;
    case 'children':
      writeStrings(w, body.children);
      if (body.stat !== undefined) writeStat(w, body.stat);
      return;
    case 'acl':
      writeAcl(w, body.acl);
      writeStat(w, body.stat);
      return;
    case 'path':
      w.string(body.path);
      return;
    case 'strings':
      writeStrings(w, body.strings);
      return;
    case 'number':
      w.int(body.n);
      return;
    case 'write': {
      const result = body.result;
      if (result.op !== 'multi') return writeOpResult(w, result);
      for (const r of result.results) {
        w.int(multiType(r))
          .bool(false)
          .int(r.op === 'error' ? r.err : 0);
        writeOpResult(w, r);
      }
      w.int(-1).bool(true).int(-1);
      return;
    }
    case 'multiRead':
      for (const r of body.results) {
        if (r.type === 'error') {
          w.int(-1).bool(false).int(r.err).int(r.err);
        } else if (r.type === 'data') {
          w.int(ZkOpCode.getData).bool(false).int(0).buffer(r.data);
          writeStat(w, r.stat);
        } else {
          w.int(ZkOpCode.getChildren).bool(false).int(0);
          writeStrings(w, r.children);
        }
      }
      w.int(-1).bool(true).int(-1);
      return;
  }
}

/** A reply frame's content (without its length): the header, then the body if `err` is 0. */
export function encodeReply(xid: number, zxid: number, err: number, body: ZkResponseBody = { type: 'empty' }): Uint8Array {
  const w = new JuteWriter().int(xid).long(zxid).int(err);
  if (err === 0) writeBody(w, body);
  return w.finish();
}

/** A watch event frame's content: type 1 to 7 on `path`, as of `zxid`. */
export function encodeWatchEvent(type: number, path: string, zxid: number): Uint8Array {
  return new JuteWriter().int(ZkXid.notification).long(zxid).int(0).int(type).int(zkStateSyncConnected).string(path).finish();
}
