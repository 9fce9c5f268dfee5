/**
 * The configuration service recipe (src/recipes/config-service.ts) on a
 * three-node KV cluster in one process: one service instance per node, each keeping
 * the `config/` prefix in a local Map.
 *
 * 1. An operator writes settings, some together in one transaction; every instance
 *    sees every change, in order, a transaction's changes in one update.
 * 2. Two admins raise the same limit at once with compare-and-set updates: neither
 *    increment is lost; a write with a stale version is refused.
 * 3. A late instance opens mid-stream and catches up with no gap.
 * At the end every instance holds the same snapshot, at the same revision, as a
 * linearizable read of the prefix.
 *
 * Run: `npx tsx examples/kv-config.ts`. Exits 0 when every check holds.
 */
import { VersionConflictError } from '../src/kv/index.js';
import { type ConfigService as Service, type ConfigUpdate, ConfigService } from '../src/recipes/index.js';
import { InProcessKvCluster } from './kv-recipes/in-process-cluster.js';

setTimeout(() => {
  console.error('kv-config: still running after 30 s; giving up');
  process.exit(1);
}, 30_000).unref();

const encoder = new TextEncoder();
const started = performance.now();
const cluster = await InProcessKvCluster.start();
const problems: string[] = [];
const [first, second, third] = cluster.ids as [string, string, string];

/** Opens an instance on `node` and records what it sees. */
async function open(node: string): Promise<{ node: string; service: Service; updates: ConfigUpdate[]; openedAt: number }> {
  const service = await ConfigService.open(cluster.kv(node), { prefix: 'config/' });
  const updates: ConfigUpdate[] = [];
  service.onChange((update) => updates.push(update));
  return { node, service, updates, openedAt: service.revision };
}
const instances = [await open(first), await open(second)];
instances[0]!.service.onChange(({ revision, changes }) =>
  console.log(`  [${first}] revision ${revision}: ${changes.map((c) => (c.type === 'put' ? `${c.name} = ${c.value}` : `${c.name} deleted`)).join(', ')}`),
);

// 1. An operator's writes through the third node.
console.log('1. settings written (two in one transaction), changed and deleted');
const operator = cluster.kv(third);
await operator.put('config/rate-limit', '100');
await operator.txn({
  compare: [],
  success: [
    { op: 'put', key: 'config/feature/search', value: encoder.encode('on') },
    { op: 'put', key: 'config/feature/export', value: encoder.encode('off') },
  ],
});
await operator.put('config/feature/export', 'on');
await operator.put('config/banner', 'maintenance at 6');
await operator.delete('config/banner');

// 2. Two admins raise the limit at once.
console.log('2. two admins add 10 and 20 to rate-limit at once, by compare-and-set');
const add = (amount: number) => (current: string | undefined) => String(Number(current ?? '0') + amount);
await Promise.all([instances[0]!.service.update('rate-limit', add(10)), instances[1]!.service.update('rate-limit', add(20))]);
const limit = instances[0]!.service.entry('rate-limit')!;
console.log(`  rate-limit = ${limit.value} (version ${limit.version})`);
if (limit.value !== '130') problems.push(`rate-limit is ${limit.value}, not 130: an update was lost`);
let refused: VersionConflictError | undefined;
try {
  await instances[1]!.service.set('rate-limit', '5', { expectedVersion: limit.version - 1 });
} catch (error) {
  if (!(error instanceof VersionConflictError)) throw error;
  refused = error;
}
console.log(`  a write over version ${limit.version - 1}: ${refused === undefined ? 'ACCEPTED' : `refused (${refused.message})`}`);
if (refused === undefined) problems.push('a compare-and-set with a stale version was accepted');

// 3. A late instance opens while writes go on.
console.log('3. a third instance opens while writes go on');
let late: ReturnType<typeof open> | undefined;
for (let i = 1; i <= 10; i++) {
  await operator.put('config/epoch', String(i));
  if (i === 3) late = open(third); // its read races the writes that follow
}
instances.push(await late!);
const final = await operator.range({ prefix: 'config/' });
await Promise.all(instances.map((instance) => cluster.waitFor(() => instance.service.revision >= final.revision, `instance on ${instance.node} to catch up`)));

// Every instance: the same state as the store, and the same updates from where it opened.
const summary = (entries: ReadonlyMap<string, { value: string }>): string => JSON.stringify([...entries].map(([k, v]) => [k, v.value]).sort());
const expected = summary(new Map(final.kvs.map((kv) => [kv.key.slice('config/'.length), { value: new TextDecoder().decode(kv.value) }])));
const reference = instances[0]!.updates;
for (const { node, service, updates, openedAt } of instances) {
  const snapshot = service.snapshot();
  if (summary(snapshot.entries) !== expected) problems.push(`instance on ${node} holds ${summary(snapshot.entries)}, the store ${expected}`);
  const mine = updates.map((u) => u.revision);
  const theirs = reference.filter((u) => u.revision > openedAt).map((u) => u.revision);
  if (JSON.stringify(mine) !== JSON.stringify(theirs)) problems.push(`instance on ${node} saw revisions ${mine.join(' ')}, not ${theirs.join(' ')}`);
  console.log(`  [${node}] opened at revision ${openedAt}, ${updates.length} updates, now at revision ${snapshot.revision}: ${snapshot.entries.size} settings`);
}
const transaction = reference.find((u) => u.changes.length === 2);
if (transaction === undefined) problems.push('the transaction did not come as one update');

for (const { service } of instances) service.close();
await cluster.close();

console.log('\nsummary');
console.log(`  store                ${final.kvs.length} settings at revision ${final.revision}: ${expected}`);
console.log(`  instances            ${instances.length}, all at that revision with that snapshot; ${reference.length} updates seen by the first, in order`);
console.log(
  `  compare-and-set      concurrent updates kept both increments (rate-limit ${limit.value}); a stale version was ${refused === undefined ? 'ACCEPTED' : 'refused'}`,
);
console.log(`  time                 ${((performance.now() - started) / 1000).toFixed(1)} s`);
if (problems.length > 0) {
  for (const problem of problems) console.log(`  CHECK FAILED: ${problem}`);
  process.exit(1);
}
console.log('  check                every check held');
