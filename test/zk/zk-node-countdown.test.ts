/** The leader's countdowns of containers and TTL nodes (ZooKeeper's ContainerManager rules), on a monotonic clock it is given. */
import { describe, expect, it } from 'vitest';
import { ZkStateMachine, type ZkCommand, type ZkWriteOp, openAcl } from '../../src/zk/index.js';
import { ZkNodeCountdown } from '../../src/zk/zk-node-countdown.js';

const password = new Uint8Array(16).fill(7);

function setup() {
  const zk = new ZkStateMachine();
  let slot = 0;
  const apply = (c: ZkCommand) => zk.apply(c, { slot: ++slot, timestamp: 1000 + slot });
  const opened = apply({ type: 'session-create', password, ttlMs: 10_000 });
  if (opened.type !== 'session') throw new Error('no session');
  const write = (request: ZkWriteOp) => apply({ type: 'write', session: opened.session, auth: [], request });
  const create = (path: string, extra: Partial<Extract<ZkWriteOp, { op: 'create' }>> = {}) =>
    write({ op: 'create', path, data: new Uint8Array(0), acl: openAcl, flags: 0, withStat: true, ...extra });
  return { zk, apply, write, create };
}

const paths = (due: readonly { path: string }[]) => due.map((n) => n.path);

describe('ZkNodeCountdown', () => {
  it('finds a container due once it had a child and has none; a never-used one only after its grace, if any', () => {
    const t = setup();
    const countdown = new ZkNodeCountdown();
    t.create('/used', { kind: 'container' });
    t.create('/unused', { kind: 'container' });
    t.create('/used/x');
    expect(paths(countdown.observe(t.zk.tree, 0, { neverUsedContainerMs: 0 }, 100))).toEqual([]);
    t.write({ op: 'delete', path: '/used/x', version: -1 });
    expect(paths(countdown.observe(t.zk.tree, 1, { neverUsedContainerMs: 0 }, 100))).toEqual(['/used']);
    // ZooKeeper 3.8's default keeps a never-used container for good.
    expect(paths(countdown.observe(t.zk.tree, 1e9, { neverUsedContainerMs: 0 }, 100))).toEqual(['/used']);
    const graced = new ZkNodeCountdown();
    expect(paths(graced.observe(t.zk.tree, 0, { neverUsedContainerMs: 500 }, 100))).toEqual(['/used']);
    expect(paths(graced.observe(t.zk.tree, 500, { neverUsedContainerMs: 500 }, 100))).toEqual(['/used']);
    expect(paths(graced.observe(t.zk.tree, 501, { neverUsedContainerMs: 500 }, 100))).toEqual(['/unused', '/used']);
  });

  it('finds a TTL node due once childless and unmodified for more than its TTL, counted from when the leader saw its last write', () => {
    const t = setup();
    const countdown = new ZkNodeCountdown();
    const options = { neverUsedContainerMs: 0 };
    t.create('/t', { kind: 'ttl', flags: 5, ttlMs: 1000 });
    expect(paths(countdown.observe(t.zk.tree, 5_000, options, 100))).toEqual([]);
    expect(paths(countdown.observe(t.zk.tree, 6_000, options, 100))).toEqual([]);
    // A write restarts the countdown; a child holds the node while it lasts.
    t.write({ op: 'setData', path: '/t', data: new Uint8Array(1), version: -1 });
    t.create('/t/x');
    expect(paths(countdown.observe(t.zk.tree, 6_500, options, 100))).toEqual([]);
    expect(paths(countdown.observe(t.zk.tree, 7_501, options, 100))).toEqual([]);
    t.write({ op: 'delete', path: '/t/x', version: -1 });
    const due = countdown.observe(t.zk.tree, 7_502, options, 100);
    expect(due).toEqual([{ path: '/t', mzxid: t.zk.tree.get('/t')!.mzxid }]);
    // A new leadership counts afresh.
    countdown.clear();
    expect(paths(countdown.observe(t.zk.tree, 7_600, options, 100))).toEqual([]);
    expect(paths(countdown.observe(t.zk.tree, 8_601, options, 100))).toEqual(['/t']);
    // What it names, applied, deletes the node; the countdown then forgets it.
    t.apply({ type: 'node-expire', nodes: due });
    expect(t.zk.tree.get('/t')).toBeUndefined();
    expect(paths(countdown.observe(t.zk.tree, 9_000, options, 100))).toEqual([]);
    expect(countdown.size).toBe(0);
  });

  it('names at most max nodes at once', () => {
    const t = setup();
    for (const name of ['a', 'b', 'c']) t.create(`/${name}`, { kind: 'ttl', flags: 5, ttlMs: 1 });
    const countdown = new ZkNodeCountdown();
    countdown.observe(t.zk.tree, 0, { neverUsedContainerMs: 0 }, 2);
    expect(countdown.observe(t.zk.tree, 10, { neverUsedContainerMs: 0 }, 2)).toHaveLength(2);
  });
});
