/**
 * `synod user` and `synod role` against real servers (in this process): a role and a
 * user added with the cluster file's root rights, listed (never with the secret), used
 * by a client as that user, then deleted.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { authCommand } from '../../src/cli/auth-commands.js';
import { parseArgs } from '../../src/cli/args.js';
import { commands } from '../../src/cli/commands.js';
import { PermissionDeniedError } from '../../src/kv/index.js';
import { ServerCluster } from '../kv/server/cluster.js';

let cluster: ServerCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

describe('synod user and synod role', () => {
  it('put, list and delete users and roles of the replicated state', async () => {
    // The cluster file's client secret is the servers' (as synod serve reads it).
    const secretText = randomBytes(24).toString('hex');
    const c = (cluster = await ServerCluster.start(['a'], { server: () => ({ clientSecret: secretText }) }));
    const config = join(c.dir, 'cluster.json');
    await writeFile(join(c.dir, 'client-secret'), secretText);
    await writeFile(
      config,
      JSON.stringify({
        clusterId: c.clusterId,
        members: { a: { peer: `127.0.0.1:${c.members['a']!.peer.port}`, client: `127.0.0.1:${c.port('a')}` } },
        clientSecretFile: 'client-secret',
      }),
    );
    const lines: string[] = [];
    const run = (...argv: string[]) => {
      // Parsed against the command's own table, as synod does.
      const spec = commands.find((c) => c.name === `${argv[0]} ${argv[1]}`)!;
      return authCommand(
        argv[0] as 'user' | 'role',
        parseArgs(argv.slice(0, 2), [...argv.slice(2), '--config', config], { command: spec.name, words: spec.words, options: spec.options }),
        (l) => lines.push(l),
      );
    };
    expect(await run('role', 'put', 'app', '[{"prefix":"app/","access":"readwrite"}]')).toBe(0);
    const userSecret = join(c.dir, 'alice.secret');
    await writeFile(userSecret, 'a'.repeat(40));
    expect(await run('user', 'put', 'alice', '--roles', 'app', '--secret-file', userSecret)).toBe(0);
    expect(lines).toEqual(['role app: added (auth revision 1)', 'user alice: added (auth revision 2)']);
    lines.length = 0;
    expect(await run('user', 'list')).toBe(0);
    expect(await run('role', 'list')).toBe(0);
    expect(lines).toEqual(['alice\troles app\tsecret\tcertificates -', 'app\treadwrite prefix app/']);
    const alice = c.client({ user: 'alice', secret: 'a'.repeat(40), only: ['a'] });
    expect(await alice.put('app/x', '1')).toMatchObject({ version: 1 });
    expect(await alice.get('other').catch((e: unknown) => e)).toBeInstanceOf(PermissionDeniedError);
    await alice.close();
    expect(await run('user', 'delete', 'alice')).toBe(0);
    expect(await run('user', 'delete', 'alice')).toBe(1);
    await expect(run('role', 'put', 'bad', 'not json')).rejects.toThrow(/PERMISSIONS/);
    await expect(run('role', 'put', 'bad', '[{"prefix":"x","access":"all"}]')).rejects.toThrow(/permission access all/);
  });
});
