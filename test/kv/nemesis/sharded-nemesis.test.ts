/**
 * The nemesis test of a sharded cluster: three KV server processes whose keys live in
 * ranges, each its own group with its leader spread over the members, and ranges that
 * split by themselves as their values grow. Concurrent clients (half of them routing
 * each key to its range's leader) do get, put, compare-and-set and delete on keys of
 * every range, while a nemesis SIGKILLs and restarts servers, SIGSTOPs and resumes
 * them, and partitions them. Then everything heals, the cluster must serve again within
 * a bounded time, and the whole history must be linearizable: no acknowledged write
 * lost, across leaders, failovers, routing and splits.
 *
 * `SYNOD_SHARDED_NEMESIS_MS` sets how long the nemesis runs (default 20,000; CI runs that).
 */
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { readClusterConfig } from '../../../src/cli/cluster-config.js';
import { writeLocalCluster } from '../../../src/cli/cluster-up.js';
import { KvClient } from '../../../src/kv/client/index.js';
import { Prng, checkLinearizability, versionedKvModel } from '../../../src/testing/index.js';
import { linearizabilityReport } from './linearizability-report.js';
import { processFault } from './process-fault.js';
import { ServerProcesses } from './server-processes.js';
import { Timeline } from './timeline.js';
import { readFinalValues, servedAgainWithin, startWorkload } from './workload.js';

const nemesisMs = Number(process.env['SYNOD_SHARDED_NEMESIS_MS'] ?? 20_000);
const seed = Number(process.env['SYNOD_NEMESIS_SEED'] ?? Date.now() % 100_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Two keys in each of the three ranges the cluster starts with: ['', 'I'), ['I', 'b'), ['b', ∞). */
const keys = ['A', 'B', 'M', 'N', 'x', 'y'];

let dir: string | undefined;
let servers: ServerProcesses | undefined;

afterAll(async () => {
  await servers?.killAll();
  if (dir !== undefined && process.env['SYNOD_NEMESIS_KEEP'] === undefined) await rm(dir, { recursive: true, force: true });
  else if (dir !== undefined) console.log(`nemesis data and logs kept in ${dir}`);
});

it(
  `keeps a sharded cluster's history linearizable under kills, pauses, partitions and splits of 3 server processes (${nemesisMs} ms, seed ${seed})`,
  async () => {
    dir = await mkdtemp(join(tmpdir(), 'synod-sharded-nemesis-'));
    const path = await writeLocalCluster(dir, 3);
    // Ranges split once a range's values (every version kept) pass 4 KB: a few hundred writes.
    const file = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    await writeFile(path, JSON.stringify({ ...file, shards: { splitKeys: ['I', 'b'], splitAtBytes: 4_000 } }));
    const config = await readClusterConfig(path);
    const ids = Object.keys(config.members);
    const processes = new ServerProcesses(config);
    servers = processes;
    await Promise.all(ids.map((id) => processes.start(id)));
    const random = new Prng(seed);
    const timeline = new Timeline();
    const { note } = timeline;

    const clients = ids.flatMap((_, i) =>
      [false, true].map(
        (routeToLeaders) =>
          new KvClient({
            endpoints: [...ids.slice(i), ...ids.slice(0, i)].map((id) => config.members[id]!.client),
            clusterId: config.clusterId,
            secret: config.clientSecret!,
            requestTimeoutMs: 2_000,
            connectTimeoutMs: 1_000,
            routeToLeaders,
          }),
      ),
    );
    const workload = startWorkload(clients, random, 12, keys);

    const end = performance.now() + nemesisMs;
    let faults = 0;
    while (performance.now() < end) {
      await sleep(500 + random.int(1_500));
      faults++;
      await processFault(processes, ids, random, note);
    }

    for (const id of ids) if (!processes.alive(id)) await processes.start(id);
    const recoveredMs = await servedAgainWithin(clients[0]!, 20_000);
    await workload.stop();
    note(`served again ${recoveredMs === undefined ? 'never' : `${Math.round(recoveredMs)} ms`} after healing`);
    expect(recoveredMs, timeline.text()).toBeDefined();

    const { history } = workload;
    await readFinalValues(clients[1]!, history, keys);
    const ranges = await clients[0]!.ranges({ timeoutMs: 5_000 });
    note(`${ranges.length} ranges at the end: ${ranges.map((r) => JSON.stringify(r.start)).join(' ')}`);
    await Promise.all(clients.map((c) => c.close()));

    const ok = history.filter((o) => o.outcome === 'ok').length;
    const unknown = history.filter((o) => o.outcome === 'info').length;
    note(`${history.length} operations: ${ok} ok, ${unknown} unknown; ${faults} faults`);
    console.log(timeline.text());
    expect(faults).toBeGreaterThan(0);
    expect(ok).toBeGreaterThan(100);
    const verdict = checkLinearizability(history, versionedKvModel, { timeBudgetMs: 60_000 });
    expect(verdict, `seed ${seed}\n${timeline.text()}\n${linearizabilityReport(history, verdict, `sharded-nemesis-${seed}`)}`).toEqual({
      result: 'linearizable',
    });
  },
  nemesisMs + 180_000,
);
