/**
 * The exactly-once table's byte bounds on a three-node cluster (real timers, 10 ms
 * ticks): one client sending requests with huge results and never moving `ackedBelow`
 * leaves every replica within `dedup.resultBytesPerClientMax` and `dedup.resultBytesMax`;
 * a retry of a request whose result was dropped is refused with ResultDroppedError and
 * not applied again; and a restart, from the log or from a snapshot, rebuilds the same
 * bounded table (apply is deterministic, so the bounds are part of it).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Logger, MemoryNetwork, MemoryStorage, type NodeId, ResultDroppedError, type SynodNode, createNode } from '../../src/index.js';

/** Makes a result of `bytes` characters and counts how often `key` was applied. */
interface Make {
  readonly key: string;
  readonly chars: number;
}

class Blobs {
  readonly applied = new Map<string, number>();

  apply(command: Make): string {
    this.applied.set(command.key, (this.applied.get(command.key) ?? 0) + 1);
    return 'b'.repeat(command.chars);
  }

  snapshot(): { write(): Promise<Uint8Array> } {
    const text = JSON.stringify([...this.applied]);
    return { write: async () => new TextEncoder().encode(text) };
  }

  restore(data: Uint8Array): void {
    this.applied.clear();
    for (const [k, v] of JSON.parse(new TextDecoder().decode(data)) as [string, number][]) this.applied.set(k, v);
  }
}

const kib = 1024;
const dedup = { resultBytesPerClientMax: 64 * kib, resultBytesMax: 256 * kib };
const ids: NodeId[] = ['n1', 'n2', 'n3'];

class Cluster {
  readonly network = new MemoryNetwork({ delayMs: { min: 0, max: 1 } });
  readonly storages = new Map<NodeId, MemoryStorage>(ids.map((id) => [id, new MemoryStorage()]));
  readonly machines = new Map<NodeId, Blobs>();
  readonly nodes = new Map<NodeId, SynodNode<Make, string>>();
  readonly warnings: string[] = [];

  constructor(private readonly snapshotEverySlots: number | undefined) {
    for (const id of ids) this.build(id);
  }

  private build(id: NodeId): SynodNode<Make, string> {
    const machine = new Blobs();
    const ignore = (): void => {};
    const logger: Logger = { debug: ignore, info: ignore, error: ignore, warn: (_, message) => this.warnings.push(`${id}: ${message}`) };
    const node = createNode<Make, string>({
      id,
      members: ids,
      transport: this.network.transport(id),
      storage: this.storages.get(id)!,
      stateMachine: machine,
      tickMs: 10,
      electionTicks: { min: 20, max: 40 },
      proposeTimeoutMs: 10_000,
      readTimeoutMs: 10_000,
      dedup,
      logger,
      ...(this.snapshotEverySlots === undefined ? {} : { snapshot: { everySlots: this.snapshotEverySlots, trailingSlots: 2 } }),
    });
    this.machines.set(id, machine);
    this.nodes.set(id, node);
    return node;
  }

  node(id: NodeId): SynodNode<Make, string> {
    return this.nodes.get(id)!;
  }

  async start(): Promise<void> {
    await Promise.all(ids.map((id) => this.node(id).start()));
    await this.waitFor(() => ids.some((id) => this.node(id).status().role === 'leader'), 'a leader');
  }

  async waitFor(condition: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async restart(id: NodeId): Promise<SynodNode<Make, string>> {
    await this.node(id).close();
    this.storages.set(id, this.storages.get(id)!.reopen());
    const node = this.build(id);
    await node.start();
    return node;
  }

  /** Every replica has applied everything acknowledged so far. */
  async allApplied(): Promise<void> {
    await Promise.all(ids.map((id) => this.node(id).read()));
  }

  table(id: NodeId): { clients: number; results: number; bytes: number } {
    const { clients, results, bytes } = this.node(id).metrics().exactlyOnce;
    return { clients, results, bytes };
  }

  async close(): Promise<void> {
    await Promise.all(ids.map((id) => this.node(id).close()));
  }
}

let current: Cluster | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

async function startCluster(snapshotEverySlots?: number): Promise<Cluster> {
  current = new Cluster(snapshotEverySlots);
  await current.start();
  return current;
}

/**
 * Honest clients whose results fit alone, enough of them to press on the total; then
 * results of 200 KB (100,000 characters, two bytes each) from one client that never
 * moves `ackedBelow`.
 */
async function attack(c: Cluster, requests: number): Promise<void> {
  for (let i = 0; i < 8; i++) {
    await c.node(ids[i % 3]!).propose({ key: `fits/${i}`, chars: 20_000 }, { request: { clientId: `honest-${i}`, seq: 1 } });
  }
  for (let seq = 1; seq <= requests; seq += 4) {
    const batch = Array.from({ length: Math.min(4, requests - seq + 1) }, (_, i) => {
      const request = { clientId: 'attacker', seq: seq + i, ackedBelow: 0 };
      return c.node(ids[(seq + i) % 3]!).propose({ key: `attack/${seq + i}`, chars: 100_000 }, { request });
    });
    // The first answer is whole: only what is kept for a retry is bounded.
    for (const result of await Promise.all(batch)) expect(result.length).toBe(100_000);
  }
  await c.allApplied();
}

function expectBounded(c: Cluster): void {
  for (const id of ids) {
    const node = c.node(id);
    expect(node.status().state, id).toBe('running');
    expect(node.metrics().exactlyOnce.bytes, `${id}'s table`).toBeLessThanOrEqual(dedup.resultBytesMax);
    expect(c.table(id), `${id}'s table against n1's`).toEqual(c.table('n1'));
  }
}

describe('the exactly-once table’s byte bounds on a cluster', () => {
  it('a client with huge results that never moves ackedBelow leaves every replica within the bounds, counted and logged', async () => {
    const c = await startCluster();
    await attack(c, 40);
    expectBounded(c);
    for (const id of ids) {
      const m = c.node(id).metrics().exactlyOnce;
      expect(m.tooLarge, id).toBe(40);
      expect(m.evictedForTotal, id).toBeGreaterThan(0);
    }
    expect(c.warnings.some((w) => w.includes('larger than dedup.resultBytesPerClientMax'))).toBe(true);
    expect(c.warnings.some((w) => w.includes('went over dedup.resultBytesMax'))).toBe(true);
  });

  it('a retry of a request whose result was dropped is refused with ResultDroppedError and not applied again', async () => {
    const c = await startCluster();
    await attack(c, 8);
    const retry = c.node('n2').propose({ key: 'attack/3', chars: 100_000 }, { request: { clientId: 'attacker', seq: 3, ackedBelow: 0 } });
    await expect(retry).rejects.toBeInstanceOf(ResultDroppedError);
    await expect(retry).rejects.toMatchObject({ code: 'RESULT_DROPPED', clientId: 'attacker', seq: 3 });
    await c.allApplied();
    for (const id of ids) expect(c.machines.get(id)!.applied.get('attack/3'), id).toBe(1);
  });

  it('a restart replays the log into the same bounded table, and a dropped result stays dropped', async () => {
    const c = await startCluster();
    await attack(c, 24);
    const before = c.table('n3');
    const restarted = await c.restart('n3');
    await restarted.read();
    expect(c.table('n3')).toEqual(before);
    expect(restarted.metrics().exactlyOnce.tooLarge).toBe(24);
    await expect(restarted.propose({ key: 'attack/5', chars: 1 }, { request: { clientId: 'attacker', seq: 5, ackedBelow: 0 } })).rejects.toBeInstanceOf(
      ResultDroppedError,
    );
    expect(c.machines.get('n3')!.applied.get('attack/5')).toBe(1);
    expectBounded(c);
  });

  it('a node restored from a snapshot holds the same table, dropped markers included', async () => {
    const c = await startCluster(4);
    await attack(c, 24);
    await c.waitFor(() => c.node('n2').metrics().snapshots.saved > 0, 'a snapshot on n2');
    const before = c.table('n2');
    const restarted = await c.restart('n2');
    await restarted.read();
    expect(c.table('n2')).toEqual(before);
    await expect(restarted.propose({ key: 'attack/2', chars: 1 }, { request: { clientId: 'attacker', seq: 2, ackedBelow: 0 } })).rejects.toBeInstanceOf(
      ResultDroppedError,
    );
    expect(c.machines.get('n2')!.applied.get('attack/2')).toBe(1);
    expectBounded(c);
  });
});
