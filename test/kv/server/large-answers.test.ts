/**
 * Answers bigger than a client takes in one frame (64 MiB): a range over many large
 * values, and a watch from the past over them. Both used to be sent as one frame; the
 * client hung up on it, dialed again and was sent it again, so the read timed out
 * ("it may still take effect") and the watch never delivered an event. A transaction
 * whose range operations read that much cannot be cut (its answer is part of what the
 * log decided): it gets a final, typed error at once.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { KvClient } from '../../../src/kv/client/index.js';
import { AnswerTooLargeError } from '../../../src/kv/index.js';
import { ServerCluster } from './cluster.js';

const values = 80;
const value = new Uint8Array(1024 * 1024 - 64).fill(7);
const key = (i: number) => `big/${String(i).padStart(3, '0')}`;
let cluster: ServerCluster;
let client: KvClient;
let firstRevision = 0;

beforeAll(async () => {
  cluster = await ServerCluster.start(['a']);
  client = cluster.client({ requestTimeoutMs: 20_000 });
  for (let i = 0; i < values; i++) {
    const { revision } = await client.put(key(i), value);
    if (i === 0) firstRevision = revision;
  }
}, 120_000);

afterAll(async () => {
  await cluster.close();
});

it('a range over 80 MiB of values answers a prefix of at most 32 MiB with more, and reading on from its last key gets the rest', async () => {
  const first = await client.range({ prefix: 'big/' });
  expect(first.more).toBe(true);
  expect(first.count).toBe(values);
  expect(first.kvs.length).toBeGreaterThan(0);
  expect(first.kvs.reduce((n, kv) => n + kv.key.length + kv.value.byteLength, 0)).toBeLessThanOrEqual(32 * 1024 * 1024);
  const keys = first.kvs.map((kv) => kv.key);
  for (let page = first; page.more; ) {
    page = await client.range({ start: `${keys[keys.length - 1]!}\0`, end: 'big0' }, { revision: first.revision });
    keys.push(...page.kvs.map((kv) => kv.key));
  }
  expect(keys).toEqual(Array.from({ length: values }, (_, i) => key(i)));
}, 60_000);

it('a watch from before 80 MiB of writes delivers every event, in order', async () => {
  const watch = client.watch({ prefix: 'big/' }, { fromRevision: firstRevision });
  const timer = setTimeout(() => watch.close(), 20_000);
  const seen: string[] = [];
  for await (const event of watch) {
    seen.push(event.kv.key);
    expect(event.kv.value.byteLength).toBe(value.byteLength);
    if (seen.length === values) break;
  }
  clearTimeout(timer);
  expect(seen).toEqual(Array.from({ length: values }, (_, i) => key(i)));
}, 60_000);

it('a transaction answering more than a client takes fails at once with AnswerTooLargeError, which says whether it wrote', async () => {
  const read = await client.txn({ compare: [], success: [{ op: 'range', range: { prefix: 'big/' } }] }).catch((e: unknown) => e);
  expect(read).toBeInstanceOf(AnswerTooLargeError);
  expect(read).toMatchObject({ applied: false, bytesMax: 64 * 1024 * 1024 });
  expect((read as AnswerTooLargeError).bytes).toBeGreaterThan(values * value.byteLength);
  const write = await client
    .txn({
      compare: [],
      success: [
        { op: 'put', key: 'marker', value: new Uint8Array([1]) },
        { op: 'range', range: { prefix: 'big/' } },
      ],
    })
    .catch((e: unknown) => e);
  expect(write).toMatchObject({ code: 'ANSWER_TOO_LARGE', applied: true });
  expect(await client.get('marker')).toBeDefined();
}, 60_000);
