/**
 * The KV's exactly-once entries on a three-node in-process cluster: a read-only
 * transaction takes none (a retry runs it again), and transactions whose answers are
 * huge, from a client whose `ackedBelow` never moves, leave every replica within the
 * runtime's byte bounds, with a retry refused as ResultDroppedError, never applied twice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InProcessKvCluster } from '../../examples/kv-recipes/in-process-cluster.js';
import { ResultDroppedError } from '../../src/index.js';
import type { TxnOp } from '../../src/kv/index.js';

const kib = 1024;
const dedup = { resultBytesPerClientMax: 64 * kib, resultBytesMax: 256 * kib };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

let current: InProcessKvCluster | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

async function startCluster(): Promise<InProcessKvCluster> {
  current = await InProcessKvCluster.start({ node: { proposeTimeoutMs: 10_000, readTimeoutMs: 10_000, dedup } });
  await current.waitFor(() => current!.leader() !== undefined, 'a leader');
  return current;
}

/** `count` keys under `data/` of `bytes` each, written in transactions of 100. */
async function load(c: InProcessKvCluster, count: number, bytes: number): Promise<void> {
  const value = new Uint8Array(bytes).fill(7);
  for (let i = 0; i < count; i += 100) {
    const success: TxnOp[] = Array.from({ length: Math.min(100, count - i) }, (_, j) => ({ op: 'put', key: `data/${String(i + j).padStart(5, '0')}`, value }));
    await c.kv(c.leader()!).txn({ compare: [], success });
  }
}

/** What every replica's exactly-once table holds, and that each runs; once all applied everything. */
async function tables(c: InProcessKvCluster): Promise<{ results: number; bytes: number }[]> {
  await Promise.all(c.ids.map((id) => c.kv(id).node.read()));
  return c.ids.map((id) => {
    const node = c.kv(id).node;
    expect(node.status().state, id).toBe('running');
    const { results, bytes } = node.metrics().exactlyOnce;
    return { results, bytes };
  });
}

describe('exactly-once entries of the KV', () => {
  it('a read-only transaction takes none, and its retry runs again; a transaction that writes takes one', async () => {
    const c = await startCluster();
    const [a, b] = c.ids;
    // Writes with identities of their own: a node's own client moves its floor as it goes, which would move the counts.
    await c.kv(a!).put('r', 'one', { request: { clientId: 'setup', seq: 1 } });
    const before = await tables(c);
    const read = {
      compare: [{ key: 'r', target: 'version' as const, op: '>' as const, value: 0 }],
      success: [{ op: 'range' as const, range: { key: 'r' } }],
      failure: [],
    };
    const request = { clientId: 'reader', seq: 1, ackedBelow: 0 };
    const first = await c.kv(b!).txn(read, { request });
    expect(first.results[0]).toMatchObject({ op: 'range', count: 1 });
    expect(await tables(c)).toEqual(before);
    for (const id of c.ids) expect(c.kv(id).node.metrics().applied.readOnly, id).toBe(1);
    // The retry is not answered from a table: it reads again, and sees the later write.
    await c.kv(a!).put('r', 'two', { request: { clientId: 'setup', seq: 2 } });
    const again = await c.kv(a!).txn(read, { request });
    const kv = again.results[0]!.op === 'range' ? again.results[0]!.kvs[0] : undefined;
    expect(decoder.decode(kv?.value)).toBe('two');
    // A transaction that writes keeps its result for a retry.
    const mid = await tables(c);
    const write = await c
      .kv(b!)
      .txn({ compare: [], success: [{ op: 'put', key: 'w', value: encoder.encode('x') }] }, { request: { clientId: 'writer', seq: 1 } });
    const after = await tables(c);
    for (const [i, t] of after.entries()) expect(t.results, c.ids[i]).toBe(mid[i]!.results + 1);
    expect(
      await c.kv(a!).txn({ compare: [], success: [{ op: 'put', key: 'w', value: encoder.encode('y') }] }, { request: { clientId: 'writer', seq: 1 } }),
    ).toEqual(write);
  });

  it('a read-only retry below its client’s floor runs again, on a follower too, where a write’s would be refused', async () => {
    const c = await startCluster();
    const leader = c.leader()!;
    const follower = c.ids.find((id) => id !== leader)!;
    const read = { compare: [], success: [{ op: 'range' as const, range: { key: 'm' } }], failure: [] };
    await c.kv(leader).put('m', 'one', { request: { clientId: 'mixed', seq: 1, ackedBelow: 0 } });
    await c.kv(leader).txn(read, { request: { clientId: 'mixed', seq: 2, ackedBelow: 0 } });
    // The client waits for nothing below 3 now: the table's floor for it moves past 1 and 2.
    await c.kv(leader).put('m', 'two', { request: { clientId: 'mixed', seq: 3, ackedBelow: 3 } });
    await Promise.all(c.ids.map((id) => c.kv(id).node.read()));
    const again = await c.kv(follower).txn(read, { request: { clientId: 'mixed', seq: 2, ackedBelow: 0 }, timeoutMs: 2_000 });
    const kv = again.results[0]!.op === 'range' ? again.results[0]!.kvs[0] : undefined;
    expect(decoder.decode(kv?.value)).toBe('two');
    await expect(c.kv(follower).put('m', 'three', { request: { clientId: 'mixed', seq: 1, ackedBelow: 0 } })).rejects.toMatchObject({ code: 'RESULT_EXPIRED' });
  });

  it('read-only transactions of many ranges with a stuck ackedBelow leave nothing on any replica', async () => {
    const c = await startCluster();
    await load(c, 400, 512);
    const before = await tables(c);
    const success: TxnOp[] = Array.from({ length: 32 }, () => ({ op: 'range', range: { prefix: 'data/' } }));
    for (let seq = 1; seq <= 12; seq++) {
      const result = await c.kv(c.ids[seq % 3]!).txn({ compare: [], success }, { request: { clientId: 'reader', seq, ackedBelow: 0 } });
      expect(result.results).toHaveLength(32);
    }
    expect(await tables(c)).toEqual(before);
  });

  it('transactions with huge answers that also write stay within the bounds; a retry is refused, not applied twice', async () => {
    const c = await startCluster();
    await load(c, 400, 512);
    for (let seq = 1; seq <= 12; seq++) {
      // One put and a range of 400 keys of 512 bytes: an answer of more than 200 KiB.
      const success: TxnOp[] = [
        { op: 'put', key: `attack/${seq}`, value: encoder.encode('x') },
        { op: 'range', range: { prefix: 'data/' } },
      ];
      await c.kv(c.ids[seq % 3]!).txn({ compare: [], success }, { request: { clientId: 'attacker', seq, ackedBelow: 0 } });
    }
    for (const t of await tables(c)) expect(t.bytes).toBeLessThanOrEqual(dedup.resultBytesPerClientMax);
    const retry = c
      .kv(c.ids[1]!)
      .txn(
        { compare: [], success: [{ op: 'put', key: 'attack/4', value: encoder.encode('again') }] },
        { request: { clientId: 'attacker', seq: 4, ackedBelow: 0 } },
      );
    await expect(retry).rejects.toBeInstanceOf(ResultDroppedError);
    for (const id of c.ids) {
      const kv = await c.kv(id).get('attack/4');
      expect(kv?.version, id).toBe(1);
      expect(decoder.decode(kv?.value), id).toBe('x');
    }
  });
});
