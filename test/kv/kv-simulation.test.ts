/**
 * The KV workload in the deterministic simulator: real runtime nodes running the KV
 * state machine, clients doing get, put, compare-and-set and delete on a few keys
 * while seeded faults crash, restart, partition and slow nodes; then the network
 * heals and every key is read once more. The whole history must be linearizable
 * (synod/testing's checker with the versioned KV model), so no acknowledged write is
 * lost and no read is stale. Many seeds, each a replayable run.
 */
import { describe, expect, it } from 'vitest';
import { randomKvInput } from './random-kv-input.js';
import { type KvCommand, type KvResult, KvStateMachine, kvCommandCodec } from '../../src/kv/index.js';
import type { NodeId } from '../../src/core/index.js';
import {
  type Fault,
  calmNetwork,
  type KvInput,
  type KvOutput,
  type Operation,
  Prng,
  RuntimeSimulation,
  checkLinearizability,
  versionedKvModel,
} from '../../src/testing/index.js';

const seeds = Number(process.env['SYNOD_KV_SEEDS'] ?? 500);
const firstSeed = Number(process.env['SYNOD_KV_SEED'] ?? 1);
const keys = ['x', 'y'];
const clients = 3;
const safetyMs = 1_500;
const text = new TextDecoder();

/** A fault plan for one seed: a few faults at random times of the safety phase. */
function faults(random: Prng, voters: number): { at: number; fault: Fault }[] {
  const kinds: (() => Fault)[] = [
    () => ({ kind: 'crashLeader' }),
    () => ({ kind: 'crash', node: random.int(voters) }),
    () => ({ kind: 'restart', node: random.int(voters) }),
    () => ({ kind: 'isolateLeader' }),
    () => ({ kind: 'partition', groups: [[0], [1, 2]] }),
    () => ({ kind: 'heal' }),
    () => ({ kind: 'slowClock', node: random.int(voters), factor: 3 }),
    () => ({ kind: 'network', lossRate: 0.1, duplicateRate: 0.05, delayTicksMax: 3 }),
  ];
  const plan = Array.from({ length: 1 + random.int(4) }, () => ({ at: random.int(safetyMs), fault: kinds[random.int(kinds.length)]!() }));
  return plan.sort((a, b) => a.at - b.at);
}

async function run(seed: number): Promise<{ history: Operation<KvInput, KvOutput>[]; ok: number }> {
  const random = new Prng(seed);
  const voters = 3;
  const sim = new RuntimeSimulation<KvCommand, KvResult>({ seed, voters, stateMachine: () => new KvStateMachine(), codec: kvCommandCodec });
  const sleep = (ms: number) => new Promise<void>((resolve) => sim.clock.setTimer(resolve, ms));
  const history: Operation<KvInput, KvOutput>[] = [];
  let stop = false;
  await sim.start();

  const liveNode = (): NodeId | undefined => {
    const up = sim.ids.filter((id) => sim.isUp(id));
    return up.length === 0 ? undefined : up[random.int(up.length)];
  };

  /** Settles like `promise`, or rejects once `node`'s incarnation is gone: a crashed node's promises never settle. */
  const orCrash = <T>(promise: Promise<T>, node: NodeId, incarnation: number): Promise<T> => {
    let watching = true;
    const gone = (async () => {
      while (watching) {
        await sleep(25);
        if (watching && (!sim.isUp(node) || sim.incarnation(node) !== incarnation)) throw new Error(`${node} crashed`);
      }
      return new Promise<never>(() => {});
    })();
    return Promise.race([promise, gone]).finally(() => (watching = false));
  };

  /** One operation by `client` on `key`, recorded with its virtual-time bounds. */
  const operate = async (client: string, key: string, input: KvInput, seq: number): Promise<void> => {
    const node = liveNode();
    if (node === undefined) return sleep(10);
    const invokedAt = sim.now;
    const incarnation = sim.incarnation(node);
    if (input.op === 'get') {
      try {
        await orCrash(sim.read(node), node, incarnation);
      } catch {
        return; // a read that failed took no effect: it leaves nothing to check
      }
      const machine = sim.machine(node) as KvStateMachine | undefined;
      if (machine === undefined || sim.incarnation(node) !== incarnation) return;
      const kv = machine.view.range({ key }, 1).kvs[0];
      const output: KvOutput = kv === undefined ? { type: 'absent' } : { type: 'value', value: text.decode(kv.value), version: kv.version };
      history.push({ client, key, input, invokedAt, completedAt: sim.now, outcome: 'ok', output });
      return;
    }
    const command: KvCommand =
      input.op === 'put'
        ? {
            type: 'put',
            key,
            value: new TextEncoder().encode(input.value),
            ...(input.expectedVersion === undefined ? {} : { expectedVersion: input.expectedVersion }),
          }
        : { type: 'delete', key, ...(input.expectedVersion === undefined ? {} : { expectedVersion: input.expectedVersion }) };
    let result: KvResult;
    try {
      result = await orCrash(sim.propose(node, command, { request: { clientId: client, seq } }), node, incarnation);
    } catch {
      // Timed out, node closed or crashed: it may still take effect, at any later time.
      history.push({ client, key, input, invokedAt, outcome: 'info' });
      return;
    }
    const output: KvOutput =
      result.type === 'put'
        ? { type: 'written', version: result.version }
        : result.type === 'delete'
          ? result.deleted
            ? { type: 'deleted' }
            : { type: 'absent' }
          : result.type === 'conflict'
            ? { type: 'conflict', version: result.version }
            : (() => {
                throw new Error(`seed ${seed}: unexpected result ${JSON.stringify(result)}`);
              })();
    history.push({ client, key, input, invokedAt, completedAt: sim.now, outcome: 'ok', output });
  };

  const client = async (name: string): Promise<void> => {
    let seq = 0;
    const versions = new Map<string, number>();
    while (!stop) {
      const key = keys[random.int(keys.length)]!;
      const input = randomKvInput(random, versions.get(key), `${name}-${seq}`);
      seq++;
      const before = history.length;
      await operate(name, key, input, seq);
      const done = history[before];
      if (done?.outcome === 'ok' && done.output !== undefined && (done.output.type === 'value' || done.output.type === 'written'))
        versions.set(key, done.output.version);
      await sleep(random.int(20));
    }
  };

  const running = Array.from({ length: clients }, (_, i) => client(`c${i + 1}`));
  for (const { at, fault } of faults(random, voters)) {
    if (at > sim.now) await sim.advance(at - sim.now);
    await sim.inject(fault);
  }
  if (safetyMs > sim.now) await sim.advance(safetyMs - sim.now);
  stop = true;

  // Heal, restart everyone, let the clients finish, then read every key once more.
  sim.heal();
  sim.network(calmNetwork);
  for (const id of sim.ids) if (!sim.isUp(id)) await sim.restart(id);
  const finished = Promise.all(running);
  let settled = false;
  void finished.then(() => (settled = true));
  expect(await sim.runUntil(() => settled, 30_000), `seed ${seed}: clients did not finish`).toBe(true);
  for (const key of keys) {
    const node = sim.ids[random.int(sim.ids.length)]!;
    const read = operate('final', key, { op: 'get' }, 0);
    let done = false;
    void read.then(() => (done = true));
    expect(await sim.runUntil(() => done, 30_000), `seed ${seed}: final read of ${key} on ${node} did not finish`).toBe(true);
  }
  sim.check();
  await Promise.all(sim.ids.map((id) => sim.close(id)));
  return { history, ok: history.filter((o) => o.outcome === 'ok').length };
}

describe('the KV in the deterministic simulator', () => {
  it(`keeps every history linearizable under crashes, partitions and loss (${seeds} seeds from ${firstSeed})`, async () => {
    let operations = 0;
    let infos = 0;
    for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
      const { history, ok } = await run(seed);
      operations += ok;
      infos += history.filter((o) => o.outcome === 'info').length;
      const verdict = checkLinearizability(history, versionedKvModel, { timeBudgetMs: 10_000 });
      if (verdict.result !== 'linearizable') {
        throw new Error(`seed ${seed} (replay: SYNOD_KV_SEED=${seed} SYNOD_KV_SEEDS=1): ${JSON.stringify(verdict, null, 1).slice(0, 4000)}`);
      }
    }
    // The workload must do real work, faults or not.
    expect(operations).toBeGreaterThan(seeds * 20);
    expect(infos).toBeGreaterThan(0);
  }, 600_000);
});
