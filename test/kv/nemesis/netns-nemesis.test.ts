/**
 * The nemesis with the network cut by the kernel: the workload, process faults and
 * membership changes of nemesis.test.ts, but each KV server runs in a network namespace
 * of its own (network-namespaces.ts) and partitions are packets the kernel drops in
 * transit, so the sockets themselves stall and time out; the transport's fault hook is
 * never used. Faults, one at a time, each undone before the next:
 *
 * - kill: SIGKILL a server, restart it later;
 * - pause: SIGSTOP a server, SIGCONT it later;
 * - partition: one or two servers and the rest cannot reach each other;
 * - one-way: nothing reaches one or two servers, whose own packets still leave;
 * - bridge: two groups that cannot reach each other, and one server both reach;
 * - clients: the test's clients and one or two servers cannot reach each other.
 *
 * Then everything heals and the same checks follow: every membership change finishes,
 * the cluster serves again within a bound, and the history is linearizable.
 *
 * It needs root and a kernel that lets it make network namespaces (`ip netns add`);
 * where either is missing it is skipped, and the skip says which check failed.
 * `SYNOD_NETNS_NEMESIS_MS` sets how long the nemesis runs (default 45,000);
 * `SYNOD_NEMESIS_SEED` and `SYNOD_NEMESIS_KEEP` as in nemesis.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ClusterConfig, readClusterConfig } from '../../../src/cli/cluster-config.js';
import { KvClient } from '../../../src/kv/client/index.js';
import { Prng, checkLinearizability, versionedKvModel } from '../../../src/testing/index.js';
import { linearizabilityReport } from './linearizability-report.js';
import { type Spare, startMembershipNemesis } from './membership-nemesis.js';
import { type Cut, NamespaceNetwork, namespacesUnavailable } from './network-namespaces.js';
import { ServerProcesses } from './server-processes.js';
import { Timeline } from './timeline.js';
import { readFinalValues, servedAgainWithin, startWorkload } from './workload.js';

const nemesisMs = Number(process.env['SYNOD_NETNS_NEMESIS_MS'] ?? 45_000);
const seed = Number(process.env['SYNOD_NEMESIS_SEED'] ?? Date.now() % 100_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ids = ['a', 'b', 'c', 'd', 'e'];
const spareIds = ['p', 'q', 'r', 's', 't', 'u'];
/** Every server listens on these ports, each at its own namespace's address. */
const peerPort = 7000;
const clientPort = 7100;
const faultKinds = ['kill', 'pause', 'partition', 'one-way', 'bridge', 'clients'] as const;
type FaultKind = (typeof faultKinds)[number];

const unavailable = await namespacesUnavailable();
if (unavailable !== undefined) console.warn(`netns nemesis skipped: ${unavailable}`);

let dir: string | undefined;
let network: NamespaceNetwork | undefined;
let servers: ServerProcesses | undefined;

beforeAll(async () => {
  if (unavailable !== undefined) return;
  dir = await mkdtemp(join(tmpdir(), 'synod-netns-nemesis-'));
  network = await NamespaceNetwork.create([...ids, ...spareIds]);
});

afterAll(async () => {
  // The servers first: a namespace outlives its deletion while a process runs in it.
  await servers?.killAll();
  await network?.remove();
  // Kept when SYNOD_NEMESIS_KEEP is set: the servers' logs are there.
  if (dir !== undefined && process.env['SYNOD_NEMESIS_KEEP'] === undefined) await rm(dir, { recursive: true, force: true });
  else if (dir !== undefined) console.log(`netns nemesis data and logs kept in ${dir}`);
});

/** A cluster file naming the servers at their namespaces' addresses, with fresh secrets. */
async function writeCluster(net: NamespaceNetwork, at: string): Promise<ClusterConfig> {
  const members = Object.fromEntries(
    ids.map((id) => [id, { peer: `${net.address(id)}:${peerPort}`, client: `${net.address(id)}:${clientPort}`, dataDir: id }]),
  );
  await writeFile(join(at, 'secret'), randomBytes(32).toString('hex'), { mode: 0o600 });
  await writeFile(join(at, 'client-secret'), randomBytes(32).toString('hex'), { mode: 0o600 });
  const path = join(at, 'cluster.json');
  await writeFile(path, `${JSON.stringify({ clusterId: `netns-${net.run}`, members, secretFile: 'secret', clientSecretFile: 'client-secret' }, null, 2)}\n`);
  return readClusterConfig(path);
}

/** `items` in an order drawn from `random` (Fisher–Yates). */
function shuffle<T>(items: readonly T[], random: Prng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Every cut between the hosts of `a` and those of `b`, both ways. */
function apart(a: readonly string[], b: readonly string[]): Cut[] {
  return a.flatMap((x) =>
    b.flatMap((y) => [
      { from: x, to: y },
      { from: y, to: x },
    ]),
  );
}

/** The packets a kernel fault of `kind` drops among `members`, and what to note. */
function kernelFault(kind: Exclude<FaultKind, 'kill' | 'pause'>, members: readonly string[], random: Prng): { cuts: Cut[]; what: string } {
  const shuffled = shuffle(members, random);
  const few = shuffled.slice(0, 1 + random.int(2));
  const rest = shuffled.slice(few.length);
  switch (kind) {
    case 'partition':
      return { cuts: apart(few, rest), what: `partition ${few.join(',')} | ${rest.join(',')}` };
    case 'one-way':
      return {
        cuts: rest.flatMap((from) => few.map((to) => ({ from, to }))),
        what: `one-way: ${rest.join(',')} -/-> ${few.join(',')} (${few.join(',')} still send)`,
      };
    case 'bridge': {
      const [bridge, ...others] = shuffled;
      const left = others.slice(0, Math.floor(others.length / 2));
      const right = others.slice(left.length);
      return { cuts: apart(left, right), what: `bridge ${left.join(',')} - ${bridge} - ${right.join(',')}` };
    }
    case 'clients':
      return { cuts: apart([NamespaceNetwork.local], few), what: `clients cut off from ${few.join(',')}` };
  }
}

const netnsIt = unavailable === undefined ? it : it.skip;
netnsIt(
  `keeps the history linearizable when the kernel drops the packets of partitions, one-way cuts and bridges, with kills, pauses and membership changes of 5 servers in network namespaces (${nemesisMs} ms, seed ${seed})${unavailable === undefined ? '' : `: skipped, ${unavailable}`}`,
  async () => {
    const net = network!;
    const config = await writeCluster(net, dir!);
    const processes = new ServerProcesses(config, { prefix: (id) => net.exec(id) });
    servers = processes;
    await Promise.all(ids.map((id) => processes.start(id)));
    const random = new Prng(seed);
    const timeline = new Timeline();
    const { note } = timeline;
    // The servers' logs stamp lines with the wall clock (`t`, ms): t=0 here is this.
    note(`wall clock ${Date.now()} ms; network ${net.address(NamespaceNetwork.local)} (clients), ${ids.map((id) => `${id} ${net.address(id)}`).join(', ')}`);

    const spares: Spare[] = spareIds.map((id) => ({
      id,
      peer: { host: net.address(id), port: peerPort },
      client: { host: net.address(id), port: clientPort },
      dataDir: join(dir!, id),
    }));
    const spareClients = spares.map((s) => s.client);
    /** Members whose processes should run: the nemesis restarts these and only these. */
    const active = new Set(ids);
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
    const end = performance.now() + nemesisMs;
    const membership = startMembershipNemesis({ config, servers: processes, active, spares, seed, endAt: end, note });

    // The nemesis: every kind once per round, in an order drawn each round.
    const counts = new Map<FaultKind, number>(faultKinds.map((k) => [k, 0]));
    let round: FaultKind[] = [];
    while (performance.now() < end) {
      await sleep(500 + random.int(1_500));
      if (round.length === 0) round = shuffle(faultKinds, random);
      const kind = round.pop()!;
      const members = [...active];
      counts.set(kind, counts.get(kind)! + 1);
      if (kind === 'kill') {
        const victim = members[random.int(members.length)]!;
        note(`SIGKILL ${victim}`);
        processes.kill(victim, 'SIGKILL');
        await sleep(500 + random.int(2_000));
        if (active.has(victim)) {
          note(`restart ${victim}`);
          await processes.start(victim);
        }
      } else if (kind === 'pause') {
        const victim = members[random.int(members.length)]!;
        note(`SIGSTOP ${victim}`);
        processes.kill(victim, 'SIGSTOP');
        await sleep(500 + random.int(3_000));
        note(`SIGCONT ${victim}`);
        processes.kill(victim, 'SIGCONT');
      } else {
        const { cuts, what } = kernelFault(kind, members, random);
        note(what);
        await net.cut(cuts);
        // Shorter than the transport's idle timeout (5 s) or longer: stalled connections that ride it out, and ones closed and redialed into the void.
        await sleep(1_000 + random.int(7_000));
        note('heal');
        await net.heal();
      }
    }

    // Healed: every server up; the membership change under way must finish.
    for (const id of active) if (!processes.alive(id)) await processes.start(id);
    membership.heal();
    await membership.done;
    for (const id of active) if (!processes.alive(id)) await processes.start(id);
    const recoveredMs = await servedAgainWithin(clients[0]!, 20_000);
    await workload.stop();
    note(`served again ${recoveredMs === undefined ? 'never' : `${Math.round(recoveredMs)} ms`} after healing`);
    if (recoveredMs === undefined) {
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

    const { history } = workload;
    await readFinalValues(clients[1]!, history);
    const { configuration } = await membership.ask((kv) => kv.members({ timeoutMs: 5_000 }));
    note(`configuration ${configuration.id}: voters ${configuration.voters.join(',')}; ${membership.changes()} membership changes`);
    expect(configuration.leaving, timeline.text()).toBeUndefined();
    expect([...configuration.voters].sort(), timeline.text()).toEqual([...membership.voters].sort());
    await Promise.all(clients.map((c) => c.close()));

    const ok = history.filter((o) => o.outcome === 'ok').length;
    const unknown = history.filter((o) => o.outcome === 'info').length;
    const kernelFaults = counts.get('partition')! + counts.get('one-way')! + counts.get('bridge')! + counts.get('clients')!;
    note(`${history.length} operations: ${ok} ok, ${unknown} unknown; faults: ${[...counts].map(([k, n]) => `${n} ${k}`).join(', ')}`);
    console.log(timeline.text());
    expect(kernelFaults, timeline.text()).toBeGreaterThan(0);
    expect(ok).toBeGreaterThan(100);
    const verdict = checkLinearizability(history, versionedKvModel, { timeBudgetMs: 60_000 });
    expect(verdict, `seed ${seed}\n${timeline.text()}\n${linearizabilityReport(history, verdict, `nemesis-${seed}`)}`).toEqual({ result: 'linearizable' });
  },
  nemesisMs + 150_000,
);
