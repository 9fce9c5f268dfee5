/**
 * A data directory written by an older synod still opens: its log records, its snapshot
 * file, the runtime's snapshot inside it and the KV's state inside that. The fixture,
 * test/fixtures/data-dir-2026-12/, was written by scripts/make-data-dir-fixture.ts at
 * commit c8e2e1c (a one-member KV cluster that snapshotted at slot 40 and kept writing),
 * and is committed as written: never regenerate it with a newer synod, or the test
 * checks nothing. A format change that cannot read it breaks this test; bump the
 * format's version and keep reading the old one.
 */
import { cp, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork } from '../../../src/index.js';
import { type KvNode, createKvNode } from '../../../src/kv/index.js';
import { FileStorage } from '../../../src/storage/file/index.js';

const fixture = fileURLToPath(new URL('../../fixtures/data-dir-2026-12/', import.meta.url));
const text = new TextDecoder();
const dirs: string[] = [];
const nodes: KvNode[] = [];

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close().catch(() => {})));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A copy of the fixture to open (opening writes: a lock, new log records). */
async function copyOfFixture(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'synod-old-data-dir-'));
  dirs.push(dir);
  await cp(fixture, dir, { recursive: true });
  return dir;
}

async function startKv(dir: string): Promise<KvNode> {
  const storage = await FileStorage.open(dir, { clusterId: 'fixture', preallocateBytes: 0 });
  const kv = createKvNode({
    id: 'n1',
    members: ['n1'],
    transport: new MemoryNetwork().transport('n1'),
    storage,
    tickMs: 10,
    snapshot: { everySlots: 20, trailingSlots: 5 },
  });
  nodes.push(kv);
  await kv.start();
  return kv;
}

/** Every key the node holds and its value, as text. */
async function contents(kv: KvNode): Promise<Record<string, string>> {
  const { kvs, more } = await kv.range({ prefix: '' });
  expect(more).toBe(false);
  return Object.fromEntries(kvs.map((e) => [e.key, text.decode(e.value)]));
}

describe('a data directory written in 2026-12 (commit c8e2e1c)', () => {
  it('holds what the test needs: a snapshot whose runtime part has the version-2 header (big-endian), and log records above it', async () => {
    const snapshot = await readFile(join(fixture, 'snapshot'));
    // The snapshot file's 26-byte header, then the runtime's snapshot.
    const at = snapshot.indexOf('SYNS');
    expect(at).toBe(26);
    const runtime = snapshot.subarray(at);
    expect(runtime[4]).toBe(2);
    expect(runtime.readUInt32BE(8)).toBeLessThan(runtime.byteLength);
    const wal = (await readdir(fixture)).filter((f) => f.startsWith('wal-'));
    expect(wal).toEqual(['wal-0000000000000083.log']);
  });

  it('opens, and the KV holds every key it held', async () => {
    const expected = JSON.parse(await readFile(join(fixture, 'expected.json'), 'utf8')) as Record<string, string>;
    expect(Object.keys(expected)).toHaveLength(40);
    const kv = await startKv(await copyOfFixture());
    expect(await contents(kv)).toEqual(expected);
  });

  it('takes writes, snapshots in the format of today, and opens again', async () => {
    const expected = JSON.parse(await readFile(join(fixture, 'expected.json'), 'utf8')) as Record<string, string>;
    const dir = await copyOfFixture();
    const kv = await startKv(dir);
    for (let i = 0; i < 30; i++) {
      await kv.put(`new/${i}`, `after ${i}`);
      expected[`new/${i}`] = `after ${i}`;
    }
    await kv.close();
    // 30 slots past the fixture's snapshot at slot 40 with a snapshot every 20: a new one, in the runtime's format of today.
    const snapshot = await readFile(join(dir, 'snapshot'));
    expect(snapshot.readDoubleLE(10)).toBeGreaterThan(40);
    expect(text.decode(snapshot.subarray(26, 30))).toBe('SYNS');
    expect(snapshot[30]).toBe(4);
    const again = await startKv(dir);
    expect(await contents(again)).toEqual(expected);
  });
});
