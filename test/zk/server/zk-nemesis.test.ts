/**
 * A nemesis over the ZooKeeper port: five clients on three in-process members (real
 * sockets for the clients, MemoryNetwork between members) write and read two znodes
 * (`setData`, and `sync` then `getData`) while members are isolated and partitioned
 * and healed; a client whose connection is lost opens a new session on another
 * member. The history (every operation with its real-time bounds, writes whose answer
 * never came as unknown) must be linearizable as a register per znode, which also
 * means no acknowledged write was lost (issue 16, section 3; zk-process-nemesis.test.ts
 * runs a fuller check over five server processes and an observer, killed, paused and
 * partitioned).
 *
 * `SYNOD_ZK_NEMESIS_SEED` replays a run (the seed is printed on failure).
 */
import { afterEach, expect, it } from 'vitest';
import { MemoryNetwork, MemoryStorage } from '../../../src/index.js';
import { type KvNode, createKvNode } from '../../../src/kv/index.js';
import { type Operation, Prng, type RegisterInput, type RegisterOutput, checkLinearizability, registerModel } from '../../../src/testing/index.js';
import { openAcl } from '../../../src/zk/index.js';
import { ZkExtension, ZkServer } from '../../../src/zk/server/index.js';
import { WireClient, dataOf } from './zk-wire-client.js';

const seed = Number(process.env['SYNOD_ZK_NEMESIS_SEED'] ?? Date.now() % 100_000);
const nemesisMs = 5_000;
const ids = ['a', 'b', 'c'];
const keys = ['/r0', '/r1'];
const bytes = (s: string) => new TextEncoder().encode(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const nodes: KvNode[] = [];
const servers: ZkServer[] = [];
const clients = new Set<WireClient>();

afterEach(async () => {
  for (const c of clients) c.close();
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all(nodes.map((n) => n.close()));
});

/** A session on the first member (from `start`) that takes it, or undefined if none did. */
async function session(ports: readonly number[], start: number): Promise<WireClient | undefined> {
  for (let i = 0; i < ports.length; i++) {
    const c = await WireClient.open(ports[(start + i) % ports.length]!);
    clients.add(c);
    try {
      await c.handshake({ timeoutMs: 30_000 });
      return c;
    } catch {
      c.close();
      clients.delete(c);
    }
  }
  return undefined;
}

it(`keeps a linearizable history through isolations and partitions (seed ${seed})`, async () => {
  const network = new MemoryNetwork();
  for (const id of ids) {
    const extension = new ZkExtension();
    const kv = createKvNode({
      id,
      members: ids,
      transport: network.transport(id),
      storage: new MemoryStorage(),
      tickMs: 10,
      electionTicks: { min: 20, max: 40 },
      proposeTimeoutMs: 1_000,
      readTimeoutMs: 1_000,
      kv: { extension },
    });
    nodes.push(kv);
    servers.push(new ZkServer({ kv, extension, address: { host: '127.0.0.1', port: 0 }, sessionTimeoutMsMin: 4_000 }));
  }
  await Promise.all(nodes.map((n) => n.start()));
  const ports = (await Promise.all(servers.map((s) => s.start()))).map((a) => a.port);
  const setup = (await session(ports, 0))!;
  for (const key of keys)
    expect((await setup.call({ type: 'write', request: { op: 'create', path: key, data: bytes(''), acl: openAcl, flags: 0, withStat: false } })).err).toBe(0);
  setup.close();

  const random = new Prng(seed);
  const history: Operation<RegisterInput, RegisterOutput>[] = [];
  let running = true;
  let written = 0;
  const worker = async (w: number) => {
    const rng = random.fork();
    let c: WireClient | undefined;
    while (running) {
      c ??= await session(ports, w + rng.int(ports.length));
      if (c === undefined) {
        await sleep(50);
        continue;
      }
      const key = keys[rng.int(keys.length)]!;
      const invokedAt = performance.now();
      if (rng.chance(0.5)) {
        const value = `w${w}-${written++}`;
        const input: RegisterInput = { op: 'write', value };
        try {
          const reply = await c.call({ type: 'write', request: { op: 'setData', path: key, data: bytes(value), version: -1 } });
          // setData of any version on a node that exists: anything but success leaves it unknown.
          history.push(
            reply.err === 0
              ? { client: `c${w}`, key, input, invokedAt, completedAt: performance.now(), outcome: 'ok', output: { type: 'written' } }
              : { client: `c${w}`, key, input, invokedAt, outcome: 'info' },
          );
        } catch {
          history.push({ client: `c${w}`, key, input, invokedAt, outcome: 'info' });
          c.close();
          c = undefined;
        }
      } else {
        try {
          const synced = await c.call({ type: 'sync', path: key });
          const reply = synced.err === 0 ? await c.call({ type: 'getData', path: key, watch: false }) : synced;
          // A read that did not answer changed nothing: it is left out.
          if (reply.err === 0) {
            const { data } = dataOf(reply);
            history.push({
              client: `c${w}`,
              key,
              input: { op: 'read' },
              invokedAt,
              completedAt: performance.now(),
              outcome: 'ok',
              output: { type: 'value', value: data === '' ? null : data },
            });
          }
        } catch {
          c.close();
          c = undefined;
        }
      }
    }
    c?.close();
  };
  const nemesis = async () => {
    const rng = random.fork();
    const end = Date.now() + nemesisMs;
    while (Date.now() < end) {
      const pick = rng.int(3);
      if (pick === 0) network.isolate(ids[rng.int(ids.length)]!);
      else if (pick === 1) {
        const alone = ids[rng.int(ids.length)]!;
        network.partition(
          [alone],
          ids.filter((id) => id !== alone),
        );
      } else network.heal();
      await sleep(300 + rng.int(700));
    }
    network.heal();
    // Healed: the cluster serves again, and every worker gets operations through.
    await sleep(2_000);
    running = false;
  };
  await Promise.all([nemesis(), ...Array.from({ length: 5 }, (_, w) => worker(w))]);

  const acknowledged = history.filter((o) => o.outcome === 'ok');
  expect(acknowledged.filter((o) => o.input.op === 'write').length, `seed ${seed}`).toBeGreaterThan(10);
  expect(acknowledged.filter((o) => o.input.op === 'read').length, `seed ${seed}`).toBeGreaterThan(10);
  const verdict = checkLinearizability(history, registerModel, { timeBudgetMs: 20_000 });
  expect(verdict.result, `seed ${seed}: ${JSON.stringify(verdict).slice(0, 2_000)}`).toBe('linearizable');
}, 30_000);
