/**
 * Lost-quorum recovery with real processes: a three-server cluster takes writes, two of
 * its machines die for good (SIGKILL), the third is stopped and rewritten with `synod
 * recover --force-new-cluster` into a cluster of one, serves again with every write it
 * had, and grows back to three with `synod serve --join`.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ServerProcesses, exit, synod, until } from './cli-processes.js';
import { readClusterConfig } from '../../src/cli/cluster-config.js';
import { freePort, writeLocalCluster } from '../../src/cli/cluster-up.js';
import { KvClient } from '../../src/kv/client/index.js';

const servers = new ServerProcesses();
const serve = (configPath: string, id: string, extra: readonly string[] = []) => servers.serve(configPath, id, extra);
let dir: string | undefined;

afterAll(async () => {
  await servers.killAll();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}, 30_000);

it('two of three machines burn: the survivor becomes a cluster of one with every write it had, then grows back to three', async () => {
  dir = await mkdtemp(join(tmpdir(), 'synod-recover-'));
  const configPath = await writeLocalCluster(dir, 3);
  const config = await readClusterConfig(configPath);
  const servers = new Map(Object.keys(config.members).map((id) => [id, serve(configPath, id)]));
  const client = (ids: readonly string[], more: readonly { host: string; port: number }[] = []) =>
    new KvClient({
      endpoints: [...ids.map((id) => config.members[id]!.client), ...more],
      clusterId: config.clusterId,
      secret: config.clientSecret!,
      requestTimeoutMs: 5_000,
    });
  const kv = client(['a', 'b', 'c']);
  const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
  try {
    await until('a leader', 30_000, async () => (await kv.status().catch(() => undefined))?.leader !== undefined);
    for (const key of keys) await kv.put(key, `v-${key}`);
    // Every member applied every write (so the survivor has them all), then a and b burn.
    const applied = async (id: string) => {
      const one = client([id]);
      try {
        const s = await one.status({ timeoutMs: 2_000 });
        return s.appliedIndex;
      } finally {
        await one.close();
      }
    };
    const target = (await kv.status()).commitIndex;
    await until('every member to apply every write', 20_000, async () => (await Promise.all(['a', 'b', 'c'].map(applied))).every((n) => n >= target));
  } finally {
    await kv.close();
  }
  await exit(servers.get('a')!, 'SIGKILL');
  await exit(servers.get('b')!, 'SIGKILL');
  await exit(servers.get('c')!, 'SIGTERM');

  // Refused without the flag that says the operator knows what it does.
  expect((await synod(configPath, 'recover', '--id', 'c')).stderr).toMatch(/--force-new-cluster/);
  const recovered = await synod(configPath, 'recover', '--id', 'c', '--force-new-cluster');
  expect(recovered.code, recovered.stderr).toBe(0);
  expect(recovered.stdout).toMatch(/c is now the only voter/);

  // The cluster file now names c alone, as the operator would make it.
  const raw = JSON.parse(await readFile(configPath, 'utf8')) as { members: Record<string, unknown> };
  raw.members = { c: raw.members['c'] };
  await writeFile(configPath, JSON.stringify(raw));
  serve(configPath, 'c');
  const survivor = client(['c']);
  try {
    await until('c to lead alone', 30_000, async () => (await survivor.status({ timeoutMs: 2_000 }).catch(() => undefined))?.role === 'leader');
    for (const key of keys) expect(new TextDecoder().decode((await survivor.get(key))!.value)).toBe(`v-${key}`);
    await survivor.put('after', 'recovery');

    // Grow back to three with new machines.
    for (const id of ['d', 'e']) {
      const peer = await freePort();
      const clientPort = await freePort();
      serve(configPath, id, ['--join', '--peer', `127.0.0.1:${peer}`, '--client', `127.0.0.1:${clientPort}`, '--data-dir', join(dir, id)]);
      await until(`${id} to become a voter`, 60_000, async () => (await survivor.members().catch(() => undefined))?.configuration.voters.includes(id) === true);
    }
    expect([...(await survivor.members()).configuration.voters].sort()).toEqual(['c', 'd', 'e']);
    for (const key of [...keys, 'after']) expect((await survivor.get(key)) !== undefined).toBe(true);
  } finally {
    await survivor.close();
  }
}, 180_000);
