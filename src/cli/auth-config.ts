/**
 * The `auth` section of a cluster file: the KV server's users and roles
 * (`KvServerOptions.auth`), each user's secret read from a file of its own, relative to
 * the cluster file, like the other secrets. Every server reads the same file, so every
 * server enforces the same users and roles.
 *
 * ```json
 * "auth": {
 *   "users": {
 *     "billing": { "secretFile": "users/billing.secret", "roles": ["billing-rw"] },
 *     "ops": { "certificateNames": ["ops.example.com"], "roles": ["root"] }
 *   },
 *   "roles": { "billing-rw": { "permissions": [{ "prefix": "billing/", "access": "readwrite" }] } },
 *   "quotas": { "sessionsMax": 100 }
 * }
 * ```
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../core/index.js';
import type { KvAuthOptions, KvPermission, KvRoleOptions, KvUserOptions, PrincipalQuotas } from '../kv/server/index.js';

const quotaNames = [
  'sessionsMax',
  'sessionTtlMsMax',
  'watchesMax',
  'requestsInFlightMax',
  'requestBytesInFlightMax',
] as const satisfies readonly (keyof PrincipalQuotas)[];

function objectAt(field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError('synod', field, 'must be an object');
  return value as Record<string, unknown>;
}

function stringsAt(field: string, value: unknown): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new ConfigError('synod', field, 'must be a list of strings');
  return value as string[];
}

function quotasAt(field: string, value: unknown): Partial<PrincipalQuotas> {
  const o = objectAt(field, value);
  const quotas: Partial<Record<keyof PrincipalQuotas, number>> = {};
  for (const [name, n] of Object.entries(o)) {
    if (!(quotaNames as readonly string[]).includes(name)) throw new ConfigError('synod', `${field}.${name}`, `is not a quota (${quotaNames.join(', ')})`);
    if (typeof n !== 'number') throw new ConfigError('synod', `${field}.${name}`, 'must be a number');
    quotas[name as keyof PrincipalQuotas] = n;
  }
  return quotas;
}

function permissionAt(field: string, value: unknown): KvPermission {
  const o = objectAt(field, value);
  const access = o['access'];
  if (access !== 'read' && access !== 'write' && access !== 'readwrite')
    throw new ConfigError('synod', `${field}.access`, 'must be "read", "write" or "readwrite"');
  if (typeof o['key'] === 'string' && o['prefix'] === undefined) return { key: o['key'], access };
  if (typeof o['prefix'] === 'string' && o['key'] === undefined) return { prefix: o['prefix'], access };
  throw new ConfigError('synod', field, 'needs exactly one of "key" and "prefix", a string');
}

/** Reads the `auth` section of the cluster file at `path`; undefined if it has none. */
export async function readAuthConfig(path: string, value: unknown): Promise<KvAuthOptions | undefined> {
  if (value === undefined) return undefined;
  const o = objectAt('auth', value);
  const users: Record<string, KvUserOptions> = {};
  for (const [name, raw] of Object.entries(o['users'] === undefined ? {} : objectAt('auth.users', o['users']))) {
    const field = `auth.users.${name}`;
    const u = objectAt(field, raw);
    const secretFile = u['secretFile'];
    if (secretFile !== undefined && typeof secretFile !== 'string') throw new ConfigError('synod', `${field}.secretFile`, 'must be a path');
    const secret = secretFile === undefined ? undefined : (await readFile(resolve(dirname(path), secretFile), 'utf8')).trim();
    if (secret !== undefined && secret.length < 32)
      throw new ConfigError('synod', `${field}.secretFile`, `${secretFile} must hold a secret of at least 32 characters`);
    users[name] = {
      roles: stringsAt(`${field}.roles`, u['roles']),
      ...(secret === undefined ? {} : { secret }),
      ...(u['certificateNames'] === undefined ? {} : { certificateNames: stringsAt(`${field}.certificateNames`, u['certificateNames']) }),
      ...(u['quotas'] === undefined ? {} : { quotas: quotasAt(`${field}.quotas`, u['quotas']) }),
    };
  }
  const roles: Record<string, KvRoleOptions> = {};
  for (const [name, raw] of Object.entries(o['roles'] === undefined ? {} : objectAt('auth.roles', o['roles']))) {
    const field = `auth.roles.${name}`;
    const permissions = objectAt(field, raw)['permissions'];
    if (!Array.isArray(permissions)) throw new ConfigError('synod', `${field}.permissions`, 'must be a list');
    roles[name] = { permissions: permissions.map((p, i) => permissionAt(`${field}.permissions[${i}]`, p)) };
  }
  return {
    users,
    roles,
    ...(o['quotas'] === undefined ? {} : { quotas: quotasAt('auth.quotas', o['quotas']) }),
    ...(o['sharedQuotas'] === undefined ? {} : { sharedQuotas: quotasAt('auth.sharedQuotas', o['sharedQuotas']) }),
  };
}
