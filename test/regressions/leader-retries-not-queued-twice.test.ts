/**
 * Bug: a request retried on the leader after its first attempt timed out was queued
 * again although the first copy was still in the leader's pipeline: every retry took a
 * slot of its own (40 commands took 197 slots, one a retry). Behind a slow pipeline the
 * copies delay every later command, which times out and is retried in turn, as the
 * simulated client's timer did in soak 475226991:324114. The leader now skips a retry of
 * a request its leadership holds, as it does a follower's resend: the held copy settles
 * the retry when applied, or comes back in `dropped` and is proposed again.
 */
import { expect, it } from 'vitest';
import { TimeoutError } from '../../src/index.js';
import { LocalCluster } from '../runtime/local-cluster.js';

it('a leader does not queue a retry of a request already in its pipeline', async () => {
  // One command a slot, one slot in flight, 3 ms each way: 40 commands take far longer
  // than the 30 ms each attempt waits.
  const c = new LocalCluster({ voters: 3, node: { batchCommandsMax: 1, inflightSlotsMax: 1 } });
  await c.start();
  try {
    await c.waitFor(() => c.leader() !== undefined, 'a leader');
    const leader = c.node(c.leader()!);
    c.network.setConditions({ delayMs: { min: 3, max: 3 } });
    let timeouts = 0;
    const proposeUntilApplied = async (i: number): Promise<number> => {
      for (;;) {
        try {
          return await leader.propose({ key: `k${i}`, add: 1 }, { request: { clientId: 'user', seq: i }, timeoutMs: 30 });
        } catch (error) {
          if (!(error instanceof TimeoutError)) throw error;
          timeouts++;
        }
      }
    };
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => proposeUntilApplied(i)));
    expect(results).toEqual(Array.from({ length: 40 }, () => 1));
    expect(timeouts).toBeGreaterThan(40);
    // One more command queues behind whatever copies the leader still holds: once it is
    // applied, they are too.
    c.network.setConditions({ delayMs: { min: 0, max: 0 } });
    await leader.propose({ key: 'last', add: 1 }, { request: { clientId: 'user', seq: 40 } });
    const m = leader.metrics();
    // 41 commands in 41-odd slots (a leader change under load may add a few), not a slot a retry.
    expect(m.applied.commands).toBe(41);
    expect(m.applied.duplicates).toBeLessThanOrEqual(5);
    expect(m.applied.slots).toBeLessThanOrEqual(46);
  } finally {
    await c.close();
  }
});
