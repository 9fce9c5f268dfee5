/** `synod serve`: runs one member of the cluster file until SIGINT or SIGTERM. */
import type { Logger } from '../runtime/index.js';
import { resolve } from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { KvServer, type KvServerAddress } from '../kv/server/index.js';
import { ZkExtension, ZkServer } from '../zk/server/index.js';
import { formatMemberAddress, parseHostPort } from '../kv/server/member-address.js';
import { registerKvServerMetrics } from '../prometheus/index.js';
import type { TcpAddress } from '../transport/tcp/index.js';
import { type Args, intOption, option, requiredOption } from './args.js';
import { UsageError } from './usage-error.js';
import { errorFields, errorLine } from './error-text.js';
import { type ClusterConfig, type ClusterMember, readClusterConfig } from './cluster-config.js';
import { onLeader, promoteWhenCaughtUp } from './member-commands.js';
import { type MetricsEndpoint, notReadyBecause, readyLagSlotsMaxDefault, type ServeState, startMetricsEndpoint } from './metrics-endpoint.js';

/** The addresses and data directory a joining member is given on the command line. */
function joiningMember(args: Args): ClusterMember {
  const peer = parseHostPort('synod serve --join', '--peer', requiredOption(args, 'synod serve --join', 'peer'));
  const client = parseHostPort('synod serve --join', '--client', requiredOption(args, 'synod serve --join', 'client'));
  const zkText = option(args, 'zk');
  const zk = zkText === undefined ? undefined : parseHostPort('synod serve --join', '--zk', zkText);
  const dataDir = option(args, 'data-dir');
  if (dataDir === undefined) throw new UsageError('synod serve --join', '--data-dir', 'is required');
  return { peer, client, ...(zk === undefined ? {} : { zk }), dataDir: resolve(dataDir) };
}

/**
 * Has the cluster add this server: as an observer first (it receives the snapshot and
 * the log), then, unless `observer`, as a voter once the leader sees it caught up. A
 * restarted member that is one already skips what is done.
 */
async function joinCluster(server: KvServer, config: ClusterConfig, id: string, member: KvServerAddress, timeoutMs: number, observer: boolean): Promise<void> {
  const say = (line: string) => process.stdout.write(`synod: ${id} ${line}\n`);
  try {
    const { configuration } = await onLeader(config, (kv) => kv.members());
    if (configuration.voters.includes(id)) {
      say('is a voter already');
      return;
    }
    if (!configuration.observers.includes(id)) {
      await onLeader(config, (kv) => kv.changeMembers({ type: 'addObserver', id, address: formatMemberAddress(member) }, { timeoutMs }));
      say(observer ? 'joined as an observer' : 'joined as an observer; catching up');
    }
    if (observer) return;
    const promoted = await promoteWhenCaughtUp(config, id, timeoutMs, () => server.kv.node.status().commitIndex);
    say(`is a voter (configuration ${promoted.configuration.id})`);
  } catch (error) {
    process.stderr.write(`synod: ${id} could not join: ${errorLine(error)}\n`);
    void server.close().then(() => process.exit(1));
  }
}

/** A logger writing one JSON line per entry to stderr, at `warn` and above unless verbose. */
function stderrLogger(id: string, verbose: boolean): Logger {
  const line = (level: string) => (fields: Record<string, unknown>, message: string) => {
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), level, node: id, message, ...fields }, (_k, v: unknown) => (v instanceof Error ? errorFields(v) : v))}\n`,
    );
  };
  const ignore = () => {};
  return { debug: ignore, info: verbose ? line('info') : ignore, warn: line('warn'), error: line('error') };
}

/**
 * Opens the member's HTTP endpoint (`/metrics`, `/healthz`, `/readyz`) on `--metrics`
 * or the cluster file's `metrics` address, if either is given, before the server starts:
 * `/healthz` answers during a long replay, `/readyz` says why the member is not ready.
 */
async function openMetrics(args: Args, server: KvServer, member: { metrics?: TcpAddress }, state: () => ServeState): Promise<MetricsEndpoint | undefined> {
  const flag = option(args, 'metrics');
  const address = flag === undefined ? member.metrics : parseHostPort('synod serve', '--metrics', flag);
  if (address === undefined) return undefined;
  const lagSlotsMax = intOption(args, 'ready-lag-max') ?? readyLagSlotsMaxDefault;
  const registry = new Registry();
  registerKvServerMetrics(registry, server);
  // The process as Node sees it, under the names Node.js dashboards know: CPU, memory,
  // GC pauses and event-loop delay, where a member's long pauses show.
  collectDefaultMetrics({ register: registry });
  return startMetricsEndpoint({
    address,
    registry,
    notReady: () => notReadyBecause(state(), state() === 'running' ? server.kv.node.metrics() : undefined, lagSlotsMax),
  });
}

export async function serve(args: Args): Promise<void> {
  const config = await readClusterConfig(option(args, 'config', '.synod/cluster.json')!);
  const id = option(args, 'id');
  const join = args.options.has('join');
  if (id === undefined || (!join && config.members[id] === undefined))
    throw new UsageError(
      'synod serve',
      '--id',
      `must name a member of ${config.path}: ${Object.keys(config.members).join(', ')} (or add --join to join as a new one)`,
    );
  if (join && config.members[id] !== undefined)
    throw new UsageError('synod serve', '--join', `${id} is a member of ${config.path} already; serve it without --join`);
  if (!join && args.options.has('zk'))
    throw new UsageError('synod serve', '--zk', `is for a member that joins (--join); give ${id} its "zk" address in ${config.path}`);
  if (config.shards !== undefined && join)
    throw new UsageError('synod serve', '--join', `${config.path} is a sharded cluster: its members are fixed when it is created, for now`);
  const member = join ? joiningMember(args) : config.members[id]!;
  const tickMs = intOption(args, 'tick-ms');
  // Every member carries the ZooKeeper tree in its log when any member serves ZooKeeper clients: they replay the same log.
  const zkServed = Object.values(config.members).some((m) => m.zk !== undefined);
  // A newcomer cannot start the tree: the members replaying the log without it would answer its commands as invalid.
  if (member.zk !== undefined && !zkServed)
    throw new UsageError('synod serve --join', '--zk', `needs a cluster that carries the ZooKeeper tree, and no member of ${config.path} has a "zk" address`);
  if (zkServed && config.shards !== undefined)
    throw new UsageError(
      'synod serve',
      '--config',
      `${config.path} is a sharded cluster: the ZooKeeper tree needs one group (drop "shards" or the "zk" addresses)`,
    );
  const extension = zkServed ? new ZkExtension() : undefined;
  const server = new KvServer({
    id,
    clusterId: config.clusterId,
    members: config.members,
    ...(join ? { observers: { [id]: member } } : {}),
    dataDir: member.dataDir,
    ...(config.secret === undefined ? {} : { secret: config.secret }),
    ...(config.clientSecret === undefined ? {} : { clientSecret: config.clientSecret }),
    ...(config.auth === undefined ? {} : { auth: config.auth }),
    ...(config.shards === undefined ? {} : { shards: config.shards }),
    node: {
      ...(tickMs === undefined ? {} : { tickMs }),
      snapshot: { everySlots: intOption(args, 'snapshot-every') ?? 10_000 },
      ...(extension === undefined ? {} : { kv: { extension } }),
    },
    logger: stderrLogger(id, args.options.has('verbose')),
  });
  let state: ServeState = 'starting';
  const endpoint = await openMetrics(args, server, member, () => state);
  try {
    await server.start();
  } catch (error) {
    await endpoint?.close();
    throw error;
  }
  let zk: ZkServer | undefined;
  if (extension !== undefined && member.zk !== undefined) {
    const nodeCheckMs = intOption(args, 'zk-node-check-ms');
    zk = new ZkServer({
      kv: server.kv,
      extension,
      address: member.zk,
      dataDir: member.dataDir,
      ...(nodeCheckMs === undefined ? {} : { nodeCheckMs }),
      logger: stderrLogger(id, args.options.has('verbose')),
    });
    try {
      await zk.start();
    } catch (error) {
      await server.close();
      await endpoint?.close();
      throw error;
    }
  }
  state = 'running';
  const zkAt = zk === undefined ? '' : `, ZooKeeper clients on ${zk.address.host}:${zk.address.port}`;
  const metricsAt = endpoint === undefined ? '' : `, metrics on http://${endpoint.address.host}:${endpoint.address.port}/metrics`;
  process.stdout.write(
    `synod: ${id} serving clients on ${member.client.host}:${member.client.port}, peers on ${member.peer.host}:${member.peer.port}${zkAt}${metricsAt}, data in ${member.dataDir}\n`,
  );
  if (join) void joinCluster(server, config, id, member, intOption(args, 'timeout-ms') ?? 300_000, args.options.has('observer'));
  const failure = await new Promise<Error | undefined>((resolve) => {
    const stop = () => resolve(undefined);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    void server.failed.then(resolve);
  });
  state = 'stopping';
  await zk?.close();
  await server.close();
  await endpoint?.close();
  if (failure !== undefined) throw failure;
  process.stdout.write(`synod: ${id} stopped\n`);
}
