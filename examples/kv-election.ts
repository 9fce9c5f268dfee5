/**
 * The leader election recipe (src/recipes/election.ts) on a three-node KV
 * cluster in one process: three instances of a "scheduler" service, one per node.
 *
 * 1. Each campaigns, leads for a moment (writing to a storage service with its term as
 *    a fencing token), resigns and campaigns again, twice: six terms, one leader at a
 *    time, handed over in line without a herd.
 * 2. Failover: the leader's node is cut off, so its session expires; the next in line
 *    takes over. An observer on another node reports every change of leader.
 *
 * Run: `npx tsx examples/kv-election.ts`. Exits 0 when every check holds.
 */
import type { NodeId } from '../src/index.js';
import type { KvSession } from '../src/kv/index.js';
import { FencedResource, type Leader, KvElection } from '../src/recipes/index.js';
import { InProcessKvCluster } from './kv-recipes/in-process-cluster.js';

setTimeout(() => {
  console.error('kv-election: still running after 30 s; giving up');
  process.exit(1);
}, 30_000).unref();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const started = performance.now();
const at = (): string => `${((performance.now() - started) / 1000).toFixed(2)} s`;
const cluster = await InProcessKvCluster.start();
const storage = new FencedResource();
const problems: string[] = [];

interface Service {
  readonly node: NodeId;
  readonly name: string;
  readonly session: KvSession;
  readonly election: KvElection;
}
const services: Service[] = [];
for (const node of cluster.ids) {
  const kv = cluster.kv(node);
  services.push({
    node,
    name: `scheduler-${node}`,
    session: await kv.createSession({ ttlMs: 500 }),
    election: new KvElection(kv, { name: 'services/scheduler' }),
  });
}

const observerNode = cluster.leader() ?? cluster.ids[0]!;
const seen: { leader: Leader | undefined; revision: number }[] = [];
const observer = await new KvElection(cluster.kv(observerNode), { name: 'services/scheduler' }).observe((leader, revision) => {
  seen.push({ leader, revision });
  console.log(
    `  [observer on ${observerNode}] ${at()} revision ${revision}: ${leader === undefined ? 'no leader' : `${leader.value} leads (term ${leader.term})`}`,
  );
});

// 1. Campaign, lead, resign, twice each.
console.log('1. three services campaign, lead for 50 ms and resign, twice each');
let leaders = 0;
let overlaps = 0;
const terms: number[] = [];
await Promise.all(
  services.map(async (service) => {
    for (let round = 0; round < 2; round++) {
      const leadership = await service.election.campaign(service.session, service.name, { timeoutMs: 10_000 });
      if (++leaders > 1) overlaps++;
      terms.push(leadership.leader.term);
      await storage.write(leadership.leader.term, 'schedule', `${service.name} term ${leadership.leader.term}`);
      await sleep(50);
      leaders--;
      await leadership.resign();
    }
  }),
);
if (overlaps > 0) problems.push(`${overlaps} times two services led at once`);
if (terms.some((term, i) => i > 0 && term <= terms[i - 1]!)) problems.push(`terms did not rise: ${terms.join(' ')}`);

// 2. Failover on session expiry.
console.log('2. failover: the leader is cut off from the cluster');
const first = services.find((s) => s.node === cluster.follower() && s.node !== observerNode) ?? services.find((s) => s.node !== observerNode)!;
const incumbent = await first.election.campaign(first.session, first.name);
const waiting = services
  .filter((s) => s !== first)
  .map(async (s) => ({ service: s, leadership: await s.election.campaign(s.session, s.name, { timeoutMs: 10_000 }) }));
await cluster.waitFor(() => seen.filter((s) => s.leader?.key === incumbent.leader.key).length > 0, 'the observer to see the incumbent');
const cutAt = performance.now();
cluster.network.isolate(first.node);
const { service: successor, leadership: next } = await Promise.race(waiting);
const failoverMs = Math.round(performance.now() - cutAt);
console.log(
  `  ${successor.name} leads ${failoverMs} ms after ${first.name} was cut off (its session TTL is 500 ms); ${first.name} still believes it leads: ${incumbent.isLeader}`,
);
if (!(next.leader.term > incumbent.leader.term)) problems.push(`the successor's term ${next.leader.term} is not above ${incumbent.leader.term}`);
await next.resign();
const last = await Promise.all(waiting).then((all) => all.find((w) => w.service !== successor)!);
await last.leadership.resign();
cluster.network.heal();
const lost = await incumbent.lost;
console.log(`  ${first.name}'s node rejoins; it learns it lost leadership: ${lost}`);

await cluster.waitFor(() => seen[seen.length - 1]?.leader === undefined, 'the observer to see no leader');
observer.close();
for (const service of services) if (!service.session.isOver) await service.session.close();
await cluster.close();

const changes = seen.filter((s) => s.leader !== undefined);
if (changes.some((s, i) => i > 0 && s.leader!.term <= changes[i - 1]!.leader!.term)) problems.push('the observer saw terms out of order');
if (changes.length !== terms.length + 3) problems.push(`the observer saw ${changes.length} leaders, not ${terms.length + 3}`);

console.log('\nsummary');
console.log(`  terms                ${terms.length} in turn (${terms.join(' ')}), ${overlaps} overlaps`);
console.log(`  failover             ${failoverMs} ms from the cut to the successor's leadership`);
console.log(`  observer             ${changes.length} leaders seen in order, from revision ${seen[0]?.revision} to ${seen[seen.length - 1]?.revision}`);
console.log(`  time                 ${((performance.now() - started) / 1000).toFixed(1)} s`);
if (problems.length > 0) {
  for (const problem of problems) console.log(`  CHECK FAILED: ${problem}`);
  process.exit(1);
}
console.log('  check                every check held');
