/**
 * Replacing every machine of a running cluster, under load. Three `synod serve`
 * processes (a, b, c) on FileStorage and TCP serve a compare-and-set workload; one at a
 * time, a new server joins (`synod serve --join`: added as an observer, it receives a
 * snapshot and the log, and is promoted once caught up) and an old voter is removed and
 * stopped, until d, e and f hold the cluster; then it grows to five and shrinks back to
 * three. The time each change took is printed; at the end the whole history is checked
 * linearizable, with no acknowledged write lost.
 *
 * Run: `npx tsx examples/kv-replace-member.ts` (`SYNOD_DEBUG=1` shows the servers' logs).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readClusterConfig } from '../src/cli/cluster-config.js';
import { freePort, writeLocalCluster } from '../src/cli/cluster-up.js';
import { onLeader } from '../src/cli/member-commands.js';
import { KvClient } from '../src/kv/client/index.js';
import type { TcpAddress } from '../src/transport/tcp/index.js';
import { CasWorkload, firstWrite, percentile } from './kv-workload/cas-workload.js';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const cli = join(root, 'src', 'cli', 'synod.ts');
const dir = await mkdtemp(join(tmpdir(), 'synod-replace-'));
const configPath = await writeLocalCluster(dir, 3);
let config = await readClusterConfig(configPath);
const servers = new Map<string, ChildProcess>();
const joiners = new Map<string, { peer: TcpAddress; client: TcpAddress }>();
for (const id of ['d', 'e', 'f', 'g', 'h'])
  joiners.set(id, { peer: { host: '127.0.0.1', port: await freePort() }, client: { host: '127.0.0.1', port: await freePort() } });
/** Where the new servers serve clients: once a, b and c are gone, the cluster file names no live member. */
const joinerClients = [...joiners.values()].map((a) => a.client);

function serve(id: string, extra: readonly string[] = []): void {
  servers.set(
    id,
    spawn(
      process.execPath,
      [
        ...process.execArgv,
        cli,
        'serve',
        '--config',
        configPath,
        '--id',
        id,
        '--snapshot-every',
        '500',
        ...(process.env['SYNOD_DEBUG'] ? ['--verbose'] : []),
        ...extra,
      ],
      { stdio: ['ignore', 'ignore', process.env['SYNOD_DEBUG'] ? 'inherit' : 'ignore'] },
    ),
  );
}

function join_(id: string): void {
  const a = joiners.get(id)!;
  serve(id, ['--join', '--peer', `${a.peer.host}:${a.peer.port}`, '--client', `${a.client.host}:${a.client.port}`, '--data-dir', join(dir, id)]);
}

async function stop(id: string): Promise<void> {
  const child = servers.get(id)!;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/**
 * Rewrites the cluster file to name the voters of now, as an operator would once the
 * machines it named are gone: a server that joins later finds the cluster through it.
 */
async function rewriteClusterFile(ids: readonly string[]): Promise<void> {
  const raw = JSON.parse(await readFile(configPath, 'utf8')) as { members: Record<string, unknown> };
  const format = (a: TcpAddress) => `${a.host}:${a.port}`;
  raw.members = Object.fromEntries(
    ids.map((id) => {
      const a = joiners.get(id) ?? config.members[id]!;
      return [id, { peer: format(a.peer), client: format(a.client), dataDir: id }];
    }),
  );
  await writeFile(configPath, `${JSON.stringify(raw, null, 2)}\n`);
  config = await readClusterConfig(configPath);
}

async function voters(): Promise<string[]> {
  return [...(await onLeader(config, (kv) => kv.members(), joinerClients)).configuration.voters].sort();
}

async function waitForVoter(id: string, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await voters()).includes(id)) {
    if (performance.now() > deadline) throw new Error(`${id} did not become a voter within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Clients know every address, old and new, and fail over between them.
const endpoints = [...Object.values(config.members).map((m) => m.client), ...[...joiners.values()].map((a) => a.client)];
const clients = Array.from(
  { length: 4 },
  (_, i) =>
    new KvClient({
      endpoints: [...endpoints.slice(i), ...endpoints.slice(0, i)],
      clusterId: config.clusterId,
      secret: config.clientSecret!,
      requestTimeoutMs: 5_000,
    }),
);
const workload = new CasWorkload(Array.from({ length: 6 }, (_, i) => `account/${i}`));
let exitCode = 0;
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) exitCode = 1;
};

try {
  for (const id of Object.keys(config.members)) serve(id);
  await firstWrite(clients[0]!);
  console.log(`cluster a, b, c up; 16 workers doing compare-and-set on ${workload.keys.length} keys`);
  const start = performance.now();
  workload.start(clients, 16);
  const { counts } = workload;
  const tty = process.stdout.isTTY;
  let phase = 'warming up';
  let lastLine = performance.now();
  const progress = setInterval(() => {
    const line = `t=${((performance.now() - start) / 1000).toFixed(1)}s  ${phase}  cas ok ${counts.written}  conflicts ${counts.conflicts}  unknown ${counts.unknown}`;
    if (tty) process.stdout.write(`\r${line.padEnd(100)}`);
    else if (performance.now() - lastLine >= 5_000) {
      console.log(line);
      lastLine = performance.now();
    }
  }, 200);
  const say = (line: string) => {
    if (tty) process.stdout.write(`${'\r'.padEnd(101)}\r`);
    console.log(line);
  };
  await new Promise((r) => setTimeout(r, 1_000));

  const timings: string[] = [];
  for (const [old, next] of [
    ['a', 'd'],
    ['b', 'e'],
    ['c', 'f'],
  ] as const) {
    phase = `replacing ${old} with ${next}`;
    const t0 = performance.now();
    join_(next);
    await waitForVoter(next, 60_000);
    const joined = performance.now();
    await onLeader(config, (kv) => kv.changeMembers({ type: 'remove', id: old }, { timeoutMs: 30_000 }), joinerClients);
    await stop(old);
    await rewriteClusterFile(await voters());
    const line = `replaced ${old} with ${next}: joined and promoted in ${Math.round(joined - t0)} ms, ${old} removed in ${Math.round(performance.now() - joined)} ms; voters now ${(await voters()).join(', ')}`;
    timings.push(line);
    say(line);
  }
  for (const next of ['g', 'h']) {
    phase = `growing: adding ${next}`;
    const t0 = performance.now();
    join_(next);
    await waitForVoter(next, 60_000);
    say(`added ${next} in ${Math.round(performance.now() - t0)} ms; voters now ${(await voters()).join(', ')}`);
  }
  for (const old of ['g', 'h']) {
    phase = `shrinking: removing ${old}`;
    const t0 = performance.now();
    await onLeader(config, (kv) => kv.changeMembers({ type: 'remove', id: old }, { timeoutMs: 30_000 }), joinerClients);
    await stop(old);
    say(`removed ${old} in ${Math.round(performance.now() - t0)} ms; voters now ${(await voters()).join(', ')}`);
  }
  phase = 'finishing';
  await new Promise((r) => setTimeout(r, 500));
  await workload.stop();
  clearInterval(progress);
  const elapsed = (performance.now() - start) / 1000;
  if (tty) process.stdout.write('\n');
  console.log(
    `compare-and-set: ${counts.written} written, ${counts.conflicts} refused, ${counts.unknown} unknown, over ${elapsed.toFixed(1)} s; latency p50 ${percentile(workload.latencies, 50).toFixed(2)} ms, p99 ${percentile(workload.latencies, 99).toFixed(2)} ms`,
  );
  check((await voters()).join(',') === 'd,e,f', 'the cluster is d, e and f: every original machine replaced');
  await workload.verify(clients[3]!, check);
  check(counts.written > 0, 'writes went on through every change');
} finally {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([...servers.keys()].map(stop));
  await rm(dir, { recursive: true, force: true });
}
process.exit(exitCode);
