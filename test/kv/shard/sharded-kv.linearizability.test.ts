/**
 * The sharded KV under faults: three members, three ranges, clients on every member
 * reading, writing, comparing-and-setting and deleting keys of every range while the
 * network loses, duplicates and delays messages and members are cut off in turn. Every
 * key's history must be linearizable (each range is its own group, so each key is
 * checked on its own), and at the end every member's replica of every range holds only
 * that range's keys.
 */
import { afterEach, expect, it } from 'vitest';
import { MemoryNetwork, MemoryStorage } from '../../../src/index.js';
import { type ShardedKv, createShardedKv } from '../../../src/kv/index.js';
import { type KvInput, type KvOutput, type Operation, Prng, checkLinearizability, versionedKvModel } from '../../../src/testing/index.js';
import { boundsHold } from '../../../src/kv/key-bounds.js';
import { randomKvInput } from '../random-kv-input.js';
import { kvRecorder } from './kv-history-recorder.js';

const seed = Number(process.env['SYNOD_SHARD_SEED'] ?? 7);
const members = ['a', 'b', 'c'];
const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const open: ShardedKv[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((kv) => kv.close()));
});

it(`keeps every key's history linearizable under loss, duplication and members cut off (seed ${seed})`, async () => {
  const random = new Prng(seed);
  const network = new MemoryNetwork({ delayMs: { min: 0, max: 3 }, random: () => random.next() });
  for (const id of members) {
    open.push(
      createShardedKv({
        id,
        members,
        transport: network.transport(id),
        storage: () => new MemoryStorage(),
        splitKeys: ['k3', 'k6'],
        node: { tickMs: 10, electionTicks: { min: 10, max: 20 }, readTimeoutMs: 500 },
        quiescence: false,
        balanceMs: 100,
      }),
    );
  }
  await Promise.all(open.map((kv) => kv.start()));
  const history: Operation<KvInput, KvOutput>[] = [];
  const started = performance.now();
  const now = () => performance.now() - started;

  const operate = kvRecorder(history, now);

  let stop = false;
  const client = async (name: string): Promise<void> => {
    const versions = new Map<string, number>();
    for (let seq = 0; !stop; seq++) {
      const kv = open[random.int(open.length)]!;
      const key = keys[random.int(keys.length)]!;
      const input = randomKvInput(random, versions.get(key), `${name}-${seq}`);
      const before = history.length;
      await operate(name, kv, key, input);
      const done = history[before];
      if (done?.outcome === 'ok' && (done.output?.type === 'value' || done.output?.type === 'written')) versions.set(key, done.output.version);
      await sleep(random.int(5));
    }
  };
  const running = Array.from({ length: 6 }, (_, i) => client(`c${i + 1}`));

  // Faults: a lossy network throughout, and each member cut off in turn.
  network.setConditions({ dropRate: 0.05, duplicateRate: 0.02 });
  for (const id of [...members, ...members]) {
    await sleep(300);
    network.isolate(id);
    await sleep(250);
    network.heal();
  }
  network.setConditions({ dropRate: 0, duplicateRate: 0 });
  await sleep(300);
  stop = true;
  await Promise.all(running);
  for (const key of keys) await operate('final', open[0]!, key, { op: 'get' });

  const ok = history.filter((o) => o.outcome === 'ok');
  expect(ok.length).toBeGreaterThan(100);
  expect(new Set(ok.filter((o) => o.input.op !== 'get').map((o) => open[0]!.rangeMap.rangeOf(o.key).group))).toEqual(new Set([1, 2, 3]));
  const verdict = checkLinearizability(history, versionedKvModel, { timeBudgetMs: 20_000 });
  expect(verdict.result, JSON.stringify(verdict).slice(0, 2_000)).toBe('linearizable');

  for (const kv of open) {
    for (const range of kv.rangeMap.ranges) {
      const held = kv
        .shard(range.group)!
        .machine.view.range({ prefix: '' }, 1_000)
        .kvs.map((e) => e.key);
      for (const key of held) expect(boundsHold(range, key), `${key} in group ${range.group} on ${kv.host.id}`).toBe(true);
    }
  }
}, 60_000);
