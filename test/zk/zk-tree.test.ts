/** Unit tests of each rule of the znode tree, as ZooKeeper states it. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ZkErrorCode,
  ZkStateMachine,
  type ZkCommand,
  type ZkResult,
  type ZkWriteRequest,
  type ZkWriteResult,
  ZkPerm,
  openAcl,
  invalidPath,
} from '../../src/zk/index.js';
import { digestAuthId } from '../../src/zk/zk-digest.js';
import { encodeZkSnapshot, restoreZkSnapshot } from '../../src/zk/zk-snapshot.js';
import { answerRead } from '../../src/zk/zk-reads.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const password = new Uint8Array(16).fill(7);

/** A machine with one session; `write` applies a request in the next slot at log time 1000 + slot. */
function setup() {
  const zk = new ZkStateMachine();
  let slot = 0;
  const apply = (c: ZkCommand): ZkResult => zk.apply(c, { slot: ++slot, timestamp: 1000 + slot });
  const opened = apply({ type: 'session-create', password, ttlMs: 10_000 });
  if (opened.type !== 'session') throw new Error('no session');
  const session = opened.session;
  const write = (request: ZkWriteRequest, auth = [] as { scheme: string; id: string }[], as = session): ZkWriteResult => {
    const r = apply({ type: 'write', session: as, auth, request });
    if (r.type !== 'written') throw new Error(`not written: ${r.type}`);
    return r.result;
  };
  const create = (path: string, flags = 0, data = '', acl = openAcl) => write({ op: 'create', path, data: bytes(data), acl, flags, withStat: true });
  return {
    zk,
    apply,
    write,
    create,
    session,
    get slot() {
      return slot;
    },
  };
}

/** Every node with its stat, data and ACL. */
function dump(zk: ZkStateMachine): unknown[] {
  return [...zk.tree.entries()]
    .map(([path, node]) => ({ path, stat: zk.tree.stat(node), data: [...node.data], acl: node.acl }))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
}

const err = (code: number) => ({ op: 'error', err: code });

describe('paths', () => {
  it('validates as ZooKeeper does', () => {
    for (const bad of ['', 'a', '/a/', '//a', '/a//b', '/./a', '/a/..', '/a\u0000', '/a\u0001', '/\u007f', '/\ud800', '/\ufff0'])
      expect(invalidPath(bad), bad).toBeDefined();
    for (const good of ['/', '/a', '/a/b', '/a.b', '/...', '/a b', '/é']) expect(invalidPath(good), good).toBeUndefined();
    expect(invalidPath('/a/', true)).toBeUndefined();
  });
  it('answers badArguments for an invalid path', () => {
    const t = setup();
    expect(t.create('/a/')).toEqual(err(ZkErrorCode.badArguments));
    expect(t.write({ op: 'delete', path: '/', version: -1 })).toEqual(err(ZkErrorCode.badArguments));
    expect(t.write({ op: 'delete', path: '/zookeeper', version: -1 })).toEqual(err(ZkErrorCode.badArguments));
  });
});

describe('create and delete', () => {
  it('needs the parent (noNode), refuses a duplicate (nodeExists) and a child of an ephemeral', () => {
    const t = setup();
    expect(t.create('/a/b')).toEqual(err(ZkErrorCode.noNode));
    expect(t.create('/a')).toMatchObject({ op: 'create', path: '/a' });
    expect(t.create('/a')).toEqual(err(ZkErrorCode.nodeExists));
    expect(t.create('/e', 1)).toMatchObject({ op: 'create', path: '/e' });
    expect(t.create('/e/x')).toEqual(err(ZkErrorCode.noChildrenForEphemerals));
  });
  it('refuses to delete a node with children (notEmpty), or at the wrong version (badVersion)', () => {
    const t = setup();
    t.create('/a');
    t.create('/a/b');
    expect(t.write({ op: 'delete', path: '/a', version: -1 })).toEqual(err(ZkErrorCode.notEmpty));
    expect(t.write({ op: 'delete', path: '/a/b', version: 3 })).toEqual(err(ZkErrorCode.badVersion));
    expect(t.write({ op: 'delete', path: '/a/b', version: 0 })).toEqual({ op: 'delete' });
    expect(t.write({ op: 'delete', path: '/a/b', version: -1 })).toEqual(err(ZkErrorCode.noNode));
  });
  it('names sequential nodes by the parent cversion, 10 digits', () => {
    const t = setup();
    t.create('/q');
    expect(t.create('/q/n-', 2)).toMatchObject({ path: '/q/n-0000000000' });
    t.create('/q/x');
    t.write({ op: 'delete', path: '/q/x', version: -1 });
    // Creates are counted, deletes are not (as ZooKeeper 3.8 names them); the visible cversion counts both.
    expect(t.create('/q/n-', 3)).toMatchObject({ path: '/q/n-0000000002' });
    expect(t.zk.tree.stat(t.zk.tree.get('/q')!).cversion).toBe(4);
    expect(t.zk.tree.stat(t.zk.tree.get('/')!).cversion).toBe(0); // 2 * 1 create - 2 children (q and zookeeper)
    expect(t.zk.tree.stat(t.zk.tree.get('/zookeeper')!).cversion).toBe(-2); // as ZooKeeper shows it
  });
  it('keeps the full Stat: zxids, log times, versions, owner, lengths', () => {
    const t = setup();
    const created = t.create('/s', 1, 'hey') as Extract<ZkWriteResult, { op: 'create' }>;
    const zxid = t.zk.zxid;
    expect(created.stat).toEqual({
      czxid: zxid,
      mzxid: zxid,
      pzxid: zxid,
      ctime: 1000 + t.slot,
      mtime: 1000 + t.slot,
      version: 0,
      cversion: 0,
      aversion: 0,
      ephemeralOwner: t.session,
      dataLength: 3,
      numChildren: 0,
    });
    const root = t.zk.tree.stat(t.zk.tree.get('/')!);
    expect(root.pzxid).toBe(zxid);
    expect(root.numChildren).toBe(2);
    const set = t.write({ op: 'setData', path: '/s', data: bytes('four'), version: 0 }) as Extract<ZkWriteResult, { op: 'setData' }>;
    expect(set.stat).toMatchObject({ czxid: zxid, mzxid: zxid + 1, version: 1, dataLength: 4, mtime: 1000 + t.slot, ctime: 1000 + t.slot - 1 });
    expect(t.write({ op: 'setData', path: '/s', data: bytes(''), version: 0 })).toEqual(err(ZkErrorCode.badVersion));
  });
});

describe('multi and check', () => {
  it('applies all or nothing, answering per operation as ZooKeeper does', () => {
    const t = setup();
    t.create('/a');
    const before = dump(t.zk);
    const failed = t.write({
      op: 'multi',
      ops: [
        { op: 'create', path: '/a/1', data: bytes('x'), acl: openAcl, flags: 0, withStat: false },
        { op: 'setData', path: '/a', data: bytes('y'), version: -1 },
        { op: 'check', path: '/a', version: 0 },
        { op: 'delete', path: '/nope', version: -1 },
      ],
    });
    expect(failed).toEqual({ op: 'multi', results: [err(0), err(0), err(ZkErrorCode.badVersion), err(ZkErrorCode.runtimeInconsistency)] });
    expect(dump(t.zk)).toEqual(before);
    expect(t.zk.tree.get('/a/1')).toBeUndefined();
    const ok = t.write({
      op: 'multi',
      ops: [
        { op: 'check', path: '/a', version: 0 },
        { op: 'create', path: '/a/1', data: bytes('x'), acl: openAcl, flags: 1, withStat: false },
        { op: 'setData', path: '/a', data: bytes('y'), version: 0 },
      ],
    });
    expect(ok).toMatchObject({ op: 'multi', results: [{ op: 'check' }, { op: 'create', path: '/a/1' }, { op: 'setData', stat: { version: 1 } }] });
    expect(t.zk.tree.ephemerals(t.session)).toEqual(['/a/1']);
  });
  it('rolls back an ephemeral created and a node deleted in a failed multi', () => {
    const t = setup();
    t.create('/p');
    t.create('/p/c', 1);
    t.write({
      op: 'multi',
      ops: [
        { op: 'delete', path: '/p/c', version: -1 },
        { op: 'create', path: '/p/e', data: bytes(''), acl: openAcl, flags: 1, withStat: false },
        { op: 'create', path: '/p/e', data: bytes(''), acl: openAcl, flags: 0, withStat: false },
      ],
    });
    expect(t.zk.tree.children('/p')).toEqual(['c']);
    expect(t.zk.tree.ephemerals(t.session)).toEqual(['/p/c']);
  });
});

describe('ACLs', () => {
  it('enforces READ WRITE CREATE DELETE ADMIN for digest ids; NoAuth changes nothing', () => {
    const t = setup();
    const alice = digestAuthId('alice', 'secret');
    t.create('/locked', 0, 'v', [{ perms: ZkPerm.read | ZkPerm.create, id: alice }]);
    expect(t.write({ op: 'setData', path: '/locked', data: bytes('w'), version: -1 }, [alice])).toEqual(err(ZkErrorCode.noAuth));
    expect(t.create('/locked/x')).toEqual(err(ZkErrorCode.noAuth));
    expect(t.write({ op: 'create', path: '/locked/x', data: bytes(''), acl: openAcl, flags: 0, withStat: false }, [alice])).toMatchObject({ op: 'create' });
    expect(t.write({ op: 'delete', path: '/locked/x', version: -1 }, [alice])).toEqual(err(ZkErrorCode.noAuth));
    expect(t.write({ op: 'setACL', path: '/locked', acl: openAcl, version: -1 }, [alice])).toEqual(err(ZkErrorCode.noAuth));
    expect(t.zk.tree.get('/locked')!.aversion).toBe(0);
  });
  it('expands auth to the ids held, refuses invalid ACLs, checks aversion on setACL', () => {
    const t = setup();
    const bob = digestAuthId('bob', 'pw');
    expect(t.create('/x', 0, '', [{ perms: 31, id: { scheme: 'auth', id: '' } }])).toEqual(err(ZkErrorCode.invalidAcl));
    expect(t.create('/x', 0, '', [{ perms: 31, id: { scheme: 'nope', id: 'x' } }])).toEqual(err(ZkErrorCode.invalidAcl));
    expect(
      t.write({ op: 'create', path: '/x', data: bytes(''), acl: [{ perms: 31, id: { scheme: 'auth', id: '' } }], flags: 0, withStat: false }, [
        bob,
        { scheme: 'ip', id: '127.0.0.1' },
      ]),
    ).toMatchObject({ op: 'create' });
    expect(t.zk.tree.get('/x')!.acl).toEqual([{ perms: 31, id: bob }]);
    expect(t.write({ op: 'setACL', path: '/x', acl: openAcl, version: 1 }, [bob])).toEqual(err(ZkErrorCode.badVersion));
    expect(t.write({ op: 'setACL', path: '/x', acl: openAcl, version: 0 }, [bob])).toMatchObject({ op: 'setACL', stat: { aversion: 1 } });
  });
  it('matches ip ids by address and CIDR block', () => {
    const t = setup();
    t.create('/net', 0, '', [{ perms: 31, id: { scheme: 'ip', id: '10.1.0.0/16' } }]);
    expect(t.write({ op: 'setData', path: '/net', data: bytes('a'), version: -1 }, [{ scheme: 'ip', id: '10.2.0.1' }])).toEqual(err(ZkErrorCode.noAuth));
    expect(t.write({ op: 'setData', path: '/net', data: bytes('a'), version: -1 }, [{ scheme: 'ip', id: '10.1.200.3' }])).toMatchObject({ op: 'setData' });
  });
});

describe('getACL', () => {
  it('answers digest ids as user:x to a client without ADMIN, and whole to one with it (as ZooKeeper does)', () => {
    const t = setup();
    const alice = digestAuthId('alice', 'pw');
    t.create('/n', 0, '', [
      { perms: ZkPerm.read, id: { scheme: 'world', id: 'anyone' } },
      { perms: ZkPerm.all, id: alice },
    ]);
    const aclOf = (auth: { scheme: string; id: string }[]) => {
      const answer = answerRead(t.zk, { type: 'getACL', path: '/n' }, t.session, auth);
      return answer.body?.type === 'acl' ? answer.body.acl.map((e) => `${e.perms} ${e.id.scheme}:${e.id.id}`) : answer.err;
    };
    expect(aclOf([])).toEqual(['1 world:anyone', '31 digest:alice:x']);
    expect(aclOf([alice])).toEqual(['1 world:anyone', `31 digest:${alice.id}`]);
  });
});

describe('sessions', () => {
  it('deletes ephemerals when the session closes, and refuses its writes after', () => {
    const t = setup();
    t.create('/e1', 1);
    t.create('/e2', 3);
    expect(t.zk.tree.ephemerals(t.session)).toHaveLength(2);
    const changes: unknown[] = [];
    t.zk.onApplied((a) => changes.push(...a.changes));
    expect(t.apply({ type: 'session-close', session: t.session })).toMatchObject({ type: 'done' });
    expect(t.zk.tree.children('/')).toEqual(['zookeeper']);
    expect(changes).toContainEqual(expect.objectContaining({ type: 'deleted', path: '/e1' }));
    expect(t.apply({ type: 'write', session: t.session, auth: [], request: { op: 'delete', path: '/x', version: -1 } })).toMatchObject({ type: 'no-session' });
  });
  it('expires only the sessions not renewed after the slot the leader decided at', () => {
    const t = setup();
    t.create('/e', 1);
    const decidedAt = t.slot;
    t.apply({ type: 'session-touch', sessions: [t.session] });
    t.apply({ type: 'session-expire', sessions: [t.session], decidedAtSlot: decidedAt });
    expect(t.zk.sessions.get(t.session)).toBeDefined();
    t.apply({ type: 'session-expire', sessions: [t.session], decidedAtSlot: t.slot });
    expect(t.zk.sessions.get(t.session)).toBeUndefined();
    expect(t.zk.tree.get('/e')).toBeUndefined();
    expect(t.apply({ type: 'session-expire', sessions: [], decidedAtSlot: t.slot + 5 })).toMatchObject({ type: 'invalid' });
  });
});

describe('snapshot', () => {
  it('restores to an identical machine', () => {
    const t = setup();
    t.create('/a', 0, 'x');
    t.create('/a/e', 3, 'y');
    t.write({ op: 'setACL', path: '/a', acl: [{ perms: 31, id: { scheme: 'ip', id: '1.2.3.4' } }], version: -1 });
    const copy = new ZkStateMachine();
    restoreZkSnapshot(copy, encodeZkSnapshot(t.zk));
    expect(encodeZkSnapshot(copy)).toEqual(encodeZkSnapshot(t.zk));
    expect(copy.tree.ephemerals(t.session)).toEqual(['/a/e0000000000']);
    expect(copy.zxid).toBe(t.zk.zxid);
  });
});

describe('snapshot format 1', () => {
  it('is still read: a snapshot written before containers and TTL nodes (test/zk/fixtures/zk-snapshot-v1.bin) restores with neither', () => {
    const machine = new ZkStateMachine();
    restoreZkSnapshot(machine, new Uint8Array(readFileSync(new URL('fixtures/zk-snapshot-v1.bin', import.meta.url))));
    expect(machine.zxid).toBe(5);
    expect(machine.tree.children('/app')).toEqual(['eph', 'seq-0000000001']);
    expect(new TextDecoder().decode(machine.tree.get('/app')!.data)).toBe('v2');
    expect(machine.tree.ephemerals(1)).toEqual(['/app/eph']);
    expect([...machine.tree.entries()].every(([, node]) => !node.container && node.ttlMs === 0)).toBe(true);
    // Written again, it is format 2, and reads back the same.
    const again = encodeZkSnapshot(machine);
    expect(again[3]).toBe(2);
    const copy = new ZkStateMachine();
    restoreZkSnapshot(copy, again);
    expect(dump(copy)).toEqual(dump(machine));
  });
  it('refuses a format it does not know', () => {
    const bytes = encodeZkSnapshot(new ZkStateMachine());
    bytes[3] = 3;
    expect(() => restoreZkSnapshot(new ZkStateMachine(), bytes)).toThrow(/format version 3, this build reads 1 and 2/);
  });
});

describe('digest ids', () => {
  it('hash user:password with SHA-1 in base64, as ZooKeeper does', () => {
    // ZooKeeper's own documented example: super:test → super:D/InIHSb7yEEbrWz8b9l71RjZJU=
    expect(digestAuthId('super', 'test')).toEqual({ scheme: 'digest', id: 'super:D/InIHSb7yEEbrWz8b9l71RjZJU=' });
  });
});

describe('containers and TTL nodes', () => {
  const container = (path: string, flags = 0) => ({
    op: 'create' as const,
    path,
    data: bytes(''),
    acl: openAcl,
    flags,
    withStat: true,
    kind: 'container' as const,
  });
  const ttl = (path: string, ttlMs: number, flags = 5) => ({
    op: 'create' as const,
    path,
    data: bytes(''),
    acl: openAcl,
    flags,
    withStat: true,
    kind: 'ttl' as const,
    ttlMs,
  });
  const expire = (t: ReturnType<typeof setup>, ...paths: string[]) =>
    t.apply({ type: 'node-expire', nodes: paths.map((path) => ({ path, mzxid: t.zk.tree.get(path)?.mzxid ?? 0 })) });

  it('creates them in every mode, showing ephemeralOwner 0 as ZooKeeper does (it hides the kind from clients)', () => {
    const t = setup();
    expect(t.write(container('/c'))).toMatchObject({ op: 'create', path: '/c', stat: { ephemeralOwner: 0 } });
    expect(t.write(ttl('/t', 5000))).toMatchObject({ op: 'create', path: '/t', stat: { ephemeralOwner: 0 } });
    expect(t.write(ttl('/s-', 2 ** 40 - 1, 6))).toMatchObject({ path: '/s-0000000002', stat: { ephemeralOwner: 0 } });
    // The opcode decides the kind: a createContainer in an ephemeral mode makes a container, owned by no session.
    expect(t.write(container('/ce', 1))).toMatchObject({ path: '/ce', stat: { ephemeralOwner: 0 } });
    expect(t.zk.tree.ephemerals(t.session)).toEqual([]);
    // A container or TTL node may have children (it is no session's ephemeral).
    expect(t.create('/c/x')).toMatchObject({ op: 'create', path: '/c/x' });
    expect(t.create('/t/x')).toMatchObject({ op: 'create', path: '/t/x' });
    expect([...t.zk.tree.expirable()].sort()).toEqual(['/c', '/ce', '/s-0000000002', '/t']);
  });

  it("refuses a TTL out of ZooKeeper's bounds, and a TTL mode without createTTL, with badArguments", () => {
    const t = setup();
    for (const bad of [0, -1, 2 ** 40]) expect(t.write(ttl('/t', bad)), String(bad)).toEqual(err(ZkErrorCode.badArguments));
    expect(t.write(ttl('/t', 1000, 0))).toEqual(err(ZkErrorCode.badArguments));
    expect(t.create('/t', 5)).toEqual(err(ZkErrorCode.badArguments));
    expect(t.create('/t', 6)).toEqual(err(ZkErrorCode.badArguments));
    expect(t.create('/t', 7)).toEqual(err(ZkErrorCode.badArguments));
    expect(t.zk.tree.get('/t')).toBeUndefined();
    // create2 with the container mode makes a plain persistent node, as ZooKeeper's CreateTxn does.
    expect(t.create('/p', 4)).toMatchObject({ op: 'create', stat: { ephemeralOwner: 0 } });
    expect([...t.zk.tree.expirable()]).toEqual([]);
  });

  it('deletes a container that had a child and has none, firing the delete', () => {
    const t = setup();
    t.write(container('/c'));
    t.create('/c/x');
    t.write({ op: 'delete', path: '/c/x', version: -1 });
    const seen: string[] = [];
    t.zk.onApplied((a) => seen.push(...a.changes.map((c) => `${c.type} ${c.path}`)));
    const zxid = t.zk.zxid;
    expect(expire(t, '/c')).toEqual({ type: 'done', zxid: zxid + 1 });
    expect(t.zk.tree.get('/c')).toBeUndefined();
    expect(seen).toEqual(['deleted /c', 'childrenChanged /']);
    expect([...t.zk.tree.expirable()]).toEqual([]);
  });

  it('keeps a node a child or a write reached before the expiry applied', () => {
    const t = setup();
    t.write(container('/c'));
    t.write(ttl('/t', 1000));
    const decided = [
      { path: '/c', mzxid: t.zk.tree.get('/c')!.mzxid },
      { path: '/t', mzxid: t.zk.tree.get('/t')!.mzxid },
    ];
    // The leader decided; then, before its command applies, a child is created under /c and /t is written.
    t.create('/c/x');
    t.write({ op: 'setData', path: '/t', data: bytes('new'), version: -1 });
    const zxid = t.zk.zxid;
    expect(t.apply({ type: 'node-expire', nodes: decided })).toEqual({ type: 'done', zxid });
    expect(t.zk.tree.get('/c')).toBeDefined();
    expect(t.zk.tree.get('/t')).toBeDefined();
    // A TTL node with a child stays too, and a node of another kind is never expired.
    t.create('/t/x');
    t.create('/p');
    t.create('/e', 1);
    expect(expire(t, '/t', '/p', '/e', '/absent')).toEqual({ type: 'done', zxid: t.zk.zxid });
    expect(['/t', '/p', '/e'].map((p) => t.zk.tree.get(p) !== undefined)).toEqual([true, true, true]);
  });

  it('rolls a failed multi back out of the index, and snapshots keep the kinds', () => {
    const t = setup();
    expect(t.write({ op: 'multi', ops: [container('/c'), { op: 'check', path: '/none', version: -1 }] })).toMatchObject({ op: 'multi' });
    expect([...t.zk.tree.expirable()]).toEqual([]);
    t.write({ op: 'multi', ops: [container('/c'), ttl('/t', 7)] });
    const copy = new ZkStateMachine();
    restoreZkSnapshot(copy, encodeZkSnapshot(t.zk));
    expect(dump(copy)).toEqual(dump(t.zk));
    expect([...copy.tree.expirable()].sort()).toEqual(['/c', '/t']);
  });
});
