/** ZooKeeper's watch semantics: one-shot data/exist/child watches fire once; persistent and recursive ones stay. */
import { describe, expect, it } from 'vitest';
import { type ZkAcl, type ZkId, ZkWatchTable, openAcl } from '../../src/zk/index.js';
import { digestAuthId } from '../../src/zk/zk-digest.js';
import { aclAllows } from '../../src/zk/zk-acl.js';

describe('ZkWatchTable', () => {
  it('fires a one-shot data watch once, on create, change or delete', () => {
    const t = new ZkWatchTable<string>();
    t.add('data', '/a', 'c1');
    expect([...t.fire([{ type: 'dataChanged', path: '/a', acl: openAcl }])]).toEqual([['c1', [{ type: 3, path: '/a' }]]]);
    expect(t.fire([{ type: 'dataChanged', path: '/a', acl: openAcl }]).size).toBe(0);
    t.add('data', '/b', 'c1');
    expect(t.fire([{ type: 'created', path: '/b', acl: openAcl }]).get('c1')).toEqual([{ type: 1, path: '/b' }]);
    expect(t.count('c1')).toBe(0);
  });
  it('fires child watches on children changed and on the node deleted, each change once per watcher', () => {
    const t = new ZkWatchTable<string>();
    t.add('child', '/p', 'c1');
    t.add('data', '/p', 'c1');
    expect(t.fire([{ type: 'deleted', path: '/p', acl: openAcl }]).get('c1')).toEqual([{ type: 2, path: '/p' }]);
    expect(t.count('c1')).toBe(0);
    t.add('child', '/p', 'c2');
    expect(
      t
        .fire([
          { type: 'created', path: '/p/x', acl: openAcl },
          { type: 'childrenChanged', path: '/p', acl: openAcl },
        ])
        .get('c2'),
    ).toEqual([{ type: 4, path: '/p' }]);
  });
  it('keeps persistent watches; recursive ones see descendants but no children-changed event', () => {
    const t = new ZkWatchTable<string>();
    t.add('persistent', '/p', 'c1');
    t.add('recursive', '/p', 'c2');
    const changes = [
      { type: 'created', path: '/p/x/y', acl: openAcl },
      { type: 'childrenChanged', path: '/p', acl: openAcl },
      { type: 'dataChanged', path: '/p', acl: openAcl },
    ] as const;
    const first = t.fire(changes);
    expect(first.get('c1')).toEqual([
      { type: 4, path: '/p' },
      { type: 3, path: '/p' },
    ]);
    expect(first.get('c2')).toEqual([
      { type: 1, path: '/p/x/y' },
      { type: 3, path: '/p' },
    ]);
    expect(t.fire(changes).get('c1')).toHaveLength(2);
    t.removeWatcher('c1');
    expect(t.fire(changes).get('c1')).toBeUndefined();
    expect(t.remove('recursive', '/p', 'c2')).toBe(true);
    expect(t.fire(changes).size).toBe(0);
  });
  it('tells a watcher of a change only if it may read the ACL the change names, spending its one-shot watch all the same (CVE-2024-23944)', () => {
    const alice = digestAuthId('alice', 'pw');
    const aliceOnly = [{ perms: 31, id: alice }];
    const held = new Map<string, ZkId[]>([
      ['c1', []],
      ['c2', [alice]],
    ]);
    const mayRead = (w: string, acl: readonly ZkAcl[]) => aclAllows(acl, 1, held.get(w)!);
    const t = new ZkWatchTable<string>();
    t.add('recursive', '/', 'c1');
    t.add('recursive', '/', 'c2');
    t.add('data', '/secret', 'c1');
    const fired = t.fire(
      [
        { type: 'created', path: '/secret', acl: aliceOnly },
        { type: 'childrenChanged', path: '/', acl: openAcl },
      ],
      mayRead,
    );
    expect(fired.get('c1')).toBeUndefined();
    expect(fired.get('c2')).toEqual([{ type: 1, path: '/secret' }]);
    expect(t.has('data', '/secret', 'c1')).toBe(false);
  });
  it('lists every watch held, kind by kind, and none once fired or removed', () => {
    const t = new ZkWatchTable<string>();
    t.add('data', '/a', 'c1');
    t.add('child', '/a', 'c1');
    t.add('data', '/b', 'c2');
    t.add('recursive', '/', 'c2');
    expect(t.list()).toEqual([
      { kind: 'data', path: '/a', watcher: 'c1' },
      { kind: 'data', path: '/b', watcher: 'c2' },
      { kind: 'child', path: '/a', watcher: 'c1' },
      { kind: 'recursive', path: '/', watcher: 'c2' },
    ]);
    t.fire([{ type: 'dataChanged', path: '/a', acl: openAcl }]);
    t.removeWatcher('c2');
    expect(t.list()).toEqual([{ kind: 'child', path: '/a', watcher: 'c1' }]);
  });
});
