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
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { type ClusterConfig, readClusterConfig } from '../../../src/cli/cluster-config.js';
import { freePort, writeLocalCluster } from '../../../src/cli/cluster-up.js';
import { onLeader } from '../../../src/cli/member-commands.js';
import type { Configuration, MembershipChange } from '../../../src/core/index.js';
import { KvClient } from '../../../src/kv/client/index.js';
import { VersionConflictError } from '../../../src/kv/index.js';
import type { TcpAddress } from '../../../src/transport/tcp/index.js';
import { type KvInput, type KvOutput, type Operation, Prng, checkLinearizability, versionedKvModel } from '../../../src/testing/index.js';

const nemesisMs = Number(process.env['SYNOD_NEMESIS_MS'] ?? 60_000);
const seed = Number(process.env['SYNOD_NEMESIS_SEED'] ?? Date.now() % 100_000);
const here = resolve(fileURLToPath(new URL('.', import.meta.url)));
const keys = ['x', 'y', 'z'];
const text = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string | undefined;
const servers = new Map<string, ChildProcess>();
const stopped = new Set<string>();
/** How to start each member that joined after the cluster file was written (its JOIN argument). */
const joinArgs = new Map<string, string>();

afterAll(async () => {
  for (const child of servers.values()) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
  // Kept when SYNOD_NEMESIS_KEEP is set: the servers' logs are there.
  if (dir !== undefined && process.env['SYNOD_NEMESIS_KEEP'] === undefined) await rm(dir, { recursive: true, force: true });
  else if (dir !== undefined) console.log(`nemesis data and logs kept in ${dir}`);
});

async function startServer(config: ClusterConfig, id: string): Promise<void> {
  const joining = joinArgs.get(id);
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'server-process.ts'), config.path, id, ...(joining === undefined ? [] : [joining])], {
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  servers.set(id, child);
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`server ${id} did not start`)), 30_000);
    child.once('message', () => {
      clearTimeout(timer);
      done();
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // Killed while starting (the membership nemesis retired it): not a failure.
      if (signal === null) fail(new Error(`server ${id} exited with ${code} while starting`));
      else done();
    });
  });
}

/** The client address of a member that joined during the run. */
function joinedClient(id: string): TcpAddress {
  const { client } = JSON.parse(joinArgs.get(id)!) as { client: string };
  const [host, port] = client.split(':');
  return { host: host!, port: Number(port) };
}

function alive(id: string): boolean {
  const child = servers.get(id);
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

it(`keeps the history linearizable under kills, pauses, partitions and membership changes of 5 server processes (${nemesisMs} ms, seed ${seed})`, async () => {
  dir = await mkdtemp(join(tmpdir(), 'synod-nemesis-'));
  const config = await readClusterConfig(await writeLocalCluster(dir, 5));
  const ids = Object.keys(config.members);
  await Promise.all(ids.map((id) => startServer(config, id)));
  const random = new Prng(seed);
  const history: Operation<KvInput, KvOutput>[] = [];
  const log: string[] = [];
  const t0 = performance.now();
  const note = (line: string) => log.push(`t=${((performance.now() - t0) / 1000).toFixed(1)}s ${line}`);

  // Servers that may join later, each replacing a voter: addresses fixed now, so the
  // clients can be told of them from the start.
  const spares: { id: string; peer: TcpAddress; client: TcpAddress; dataDir: string }[] = [];
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
  let running = true;
  const worker = async (index: number) => {
    const client = clients[index % clients.length]!;
    const name = `w${index}`;
    const versions = new Map<string, number>();
    for (let n = 0; running; n++) {
      const key = keys[random.int(keys.length)]!;
      const roll = random.next();
      const value = `${name}-${n}`;
      const input: KvInput =
        roll < 0.4 ? { op: 'get' } : roll < 0.6 ? { op: 'put', value } : roll < 0.9 ? { op: 'put', value, expectedVersion: versions.get(key) ?? 0 } : { op: 'delete' };
      const invokedAt = performance.now();
      try {
        let output: KvOutput;
        if (input.op === 'get') {
          const kv = await client.get(key);
          output = kv === undefined ? { type: 'absent' } : { type: 'value', value: text.decode(kv.value), version: kv.version };
          versions.set(key, kv?.version ?? 0);
        } else if (input.op === 'put') {
          const r = await client.put(key, input.value, input.expectedVersion === undefined ? {} : { expectedVersion: input.expectedVersion });
          output = { type: 'written', version: r.version };
          versions.set(key, r.version);
        } else {
          const r = await client.delete(key);
          output = r.deleted ? { type: 'deleted' } : { type: 'absent' };
        }
        history.push({ client: name, key, input, invokedAt, completedAt: performance.now(), outcome: 'ok', output });
      } catch (error) {
        if (error instanceof VersionConflictError) {
          versions.set(key, error.currentVersion);
          history.push({ client: name, key, input, invokedAt, completedAt: performance.now(), outcome: 'ok', output: { type: 'conflict', version: error.currentVersion } });
        } else if (input.op !== 'get') {
          // A write whose outcome is unknown may take effect at any later time, or never.
          history.push({ client: name, key, input, invokedAt, outcome: 'info' });
        }
        await sleep(20);
      }
    }
  };
  const workers = Array.from({ length: 10 }, (_, i) => worker(i));

  // Membership changes, one at a time, each retried through the leader until the
  // configuration shows it (a timed-out change may have been chosen anyway), while the
  // process faults below go on. After healing, each must finish within a bound.
  let giveUpAt = Number.POSITIVE_INFINITY;
  const voters = new Set(ids);
  const ask = <T>(run: (kv: KvClient) => Promise<T>) => onLeader(config, run, spareClients);
  const ensure = async (what: string, done: (c: Configuration) => boolean, change: MembershipChange | { type: 'transfer'; id: string }) => {
    const startedAt = performance.now();
    for (;;) {
      if (performance.now() > giveUpAt) throw new Error(`membership: ${what} did not finish within 60 s of healing`);
      try {
        const { configuration } = await ask((kv) => kv.members({ timeoutMs: 2_000 }));
        if (done(configuration)) break;
        await ask((kv) => (change.type === 'transfer' ? kv.transferLeadership(change.id, { timeoutMs: 3_000 }).then(() => undefined) : kv.changeMembers(change, { timeoutMs: 5_000 })));
        if (change.type === 'transfer') break;
      } catch {
        await sleep(200);
      }
    }
    note(`membership: ${what} in ${Math.round(performance.now() - startedAt)} ms`);
  };
  const isMember = (c: Configuration, id: string) => c.voters.includes(id) || c.observers.includes(id) || c.leaving?.voters.includes(id) === true;
  let changes = 0;
  const changing = new Prng(seed + 1);
  const changeMembers = async () => {
    const kind = changing.int(4);
    const current = [...voters];
    const victim = current[changing.int(current.length)]!;
    changes++;
    const spare = spares.shift();
    if (kind <= 1 && spare !== undefined) {
      note(`membership: replace ${victim} by ${spare.id}`);
      joinArgs.set(spare.id, JSON.stringify({ peer: `${spare.peer.host}:${spare.peer.port}`, client: `${spare.client.host}:${spare.client.port}`, dataDir: spare.dataDir }));
      active.add(spare.id);
      await startServer(config, spare.id);
      const address = `${spare.peer.host}:${spare.peer.port},${spare.client.host}:${spare.client.port}`;
      await ensure(`add observer ${spare.id}`, (c) => isMember(c, spare.id), { type: 'addObserver', id: spare.id, address });
      if (kind === 0) {
        // In two changes: promote, then remove.
        await ensure(`promote ${spare.id}`, (c) => c.voters.includes(spare.id), { type: 'promote', id: spare.id });
        voters.add(spare.id);
        await ensure(`remove ${victim}`, (c) => !isMember(c, victim), { type: 'remove', id: victim });
      } else {
        // In one change, through a joint configuration.
        await ensure(`replace ${victim} by ${spare.id}`, (c) => !isMember(c, victim) && c.voters.includes(spare.id) && c.leaving === undefined, { type: 'replace', remove: victim, add: spare.id });
        voters.add(spare.id);
      }
      voters.delete(victim);
      active.delete(victim);
      note(`membership: retire ${victim}`);
      servers.get(victim)?.kill('SIGCONT');
      servers.get(victim)?.kill('SIGKILL');
      return;
    }
    if (spare !== undefined) spares.unshift(spare);
    if (kind === 2) {
      note(`membership: demote and promote ${victim}`);
      await ensure(`demote ${victim}`, (c) => !c.voters.includes(victim) && c.leaving === undefined, { type: 'demote', id: victim });
      voters.delete(victim);
      await sleep(changing.int(2_000));
      await ensure(`promote ${victim}`, (c) => c.voters.includes(victim), { type: 'promote', id: victim });
      voters.add(victim);
    } else {
      await ensure(`transfer leadership to ${victim}`, () => false, { type: 'transfer', id: victim });
    }
  };
  const end = performance.now() + nemesisMs;
  const membership = (async () => {
    while (performance.now() < end) {
      await sleep(1_000 + changing.int(2_000));
      await changeMembers();
    }
  })();

  // The nemesis: one process fault at a time, each undone before the next, while the
  // membership changes above go on.
  let faults = 0;
  while (performance.now() < end) {
    await sleep(500 + random.int(1_500));
    const members = [...active];
    const victim = members[random.int(members.length)]!;
    const kind = random.int(3);
    faults++;
    if (kind === 0) {
      note(`SIGKILL ${victim}`);
      servers.get(victim)!.kill('SIGKILL');
      await sleep(500 + random.int(2_000));
      if (active.has(victim)) {
        note(`restart ${victim}`);
        await startServer(config, victim);
      }
    } else if (kind === 1) {
      note(`SIGSTOP ${victim}`);
      servers.get(victim)!.kill('SIGSTOP');
      stopped.add(victim);
      await sleep(500 + random.int(3_000));
      note(`SIGCONT ${victim}`);
      servers.get(victim)!.kill('SIGCONT');
      stopped.delete(victim);
    } else {
      const shuffled = members.sort(() => random.next() - 0.5);
      const minority = shuffled.slice(0, 1 + random.int(2));
      const majority = shuffled.slice(minority.length);
      note(`partition ${minority.join(',')} | ${majority.join(',')}`);
      for (const id of members) if (alive(id)) servers.get(id)!.send({ block: minority.includes(id) ? majority : minority });
      await sleep(1_000 + random.int(3_000));
      note('heal');
      for (const id of servers.keys()) if (alive(id)) servers.get(id)!.send({ block: [] });
    }
  }

  // Healed: every server up; the membership change under way must finish.
  for (const id of active) if (!alive(id)) await startServer(config, id);
  giveUpAt = performance.now() + 60_000;
  await membership;
  for (const id of active) if (!alive(id)) await startServer(config, id);
  // The cluster must serve a write again within a bound.
  const healedAt = performance.now();
  let recoveredMs: number | undefined;
  while (recoveredMs === undefined && performance.now() - healedAt < 20_000) {
    try {
      await clients[0]!.put('probe', 'after the nemesis', { timeoutMs: 2_000 });
      recoveredMs = performance.now() - healedAt;
    } catch {
      await sleep(100);
    }
  }
  running = false;
  await Promise.all(workers);
  note(`served again ${recoveredMs === undefined ? 'never' : `${Math.round(recoveredMs)} ms`} after healing`);
  if (recoveredMs === undefined) {
    // What each server thinks, for the failure report.
    for (const id of active) {
      const one = new KvClient({ endpoints: [config.members[id]?.client ?? joinedClient(id)], clusterId: config.clusterId, secret: config.clientSecret!, requestTimeoutMs: 2_000 });
      note(`${id}: ${await one.status().then((s) => JSON.stringify(s), (e: unknown) => String(e))}`);
      await one.close();
    }
  }
  expect(recoveredMs, log.join('\n')).toBeDefined();
  expect(recoveredMs!).toBeLessThan(20_000);

  // The final word on every key, read linearizably: an acknowledged write missing here is lost.
  for (const key of keys) {
    const invokedAt = performance.now();
    const kv = await clients[1]!.get(key, { timeoutMs: 10_000 });
    history.push({ client: 'final', key, input: { op: 'get' }, invokedAt, completedAt: performance.now(), outcome: 'ok', output: kv === undefined ? { type: 'absent' } : { type: 'value', value: text.decode(kv.value), version: kv.version } });
  }
  // The configuration is the one the changes that finished lead to.
  const { configuration } = await ask((kv) => kv.members({ timeoutMs: 5_000 }));
  note(`configuration ${configuration.id}: voters ${configuration.voters.join(',')}; ${changes} membership changes`);
  expect(configuration.leaving, log.join('\n')).toBeUndefined();
  expect([...configuration.voters].sort(), log.join('\n')).toEqual([...voters].sort());
  await Promise.all(clients.map((c) => c.close()));

  const ok = history.filter((o) => o.outcome === 'ok').length;
  const unknown = history.filter((o) => o.outcome === 'info').length;
  note(`${history.length} operations: ${ok} ok, ${unknown} unknown; ${faults} faults`);
  console.log(log.join('\n'));
  expect(faults).toBeGreaterThan(0);
  expect(ok).toBeGreaterThan(100);
  const verdict = checkLinearizability(history, versionedKvModel, { timeBudgetMs: 60_000 });
  expect(verdict, `seed ${seed}\n${log.join('\n')}\n${JSON.stringify(verdict).slice(0, 3_000)}`).toEqual({ result: 'linearizable' });
}, nemesisMs + 180_000);
