/** The `synod` commands that talk to a running cluster as a client. */
import { ConfigError } from '../core/index.js';
import { KvClient, type ServerStatus } from '../kv/client/index.js';
import type { Compare, KeyRange, KeyValue, TxnOp, TxnRequest } from '../kv/index.js';
import type { TcpAddress } from '../transport/tcp/index.js';
import { type Args, intOption, option } from './args.js';
import { type ClusterConfig, readClusterConfig } from './cluster-config.js';
import { clientAddresses } from './member-commands.js';

const text = new TextDecoder();
const bytes = new TextEncoder();

function clientOf(config: ClusterConfig, endpoints: readonly TcpAddress[] = Object.values(config.members).map((m) => m.client)): KvClient {
  if (config.clientSecret === undefined) throw new ConfigError('synod', 'clientSecretFile', `${config.path} names no client secret`);
  return new KvClient({ endpoints, clusterId: config.clusterId, secret: config.clientSecret, requestTimeoutMs: 5_000 });
}

function show(kv: KeyValue, json: boolean): string {
  if (json) return JSON.stringify({ ...kv, value: text.decode(kv.value) });
  return `${kv.key}\t${text.decode(kv.value)}\t(version ${kv.version}, modified at revision ${kv.modRevision})`;
}

function needs(args: Args, count: number, usage: string): readonly string[] {
  if (args.positional.length < count + 1) throw new ConfigError('synod', 'arguments', `usage: synod ${usage}`);
  return args.positional.slice(1);
}

/** A transaction from JSON, with values as text. */
function txnFrom(json: string): TxnRequest {
  const raw = JSON.parse(json) as { compare?: Record<string, unknown>[]; success?: Record<string, unknown>[]; failure?: Record<string, unknown>[] };
  const compare = (raw.compare ?? []).map((c) => (c['target'] === 'value' ? { ...c, value: bytes.encode(String(c['value'])) } : c) as unknown as Compare);
  const ops = (list: Record<string, unknown>[] | undefined) => (list ?? []).map((op) => (op['op'] === 'put' ? { ...op, value: bytes.encode(String(op['value'])) } : op) as unknown as TxnOp);
  return { compare, success: ops(raw.success), failure: ops(raw.failure) };
}

/** Runs one client command; returns the process exit code. */
export async function clientCommand(command: string, args: Args): Promise<number> {
  const config = await readClusterConfig(option(args, 'config', '.synod/cluster.json')!);
  const json = args.options.has('json');
  if (command === 'status') return status(config, json);
  const kv = clientOf(config);
  try {
    switch (command) {
      case 'put': {
        const [key, value] = needs(args, 2, 'put KEY VALUE [--expected-version N] [--sequential]');
        const expectedVersion = intOption(args, 'expected-version');
        const r = await kv.put(key!, value!, { ...(expectedVersion === undefined ? {} : { expectedVersion }), ...(args.options.has('sequential') ? { sequential: true } : {}) });
        console.log(json ? JSON.stringify(r) : `${r.key}\tversion ${r.version}\trevision ${r.revision}`);
        return 0;
      }
      case 'get': {
        const [key] = needs(args, 1, 'get KEY [--serializable] [--revision N]');
        const revision = intOption(args, 'revision');
        const r = await kv.range({ key: key! }, { consistency: args.options.has('serializable') ? 'serializable' : 'linearizable', ...(revision === undefined ? {} : { revision }) });
        const found = r.kvs[0];
        if (found === undefined) {
          console.error(`synod: ${key} is absent (revision ${r.revision})`);
          return 1;
        }
        console.log(json ? show(found, true) : text.decode(found.value));
        return 0;
      }
      case 'del': {
        const [key] = needs(args, 1, 'del KEY [--expected-version N]');
        const expectedVersion = intOption(args, 'expected-version');
        const r = await kv.delete(key!, expectedVersion === undefined ? {} : { expectedVersion });
        console.log(json ? JSON.stringify(r) : r.deleted ? `deleted at revision ${r.revision}` : 'absent');
        return r.deleted ? 0 : 1;
      }
      case 'range': {
        const start = option(args, 'start');
        const end = option(args, 'end');
        const range: KeyRange = start !== undefined && end !== undefined ? { start, end } : { prefix: args.positional[1] ?? '' };
        const limit = intOption(args, 'limit');
        const revision = intOption(args, 'revision');
        const r = await kv.range(range, { ...(limit === undefined ? {} : { limit }), ...(revision === undefined ? {} : { revision }) });
        for (const found of r.kvs) console.log(show(found, json));
        if (!json) console.error(`${r.kvs.length} of ${r.count} keys at revision ${r.revision}${r.more ? ' (more with a higher --limit)' : ''}`);
        return 0;
      }
      case 'txn': {
        const [body] = needs(args, 1, `txn '{"compare":[...],"success":[...],"failure":[...]}'`);
        const r = await kv.txn(txnFrom(body!));
        console.log(JSON.stringify({ ...r, results: r.results.map((x) => ('kvs' in x ? { ...x, kvs: x.kvs.map((k) => ({ ...k, value: text.decode(k.value) })) } : x)) }));
        return r.succeeded ? 0 : 1;
      }
      case 'watch': {
        const [target] = needs(args, 1, 'watch KEY|PREFIX [--prefix] [--from REVISION] [--count N]');
        const from = intOption(args, 'from');
        const count = intOption(args, 'count');
        const watch = kv.watch(args.options.has('prefix') ? { prefix: target! } : { key: target! }, from === undefined ? {} : { fromRevision: from });
        process.once('SIGINT', () => watch.close());
        let seen = 0;
        for await (const e of watch) {
          console.log(json ? JSON.stringify({ type: e.type, revision: e.revision, key: e.kv.key, value: text.decode(e.kv.value), version: e.kv.version }) : `${e.revision}\t${e.type}\t${e.kv.key}\t${text.decode(e.kv.value)}`);
          if (count !== undefined && ++seen >= count) break;
        }
        return 0;
      }
      default:
        throw new ConfigError('synod', 'command', `unknown command ${command}`);
    }
  } finally {
    await kv.close();
  }
}

/**
 * `synod status`: every member's view: role, leader, commit index, and how far it lags.
 * The members are those of the cluster file and those the configuration added since.
 */
async function status(config: ClusterConfig, json: boolean): Promise<number> {
  const addresses = await clientAddresses(config);
  const rows = await Promise.all(
    [...addresses].map(async ([id, address]): Promise<[string, ServerStatus | string]> => {
      const kv = clientOf(config, [address]);
      try {
        return [id, await kv.status({ timeoutMs: 2_000 })];
      } catch (error) {
        return [id, error instanceof Error ? error.message : String(error)];
      } finally {
        await kv.close();
      }
    }),
  );
  const commit = Math.max(0, ...rows.map(([, s]) => (typeof s === 'string' ? 0 : s.commitIndex)));
  if (json) {
    console.log(JSON.stringify(Object.fromEntries(rows)));
  } else {
    console.log('node\trole\tleader\tcommit\tapplied\tlag\trevision');
    for (const [id, s] of rows) {
      console.log(typeof s === 'string' ? `${id}\tunreachable: ${s}` : `${id}\t${s.role}\t${s.leader ?? '-'}\t${s.commitIndex}\t${s.appliedIndex}\t${commit - s.appliedIndex}\t${s.revision}`);
    }
  }
  return rows.every(([, s]) => typeof s !== 'string') ? 0 : 1;
}
