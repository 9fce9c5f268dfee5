/**
 * The embedded node and the remote client check a read or a watch alike, before any
 * round trip: the same bad request gets the same KvRequestError from both. (They had
 * drifted: the client sent a range with an empty key to the server, and the node took a
 * revision of 0 that the client refused.) So do writes, transactions, sessions and
 * compactions: one check each, shared, the one applying them would make.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessKvCluster } from '../../examples/kv-recipes/in-process-cluster.js';
import { KvClient } from '../../src/kv/client/index.js';
import { type KeyRange, type KvApi, KvRequestError, type RangeOptions, type TxnRequest, type WatchOptions, kvLimits } from '../../src/kv/index.js';

let cluster: InProcessKvCluster;
/** A client of a port nothing listens on: a request that left it would time out, not be refused. */
let client: KvClient;

beforeAll(async () => {
  cluster = await InProcessKvCluster.start();
  client = new KvClient({
    endpoints: [{ host: '127.0.0.1', port: 9 }],
    clusterId: 'checks',
    secret: new Uint8Array(32).fill(1),
    requestTimeoutMs: 2_000,
    connectTimeoutMs: 500,
  });
});

afterAll(async () => {
  await client.close();
  await cluster.close();
});

const badRanges: [string, KeyRange, RangeOptions][] = [
  ['an empty key', { key: '' }, {}],
  ['a key with a lone surrogate', { key: 'a\ud800' }, {}],
  ['a prefix that is no string', { prefix: 5 } as unknown as KeyRange, {}],
  ['a range without an end', { start: 'a' } as unknown as KeyRange, {}],
  ['a limit of 0', { key: 'k' }, { limit: 0 }],
  ['a limit of 1.5', { key: 'k' }, { limit: 1.5 }],
  ['a revision of -1', { key: 'k' }, { revision: -1 }],
];

const badWatches: [string, KeyRange, WatchOptions][] = [
  ['an empty key', { key: '' }, {}],
  ['a prefix that is no string', { prefix: null } as unknown as KeyRange, {}],
  ['fromRevision 0', { prefix: 'p' }, { fromRevision: 0 }],
  ['fromRevision 2.5', { prefix: 'p' }, { fromRevision: 2.5 }],
];

/** The error `run` throws or rejects with. */
async function errorOf(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('a bad read gets the same KvRequestError from the node and the client, before any round trip', () => {
  it.each(badRanges)('range with %s', async (_what, range, options) => {
    const node = cluster.kv(cluster.ids[0]!);
    const fromNode = await errorOf(() => node.range(range, { ...options, consistency: 'serializable' }));
    const fromClient = await errorOf(() => client.range(range, options));
    expect(fromNode).toBeInstanceOf(KvRequestError);
    expect(fromClient).toBeInstanceOf(KvRequestError);
    expect((fromClient as Error).message).toBe((fromNode as Error).message);
  });

  it('revision 0: the node reads the empty store; the client refuses it at once, saying why', async () => {
    const node = cluster.kv(cluster.ids[0]!);
    expect(await node.range({ prefix: '' }, { revision: 0, consistency: 'serializable' })).toMatchObject({ kvs: [], count: 0, revision: 0 });
    await expect(client.range({ prefix: '' }, { revision: 0 })).rejects.toThrow(/revision 0 .* cannot be asked of a server/);
  });

  it.each(badWatches)('watch with %s', async (_what, range, options) => {
    const node = cluster.kv(cluster.ids[0]!);
    const fromNode = await errorOf(() => node.watch(range, options));
    const fromClient = await errorOf(() => client.watch(range, options));
    expect(fromNode).toBeInstanceOf(KvRequestError);
    expect(fromClient).toBeInstanceOf(KvRequestError);
    expect((fromClient as Error).message).toBe((fromNode as Error).message);
  });
});

const tooMany = Array.from({ length: kvLimits.txnOpsMax + 1 }, (_, i) => ({ op: 'delete' as const, key: `k${i}` }));
const value = new TextEncoder().encode('v');

/** Writes the store would refuse, each as a call on either API. */
const badWrites: [string, (kv: KvApi) => Promise<unknown>][] = [
  ['get of an empty key', (kv) => kv.get('')],
  ['put of an empty key', (kv) => kv.put('', 'v')],
  ['put of a value over valueBytesMax', (kv) => kv.put('k', new Uint8Array(kvLimits.valueBytesMax + 1))],
  ['delete of a key with a lone surrogate', (kv) => kv.delete('a\udc00')],
  [
    'txn with more compares than txnOpsMax',
    (kv) => kv.txn({ compare: tooMany.map((op) => ({ key: op.key, target: 'version', op: '==', value: 0 })), success: [] }),
  ],
  ['txn with more operations than txnOpsMax', (kv) => kv.txn({ compare: [], success: tooMany })],
  ['txn putting an empty key', (kv) => kv.txn({ compare: [], success: [{ op: 'put', key: '', value }] })],
  [
    'txn writing a key twice',
    (kv) =>
      kv.txn({
        compare: [],
        success: [],
        failure: [
          { op: 'put', key: 'k', value },
          { op: 'delete', key: 'k' },
        ],
      }),
  ],
  ['txn comparing a version to -1', (kv) => kv.txn({ compare: [{ key: 'k', target: 'version', op: '==', value: -1 }], success: [] })],
  ['txn reading a range without an end', (kv) => kv.txn({ compare: [], success: [{ op: 'range', range: { start: 'a' } as unknown as KeyRange }] })],
  ['txn whose failure is no array', (kv) => kv.txn({ compare: [], success: [], failure: 'no' } as unknown as TxnRequest)],
  ['session with a TTL below the least', (kv) => kv.createSession({ ttlMs: kvLimits.sessionTtlMsMin - 1 })],
  ['session with a TTL of 1.5 s and a fraction', (kv) => kv.createSession({ ttlMs: 1500.5 })],
  ['session with a keepalive as long as its TTL', (kv) => kv.createSession({ ttlMs: 1_000, keepAliveMs: 1_000 })],
  ['compaction to revision -1', (kv) => kv.compact(-1)],
  ['compaction to revision 2.5', (kv) => kv.compact(2.5)],
];

describe('a bad write gets the same KvRequestError from the node and the client, before it enters the log', () => {
  it.each(badWrites)('%s', async (_what, call) => {
    const node = cluster.kv(cluster.ids[0]!);
    const slotBefore = node.node.status().commitIndex;
    const fromNode = await errorOf(() => call(node));
    const fromClient = await errorOf(() => call(client));
    expect(fromNode).toBeInstanceOf(KvRequestError);
    expect(fromClient).toBeInstanceOf(KvRequestError);
    expect((fromClient as Error).message).toBe((fromNode as Error).message);
    // Refused before the log: no slot was taken for it.
    expect(node.node.status().commitIndex).toBe(slotBefore);
  });
});
