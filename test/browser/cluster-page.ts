/**
 * What the browser test runs inside Chromium, bundled by esbuild from the sources of
 * the `synod` entry: three nodes on the in-memory network and storage, a leader
 * elected by the system clock's timers, commands proposed through a follower and
 * applied on every node. It reports on `globalThis.synodResult`.
 */
import { createNode, MemoryNetwork, MemoryStorage, type SynodNode } from '../../src/index.js';

/** What the page reports back to the test. */
export interface PageResult {
  readonly ok: boolean;
  readonly totals?: readonly number[];
  readonly leader?: string;
  readonly lastResult?: number;
  readonly hasSetImmediate: boolean;
  readonly error?: string;
}

class Counter {
  total = 0;
  apply(command: { add: number }): number {
    return (this.total += command.add);
  }
}

async function run(): Promise<PageResult> {
  const hasSetImmediate = typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function';
  const network = new MemoryNetwork();
  const ids = ['a', 'b', 'c'];
  const counters = ids.map(() => new Counter());
  const nodes: SynodNode<{ add: number }, number>[] = ids.map((id, i) =>
    createNode({ id, members: ids, transport: network.transport(id), storage: new MemoryStorage(), stateMachine: counters[i]! }),
  );
  try {
    await Promise.all(nodes.map((n) => n.start()));
    let lastResult = 0;
    for (let add = 1; add <= 10; add++) lastResult = await nodes[1]!.propose({ add }, { timeoutMs: 10_000 });
    await Promise.all(nodes.map((n) => n.read({ timeoutMs: 10_000 })));
    const leader = nodes.find((n) => n.status().role === 'leader')?.id;
    return { ok: true, totals: counters.map((c) => c.total), ...(leader === undefined ? {} : { leader }), lastResult, hasSetImmediate };
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
  }
}

(globalThis as { synodResult?: Promise<PageResult> }).synodResult = run().catch(
  (e: unknown): PageResult => ({ ok: false, hasSetImmediate: false, error: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e) }),
);
