/**
 * The nemesis test: five KV server processes on 127.0.0.1 (FileStorage, TcpTransport),
 * concurrent clients doing get, put, compare-and-set and delete, while a nemesis
 * SIGKILLs and restarts servers, SIGSTOPs and resumes them, and partitions them
 * (through the transport's fault hook). Meanwhile, and overlapping those faults, it
 * changes the members: a voter is replaced by a new server with a new id and an empty
 * data directory (added as an observer, then promoted and the old one removed, or put in
 * its place in one joint change; the old one's process killed), a voter is demoted and promoted back, leadership is handed to another voter.
 * Then the nemesis stops, everything heals, and: every membership change must finish,
 * the cluster must serve again within a bounded time, and the whole history (every
 * operation with its real-time bounds, unknown outcomes included) must be
 * linearizable, which also means no acknowledged write was lost.
 *
 * `SYNOD_NEMESIS_MS` sets how long the nemesis runs (default 60,000; CI runs that).
 * netns-nemesis.test.ts runs the same workload with partitions cut by the kernel.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { readClusterConfig } from '../../../src/cli/cluster-config.js';
import { freePort, writeLocalCluster } from '../../../src/cli/cluster-up.js';
import { KvClient } from '../../../src/kv/client/index.js';
import { Prng, checkLinearizability, versionedKvModel } from '../../../src/testing/index.js';
import { linearizabilityReport } from './linearizability-report.js';
import { type Spare, startMembershipNemesis } from './membership-nemesis.js';
import { processFault } from './process-fault.js';
import { ServerProcesses } from './server-processes.js';
import { Timeline } from './timeline.js';
import { readFinalValues, servedAgainWithin, startWorkload } from './workload.js';

const nemesisMs = Number(process.env['SYNOD_NEMESIS_MS'] ?? 60_000);
const seed = Number(process.env['SYNOD_NEMESIS_SEED'] ?? Date.now() % 100_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string | undefined;
let servers: ServerProcesses | undefined;

afterAll(async () => {
  await servers?.killAll();
  // Kept when SYNOD_NEMESIS_KEEP is set: the servers' logs are there.
  if (dir !== undefined && process.env['SYNOD_NEMESIS_KEEP'] === undefined) await rm(dir, { recursive: true, force: true });
  else if (dir !== undefined) console.log(`nemesis data and logs kept in ${dir}`);
});

it(
  `keeps the history linearizable under kills, pauses, partitions and membership changes of 5 server processes (${nemesisMs} ms, seed ${seed})`,
  async () => {
    dir = await mkdtemp(join(tmpdir(), 'synod-nemesis-'));
    const config = await readClusterConfig(await writeLocalCluster(dir, 5));
    const ids = Object.keys(config.members);
    const processes = new ServerProcesses(config);
    servers = processes;
    await Promise.all(ids.map((id) => processes.start(id)));
    const random = new Prng(seed);
    const timeline = new Timeline();
    const { note } = timeline;

    // Servers that may join later, each replacing a voter: addresses fixed now, so the
    // clients can be told of them from the start.
    const spares: Spare[] = [];
    for (const id of ['p', 'q', 'r', 's', 't', 'u']) {
      spares.push({ id, peer: { host: '127.0.0.1', port: await freePort() }, client: { host: '127.0.0.1', port: await freePort() }, dataDir: join(dir, id) });
    }
    const spareClients = spares.map((s) => s.client);
    /** Members whose processes should run: the nemesis restarts these and only these. */
    const active = new Set(ids);

    // Clients, each starting at a different server and failing over to the others.
    const clients = ids.map(
      (_, i) =>
        new KvClient({
          endpoints: [...[...ids.slice(i), ...ids.slice(0, i)].map((id) => config.members[id]!.client), ...spareClients],
          clusterId: config.clusterId,
          secret: config.clientSecret!,
          requestTimeoutMs: 2_000,
          connectTimeoutMs: 1_000,
        }),
    );
    const workload = startWorkload(clients, random);

    // Membership changes, one at a time, while the process faults below go on.
    const end = performance.now() + nemesisMs;
    const membership = startMembershipNemesis({ config, servers: processes, active, spares, seed, endAt: end, note });

    // The nemesis: one process fault at a time, each undone before the next, while the
    // membership changes above go on.
    let faults = 0;
    while (performance.now() < end) {
      await sleep(500 + random.int(1_500));
      faults++;
      await processFault(processes, [...active], random, note, (victim) => active.has(victim));
    }

    // Healed: every server up; the membership change under way must finish.
    for (const id of active) if (!processes.alive(id)) await processes.start(id);
    membership.heal();
    await membership.done;
    for (const id of active) if (!processes.alive(id)) await processes.start(id);
    // The cluster must serve a write again within a bound.
    const recoveredMs = await servedAgainWithin(clients[0]!, 20_000);
    await workload.stop();
    note(`served again ${recoveredMs === undefined ? 'never' : `${Math.round(recoveredMs)} ms`} after healing`);
    if (recoveredMs === undefined) {
      // What each server thinks, for the failure report.
      for (const id of active) {
        const one = new KvClient({
          endpoints: [config.members[id]?.client ?? processes.joinedClient(id)],
          clusterId: config.clusterId,
          secret: config.clientSecret!,
          requestTimeoutMs: 2_000,
        });
        note(
          `${id}: ${await one.status().then(
            (s) => JSON.stringify(s),
            (e: unknown) => String(e),
          )}`,
        );
        await one.close();
      }
    }
    expect(recoveredMs, timeline.text()).toBeDefined();
    expect(recoveredMs!).toBeLessThan(20_000);

    // The final word on every key, read linearizably: an acknowledged write missing here is lost.
    const { history } = workload;
    await readFinalValues(clients[1]!, history);
    // The configuration is the one the changes that finished lead to.
    const { configuration } = await membership.ask((kv) => kv.members({ timeoutMs: 5_000 }));
    note(`configuration ${configuration.id}: voters ${configuration.voters.join(',')}; ${membership.changes()} membership changes`);
    expect(configuration.leaving, timeline.text()).toBeUndefined();
    expect([...configuration.voters].sort(), timeline.text()).toEqual([...membership.voters].sort());
    await Promise.all(clients.map((c) => c.close()));

    const ok = history.filter((o) => o.outcome === 'ok').length;
    const unknown = history.filter((o) => o.outcome === 'info').length;
    note(`${history.length} operations: ${ok} ok, ${unknown} unknown; ${faults} faults`);
    console.log(timeline.text());
    expect(faults).toBeGreaterThan(0);
    expect(ok).toBeGreaterThan(100);
    const verdict = checkLinearizability(history, versionedKvModel, { timeBudgetMs: 60_000 });
    expect(verdict, `seed ${seed}\n${timeline.text()}\n${linearizabilityReport(history, verdict, `nemesis-${seed}`)}`).toEqual({ result: 'linearizable' });
  },
  nemesisMs + 180_000,
);
