/**
 * An observer in the KV: it applies every write without voting, and serves
 * serializable reads, linearizable reads (through the leader's read point) and watches
 * from its own copy.
 */
import { afterEach, expect, it } from 'vitest';
import { MemoryNetwork, MemoryStorage } from '../../src/index.js';
import { type KvNode, createKvNode } from '../../src/kv/index.js';

const nodes: KvNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()));
});

it('an observer serves serializable and linearizable reads and watches, and never votes', async () => {
  const network = new MemoryNetwork({ delayMs: { min: 0, max: 1 } });
  const voters = ['a', 'b', 'c'];
  for (const id of [...voters, 'o']) {
    nodes.push(
      createKvNode({
        id,
        members: voters,
        observers: ['o'],
        transport: network.transport(id),
        storage: new MemoryStorage(),
        tickMs: 10,
        electionTicks: { min: 20, max: 40 },
      }),
    );
  }
  await Promise.all(nodes.map((n) => n.start()));
  const observer = nodes[3]!;
  const watch = observer.watch({ prefix: 'k' });
  const events: string[] = [];
  const watching = (async () => {
    for await (const e of watch) {
      events.push(`${e.type} ${e.kv.key}`);
      if (events.length === 2) break;
    }
  })();
  // Writes through the observer go to the leader; reads come from its own copy.
  await observer.put('k1', 'one');
  await nodes[0]!.put('k2', 'two');
  expect(new TextDecoder().decode((await observer.get('k2'))!.value)).toBe('two');
  for (let i = 0; i < 200 && (await observer.get('k1', { consistency: 'serializable' })) === undefined; i++) await new Promise((r) => setTimeout(r, 5));
  expect(new TextDecoder().decode((await observer.get('k1', { consistency: 'serializable' }))!.value)).toBe('one');
  await watching;
  expect(events).toEqual(['put k1', 'put k2']);
  expect(observer.node.status().role).toBe('observer');
  expect(observer.node.status().configuration?.observers).toEqual(['o']);
});
