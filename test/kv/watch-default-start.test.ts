/**
 * A watch without `fromRevision` starts after what its replica has applied as it is
 * set up, so a write begun after `watch()` returned is never missed, even when the
 * write goes through another member and the watch is on a follower (a read point, taken
 * at the leader, could be passed by such a write: 20 of 60 were missed that way).
 */
import { afterEach, expect, it } from 'vitest';
import { MemoryNetwork, MemoryStorage } from '../../src/index.js';
import { type KvNode, createKvNode } from '../../src/kv/index.js';

const nodes: KvNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()));
});

it("a write through another member after watch() returned is always reported by a follower's watch", async () => {
  const network = new MemoryNetwork({ delayMs: { min: 0, max: 3 } });
  for (const id of ['a', 'b', 'c'])
    nodes.push(
      createKvNode({
        id,
        members: ['a', 'b', 'c'],
        transport: network.transport(id),
        storage: new MemoryStorage(),
        tickMs: 10,
        electionTicks: { min: 10, max: 20 },
      }),
    );
  await Promise.all(nodes.map((n) => n.start()));
  await nodes[0]!.put('warm', 'v');
  const rounds = 40;
  let seen = 0;
  for (let i = 0; i < rounds; i++) {
    const [watching, writing] = nodes.filter((n) => n.node.status().role !== 'leader');
    const watch = watching!.watch({ key: `k${i}` });
    await writing!.put(`k${i}`, 'v');
    const event = await Promise.race([watch.next(), new Promise<undefined>((r) => setTimeout(() => r(undefined), 2_000))]);
    if (event !== undefined && event.done !== true && event.value.kv.key === `k${i}`) seen++;
    watch.close();
  }
  expect(seen).toBe(rounds);
});
