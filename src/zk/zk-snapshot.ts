/**
 * The ZooKeeper state machine's snapshot: magic "SZK", format version 2, the zxid, log
 * time and next session id, the sessions, then every znode parent first (path, data,
 * ACL, stat fields, then whether it is a container and its TTL in ms, 0 for none).
 * Version 1 (before containers and TTL nodes, without those two fields) is still read.
 * Every length checked on the way in; {@link CodecError} on bad bytes.
 */
import { CodecError } from '../encoding/codec-error.js';
import { zkLimits } from './zk-limits.js';
import { childPath } from './zk-path.js';
import { JuteReader } from './protocol/jute-reader.js';
import { JuteWriter } from './protocol/jute-writer.js';
import { readAcl, writeAcl } from './protocol/zk-records.js';
import { ZkSessionTable } from './zk-session-table.js';
import type { ZkStateMachine } from './zk-state-machine.js';
import { type ZkNode, ZkTree } from './zk-tree.js';
import { zkTtlMsMax } from './zk-types.js';

const magic = [0x53, 0x5a, 0x4b] as const; // "SZK"
const formatVersion = 2;
/** Versions this build reads: 1 had no containers or TTL nodes. */
const formatVersionsRead: readonly number[] = [1, 2];

/** The machine's state as bytes: a synchronous capture (the tree is walked now). */
export function encodeZkSnapshot(machine: ZkStateMachine): Uint8Array {
  const w = new JuteWriter(4096)
    .raw(Uint8Array.of(...magic, formatVersion))
    .long(machine.zxid)
    .long(machine.logTime)
    .long(machine.sessions.nextId);
  w.int(machine.sessions.size);
  for (const s of machine.sessions.values()) w.long(s.id).buffer(s.password).int(s.ttlMs).long(s.renewedSlot);
  const tree = machine.tree;
  w.int(tree.size);
  const visit = (path: string): void => {
    const node = tree.get(path)!;
    w.string(path).buffer(node.data);
    writeAcl(w, node.acl);
    w.long(node.czxid)
      .long(node.mzxid)
      .long(node.pzxid)
      .long(node.ctime)
      .long(node.mtime)
      .int(node.version)
      .int(node.cversion)
      .int(node.aversion)
      .long(node.ephemeralOwner)
      .bool(node.container)
      .long(node.ttlMs);
    for (const child of [...node.children].sort()) visit(childPath(path, child));
  };
  visit('/');
  return w.finish();
}

/** Reads a snapshot into `machine`, replacing its state (only once all of it has been read). */
export function restoreZkSnapshot(machine: ZkStateMachine, bytes: Uint8Array): void {
  if (bytes.byteLength < 4 || bytes[0] !== magic[0] || bytes[1] !== magic[1] || bytes[2] !== magic[2]) throw new CodecError('zk snapshot: bad magic');
  const version = bytes[3]!;
  if (!formatVersionsRead.includes(version))
    throw new CodecError(`zk snapshot: format version ${version}, this build reads ${formatVersionsRead.join(' and ')}`);
  const r = new JuteReader(bytes.subarray(4));
  const zxid = r.long('zxid');
  const time = r.long('time');
  const sessions = new ZkSessionTable();
  sessions.nextId = r.long('next session id');
  const sessionCount = r.count('sessions', 24);
  for (let i = 0; i < sessionCount; i++) {
    const id = r.long('session id');
    if (id >= sessions.nextId || sessions.get(id) !== undefined)
      throw new CodecError(`zk snapshot: session ${id} repeated or beyond the next id ${sessions.nextId}`);
    sessions.load({ id, password: r.buffer('password', 64).slice(), ttlMs: r.int('ttl'), renewedSlot: r.long('renewed slot') });
  }
  const tree = new ZkTree();
  tree.clear();
  const nodeCount = r.count('znodes', 60);
  for (let i = 0; i < nodeCount; i++) {
    const path = r.string('path', zkLimits.requestBytesMax);
    const data = r.buffer('data', zkLimits.requestBytesMax).slice();
    const acl = readAcl(r);
    const node: ZkNode = {
      data,
      acl,
      czxid: r.long('czxid'),
      mzxid: r.long('mzxid'),
      pzxid: r.long('pzxid'),
      ctime: r.long('ctime'),
      mtime: r.long('mtime'),
      version: r.int('version'),
      cversion: r.int('cversion'),
      aversion: r.int('aversion'),
      ephemeralOwner: r.long('ephemeralOwner'),
      container: version >= 2 ? r.bool('container') : false,
      ttlMs: version >= 2 ? r.long('ttl') : 0,
      children: new Set(),
    };
    if (!(node.ttlMs >= 0 && node.ttlMs <= zkTtlMsMax)) throw new CodecError(`zk snapshot: node ${path} has a TTL of ${node.ttlMs} ms`);
    if ([node.ephemeralOwner !== 0, node.container, node.ttlMs > 0].filter(Boolean).length > 1)
      throw new CodecError(`zk snapshot: node ${path} is of two kinds at once`);
    if ((i === 0) !== (path === '/') || tree.get(path) !== undefined) throw new CodecError(`zk snapshot: node ${i} at ${path} out of order`);
    if (path !== '/' && tree.get(path.slice(0, Math.max(1, path.lastIndexOf('/')))) === undefined)
      throw new CodecError(`zk snapshot: node ${path} before its parent`);
    if (node.ephemeralOwner !== 0 && sessions.get(node.ephemeralOwner) === undefined)
      throw new CodecError(`zk snapshot: node ${path} owned by session ${node.ephemeralOwner}, not open`);
    tree.load(path, node);
  }
  r.end('zk snapshot');
  machine.replace({ tree, sessions, zxid, time });
}
