/**
 * `npm start`: the replicated KV as it runs for real. Three `synod serve` processes on
 * 127.0.0.1, each on FileStorage (fsync on) in its own data directory, talking over
 * TcpTransport; client connections over the KV client protocol; a compare-and-set
 * workload with a live progress line; the leader killed with SIGKILL mid-run and
 * restarted from its files; then a summary: throughput, latency, failover time, and
 * the whole history checked linearizable, with no acknowledged write lost.
 *
 * Each worker reads a key, then writes it with `expectedVersion` set to what it read
 * (a compare-and-set), over a few shared keys, so conflicts are common. Every
 * operation is recorded with its start and end time and its outcome: ok, refused
 * (a version conflict is an ok answer), or unknown (timed out). Nothing deletes, so
 * a key's final version counts the writes it took: at least every acknowledged
 * compare-and-set, at most those plus the unknown ones.
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
import { VersionConflictError } from '../src/kv/index.js';
import { TimeoutError } from '../src/runtime/index.js';
import { type KvInput, type KvOutput, type Operation, checkLinearizability, versionedKvModel } from '../src/testing/index.js';

const seconds = Number(process.argv[2] ?? 10);
const workers = 32;
const keys = Array.from({ length: 8 }, (_, i) => `account/${i}`);
const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const cli = join(root, 'src', 'cli', 'synod.ts');
const text = new TextDecoder();

const dir = await mkdtemp(join(tmpdir(), 'synod-kv-cluster-'));
const configPath = await writeLocalCluster(dir, 3);
const config = await readClusterConfig(configPath);
const ids = Object.keys(config.members);
const servers = new Map<string, ChildProcess>();

/** Starts `synod serve` for `id` (the same Node and loader as this process). */
function startServer(id: string): void {
  // Their logs (warnings while a peer is down) would garble the progress line: dropped.
  const child = spawn(process.execPath, [...process.execArgv, cli, 'serve', '--config', configPath, '--id', id, '--snapshot-every', '2000'], { stdio: 'ignore' });
  servers.set(id, child);
}

const clients = ids.map(
  (_, i) =>
    // Each client starts at a different server, and fails over to the others.
    new KvClient({ endpoints: [...ids.slice(i), ...ids.slice(0, i)].map((id) => config.members[id]!.client), clusterId: config.clusterId, secret: config.clientSecret!, requestTimeoutMs: 5_000 }),
);

const history: Operation<KvInput, KvOutput>[] = [];
const latencies: number[] = [];
const counts = { reads: 0, written: 0, conflicts: 0, unknown: 0 };
const acknowledgedWrites = new Map<string, number>(keys.map((k) => [k, 0]));
const unknownWrites = new Map<string, number>(keys.map((k) => [k, 0]));
let stopping = false;
let killedAt: number | undefined;
let firstWriteAfterKill: number | undefined;

async function read(client: KvClient, worker: string, key: string): Promise<number | undefined> {
  const invokedAt = performance.now();
  try {
    const kv = await client.get(key);
    const completedAt = performance.now();
    counts.reads++;
    history.push({ client: worker, key, input: { op: 'get' }, invokedAt, completedAt, outcome: 'ok', output: kv === undefined ? { type: 'absent' } : { type: 'value', value: text.decode(kv.value), version: kv.version } });
    return kv?.version ?? 0;
  } catch {
    return undefined; // a failed read changed nothing: nothing to record
  }
}

async function compareAndSet(client: KvClient, worker: string, key: string, expectedVersion: number, value: string): Promise<void> {
  const invokedAt = performance.now();
  const input: KvInput = { op: 'put', value, expectedVersion };
  try {
    const { version } = await client.put(key, value, { expectedVersion });
    const completedAt = performance.now();
    latencies.push(completedAt - invokedAt);
    counts.written++;
    acknowledgedWrites.set(key, acknowledgedWrites.get(key)! + 1);
    if (killedAt !== undefined && firstWriteAfterKill === undefined && invokedAt > killedAt) firstWriteAfterKill = completedAt;
    history.push({ client: worker, key, input, invokedAt, completedAt, outcome: 'ok', output: { type: 'written', version } });
  } catch (error) {
    const completedAt = performance.now();
    if (error instanceof VersionConflictError) {
      latencies.push(completedAt - invokedAt);
      counts.conflicts++;
      history.push({ client: worker, key, input, invokedAt, completedAt, outcome: 'ok', output: { type: 'conflict', version: error.currentVersion } });
    } else {
      // Timed out or cut off: it may have taken effect, at any time after it began.
      counts.unknown++;
      unknownWrites.set(key, unknownWrites.get(key)! + 1);
      history.push({ client: worker, key, input, invokedAt, outcome: 'info' });
    }
  }
}

async function worker(index: number): Promise<void> {
  const client = clients[index % clients.length]!;
  const name = `w${index}`;
  for (let n = 0; !stopping; n++) {
    const key = keys[(index * 7 + n) % keys.length]!;
    const version = await read(client, name, key);
    if (version === undefined || stopping) continue;
    await compareAndSet(client, name, key, version, `${name}-${n}`);
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

let exitCode = 0;
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) exitCode = 1;
};

try {
  for (const id of ids) startServer(id);
  await Promise.all(clients.map((c) => c.connect()));
  // A new cluster first elects a leader, and each process may still be loading its code:
  // wait (up to 30 s) until it serves a write, and say how long that took.
  const booted = performance.now();
  for (;;) {
    try {
      await clients[0]!.put('warmup', 'x');
      break;
    } catch (error) {
      if (!(error instanceof TimeoutError) || performance.now() - booted > 30_000) throw error;
    }
  }
  console.log(`the new cluster served its first write ${Math.round(performance.now() - booted)} ms after the clients connected`);
  console.log(`3 KV servers (${ids.join(', ')}) on FileStorage in ${dir}, client ports ${ids.map((id) => config.members[id]!.client.port).join(', ')}; ${workers} workers doing compare-and-set on ${keys.length} keys for ${seconds} s`);

  const start = performance.now();
  const running = Array.from({ length: workers }, (_, i) => worker(i));
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
  stopping = true;
  await Promise.all(running);
  clearInterval(progress);
  clearTimeout(restart);
  if (servers.get(leader)!.exitCode !== null || servers.get(leader)!.signalCode !== null) startServer(leader);
  const elapsed = (performance.now() - start) / 1000;
  if (tty) process.stdout.write('\n');

  // One last linearizable read of every key: an acknowledged write missing here would be lost.
  const finals = new Map<string, number>();
  for (const key of keys) {
    const invokedAt = performance.now();
    const kv = await clients[1]!.get(key);
    history.push({ client: 'final', key, input: { op: 'get' }, invokedAt, completedAt: performance.now(), outcome: 'ok', output: kv === undefined ? { type: 'absent' } : { type: 'value', value: text.decode(kv.value), version: kv.version } });
    finals.set(key, kv?.version ?? 0);
  }

  console.log('');
  console.log(`killed leader ${leader} with SIGKILL at t=${((killedAt - start) / 1000).toFixed(1)} s, restarted it 2 s later from its data directory`);
  console.log(`compare-and-set: ${counts.written} written, ${counts.conflicts} refused (version conflicts), ${counts.unknown} unknown (timed out)`);
  console.log(`throughput: ${Math.round((counts.written + counts.conflicts) / elapsed)} CAS/s and ${Math.round(counts.reads / elapsed)} linearizable reads/s over ${elapsed.toFixed(1)} s`);
  console.log(`CAS latency: p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms`);
  const failoverMs = firstWriteAfterKill === undefined ? undefined : firstWriteAfterKill - killedAt;
  console.log(`failover: the first write begun after the kill was acknowledged ${failoverMs === undefined ? 'never' : `${Math.round(failoverMs)} ms`} after it`);

  const checkStart = performance.now();
  const verdict = checkLinearizability(history, versionedKvModel, { timeBudgetMs: 60_000 });
  console.log(`history: ${history.length} operations on ${keys.length} keys, checked in ${Math.round(performance.now() - checkStart)} ms`);
  check(verdict.result === 'linearizable', `the history is linearizable${verdict.result === 'not-linearizable' ? `: key ${verdict.key} fails with ${JSON.stringify(verdict.minimal)}` : verdict.result === 'unknown' ? ` (unknown: ${verdict.reason})` : ''}`);
  const lost = keys.filter((k) => finals.get(k)! < acknowledgedWrites.get(k)!);
  const extra = keys.filter((k) => finals.get(k)! > acknowledgedWrites.get(k)! + unknownWrites.get(k)!);
  check(lost.length === 0, `no acknowledged write lost (every key's final version >= its acknowledged writes)${lost.length > 0 ? `: ${lost.join(', ')}` : ''}`);
  check(extra.length === 0, `no write applied twice (final version <= acknowledged + unknown writes)${extra.length > 0 ? `: ${extra.join(', ')}` : ''}`);
  check(failoverMs !== undefined, 'the cluster served writes again after losing its leader');
} finally {
  await Promise.all(clients.map((c) => c.close()));
  const exits = [...servers.values()].filter((s) => s.exitCode === null && s.signalCode === null).map((s) => new Promise((r) => s.once('exit', r)));
  for (const s of servers.values()) s.kill('SIGTERM');
  await Promise.all(exits);
  await rm(dir, { recursive: true, force: true });
}
process.exit(exitCode);
