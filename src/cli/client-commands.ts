/** The `synod` commands that talk to a running cluster as a client. */
import { ConfigError } from '../core/index.js';
import { KvClient, type ServerStatus } from '../kv/client/index.js';
import type { KeyRange, KeyValue, RangeStatus, TxnRequest } from '../kv/index.js';
import type { TcpAddress } from '../transport/tcp/index.js';
import { type Args, intOption, option } from './args.js';
import { type ClusterConfig, readClusterConfig } from './cluster-config.js';
import { clientAddresses } from './member-commands.js';
import { txnFromJson } from './txn-json.js';
import { UsageError } from './usage-error.js';
import { readValue, readValueFile } from './value-input.js';

const text = new TextDecoder();

/** How long a client command waits for its answer, in ms. */
const requestTimeoutMs = 5_000;
/** How long `status` waits for each member, in ms. */
const statusTimeoutMs = 2_000;

/** A client of the cluster file's members (or of `endpoints`). @internal */
export function clientOf(config: ClusterConfig, endpoints: readonly TcpAddress[] = Object.values(config.members).map((m) => m.client)): KvClient {
  if (config.clientSecret === undefined) throw new ConfigError('synod', 'clientSecretFile', `${config.path} names no client secret`);
  return new KvClient({ endpoints, clusterId: config.clusterId, secret: config.clientSecret, requestTimeoutMs });
}

function show(kv: KeyValue, json: boolean): string {
  if (json) return JSON.stringify({ ...kv, value: text.decode(kv.value) });
  return `${kv.key}\t${text.decode(kv.value)}\t(version ${kv.version}, modified at revision ${kv.modRevision})`;
}

/** The value of `put`: its word, stdin for `-`, or `--file`'s bytes; exactly one of them. */
async function putValue(args: Args): Promise<string | Uint8Array> {
  const word = args.positional[2];
  const file = option(args, 'file');
  if (word !== undefined && file !== undefined) throw new UsageError('synod put', '--file', 'and a VALUE word were both given: give one');
  if (file !== undefined) return readValueFile('synod put', file);
  if (word === undefined)
    throw new UsageError('synod put', 'VALUE', 'is missing: usage: synod put KEY VALUE, synod put KEY - (stdin), or synod put KEY --file FILE');
  return word === '-' ? readValue('synod put', process.stdin, 'stdin') : word;
}

/** A revision word: a positive integer. */
function revisionWord(command: string, word: string): number {
  const n = Number(word);
  if (!/^[0-9]+$/.test(word) || !Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`synod ${command}`, 'REVISION', `must be a positive integer, not ${JSON.stringify(word)}`);
  return n;
}

/** A client command with what its command line holds, checked (and stdin read) before anything is sent. */
type Prepared =
  | { readonly command: 'put'; readonly key: string; readonly value: string | Uint8Array; readonly expectedVersion: number | undefined }
  | { readonly command: 'txn'; readonly txn: TxnRequest }
  | { readonly command: 'compact'; readonly revision: number }
  | { readonly command: 'get' | 'del' | 'range' | 'watch' | 'status' };

async function prepare(command: string, args: Args): Promise<Prepared> {
  const [, first] = args.positional;
  switch (command) {
    case 'put':
      return { command, key: first!, value: await putValue(args), expectedVersion: intOption(args, 'expected-version') };
    case 'txn':
      return { command, txn: txnFromJson(first === '-' ? text.decode(await readValue('synod txn', process.stdin, 'stdin')) : first!) };
    case 'compact':
      return { command, revision: revisionWord('compact', first!) };
    case 'get':
    case 'del':
    case 'range':
    case 'watch':
    case 'status':
      return { command };
    default:
      throw new UsageError('synod', 'command', `${command} is not a client command`);
  }
}

/** Runs one client command; returns the process exit code. */
export async function clientCommand(command: string, args: Args): Promise<number> {
  const json = args.options.has('json');
  const [, first] = args.positional;
  // The command line is checked before the cluster file is read, and both before anything is sent.
  const request = await prepare(command, args);
  const config = await readClusterConfig(option(args, 'config', '.synod/cluster.json')!);
  if (request.command === 'status') return status(config, json);
  const kv = clientOf(config);
  try {
    switch (request.command) {
      case 'put': {
        const { key, value, expectedVersion } = request;
        const r = await kv.put(key, value, {
          ...(expectedVersion === undefined ? {} : { expectedVersion }),
          ...(args.options.has('sequential') ? { sequential: true } : {}),
        });
        console.log(json ? JSON.stringify(r) : `${r.key}\tversion ${r.version}\trevision ${r.revision}`);
        return 0;
      }
      case 'get': {
        const key = first!;
        const revision = intOption(args, 'revision');
        const r = await kv.range(
          { key },
          { consistency: args.options.has('serializable') ? 'serializable' : 'linearizable', ...(revision === undefined ? {} : { revision }) },
        );
        const found = r.kvs[0];
        if (found === undefined) {
          console.error(`synod: ${key} is absent (revision ${r.revision})`);
          return 1;
        }
        if (json) console.log(show(found, true));
        else process.stdout.write(Buffer.concat([found.value, Buffer.from('\n')]));
        return 0;
      }
      case 'del': {
        const expectedVersion = intOption(args, 'expected-version');
        const r = await kv.delete(first!, expectedVersion === undefined ? {} : { expectedVersion });
        console.log(json ? JSON.stringify(r) : r.deleted ? `deleted at revision ${r.revision}` : 'absent');
        return r.deleted ? 0 : 1;
      }
      case 'range': {
        const start = option(args, 'start');
        const end = option(args, 'end');
        if ((start === undefined) !== (end === undefined))
          throw new UsageError('synod range', start === undefined ? '--start' : '--end', 'is missing: --start and --end go together');
        if (start !== undefined && first !== undefined) throw new UsageError('synod range', 'PREFIX', 'and --start/--end were both given: give one');
        const range: KeyRange = start !== undefined && end !== undefined ? { start, end } : { prefix: first ?? '' };
        const limit = intOption(args, 'limit');
        const revision = intOption(args, 'revision');
        const r = await kv.range(range, { ...(limit === undefined ? {} : { limit }), ...(revision === undefined ? {} : { revision }) });
        for (const found of r.kvs) console.log(show(found, json));
        if (!json) console.error(`${r.kvs.length} of ${r.count} keys at revision ${r.revision}${r.more ? ' (more with a higher --limit)' : ''}`);
        return 0;
      }
      case 'txn': {
        const r = await kv.txn(request.txn);
        console.log(
          JSON.stringify({ ...r, results: r.results.map((x) => ('kvs' in x ? { ...x, kvs: x.kvs.map((k) => ({ ...k, value: text.decode(k.value) })) } : x)) }),
        );
        return r.succeeded ? 0 : 1;
      }
      case 'compact': {
        await kv.compact(request.revision);
        console.log(json ? JSON.stringify({ compactRevision: request.revision }) : `synod: history before revision ${request.revision} is compacted`);
        return 0;
      }
      case 'watch': {
        const count = intOption(args, 'count');
        const range = args.options.has('prefix') ? { prefix: first! } : { key: first! };
        // A sharded cluster's ranges count their own revisions: each event says its range, as GROUP:REVISION.
        const sharded = config.shards !== undefined;
        const watch = sharded ? kv.watchRanges(range, { fromRevisions: rangeRevisionsOption(args) }) : kv.watch(range, watchFrom(args));
        process.once('SIGINT', () => watch.close());
        let seen = 0;
        for await (const e of watch) {
          const group = 'group' in e ? (e.group as number) : undefined;
          console.log(
            json
              ? JSON.stringify({
                  type: e.type,
                  ...(group === undefined ? {} : { group }),
                  revision: e.revision,
                  key: e.kv.key,
                  value: text.decode(e.kv.value),
                  version: e.kv.version,
                })
              : `${group === undefined ? '' : `${group}:`}${e.revision}\t${e.type}\t${e.kv.key}\t${text.decode(e.kv.value)}`,
          );
          if (count !== undefined && ++seen >= count) break;
        }
        return 0;
      }
    }
  } finally {
    await kv.close();
  }
}

/** `--from REVISION` of a watch on a cluster that is not sharded. */
function watchFrom(args: Args): { fromRevision?: number } {
  const from = intOption(args, 'from');
  return from === undefined ? {} : { fromRevision: from };
}

/** `--from GROUP:REVISION,...` of a watch on a sharded cluster: where to start each range named. */
function rangeRevisionsOption(args: Args): Record<number, number> {
  const text = option(args, 'from');
  const from: Record<number, number> = {};
  if (text === undefined) return from;
  for (const part of text.split(',')) {
    const match = /^(\d+):(\d+)$/.exec(part.trim());
    if (match === null || Number(match[2]) === 0)
      throw new UsageError(
        'synod watch',
        '--from',
        `on a sharded cluster is GROUP:REVISION[,GROUP:REVISION...] (each range counts its own revisions), not ${text}`,
      );
    from[Number(match[1])] = Number(match[2]);
  }
  return from;
}

/** One member's row of `synod status`: its status and lag, or why it did not answer. */
type StatusRow =
  | ({ readonly reachable: true; readonly lag: number } & ServerStatus)
  | { readonly reachable: false; readonly node: string; readonly error: string };

/**
 * `synod status`: every member's view: role, leader, commit index, applied index, and
 * how far it lags (slots behind the highest commit index any member reports). The
 * members are those of the cluster file and those the configuration added since.
 */
async function status(config: ClusterConfig, json: boolean): Promise<number> {
  const addresses = await clientAddresses(config);
  const answers = await Promise.all(
    [...addresses].map(async ([id, address]): Promise<ServerStatus | { node: string; error: string }> => {
      const kv = clientOf(config, [address]);
      try {
        return await kv.status({ timeoutMs: statusTimeoutMs });
      } catch (error) {
        return { node: id, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
      } finally {
        await kv.close();
      }
    }),
  );
  const commitIndex = Math.max(0, ...answers.map((s) => ('error' in s ? 0 : s.commitIndex)));
  const rows: StatusRow[] = answers.map((s) => ('error' in s ? { reachable: false, ...s } : { reachable: true, ...s, lag: commitIndex - s.appliedIndex }));
  const leaders = rows.filter((r) => r.reachable && r.role === 'leader').map((r) => r.node);
  // A sharded cluster's ranges, as the first member that answers sees them.
  const ranges = config.shards === undefined ? undefined : await rangesOf(config, addresses, rows);
  if (json) {
    console.log(
      JSON.stringify({
        clusterId: config.clusterId,
        leader: leaders.length === 1 ? leaders[0] : null,
        commitIndex,
        members: rows,
        ...(ranges === undefined ? {} : { ranges }),
      }),
    );
  } else {
    console.log('node\trole\tleader\tcommit\tapplied\tlag\trevision');
    for (const s of rows) {
      console.log(
        s.reachable
          ? `${s.node}\t${s.role}\t${s.leader ?? '-'}\t${s.commitIndex}\t${s.appliedIndex}\t${s.lag}\t${s.revision}`
          : `${s.node}\tunreachable: ${s.error}`,
      );
    }
    if (ranges !== undefined && 'error' in ranges) console.log(`ranges unknown: ${ranges.error}`);
    else if (ranges !== undefined) {
      console.log('\ngroup\tstart\tend\tleader\tkeys\tbytes\trevision');
      for (const r of ranges) {
        const end = r.end === undefined ? '∞' : JSON.stringify(r.end);
        console.log(`${r.group}\t${JSON.stringify(r.start)}\t${end}\t${r.leader ?? '-'}\t${r.keys}\t${r.valueBytes}\t${r.revision}`);
      }
    }
  }
  return rows.every((s) => s.reachable) && (ranges === undefined || !('error' in ranges)) ? 0 : 1;
}

/** The ranges as the first member of `rows` that answers lists them (the meta group's map, each range's leader as it knows it). */
async function rangesOf(
  config: ClusterConfig,
  addresses: ReadonlyMap<string, TcpAddress>,
  rows: readonly StatusRow[],
): Promise<RangeStatus[] | { readonly error: string }> {
  let error = 'no member answered';
  for (const row of rows) {
    const address = addresses.get(row.node);
    if (!row.reachable || address === undefined) continue;
    const kv = clientOf(config, [address]);
    try {
      return await kv.ranges({ timeoutMs: statusTimeoutMs });
    } catch (e) {
      error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    } finally {
      await kv.close();
    }
  }
  return { error };
}
