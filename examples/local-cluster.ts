/**
 * `npm start`: three synod nodes in one process on the embedded defaults: each on the
 * durable FileStorage in its own data directory (fsync on, snapshots and log compaction
 * on), talking over TcpTransport on 127.0.0.1 with a shared secret; a steady workload of 64 clients with a live progress line; the leader
 * stopped mid-run and restarted later from its files; then a summary: commits,
 * throughput, failover time, fsyncs, snapshots, and a check that every acknowledged
 * command was applied exactly once on every node.
 *
 * Each client sends "add 1 to my counter" requests one after another, with its own
 * client id and sequence number, and retries a failed request (same id) on another
 * node until it is acknowledged. So at the end each node's counter for a client must
 * equal the client's acknowledged count: one more would be a duplicate, one fewer a
 * lost acknowledged write.
 *
 * Run: `npx tsx examples/local-cluster.ts [seconds]` (default 8).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/cli/cluster-up.js';
import { type NodeId, SynodError, type SynodNode, createNode } from '../src/index.js';
import { FileStorage } from '../src/storage/file/index.js';
import { TcpTransport, type TcpTransportStats } from '../src/transport/tcp/index.js';

interface Add {
  readonly key: string;
}

/** The replicated state: one counter per key. */
class Counters {
  readonly values = new Map<string, number>();
  apply(command: Add): number {
    const value = (this.values.get(command.key) ?? 0) + 1;
    this.values.set(command.key, value);
    return value;
  }
  /** Two-step snapshot: copy now (cheap), encode later while applies go on. */
  snapshot(): { write(): Promise<Uint8Array> } {
    const copy = [...this.values];
    return { write: async () => new TextEncoder().encode(JSON.stringify(copy)) };
  }
  restore(data: Uint8Array): void {
    this.values.clear();
    for (const [k, v] of JSON.parse(new TextDecoder().decode(data)) as [string, number][]) this.values.set(k, v);
  }
}

const seconds = Number(process.argv[2] ?? 8);
const clients = 64;
const ids: NodeId[] = ['a', 'b', 'c'];
const secret = randomBytes(32);
const ports = new Map<NodeId, number>();
for (const id of ids) ports.set(id, await freePort());
const transports = new Map<NodeId, TcpTransport>();
const wire = { messagesSent: 0, writes: 0, framesRejected: 0 };
const dataDir = await mkdtemp(join(tmpdir(), 'synod-local-cluster-'));
const storages = new Map<NodeId, FileStorage>();
const fsyncs = { persists: 0, fsyncs: 0 };
const machines = new Map<NodeId, Counters>();
const nodes = new Map<NodeId, SynodNode<Add, number>>();

/** Counts a closed node's group commits and socket writes into the summary. */
function tally(id: NodeId): void {
  const s = storages.get(id)!.stats;
  fsyncs.persists += s.persists;
  fsyncs.fsyncs += s.fsyncs;
  const t: TcpTransportStats = transports.get(id)!.stats;
  wire.messagesSent += t.messagesSent;
  wire.writes += t.writes;
  wire.framesRejected += t.framesRejected;
}

async function boot(id: NodeId): Promise<SynodNode<Add, number>> {
  storages.set(id, await FileStorage.open(join(dataDir, id)));
  const machine = new Counters();
  machines.set(id, machine);
  const transport = new TcpTransport({
    id,
    clusterId: 'local-cluster',
    listen: { host: '127.0.0.1', port: ports.get(id)! },
    peers: Object.fromEntries(ids.filter((p) => p !== id).map((p) => [p, { host: '127.0.0.1', port: ports.get(p)! }])),
    secret,
  });
  transports.set(id, transport);
  const node = createNode<Add, number>({
    id,
    members: ids,
    transport,
    storage: storages.get(id)!,
    stateMachine: machine,
    tickMs: 10,
    electionTicks: { min: 15, max: 30 },
    proposeTimeoutMs: 2_000,
    snapshot: { everySlots: 250, trailingSlots: 100 },
  });
  nodes.set(id, node);
  return node;
}

const leaderOf = (): NodeId | undefined =>
  ids.find((id) => {
    const s = nodes.get(id)?.status();
    return s?.state === 'running' && s.role === 'leader';
  });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const start = performance.now();
const elapsed = (): number => (performance.now() - start) / 1000;
let acknowledged = 0;
let failedAttempts = 0;
let killedAt: number | undefined;
let firstCommitAfterKill: number | undefined;
let stop = false;
const ackedPerClient = new Array<number>(clients).fill(0);

async function client(i: number): Promise<void> {
  const clientId = `client-${i}`;
  for (let seq = 1; !stop; seq++) {
    for (let attempt = 0; ; attempt++) {
      const live = ids.filter((id) => nodes.get(id)?.status().state === 'running');
      const target = live[(i + seq + attempt) % live.length]!;
      const sentAt = performance.now();
      try {
        await nodes.get(target)!.propose({ key: clientId }, { request: { clientId, seq, ackedBelow: seq } });
        acknowledged++;
        ackedPerClient[i]!++;
        if (killedAt !== undefined && firstCommitAfterKill === undefined && sentAt / 1000 >= killedAt + start / 1000) {
          firstCommitAfterKill = elapsed();
        }
        break;
      } catch (error) {
        if (!(error instanceof SynodError)) throw error;
        failedAttempts++;
        await sleep(5);
      }
    }
  }
}

function progress(): void {
  const line =
    `t=${elapsed().toFixed(1)}s  leader=${leaderOf() ?? '-'}  acknowledged=${acknowledged}  ` +
    `throughput=${Math.round(acknowledged / elapsed())}/s  retried=${failedAttempts}`;
  if (process.stdout.isTTY) process.stdout.write(`\r${line}   `);
  else console.log(line);
}

for (const id of ids) await boot(id);
await Promise.all(ids.map((id) => nodes.get(id)!.start()));
console.log(
  `3 nodes started (${ids.join(', ')}) on FileStorage in ${dataDir} and TCP ports ${[...ports.values()].join(', ')}, ${clients} clients, ${seconds} s`,
);
const workers = Array.from({ length: clients }, (_, i) => client(i));
const ticker = setInterval(progress, process.stdout.isTTY ? 200 : 1000);

await sleep((seconds * 1000) / 3);
const victim = leaderOf() ?? 'a';
if (process.stdout.isTTY) process.stdout.write('\n');
console.log(`stopping the leader ${victim} at t=${elapsed().toFixed(2)}s`);
killedAt = elapsed();
const snapshotsBefore = nodes.get(victim)!.metrics().snapshots.saved;
await nodes.get(victim)!.close();
tally(victim);
while (leaderOf() === undefined || leaderOf() === victim) await sleep(1);
const electedAt = elapsed();
console.log(`${leaderOf()} leads from t=${electedAt.toFixed(2)}s`);

await sleep((seconds * 1000) / 3);
console.log(`restarting ${victim} from its data directory at t=${elapsed().toFixed(2)}s`);
await (await boot(victim)).start();

await sleep((seconds * 1000) / 3);
stop = true;
await Promise.all(workers);
clearInterval(ticker);
progress();
if (process.stdout.isTTY) process.stdout.write('\n');

// Every node reads at a linearizable point, then must hold exactly the acknowledged counts.
const problems: string[] = [];
for (const id of ids) {
  await nodes.get(id)!.read();
  const values = machines.get(id)!.values;
  for (let i = 0; i < clients; i++) {
    const held = values.get(`client-${i}`) ?? 0;
    if (held !== ackedPerClient[i]) problems.push(`${id}: client-${i} holds ${held}, ${ackedPerClient[i]} acknowledged`);
  }
}
const total = elapsed();
const snapshots = ids.reduce((n, id) => n + nodes.get(id)!.metrics().snapshots.saved + nodes.get(id)!.metrics().snapshots.installed, snapshotsBefore);
await Promise.all(ids.map((id) => nodes.get(id)!.close()));
for (const id of ids) tally(id);
await rm(dataDir, { recursive: true, force: true });

const failover = electedAt - killedAt;
console.log('\nsummary');
console.log(`  acknowledged commands  ${acknowledged}`);
console.log(`  throughput             ${Math.round(acknowledged / total)} commands/s over ${total.toFixed(1)} s`);
console.log(
  `  failover               new leader ${(failover * 1000).toFixed(0)} ms after the kill` +
    (firstCommitAfterKill === undefined ? '' : `, first commit after ${((firstCommitAfterKill - killedAt) * 1000).toFixed(0)} ms`),
);
console.log(`  attempts retried       ${failedAttempts}`);
console.log(
  `  network                ${wire.messagesSent} messages in ${wire.writes} socket writes (${(wire.messagesSent / Math.max(1, wire.writes)).toFixed(1)} a write), ${wire.framesRejected} frames rejected`,
);
console.log(
  `  storage                ${fsyncs.persists} persists in ${fsyncs.fsyncs} fsyncs (${(fsyncs.persists / Math.max(1, fsyncs.fsyncs)).toFixed(1)} a fsync), ${snapshots} snapshots saved or installed`,
);
if (problems.length > 0) {
  console.log(`  CHECK FAILED: ${problems.length} counters differ from the acknowledged counts`);
  for (const p of problems.slice(0, 10)) console.log(`    ${p}`);
  process.exit(1);
}
console.log(`  check                  every node holds every acknowledged command exactly once (${ids.length} nodes x ${clients} clients)`);
