/**
 * The `synod user` and `synod role` commands: the users and roles of the replicated
 * state, changed through the log with the cluster file's client secret (the `root`
 * rights it carries).
 *
 *   synod user put NAME --roles R1,R2 [--secret-file FILE] [--certificate-names N1,N2]
 *   synod user delete NAME
 *   synod user list
 *   synod role put NAME PERMISSIONS      e.g. '[{"prefix":"app/","access":"readwrite"},{"key":"config","access":"read"}]'
 *   synod role delete NAME
 *   synod role list
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../core/index.js';
import { KvClient } from '../kv/client/index.js';
import type { KvPermission } from '../kv/index.js';
import { type Args, option } from './args.js';
import { type ClusterConfig, readClusterConfig } from './cluster-config.js';

/** The usage lines of these commands. */
const authUsage = `  user put NAME --roles R1,R2 [--secret-file FILE] [--certificate-names N1,N2]
                                             add or replace a user of the replicated state (FILE: its secret, 32 characters or more)
  user delete NAME | user list
  role put NAME PERMISSIONS                  add or replace a role, e.g. '[{"prefix":"app/","access":"readwrite"}]'
  role delete NAME | role list`;

function clientOf(config: ClusterConfig): KvClient {
  if (config.clientSecret === undefined)
    throw new ConfigError('synod', 'clientSecretFile', `${config.path} names no client secret: users and roles are changed with its root rights`);
  return new KvClient({
    endpoints: Object.values(config.members).map((m) => m.client),
    clusterId: config.clusterId,
    secret: config.clientSecret,
    requestTimeoutMs: 5_000,
  });
}

function list(text: string | undefined): string[] {
  return text === undefined || text === '' ? [] : text.split(',').map((s) => s.trim());
}

function permissionsFrom(json: string): KvPermission[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    throw new ConfigError('synod', 'PERMISSIONS', `is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!Array.isArray(raw)) throw new ConfigError('synod', 'PERMISSIONS', 'must be a JSON list of {"prefix" or "key", "access"}');
  // The server checks each permission as it applies the change.
  return raw as KvPermission[];
}

/** Runs `synod user ...` or `synod role ...`, printing to `out`; returns the exit code. */
export async function authCommand(command: 'user' | 'role', args: Args, out: (line: string) => void = console.log): Promise<number> {
  const [, action, name, extra] = args.positional;
  const json = args.options.has('json');
  const config = await readClusterConfig(option(args, 'config', '.synod/cluster.json')!);
  const needName = (): string => {
    if (name === undefined) throw new ConfigError('synod', 'NAME', `usage: synod ${command} ${action ?? 'put|delete|list'} NAME`);
    return name;
  };
  const kv = clientOf(config);
  try {
    if (action === 'list') {
      const listing = await kv.listAuth();
      if (json) out(JSON.stringify(command === 'user' ? listing.users : listing.roles));
      else if (command === 'user')
        for (const u of listing.users)
          out(`${u.name}\troles ${u.roles.join(',') || '-'}\t${u.hasSecret ? 'secret' : 'no secret'}\tcertificates ${u.certificateNames.join(',') || '-'}`);
      else
        for (const r of listing.roles)
          out(`${r.name}\t${r.permissions.map((p) => `${p.access} ${'key' in p ? `key ${p.key}` : `prefix ${p.prefix}`}`).join(', ') || '-'}`);
      return 0;
    }
    let result;
    if (action === 'delete') {
      result = command === 'user' ? await kv.deleteUser(needName()) : await kv.deleteRole(needName());
      if (!result.existed) {
        console.error(`synod: ${command} ${name} did not exist`);
        return 1;
      }
    } else if (action === 'put' && command === 'user') {
      const secretFile = option(args, 'secret-file');
      const secret = secretFile === undefined ? undefined : (await readFile(secretFile, 'utf8')).trim();
      if (secret !== undefined && secret.length < 32)
        throw new ConfigError('synod', '--secret-file', `${secretFile} must hold a secret of at least 32 characters`);
      result = await kv.putUser(needName(), {
        roles: list(option(args, 'roles')),
        certificateNames: list(option(args, 'certificate-names')),
        ...(secret === undefined ? {} : { secret }),
      });
    } else if (action === 'put' && command === 'role') {
      if (extra === undefined) throw new ConfigError('synod', 'PERMISSIONS', `usage: synod role put NAME '[{"prefix":"app/","access":"readwrite"}]'`);
      result = await kv.putRole(needName(), permissionsFrom(extra));
    } else {
      throw new ConfigError('synod', command, `usage:\n${authUsage}`);
    }
    out(
      json
        ? JSON.stringify(result)
        : `${command} ${name}: ${action === 'delete' ? 'deleted' : result.existed ? 'replaced' : 'added'} (auth revision ${result.revision})`,
    );
    return 0;
  } finally {
    await kv.close();
  }
}
