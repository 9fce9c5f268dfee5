/**
 * The cluster file's `auth` section: users (secrets read from their own files), roles
 * and quotas as `KvServerOptions.auth`; a malformed one is refused naming the field.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readClusterConfig } from '../../src/cli/cluster-config.js';
import { ConfigError } from '../../src/index.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function clusterFile(auth: unknown): Promise<string> {
  dir = await mkdtemp(join(tmpdir(), 'synod-auth-config-'));
  await mkdir(join(dir, 'users'));
  await writeFile(join(dir, 'users', 'billing.secret'), `${'b'.repeat(40)}\n`);
  const path = join(dir, 'cluster.json');
  await writeFile(path, JSON.stringify({ clusterId: 'x', members: { a: { peer: '127.0.0.1:1', client: '127.0.0.1:2' } }, auth }));
  return path;
}

describe('the auth section of a cluster file', () => {
  it('reads users, their secret files, roles and quotas', async () => {
    const config = await readClusterConfig(
      await clusterFile({
        users: {
          billing: { secretFile: 'users/billing.secret', roles: ['billing-rw'], quotas: { sessionsMax: 5 } },
          ops: { certificateNames: ['ops.example.com'], roles: ['root'] },
        },
        roles: {
          'billing-rw': {
            permissions: [
              { prefix: 'billing/', access: 'readwrite' },
              { key: 'config', access: 'read' },
            ],
          },
        },
        quotas: { watchesMax: 10 },
        sharedQuotas: { sessionsMax: 50 },
      }),
    );
    expect(config.auth).toEqual({
      users: {
        billing: { secret: 'b'.repeat(40), roles: ['billing-rw'], quotas: { sessionsMax: 5 } },
        ops: { certificateNames: ['ops.example.com'], roles: ['root'] },
      },
      roles: {
        'billing-rw': {
          permissions: [
            { prefix: 'billing/', access: 'readwrite' },
            { key: 'config', access: 'read' },
          ],
        },
      },
      quotas: { watchesMax: 10 },
      sharedQuotas: { sessionsMax: 50 },
    });
  });

  it('refuses a malformed section, naming the field', async () => {
    const refused = async (auth: unknown, field: RegExp) => {
      const error = await readClusterConfig(await clusterFile(auth)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(field);
      await rm(dir!, { recursive: true, force: true });
    };
    await refused({ users: { a: { roles: 'root' } } }, /auth\.users\.a\.roles/);
    await refused({ users: {}, roles: { r: { permissions: [{ prefix: 'x', access: 'all' }] } } }, /auth\.roles\.r\.permissions\[0\]\.access/);
    await refused({ users: {}, roles: { r: { permissions: [{ prefix: 'x', key: 'y', access: 'read' }] } } }, /exactly one of "key" and "prefix"/);
    await refused({ users: {}, quotas: { sessions: 1 } }, /auth\.quotas\.sessions/);
  });
});
