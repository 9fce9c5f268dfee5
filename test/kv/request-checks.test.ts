/**
 * The embedded node and the remote client check a read or a watch alike, before any
 * round trip: the same bad request gets the same KvRequestError from both. (They had
 * drifted: the client sent a range with an empty key to the server, and the node took a
 * revision of 0 that the client refused.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessKvCluster } from '../../examples/kv-recipes/in-process-cluster.js';
import { KvClient } from '../../src/kv/client/index.js';
import { type KeyRange, KvRequestError, type RangeOptions, type WatchOptions } from '../../src/kv/index.js';

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
