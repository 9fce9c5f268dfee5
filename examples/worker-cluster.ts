/**
 * Three synod nodes, each in its own worker thread, talking over the custom
 * `WorkerTransport` of examples/worker-transport (docs/custom-transport.md walks
 * through it). The main thread asks every worker to propose commands, then checks that
 * all three applied the same sequence.
 *
 * Run: `npx tsx examples/worker-cluster.ts`
 */
import { createHash } from 'node:crypto';
import { isMainThread, type MessagePort, parentPort, Worker, workerData } from 'node:worker_threads';
import { createNode, MemoryStorage, type NodeId, type StateMachine } from '../src/index.js';
import { WorkerNetwork, WorkerTransport } from './worker-transport/worker-transport.js';

const members: NodeId[] = ['a', 'b', 'c'];
const commandsPerWorker = 100;

/** The replicated state: every command applied, in order. */
class AppliedLog implements StateMachine<string, number> {
  readonly entries: string[] = [];
  apply(command: string): number {
    return this.entries.push(command);
  }
}

type Report = { readonly id: NodeId; readonly applied: number; readonly digest: string; readonly delivered: number; readonly rejected: number };

if (isMainThread) {
  // A stuck cluster fails fast instead of hanging whoever runs the example (CI included).
  setTimeout(() => {
    console.error('worker-cluster: no result after 30 s');
    process.exit(1);
  }, 30_000).unref();
  const network = new WorkerNetwork();
  const workers = members.map((id) => {
    const control = network.join(id);
    // A worker does not inherit the main thread's module hooks: under tsx it registers tsx itself.
    const boot = `(async () => { ${import.meta.url.endsWith('.ts') ? "(await import('tsx/esm/api')).register();" : ''} await import(${JSON.stringify(import.meta.url)}); })();`;
    return new Worker(boot, { eval: true, workerData: { id, control }, transferList: [control] });
  });
  const next = (worker: Worker): Promise<unknown> =>
    new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  const started = performance.now();
  await Promise.all(workers.map((w) => next(w)));
  // Every worker proposes its share at once; followers forward to the leader.
  await Promise.all(workers.map((w) => (w.postMessage('propose'), next(w))));
  const reports = (await Promise.all(workers.map((w) => (w.postMessage('report'), next(w))))) as Report[];
  await Promise.all(workers.map((w) => w.terminate()));

  const expected = members.length * commandsPerWorker;
  const agree = reports.every((r) => r.digest === reports[0]!.digest && r.applied === expected);
  for (const r of reports)
    console.log(`${r.id}: applied ${r.applied} commands, digest ${r.digest}, ${r.delivered} messages delivered, ${r.rejected} frames refused`);
  console.log(
    `${expected} commands through 3 worker threads in ${(performance.now() - started).toFixed(0)} ms: ${agree ? 'every node applied the same sequence' : 'NODES DIFFER'}`,
  );
  process.exit(agree ? 0 : 1);
} else {
  const { id, control } = workerData as { id: NodeId; control: MessagePort };
  const transport = new WorkerTransport(id, control);
  const log = new AppliedLog();
  const node = createNode<string, number>({
    id,
    members,
    transport,
    storage: new MemoryStorage(),
    stateMachine: log,
    tickMs: 10,
    electionTicks: { min: 15, max: 30 },
  });
  await node.start();
  parentPort!.postMessage('started');
  parentPort!.on('message', async (request: 'propose' | 'report') => {
    if (request === 'propose') {
      await Promise.all(Array.from({ length: commandsPerWorker }, (_, n) => node.propose(`${id}-${n}`)));
      parentPort!.postMessage('proposed');
      return;
    }
    await node.read();
    const digest = createHash('sha256').update(log.entries.join('\n')).digest('hex').slice(0, 12);
    const report: Report = { id, applied: log.entries.length, digest, delivered: transport.counts.delivered, rejected: transport.counts.rejected };
    parentPort!.postMessage(report);
  });
}
