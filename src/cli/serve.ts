/** `synod serve`: runs one member of the cluster file until SIGINT or SIGTERM. */
import { ConfigError } from '../core/index.js';
import type { Logger } from '../runtime/index.js';
import { KvServer } from '../kv/server/index.js';
import { type Args, intOption, option } from './args.js';
import { readClusterConfig } from './cluster-config.js';

/** A logger writing one JSON line per entry to stderr, at `warn` and above unless verbose. */
function stderrLogger(id: string, verbose: boolean): Logger {
  const line = (level: string) => (fields: Record<string, unknown>, message: string) => {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, node: id, message, ...fields }, (_k, v: unknown) => (v instanceof Error ? v.message : v))}\n`);
  };
  const ignore = () => {};
  return { debug: ignore, info: verbose ? line('info') : ignore, warn: line('warn'), error: line('error') };
}

export async function serve(args: Args): Promise<void> {
  const config = await readClusterConfig(option(args, 'config', '.synod/cluster.json')!);
  const id = option(args, 'id');
  if (id === undefined || config.members[id] === undefined) throw new ConfigError('synod serve', '--id', `must name a member of ${config.path}: ${Object.keys(config.members).join(', ')}`);
  const member = config.members[id];
  const tickMs = intOption(args, 'tick-ms');
  const server = new KvServer({
    id,
    clusterId: config.clusterId,
    members: config.members,
    dataDir: member.dataDir,
    ...(config.secret === undefined ? {} : { secret: config.secret }),
    ...(config.clientSecret === undefined ? {} : { clientSecret: config.clientSecret }),
    node: { ...(tickMs === undefined ? {} : { tickMs }), snapshot: { everySlots: intOption(args, 'snapshot-every') ?? 10_000 } },
    logger: stderrLogger(id, args.options.has('verbose')),
  });
  await server.start();
  process.stdout.write(`synod: ${id} serving clients on ${member.client.host}:${member.client.port}, peers on ${member.peer.host}:${member.peer.port}, data in ${member.dataDir}\n`);
  const failure = await new Promise<Error | undefined>((resolve) => {
    const stop = () => resolve(undefined);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    void server.failed.then(resolve);
  });
  await server.close();
  if (failure !== undefined) throw failure;
  process.stdout.write(`synod: ${id} stopped\n`);
}
