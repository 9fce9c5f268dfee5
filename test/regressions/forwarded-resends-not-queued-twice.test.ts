/**
 * Bug: followers resend every pending proposal each `retryTicks`, and the leader
 * queued each copy in a slot of its own: behind a slow pipeline, duplicates piled up
 * (hundreds of slots for tens of commands) and delayed every later proposal. The
 * leader now skips a resend of a request already in its pipeline.
 */
import { expect, it } from 'vitest';
import { LocalCluster } from '../runtime/local-cluster.js';

it('a leader does not queue a resend of a request already in its pipeline', async () => {
  // One command a slot, one slot in flight, resends every 2 ticks: the pipeline is
  // slower than the resends.
  const c = new LocalCluster({ voters: 3, node: { batchCommandsMax: 1, inflightSlotsMax: 1, retryTicks: 2 } });
  await c.start();
  try {
    // A leader, and a follower that knows it (elections may still settle under load).
    const followerOf = (l: string | undefined) => (l === undefined ? undefined : c.ids.find((id) => id !== l && c.node(id).status().leader === l));
    await c.waitFor(() => followerOf(c.leader()) !== undefined, 'a leader and a follower that knows it');
    const leader = c.leader()!;
    const follower = followerOf(leader)!;
    c.network.setConditions({ delayMs: { min: 3, max: 3 } });
    await Promise.all(Array.from({ length: 40 }, (_, i) => c.node(follower).propose({ key: `k${i}`, add: 1 })));
    expect(c.node(follower).metrics().proposals.forwarded).toBeGreaterThan(200);
    // Let whatever the leader still holds drain through its one-slot pipeline.
    c.network.setConditions({ delayMs: { min: 0, max: 0 } });
    await new Promise((r) => setTimeout(r, 300));
    const m = c.node(leader).metrics();
    // 40 commands in 40-odd slots: a few resends at most, not one slot per resend.
    expect(m.applied.commands).toBe(40);
    expect(m.applied.slots).toBeLessThanOrEqual(45);
  } finally {
    await c.close();
  }
});
