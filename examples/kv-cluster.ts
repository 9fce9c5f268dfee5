/**
 * `npm start`: the replicated KV as it runs for real. Three `synod serve` processes on
 * 127.0.0.1, each on FileStorage (fsync on) in its own data directory, talking over
 * TcpTransport; client connections over the KV client protocol; a compare-and-set
 * workload with a live progress line; the leader killed with SIGKILL mid-run and
 * restarted from its files; then a summary: throughput, latency, failover time, and
 * the whole history checked linearizable, with no acknowledged write lost (the
 * workload and its checks: `cas-workload.ts`).
 *
 * Run: `npx tsx examples/kv-cluster.ts [seconds]` (default 10).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readClusterConfig } from '../src/cli/cluster-config.js';
import { writeLocalCluster } from '../src/cli/cluster-up.js';
import { KvClient } from '../src/kv/client/index.js';
import { CasWorkload, firstWrite, percentile } from './kv-workload/cas-workload.js';

const seconds = Number(process.argv[2] ?? 10);
const workers = 32;
const keys = Array.from({ length: 8 }, (_, i) => `account/${i}`);
const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const cli = join(root, 'src', 'cli', 'synod.ts');

const dir = await mkdtemp(join(tmpdir(), 'synod-kv-cluster-'));
const configPath = await writeLocalCluster(dir, 3);
const config = await readClusterConfig(configPath);
const ids = Object.keys(config.members);
const servers = new Map<string, ChildProcess>();

/** Starts `synod serve` for `id` (the same Node and loader as this process). */
function startServer(id: string): void {
  // Their logs (warnings while a peer is down) would garble the progress line: dropped.
  const child = spawn(process.execPath, [...process.execArgv, cli, 'serve', '--config', configPath, '--id', id, '--snapshot-every', '2000'], {
    stdio: 'ignore',
  });
  servers.set(id, child);
}

const clients = ids.map(
  (_, i) =>
    // Each client starts at a different server, and fails over to the others.
    new KvClient({
      endpoints: [...ids.slice(i), ...ids.slice(0, i)].map((id) => config.members[id]!.client),
      clusterId: config.clusterId,
      secret: config.clientSecret!,
      requestTimeoutMs: 5_000,
    }),
);

const workload = new CasWorkload(keys);
const { counts } = workload;
let killedAt: number | undefined;
let firstWriteAfterKill: number | undefined;
workload.onWrite = (invokedAt, completedAt) => {
  if (killedAt !== undefined && firstWriteAfterKill === undefined && invokedAt > killedAt) firstWriteAfterKill = completedAt;
};

let exitCode = 0;
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) exitCode = 1;
};

try {
  for (const id of ids) startServer(id);
  await Promise.all(clients.map((c) => c.connect()));
  const bootMs = await firstWrite(clients[0]!);
  console.log(`the new cluster served its first write ${Math.round(bootMs)} ms after the clients connected`);
  console.log(
    `3 KV servers (${ids.join(', ')}) on FileStorage in ${dir}, client ports ${ids.map((id) => config.members[id]!.client.port).join(', ')}; ${workers} workers doing compare-and-set on ${keys.length} keys for ${seconds} s`,
  );

  const start = performance.now();
  workload.start(clients, workers);
  const tty = process.stdout.isTTY;
  let lastLine = 0;
  const progress = setInterval(() => {
    const t = (performance.now() - start) / 1000;
    const line = `t=${t.toFixed(1)}s  cas ok ${counts.written}  conflicts ${counts.conflicts}  unknown ${counts.unknown}  reads ${counts.reads}  ${killedAt === undefined ? '' : firstWriteAfterKill === undefined ? 'leader killed, electing...' : 'failed over'}`;
    if (tty) process.stdout.write(`\r${line.padEnd(100)}`);
    else if (t - lastLine >= 1) {
      console.log(line);
      lastLine = t;
    }
  }, 200);

  // The leader dies at 40% of the run, and comes back from its files 2 s later.
  await new Promise((r) => setTimeout(r, seconds * 400));
  const status = await clients[0]!.status();
  const leader = status.leader ?? ids[0]!;
  killedAt = performance.now();
  servers.get(leader)!.kill('SIGKILL');
  const restart = setTimeout(() => startServer(leader), 2_000);
  await new Promise((r) => setTimeout(r, Math.max(0, start + seconds * 1000 - performance.now())));
  await workload.stop();
  clearInterval(progress);
  clearTimeout(restart);
  if (servers.get(leader)!.exitCode !== null || servers.get(leader)!.signalCode !== null) startServer(leader);
  const elapsed = (performance.now() - start) / 1000;
  if (tty) process.stdout.write('\n');

  console.log('');
  console.log(`killed leader ${leader} with SIGKILL at t=${((killedAt - start) / 1000).toFixed(1)} s, restarted it 2 s later from its data directory`);
  console.log(`compare-and-set: ${counts.written} written, ${counts.conflicts} refused (version conflicts), ${counts.unknown} unknown (timed out)`);
  console.log(
    `throughput: ${Math.round((counts.written + counts.conflicts) / elapsed)} CAS/s and ${Math.round(counts.reads / elapsed)} linearizable reads/s over ${elapsed.toFixed(1)} s`,
  );
  console.log(`CAS latency: p50 ${percentile(workload.latencies, 50).toFixed(2)} ms, p99 ${percentile(workload.latencies, 99).toFixed(2)} ms`);
  const failoverMs = firstWriteAfterKill === undefined ? undefined : firstWriteAfterKill - killedAt;
  console.log(
    `failover: the first write begun after the kill was acknowledged ${failoverMs === undefined ? 'never' : `${Math.round(failoverMs)} ms`} after it`,
  );

  // One last linearizable read of every key: an acknowledged write missing there would be lost.
  await workload.verify(clients[1]!, check);
  check(failoverMs !== undefined, 'the cluster served writes again after losing its leader');
} finally {
  await Promise.all(clients.map((c) => c.close()));
  const exits = [...servers.values()].filter((s) => s.exitCode === null && s.signalCode === null).map((s) => new Promise((r) => s.once('exit', r)));
  for (const s of servers.values()) s.kill('SIGTERM');
  await Promise.all(exits);
  await rm(dir, { recursive: true, force: true });
}
process.exit(exitCode);
