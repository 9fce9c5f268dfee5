/**
 * `synod member ...` and `synod leader transfer`: change who is in the cluster, through
 * its leader. The leader is found by asking the members the cluster file names (and
 * those the configuration added since) for their status.
 */
import { type Configuration, ConfigError, type MembershipChange } from '../core/index.js';
import { isMember } from '../core/configuration/configuration.js';
import { MembershipError, NotLeaderError, TimeoutError } from '../runtime/index.js';
import { KvClient } from '../kv/client/index.js';
import { AuthenticationError } from '../kv/index.js';
import { formatMemberAddress, parseHostPort, parseMemberAddress } from '../kv/server/member-address.js';
import type { TcpAddress } from '../transport/tcp/index.js';
import { type Args, intOption, option, requiredOption } from './args.js';
import { UsageError } from './usage-error.js';
import { type ClusterConfig, readClusterConfig } from './cluster-config.js';

const usage = `usage:
  synod member list
  synod member add ID --peer HOST:PORT --client HOST:PORT [--observer]
  synod member promote ID | demote ID | remove ID
  synod member replace OLD NEW [--peer HOST:PORT --client HOST:PORT]
  synod leader transfer ID`;

/** Runs `synod member ...` or `synod leader transfer ID`; returns the exit code. */
export async function memberCommand(command: 'member' | 'leader', args: Args): Promise<number> {
  const config = await readClusterConfig(option(args, 'config', '.synod/cluster.json')!);
  const json = args.options.has('json');
  const [, action, target] = args.positional;
  const timeoutMs = intOption(args, 'timeout-ms') ?? 60_000;
  if (command === 'leader') {
    if (action !== 'transfer' || target === undefined) throw new UsageError('synod', 'arguments', usage);
    await onLeader(config, (kv) => kv.transferLeadership(target, { timeoutMs }));
    console.log(`synod: ${target} leads`);
    return 0;
  }
  switch (action) {
    case 'list': {
      const { configuration, from } = await withAnyMember(config, (kv) => kv.members());
      print(configuration, from, json);
      return 0;
    }
    case 'add': {
      if (target === undefined) throw new UsageError('synod', 'arguments', usage);
      const peer = parseHostPort('synod member add', '--peer', requiredOption(args, 'synod member add', 'peer'));
      const client = parseHostPort('synod member add', '--client', requiredOption(args, 'synod member add', 'client'));
      const address = formatMemberAddress({ peer, client });
      let result = await onLeader(config, (kv) => kv.changeMembers({ type: 'addObserver', id: target, address }, { timeoutMs }));
      if (!args.options.has('observer')) result = await promoteWhenCaughtUp(config, target, timeoutMs);
      print(result.configuration, result.from, json);
      return 0;
    }
    case 'promote': {
      if (target === undefined) throw new UsageError('synod', 'arguments', usage);
      const result = await promoteWhenCaughtUp(config, target, timeoutMs);
      print(result.configuration, result.from, json);
      return 0;
    }
    case 'replace': {
      // NEW joins as an observer first (unless it is one), then takes OLD's place in one change.
      const added = args.positional[3];
      if (target === undefined || added === undefined) throw new UsageError('synod', 'arguments', usage);
      const { configuration } = await onLeader(config, (kv) => kv.members());
      if (!isMember(configuration, added)) {
        const peer = parseHostPort('synod member replace', '--peer', requiredOption(args, 'synod member replace', 'peer'));
        const client = parseHostPort('synod member replace', '--client', requiredOption(args, 'synod member replace', 'client'));
        await onLeader(config, (kv) => kv.changeMembers({ type: 'addObserver', id: added, address: formatMemberAddress({ peer, client }) }, { timeoutMs }));
      }
      const result = await whenCaughtUp(config, { type: 'replace', remove: target, add: added }, timeoutMs);
      print(result.configuration, result.from, json);
      return 0;
    }
    case 'demote':
    case 'remove': {
      if (target === undefined) throw new UsageError('synod', 'arguments', usage);
      const result = await onLeader(config, (kv) => kv.changeMembers({ type: action, id: target }, { timeoutMs }));
      print(result.configuration, result.from, json);
      return 0;
    }
    default:
      throw new UsageError('synod', 'arguments', usage);
  }
}

/** Waits between promotion attempts refused as behind: at most this long (ms)... */
const promoteRetryMsMax = 200;
/** ...and at least this long (ms), however quickly the member gets on. */
const promoteRetryMsMin = 50;
/** How often `progress` is read while waiting (ms). */
const progressPollMs = 5;

/**
 * Promotes `id`, asking again while the leader says it has not caught up yet: after
 * {@link promoteRetryMsMax}, or sooner (not before {@link promoteRetryMsMin}) once
 * `progress` (the member's own commit index, when the member runs in this process)
 * moved since the refusal: a joining member that just installed its snapshot is
 * promoted then, not up to 200 ms later.
 */
export function promoteWhenCaughtUp(
  config: ClusterConfig,
  id: string,
  timeoutMs: number,
  progress?: () => number,
): Promise<{ configuration: Configuration; from: number }> {
  return whenCaughtUp(config, { type: 'promote', id }, timeoutMs, progress);
}

/** Makes `change` (which makes an observer a voter), asking again while the leader says the observer has not caught up yet (see {@link promoteWhenCaughtUp}). */
async function whenCaughtUp(
  config: ClusterConfig,
  change: MembershipChange,
  timeoutMs: number,
  progress?: () => number,
): Promise<{ configuration: Configuration; from: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const before = progress?.();
    try {
      return await onLeader(config, (kv) => kv.changeMembers(change, { timeoutMs: Math.max(1_000, deadline - Date.now()) }));
    } catch (error) {
      const retry = error instanceof MembershipError && (error.reason === 'behind' || error.reason === 'in-progress');
      if (!retry || Date.now() > deadline) throw error;
      const refusedAt = Date.now();
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, progress === undefined ? promoteRetryMsMax : progressPollMs));
        const waited = Date.now() - refusedAt;
        if (waited >= promoteRetryMsMax || (waited >= promoteRetryMsMin && progress !== undefined && progress() !== before)) break;
      }
    }
  }
}

function print(configuration: Configuration, from: number, json: boolean): void {
  if (json) {
    console.log(JSON.stringify({ ...configuration, from }));
    return;
  }
  const role = (id: string): string =>
    configuration.voters.includes(id) ? 'voter' : configuration.leaving?.voters.includes(id) === true ? 'leaving' : 'observer';
  const ids = [...new Set([...configuration.voters, ...(configuration.leaving?.voters ?? []), ...configuration.observers])];
  console.log(`configuration ${configuration.id} (governs from slot ${from}; quorum ${JSON.stringify(configuration.quorum)})`);
  console.log('id\trole\tpeer\tclient');
  for (const id of ids) {
    const text = configuration.addresses[id];
    let where = '-\t-';
    if (text !== undefined) {
      try {
        const a = parseMemberAddress('synod', text);
        where = `${a.peer.host}:${a.peer.port}\t${a.client.host}:${a.client.port}`;
      } catch {
        where = `${text}\t`;
      }
    }
    console.log(`${id}\t${role(id)}\t${where}`);
  }
}

function client(config: ClusterConfig, endpoints: readonly TcpAddress[]): KvClient {
  if (config.clientSecret === undefined) throw new ConfigError('synod', 'clientSecretFile', `${config.path} names no client secret`);
  return new KvClient({ endpoints, clusterId: config.clusterId, secret: config.clientSecret, requestTimeoutMs: 5_000 });
}

async function withAnyMember<T>(config: ClusterConfig, run: (kv: KvClient) => Promise<T>, more: readonly TcpAddress[] = []): Promise<T> {
  const kv = client(config, [...Object.values(config.members).map((m) => m.client), ...more]);
  try {
    return await run(kv);
  } finally {
    await kv.close();
  }
}

/**
 * The member at `addresses` that says it leads (a follower's word may be stale: the
 * leader it names may be gone), or undefined if none does within 2 s. A refused
 * handshake is thrown: asking again would be refused again.
 */
async function findLeader(config: ClusterConfig, addresses: readonly TcpAddress[]): Promise<string | undefined> {
  const asked = addresses.map(async (address) => {
    const kv = client(config, [address]);
    try {
      const s = await kv.status({ timeoutMs: 2_000 });
      if (s.role !== 'leader') throw new NotLeaderError(s.leader);
      return s.node;
    } finally {
      await kv.close();
    }
  });
  try {
    return await Promise.any(asked);
  } catch (error) {
    const refusal = error instanceof AggregateError ? (error.errors as unknown[]).find((e) => e instanceof AuthenticationError) : undefined;
    if (refusal !== undefined) throw refusal;
    return undefined;
  }
}

/**
 * Every member's client address by id: the cluster file's, and those the configuration
 * holds (asked of any member the file names or `more` lists).
 */
export async function clientAddresses(config: ClusterConfig, more: readonly TcpAddress[] = []): Promise<Map<string, TcpAddress>> {
  const addresses = new Map<string, TcpAddress>(Object.entries(config.members).map(([id, m]) => [id, m.client]));
  try {
    const { configuration } = await withAnyMember(config, (kv) => kv.members({ timeoutMs: 3_000 }), more);
    for (const [id, text] of Object.entries(configuration.addresses)) {
      try {
        addresses.set(id, parseMemberAddress('synod', text).client);
      } catch {
        // A member recorded without a KV server's address: the cluster file may know it.
      }
    }
  } catch {
    // No member answered: try the cluster file's addresses alone.
  }
  return addresses;
}

/**
 * Runs `run` against the leader, found by asking the members for their status, and
 * following NOT_LEADER hints. `more`: client addresses of servers that joined after the
 * cluster file was written (a cluster file that names no live member needs them).
 */
export async function onLeader<T>(config: ClusterConfig, run: (kv: KvClient) => Promise<T>, more: readonly TcpAddress[] = []): Promise<T> {
  const addresses = await clientAddresses(config, more);
  let leader: string | undefined;
  for (let attempt = 0; attempt < 20; attempt++) {
    // Ask everyone at once: a dead member costs its timeout once, not once per member.
    leader ??= await findLeader(config, [...addresses.values(), ...more]);
    const address = leader === undefined ? undefined : addresses.get(leader);
    if (address === undefined) {
      leader = undefined;
      await new Promise((resolve) => setTimeout(resolve, 250));
      continue;
    }
    const kv = client(config, [address]);
    try {
      return await run(kv);
    } catch (error) {
      // A leader that is gone (the status that named it was stale): the request never
      // reached a server, so asking the new leader cannot apply it twice.
      const unreachable = error instanceof TimeoutError && /no server reachable/.test(error.message);
      if (!(error instanceof NotLeaderError) && !unreachable) throw error;
      leader = error instanceof NotLeaderError ? error.leaderHint : undefined;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await kv.close();
    }
  }
  throw new NotLeaderError(undefined);
}
