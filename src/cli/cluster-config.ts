/**
 * The cluster file the `synod` command reads: the members and where they listen, the
 * data directories, and where the secrets are. Paths are relative to the file. A
 * member's `metrics` address (optional) is where `synod serve` answers `/metrics`,
 * `/healthz` and `/readyz` over HTTP; its `zk` address (optional) is where it answers
 * ZooKeeper clients (see docs/zookeeper.md).
 *
 * ```json
 * {
 *   "clusterId": "local",
 *   "members": {
 *     "a": { "peer": "127.0.0.1:7001", "client": "127.0.0.1:7101", "metrics": "127.0.0.1:7201", "dataDir": "a" },
 *     "b": { "peer": "127.0.0.1:7002", "client": "127.0.0.1:7102", "metrics": "127.0.0.1:7202", "dataDir": "b" },
 *     "c": { "peer": "127.0.0.1:7003", "client": "127.0.0.1:7103", "metrics": "127.0.0.1:7203", "dataDir": "c" }
 *   },
 *   "secretFile": "secret",
 *   "clientSecretFile": "client-secret"
 * }
 * ```
 *
 * A sharded cluster (see `KvServerOptions.shards`) names its ranges when it is created,
 * and keeps them ever after: `"shards": 4` cuts the keyspace in 4 at single characters
 * spread over `0`-`z`, `"shards": { "splitKeys": ["g", "p"], "splitAtBytes": 67108864 }`
 * at the keys given (and splits a range past `splitAtBytes` bytes of values).
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../core/index.js';
import type { KvAuthOptions, KvServerAddress, KvServerShards } from '../kv/server/index.js';
import { readAuthConfig } from './auth-config.js';
import { parseHostPort } from '../kv/server/member-address.js';
import type { TcpAddress } from '../transport/tcp/index.js';

/** One member of a cluster file: where it listens and keeps its data. */
export interface ClusterMember extends KvServerAddress {
  readonly dataDir: string;
  /** Where `synod serve` answers `/metrics`, `/healthz` and `/readyz` (HTTP); none if absent. */
  readonly metrics?: TcpAddress;
  /** Where `synod serve` answers ZooKeeper clients; none if absent. */
  readonly zk?: TcpAddress;
}

/** A cluster file, read and checked. */
export interface ClusterConfig {
  readonly path: string;
  readonly clusterId: string;
  readonly members: Readonly<Record<string, ClusterMember>>;
  /** The peers' secret, read from `secretFile`. */
  readonly secret: Uint8Array | undefined;
  /** The clients' secret, read from `clientSecretFile`. */
  readonly clientSecret: Uint8Array | undefined;
  /** Users, roles and quotas (the `auth` section; see auth-config.ts), if any. */
  readonly auth?: KvAuthOptions;
  /** The ranges of a sharded cluster (the `shards` section), if it is one. */
  readonly shards?: KvServerShards;
}

/** Most ranges a `shards` count makes: one split key per character of `0`-`z` at most. */
export const shardCountMax = 64;

/**
 * The split keys of `count` ranges: single characters spread evenly over `0` (0x30) to
 * `z` (0x7a), where most keys start; splits by size refine them as the data grows.
 */
export function splitKeysOf(count: number): string[] {
  const first = 0x30;
  const span = 0x7a - first + 1;
  return Array.from({ length: count - 1 }, (_, i) => String.fromCharCode(first + Math.round(((i + 1) * span) / count)));
}

function readShards(raw: unknown): KvServerShards {
  if (typeof raw === 'number') {
    if (!Number.isSafeInteger(raw) || raw < 1 || raw > shardCountMax)
      throw new ConfigError('synod', 'shards', `must be 1 to ${shardCountMax} ranges, not ${raw}`);
    return { splitKeys: splitKeysOf(raw) };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ConfigError('synod', 'shards', 'must be a count of ranges or { "splitKeys": [...], "splitAtBytes": N }');
  const o = raw as Record<string, unknown>;
  for (const field of Object.keys(o))
    if (field !== 'splitKeys' && field !== 'splitAtBytes') throw new ConfigError('synod', `shards.${field}`, 'is not a field of shards');
  const splitKeys = o['splitKeys'] ?? [];
  if (!Array.isArray(splitKeys) || !splitKeys.every((k): k is string => typeof k === 'string' && k.length > 0))
    throw new ConfigError('synod', 'shards.splitKeys', 'must be a list of non-empty keys');
  const splitAtBytes = o['splitAtBytes'];
  if (splitAtBytes !== undefined && splitAtBytes !== false && !(Number.isSafeInteger(splitAtBytes) && (splitAtBytes as number) > 0))
    throw new ConfigError('synod', 'shards.splitAtBytes', 'must be a positive integer (bytes) or false');
  return { splitKeys, ...(splitAtBytes === undefined ? {} : { splitAtBytes: splitAtBytes as number | false }) };
}

/** `host:port` as an address. */
function parseAddress(field: string, text: unknown): TcpAddress {
  if (typeof text !== 'string') throw new ConfigError('synod', field, 'must be a "host:port" string');
  return parseHostPort('synod', field, text);
}

async function secretFrom(path: string, field: string, file: unknown): Promise<Uint8Array | undefined> {
  if (file === undefined) return undefined;
  if (typeof file !== 'string') throw new ConfigError('synod', field, 'must be a path');
  let text: string;
  try {
    text = (await readFile(resolve(dirname(path), file), 'utf8')).trim();
  } catch (error) {
    throw new ConfigError('synod', field, `cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (text.length < 32) throw new ConfigError('synod', field, `${file} must hold a secret of at least 32 characters`);
  return new TextEncoder().encode(text);
}

/** Reads and checks a cluster file; throws ConfigError naming the field at fault. */
export async function readClusterConfig(path: string): Promise<ClusterConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new ConfigError('synod', 'config', `cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof raw !== 'object' || raw === null) throw new ConfigError('synod', 'config', `${path} must hold a JSON object`);
  const o = raw as Record<string, unknown>;
  if (typeof o['clusterId'] !== 'string' || o['clusterId'].length === 0) throw new ConfigError('synod', 'clusterId', 'must be a non-empty string');
  const membersRaw = o['members'];
  if (typeof membersRaw !== 'object' || membersRaw === null || Object.keys(membersRaw).length === 0)
    throw new ConfigError('synod', 'members', 'must name at least one member');
  const members: Record<string, ClusterMember> = {};
  for (const [id, m] of Object.entries(membersRaw as Record<string, unknown>)) {
    if (typeof m !== 'object' || m === null) throw new ConfigError('synod', `members.${id}`, 'must be an object');
    const member = m as Record<string, unknown>;
    const dataDir = member['dataDir'] ?? id;
    if (typeof dataDir !== 'string') throw new ConfigError('synod', `members.${id}.dataDir`, 'must be a path');
    const metrics = member['metrics'] === undefined ? undefined : parseAddress(`members.${id}.metrics`, member['metrics']);
    const zk = member['zk'] === undefined ? undefined : parseAddress(`members.${id}.zk`, member['zk']);
    members[id] = {
      peer: parseAddress(`members.${id}.peer`, member['peer']),
      client: parseAddress(`members.${id}.client`, member['client']),
      ...(metrics === undefined ? {} : { metrics }),
      ...(zk === undefined ? {} : { zk }),
      dataDir: resolve(dirname(path), dataDir),
    };
  }
  return {
    path,
    clusterId: o['clusterId'],
    members,
    secret: await secretFrom(path, 'secretFile', o['secretFile']),
    clientSecret: await secretFrom(path, 'clientSecretFile', o['clientSecretFile']),
    ...(o['auth'] === undefined ? {} : { auth: (await readAuthConfig(path, o['auth']))! }),
    ...(o['shards'] === undefined ? {} : { shards: readShards(o['shards']) }),
  };
}
