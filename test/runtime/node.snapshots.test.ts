/**
 * Snapshots on real timers: scheduled snapshots and compaction, a lagging follower
 * brought back by a snapshot streamed in chunks, a restart from a snapshot, a follower
 * restarted in the middle of a transfer, and exactly-once across an installed snapshot.
 */
import { describe, expect, it } from 'vitest';
import { type NodeId, TimeoutError, resultJsonCodec } from '../../src/index.js';
import { decodeSnapshot } from '../../src/runtime/snapshot-format.js';
import { Counters, type LocalCluster, clusterPerTest } from './local-cluster.js';

const clusters = clusterPerTest();

/** Snapshot every 10 slots, keep 5, and stream in tiny chunks so a transfer takes many messages. */
const snapshot = { everySlots: 10, trailingSlots: 5, chunkBytes: 64 };

/** Commits `count` commands, two at a time (so they take many slots). */
async function commit(c: LocalCluster, via: NodeId, count: number, key = 'k'): Promise<void> {
  for (let i = 0; i < count; i += 2) {
    await Promise.all(Array.from({ length: Math.min(2, count - i) }, (_, j) => c.node(via).propose({ key: `${key}${(i + j) % 7}`, add: 1 })));
  }
}

async function caughtUp(c: LocalCluster, id: NodeId, leader: NodeId): Promise<void> {
  await c.waitFor(() => c.node(id).status().appliedIndex === c.node(leader).status().appliedIndex, `${id} to catch up with ${leader}`, 10_000);
}

function expectSameState(c: LocalCluster, a: NodeId, b: NodeId): void {
  expect([...c.machines.get(a)!.values].sort()).toEqual([...c.machines.get(b)!.values].sort());
  expect(c.machines.get(a)!.log).toEqual(c.machines.get(b)!.log);
}

describe('snapshots', () => {
  it('a follower cut off while the leader compacts its log catches up from a snapshot sent in chunks', async () => {
    const c = await clusters.start({ voters: 3, node: { snapshot } });
    const leader = await c.waitForLeader();
    const lagging = c.ids.find((id) => id !== leader)!;
    c.network.isolate(lagging);
    await commit(c, leader, 200);
    await c.waitFor(() => c.node(leader).metrics().snapshots.saved > 0, 'a snapshot on the leader');
    c.network.heal();
    await caughtUp(c, lagging, leader);
    expect(c.node(lagging).metrics().snapshots.installed).toBeGreaterThan(0);
    // The leader counts a transfer sent when the peer's acknowledgement (sent once installed) arrives.
    await c.waitFor(() => c.node(leader).metrics().snapshots.sent > 0, 'the leader to hear the snapshot was installed');
    expectSameState(c, lagging, leader);
    // And it goes on from the log: new commands reach it as usual.
    await commit(c, leader, 10, 'after');
    await caughtUp(c, lagging, leader);
    expectSameState(c, lagging, leader);
  });

  it('a node restarts from its snapshot and the log after it', async () => {
    const c = await clusters.start({ voters: 3, node: { snapshot } });
    const leader = await c.waitForLeader();
    await commit(c, leader, 100);
    const follower = c.ids.find((id) => id !== leader)!;
    await caughtUp(c, follower, leader);
    await c.waitFor(() => c.node(follower).metrics().snapshots.saved > 0, 'a snapshot on the follower');
    const before = c.node(follower).status().appliedIndex;
    const restarted = await c.restart(follower);
    // Restored from the snapshot, then the trailing log replayed: the same state at once.
    expect(restarted.status().appliedIndex).toBeGreaterThanOrEqual(before - snapshot.everySlots);
    await caughtUp(c, follower, leader);
    expectSameState(c, follower, leader);
  });

  it('a follower restarted in the middle of a transfer gets the snapshot again and catches up', async () => {
    const c = await clusters.start({ voters: 3, node: { snapshot: { ...snapshot, chunkBytes: 16 } } });
    const leader = await c.waitForLeader();
    const lagging = c.ids.find((id) => id !== leader)!;
    c.network.isolate(lagging);
    await commit(c, leader, 300);
    c.network.setConditions({ delayMs: { min: 1, max: 3 } });
    c.network.heal();
    await c.waitFor(() => c.node(leader).metrics().snapshots.sending > 0, 'a transfer to start');
    await c.restart(lagging);
    await caughtUp(c, lagging, leader);
    expect(c.node(lagging).metrics().snapshots.installed).toBeGreaterThan(0);
    expectSameState(c, lagging, leader);
  });

  it('a retry of a request that an installed snapshot applied gets its first result, not a second apply', async () => {
    const c = await clusters.start({ voters: 3, node: { snapshot } });
    const leader = await c.waitForLeader();
    const lagging = c.ids.find((id) => id !== leader)!;
    c.network.isolate(lagging);
    const request = { clientId: 'client-1', seq: 7 };
    const first = await c.node(leader).propose({ key: 'once', add: 5 }, { request });
    await commit(c, leader, 100);
    c.network.heal();
    await caughtUp(c, lagging, leader);
    expect(c.node(lagging).metrics().snapshots.installed).toBeGreaterThan(0);
    const retry = await c.node(lagging).propose({ key: 'once', add: 5 }, { request });
    expect(retry).toBe(first);
    expect(c.machines.get(leader)!.values.get('once')).toBe(5);
  });

  it("exportSnapshot: a follower's copy holds every write acknowledged before the call, saves nothing, and a cut-off replica cannot export its stale state", async () => {
    const c = await clusters.start({ voters: 3 });
    const leader = await c.waitForLeader();
    const [follower, other] = c.ids.filter((id) => id !== leader) as [NodeId, NodeId];
    await commit(c, leader, 20);
    const acknowledged = c.node(leader).status().commitIndex;
    const exported = await c.node(follower).exportSnapshot();
    expect(exported.slot).toBeGreaterThanOrEqual(acknowledged);
    const { state, machine } = decodeSnapshot(exported.data, resultJsonCodec);
    expect(state.dedup.clients.length).toBeGreaterThan(0);
    const copy = new Counters();
    copy.restore(machine);
    expect([...copy.values.values()].reduce((a, b) => a + b, 0)).toBe(20);
    expect(c.node(follower).metrics().snapshots.saved).toBe(0);
    // Cut off from the leader, a replica has no read point: it must not hand out what it has.
    c.network.isolate(other);
    await commit(c, leader, 4);
    await expect(c.node(other).exportSnapshot({ timeoutMs: 300 })).rejects.toBeInstanceOf(TimeoutError);
  });
});
