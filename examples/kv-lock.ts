/**
 * The distributed lock recipe (src/recipes/lock.ts) on a three-node KV cluster
 * in one process.
 *
 * 1. Five workers, spread over the three nodes, each add 1 to a shared counter four
 *    times, each time under the lock: read the counter from a storage service, write
 *    it back plus one. Every request carries the lock's fencing token. No lost update,
 *    no overlap of critical sections, tokens rising in acquisition order.
 * 2. Why the storage checks tokens: worker A takes the lock and pauses (its node is
 *    cut off, so no keepalive reaches the cluster). Its session expires, B takes the
 *    lock with a higher token and writes. A wakes up still believing it holds the lock
 *    and writes with its old token: the storage refuses it.
 *
 * Run: `npx tsx examples/kv-lock.ts`. Exits 0 when every check holds.
 */
import { InProcessKvCluster } from './kv-recipes/in-process-cluster.js';
import { FencedResource, KvLock, StaleTokenError } from '../src/recipes/index.js';

setTimeout(() => {
  console.error('kv-lock: still running after 30 s; giving up');
  process.exit(1);
}, 30_000).unref();

const workers = 5;
const rounds = 4;
const started = performance.now();
const cluster = await InProcessKvCluster.start();
const storage = new FencedResource({ latencyMs: 1 });
const problems: string[] = [];

// 1. Contenders incrementing a counter under the lock.
let inside = 0;
let overlaps = 0;
const tokens: number[] = [];
await Promise.all(
  Array.from({ length: workers }, async (_, i) => {
    const kv = cluster.kv(cluster.ids[i % cluster.ids.length]!);
    const session = await kv.createSession({ ttlMs: 1_000 });
    const lock = new KvLock(kv, { name: 'demo/counter', session, owner: `worker-${i}` });
    for (let round = 0; round < rounds; round++) {
      const held = await lock.acquire({ timeoutMs: 10_000 });
      if (++inside > 1) overlaps++;
      tokens.push(held.fencingToken);
      const count = Number((await storage.read(held.fencingToken, 'count')) ?? '0');
      await storage.write(held.fencingToken, 'count', String(count + 1));
      inside--;
      await held.release();
    }
    await session.close();
  }),
);
const counted = Number(storage.peek('count'));
console.log(`${workers} workers x ${rounds} increments under the lock: counter = ${counted}, tokens ${tokens.join(' ')}`);
if (counted !== workers * rounds) problems.push(`the counter is ${counted}, not ${workers * rounds}: an update was lost`);
if (overlaps > 0) problems.push(`${overlaps} critical sections overlapped`);
if (tokens.some((token, i) => i > 0 && token <= tokens[i - 1]!)) problems.push('tokens did not rise in acquisition order');

// 2. The paused holder.
const pausedNode = cluster.follower();
const otherNode = cluster.ids.find((id) => id !== pausedNode)!;
const sessionA = await cluster.kv(pausedNode).createSession({ ttlMs: 500 });
const heldA = await new KvLock(cluster.kv(pausedNode), { name: 'demo/counter', session: sessionA, owner: 'A' }).acquire();
const countA = Number((await storage.read(heldA.fencingToken, 'count')) ?? '0');
console.log(`A (on node ${pausedNode}) holds the lock with token ${heldA.fencingToken} and read counter ${countA}; A pauses (node ${pausedNode} is cut off)`);
cluster.network.isolate(pausedNode);

const waitStart = performance.now();
const sessionB = await cluster.kv(otherNode).createSession({ ttlMs: 1_000 });
const heldB = await new KvLock(cluster.kv(otherNode), { name: 'demo/counter', session: sessionB, owner: 'B' }).acquire({ timeoutMs: 10_000 });
const countB = Number((await storage.read(heldB.fencingToken, 'count')) ?? '0');
await storage.write(heldB.fencingToken, 'count', String(countB + 1));
console.log(
  `B (on node ${otherNode}) gets the lock ${Math.round(performance.now() - waitStart)} ms later, once A's session expired: token ${heldB.fencingToken}; counter ${countB} -> ${countB + 1}`,
);

const believed = heldA.isHeld;
let refusal: StaleTokenError | undefined;
try {
  await storage.write(heldA.fencingToken, 'count', String(countA + 1));
} catch (error) {
  if (!(error instanceof StaleTokenError)) throw error;
  refusal = error;
}
console.log(
  `A wakes up believing it holds the lock (isHeld = ${believed}) and writes counter ${countA + 1} with token ${heldA.fencingToken}: ${refusal === undefined ? 'ACCEPTED' : `refused (${refusal.message})`}`,
);
if (!believed) problems.push('A learned of its loss before waking: the scene did not show a paused holder');
if (refusal === undefined) problems.push("the storage accepted the paused holder's stale write");
if (Number(storage.peek('count')) !== countB + 1) problems.push(`the counter is ${storage.peek('count')}, not B's ${countB + 1}`);

await heldB.release();
cluster.network.heal();
let giveUp: NodeJS.Timeout | undefined;
const lostHow = await Promise.race([heldA.lost, new Promise<string>((resolve) => (giveUp = setTimeout(() => resolve('(not yet)'), 5_000)))]);
clearTimeout(giveUp);
console.log(`A's node rejoins; A learns it lost the lock: ${lostHow}`);
if (lostHow === '(not yet)') problems.push('A never learned it lost the lock');

await sessionB.close();
await cluster.close();

console.log('\nsummary');
console.log(`  increments under the lock   ${counted} of ${workers * rounds}, ${overlaps} overlaps, ${tokens.length} tokens rising`);
console.log(
  `  paused holder               stale write with token ${heldA.fencingToken} ${refusal === undefined ? 'ACCEPTED' : `refused after token ${refusal.highestToken}`}`,
);
console.log(`  storage                     ${storage.writes.length} writes accepted, ${storage.refused} refused for a stale token`);
console.log(`  time                        ${((performance.now() - started) / 1000).toFixed(1)} s`);
if (problems.length > 0) {
  for (const problem of problems) console.log(`  CHECK FAILED: ${problem}`);
  process.exit(1);
}
console.log('  check                       every check held');
