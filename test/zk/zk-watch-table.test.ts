/** ZooKeeper's watch semantics: one-shot data/exist/child watches fire once; persistent and recursive ones stay. */
import { describe, expect, it } from 'vitest';
import { ZkWatchTable } from '../../src/zk/index.js';

describe('ZkWatchTable', () => {
  it('fires a one-shot data watch once, on create, change or delete', () => {
    const t = new ZkWatchTable<string>();
    t.add('data', '/a', 'c1');
    expect([...t.fire([{ type: 'dataChanged', path: '/a' }])]).toEqual([['c1', [{ type: 3, path: '/a' }]]]);
    expect(t.fire([{ type: 'dataChanged', path: '/a' }]).size).toBe(0);
    t.add('data', '/b', 'c1');
    expect(t.fire([{ type: 'created', path: '/b' }]).get('c1')).toEqual([{ type: 1, path: '/b' }]);
    expect(t.count('c1')).toBe(0);
  });
  it('fires child watches on children changed and on the node deleted, each change once per watcher', () => {
    const t = new ZkWatchTable<string>();
    t.add('child', '/p', 'c1');
    t.add('data', '/p', 'c1');
    expect(t.fire([{ type: 'deleted', path: '/p' }]).get('c1')).toEqual([{ type: 2, path: '/p' }]);
    expect(t.count('c1')).toBe(0);
    t.add('child', '/p', 'c2');
    expect(t.fire([{ type: 'created', path: '/p/x' }, { type: 'childrenChanged', path: '/p' }]).get('c2')).toEqual([{ type: 4, path: '/p' }]);
  });
  it('keeps persistent watches; recursive ones see descendants but no children-changed event', () => {
    const t = new ZkWatchTable<string>();
    t.add('persistent', '/p', 'c1');
    t.add('recursive', '/p', 'c2');
    const changes = [{ type: 'created', path: '/p/x/y' }, { type: 'childrenChanged', path: '/p' }, { type: 'dataChanged', path: '/p' }] as const;
    const first = t.fire(changes);
    expect(first.get('c1')).toEqual([{ type: 4, path: '/p' }, { type: 3, path: '/p' }]);
    expect(first.get('c2')).toEqual([{ type: 1, path: '/p/x/y' }, { type: 3, path: '/p' }]);
    expect(t.fire(changes).get('c1')).toHaveLength(2);
    t.removeWatcher('c1');
    expect(t.fire(changes).get('c1')).toBeUndefined();
    expect(t.remove('recursive', '/p', 'c2')).toBe(true);
    expect(t.fire(changes).size).toBe(0);
  });
});
