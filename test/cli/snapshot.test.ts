/**
 * Backup and restore with real processes: a three-server cluster takes writes (some
 * overwritten, some deleted), `synod snapshot save` copies it through the leader,
 * `synod snapshot restore` seeds a new cluster of one with it, which serves every key
 * with the same value, version and revisions, and grows by a member with `synod serve
 * --join`. Refused, writing nothing: a damaged backup, a non-empty data directory, the
 * old cluster's id; and neither cluster takes the other's data directory.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ServerProcesses, exit, synod, until } from './cli-processes.js';
import { type ClusterConfig, readClusterConfig } from '../../src/cli/cluster-config.js';
import { freePort, writeLocalCluster } from '../../src/cli/cluster-up.js';
import { KvClient } from '../../src/kv/client/index.js';
import type { KeyValue } from '../../src/kv/index.js';

/**
 * Node with tsx's loader, not the `tsx` command: that one runs the program in a child
 * process, which a SIGKILL (or execFile's timeout) of the command leaves running.
 */
const servers = new ServerProcesses();
const serve = (configPath: string, id: string, extra: readonly string[] = []) => servers.serve(configPath, id, extra);
let dir: string | undefined;

function client(config: ClusterConfig, endpoints: readonly { host: string; port: number }[]): KvClient {
  return new KvClient({ endpoints, clusterId: config.clusterId, secret: config.clientSecret!, requestTimeoutMs: 5_000 });
}

/** Every file under `path` (relative name → bytes), or undefined if it does not exist. */
async function contentsOf(path: string): Promise<Map<string, string> | undefined> {
  const names = await readdir(path, { recursive: true }).catch(() => undefined);
  if (names === undefined) return undefined;
  const out = new Map<string, string>();
  for (const name of names.sort())
    out.set(
      name,
      await readFile(join(path, name)).then(
        (b) => b.toString('hex'),
        () => '(directory)',
      ),
    );
  return out;
}

/** A cluster file in `at` for a new cluster of the one member `id`, with the old cluster's secrets. */
async function oneMemberCluster(at: string, clusterId: string, id: string, oldDir: string): Promise<string> {
  await mkdir(at, { recursive: true });
  const path = join(at, 'cluster.json');
  const member = { peer: `127.0.0.1:${await freePort()}`, client: `127.0.0.1:${await freePort()}`, dataDir: id };
  await writeFile(
    path,
    JSON.stringify({ clusterId, members: { [id]: member }, secretFile: join(oldDir, 'secret'), clientSecretFile: join(oldDir, 'client-secret') }),
  );
  return path;
}

const text = (kvs: readonly KeyValue[]) => kvs.map((kv) => ({ ...kv, value: new TextDecoder().decode(kv.value) }));

afterAll(async () => {
  await servers.killAll();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}, 30_000);

it("save through the leader, restore as a new cluster of one with every key as it was, grow it; refuse a damaged backup, a used directory, the old id, and the other cluster's data", async () => {
  dir = await mkdtemp(join(tmpdir(), 'synod-snapshot-'));
  const oldDir = join(dir, 'old');
  const oldPath = await writeLocalCluster(oldDir, 3);
  const old = await readClusterConfig(oldPath);
  const servers = Object.keys(old.members).map((id) => serve(oldPath, id));
  const kv = client(
    old,
    Object.values(old.members).map((m) => m.client),
  );
  const backup = join(dir, 'backup.snap');
  let expected: { kvs: readonly KeyValue[]; revision: number };
  try {
    await until('a leader', 30_000, async () => (await kv.status().catch(() => undefined))?.leader !== undefined);
    for (let i = 0; i < 12; i++) await kv.put(`k${i}`, `v${i}`);
    await kv.put('k1', 'v1 again');
    await kv.put('k1', 'v1 thrice');
    await kv.delete('k2');
    await kv.delete('k3');
    await kv.put('k3', 'back');
    await kv.txn({
      compare: [],
      success: [
        { op: 'put', key: 'k4', value: new TextEncoder().encode('in a txn') },
        { op: 'delete', key: 'k5' },
      ],
    });
    await kv.put('jobs/', 'first', { sequential: true });
    expected = await kv.range({ prefix: '' });

    const saved = await synod(oldPath, 'snapshot', 'save', backup);
    expect(saved.code, saved.stderr).toBe(0);
    expect(saved.stdout).toMatch(new RegExp(`saved cluster ${old.clusterId} at slot \\d+ to .*: 11 keys at revision ${expected.revision}`));
    // Not in the backup: written after it.
    await kv.put('after-save', 'x');
    // A second save never replaces the first.
    expect(await synod(oldPath, 'snapshot', 'save', backup)).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/ConfigError: .*backup\.snap exists/) as unknown,
    });
  } finally {
    await kv.close();
  }
  // The old cluster stops (its members' directories are free to try below).
  await Promise.all(servers.map((s) => exit(s, 'SIGTERM')));

  const newPath = await oneMemberCluster(join(dir, 'new'), 'restored', 'r', oldDir);
  const restoredDir = join(dir, 'new', 'r');
  const sameIdPath = await oneMemberCluster(join(dir, 'same'), old.clusterId, 'r', oldDir);
  const busyPath = await oneMemberCluster(join(dir, 'busy'), 'restored-busy', 'r', oldDir);
  await mkdir(join(dir, 'busy', 'r'));
  await writeFile(join(dir, 'busy', 'r', 'keep'), 'precious');
  const damaged = join(dir, 'damaged.snap');
  const bytes = await readFile(backup);
  bytes[bytes.byteLength >> 1]! ^= 0x01;
  await writeFile(damaged, bytes);

  const [fromDamaged, sameId, busy] = await Promise.all([
    synod(newPath, 'snapshot', 'restore', damaged),
    synod(sameIdPath, 'snapshot', 'restore', backup),
    synod(busyPath, 'snapshot', 'restore', backup, '--data-dir', join(dir, 'busy', 'r')),
  ]);
  expect(fromDamaged).toMatchObject({ code: 1, stderr: expect.stringMatching(/CorruptionError: .*damaged\.snap at byte \d+: SHA-256 mismatch/) as unknown });
  expect(sameId).toMatchObject({
    code: 1,
    stderr: expect.stringMatching(/ConfigError: .*`clusterId` is .*, the cluster the backup was saved from/) as unknown,
  });
  expect(busy).toMatchObject({ code: 1, stderr: expect.stringMatching(/ConfigError: .*`--data-dir` .* is not empty \(it holds keep\)/) as unknown });
  expect(await contentsOf(restoredDir)).toBeUndefined();
  expect(await contentsOf(join(dir, 'same', 'r'))).toBeUndefined();
  expect(await contentsOf(join(dir, 'busy', 'r'))).toEqual(new Map([['keep', Buffer.from('precious').toString('hex')]]));

  const restored = await synod(newPath, 'snapshot', 'restore', backup);
  expect(restored.code, restored.stderr).toBe(0);
  expect(restored.stdout).toMatch(new RegExp(`11 keys at revision ${expected.revision}\\) into ${restoredDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));

  // Neither cluster takes the other's data: an old member cannot join the restored
  // cluster, nor can the restored directory be served in the old one.
  const oldB = old.members['b']!.dataDir;
  const [oldBBefore, restoredBefore] = [await contentsOf(oldB), await contentsOf(restoredDir)];
  const joinArgs = async () => ['--join', '--peer', `127.0.0.1:${await freePort()}`, '--client', `127.0.0.1:${await freePort()}`];
  const [oldMemberJoins, restoredInOld] = await Promise.all([
    synod(newPath, 'serve', '--id', 'b', ...(await joinArgs()), '--data-dir', oldB),
    synod(oldPath, 'serve', '--id', 'r', ...(await joinArgs()), '--data-dir', restoredDir),
  ]);
  expect(oldMemberJoins).toMatchObject({
    code: 1,
    stderr: expect.stringMatching(/ClusterMismatchError: .*belongs to cluster "local-[0-9a-f]+", not "restored"/) as unknown,
  });
  expect(restoredInOld).toMatchObject({
    code: 1,
    stderr: expect.stringMatching(/ClusterMismatchError: .*belongs to cluster "restored", not "local-[0-9a-f]+"/) as unknown,
  });
  expect(await contentsOf(oldB)).toEqual(oldBBefore);
  expect(await contentsOf(restoredDir)).toEqual(restoredBefore);

  // The restored cluster serves every key as it was: value, version, create and mod revisions, and the revision.
  const fresh = await readClusterConfig(newPath);
  serve(newPath, 'r');
  const r = client(fresh, [fresh.members['r']!.client]);
  const d = { peer: await freePort(), client: await freePort() };
  const onD = client(fresh, [{ host: '127.0.0.1', port: d.client }]);
  try {
    await until('r to lead', 30_000, async () => (await r.status({ timeoutMs: 1_000 }).catch(() => undefined))?.role === 'leader');
    const now = await r.range({ prefix: '' });
    expect(text(now.kvs)).toEqual(text(expected.kvs));
    expect(now.revision).toBe(expected.revision);
    expect(await r.get('after-save')).toBeUndefined();
    // The sequence counters came along too.
    expect((await r.put('jobs/', 'second', { sequential: true })).key).toBe('jobs/0000000001');
    expect((await r.members()).configuration.voters).toEqual(['r']);

    // Grown by a member, which reads the same.
    serve(newPath, 'd', ['--join', '--peer', `127.0.0.1:${d.peer}`, '--client', `127.0.0.1:${d.client}`, '--data-dir', join(dir, 'new', 'd')]);
    await until('d to become a voter', 30_000, async () => (await r.members().catch(() => undefined))?.configuration.voters.includes('d') === true);
    const fromD = await onD.range({ prefix: '' });
    expect(text(fromD.kvs.filter((kv) => kv.key !== 'jobs/0000000001'))).toEqual(text(expected.kvs));
    expect(fromD.revision).toBe(expected.revision + 1);
  } finally {
    await r.close();
    await onD.close();
  }
}, 120_000);
