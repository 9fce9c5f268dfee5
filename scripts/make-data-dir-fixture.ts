/**
 * Writes the data directory that test/storage/file/old-data-dir.test.ts opens: a
 * one-member KV cluster on FileStorage that took a snapshot and kept writing after it,
 * so the directory holds a snapshot file (with the runtime's snapshot and the KV's state
 * inside) and log records above it. Committed as written: a later synod must still
 * open it, whatever formats it writes itself.
 *
 * Run with `npx tsx scripts/make-data-dir-fixture.ts DIR`; DIR must not exist.
 * test/fixtures/data-dir-2026-12/ was written by commit c8e2e1c's code.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MemoryNetwork } from '../src/index.js';
import { createKvNode } from '../src/kv/index.js';
import { FileStorage } from '../src/storage/file/index.js';

/** The keys the directory holds at the end, and their values (what the test expects back). */
function fixtureWrites(): { puts: [string, string][]; deleted: string[] } {
  const puts: [string, string][] = [];
  for (let i = 0; i < 40; i++) puts.push([`key/${String(i).padStart(3, '0')}`, `value ${i} ${'·'.repeat(i % 5)}`]);
  puts.push(['ключ', 'значение']);
  puts.push(['key/007', 'written again after the snapshot']);
  return { puts, deleted: ['key/013'] };
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (dir === undefined) throw new Error('usage: make-data-dir-fixture.ts DIR');
  const storage = await FileStorage.open(dir, { clusterId: 'fixture', preallocateBytes: 0 });
  const network = new MemoryNetwork();
  const kv = createKvNode({
    id: 'n1',
    members: ['n1'],
    transport: network.transport('n1'),
    storage,
    tickMs: 10,
    snapshot: { everySlots: 20, trailingSlots: 5 },
  });
  await kv.start();
  const { puts, deleted } = fixtureWrites();
  for (const [key, value] of puts) await kv.put(key, value);
  for (const key of deleted) await kv.delete(key);
  await kv.close();
  const expected = new Map<string, string>(puts);
  for (const key of deleted) expected.delete(key);
  await writeFile(join(dir, 'expected.json'), `${JSON.stringify(Object.fromEntries([...expected].sort()), null, 2)}\n`);
  console.log(`wrote ${dir}: ${(await readdir(dir)).join(', ')}`);
}

await main();
