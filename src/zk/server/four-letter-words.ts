/**
 * ZooKeeper's four-letter words, the commands operators script against: `ruok`,
 * `isro`, `srvr`, `stat`, `mntr`, `conf`, `cons`, `crst`, `srst`, `dump`, `wchs`,
 * `wchc`, `wchp`, `envi` (others answer that they are not supported). The text follows
 * ZooKeeper 3.8's layout, so scripts that parse it keep working.
 */
import type { TcpAddress } from '../../transport/tcp/index.js';
import type { ZkConnectionStats } from './zk-connection-stats.js';
import type { ZkLatency } from './zk-latency.js';

/** What the words report of one client connection. @internal */
interface ZkConnectionView {
  /** `ip:port` of the client. */
  readonly remote: string;
  /** Whether the server is reading from it (ZooKeeper's interest ops: `[1]`, or `[0]` when paused or closing). */
  readonly reading: boolean;
  readonly outstanding: number;
  readonly session: number | undefined;
  readonly timeoutMs: number;
  readonly establishedAt: number;
  readonly stats: ZkConnectionStats;
}

/** What the words report. @internal */
export interface ZkServerStats {
  readonly mode: 'leader' | 'follower' | 'observer';
  readonly serverId: string;
  readonly zxid: number;
  readonly nodeCount: number;
  readonly received: number;
  readonly sent: number;
  readonly latency: ZkLatency;
  readonly connections: readonly ZkConnectionView[];
  /** Every watch: its kind (`child` apart, as ZooKeeper keeps child watches apart), path and session. */
  readonly watchList: readonly { readonly kind: 'data' | 'child' | 'persistent' | 'recursive'; readonly path: string; readonly session: number }[];
  readonly ephemerals: ReadonlyMap<number, readonly string[]>;
  readonly dataBytes: number;
  /** Open sessions, with their timeouts, ms, and on the leader when it expects to expire each if silent (wall-clock ms). */
  readonly sessions: readonly { readonly id: number; readonly ttlMs: number; readonly expiresAt: number | undefined }[];
  readonly address: TcpAddress;
  readonly sessionTimeoutMsMin: number;
  readonly sessionTimeoutMsMax: number;
  readonly connectionsMax: number;
  readonly dataDir: string;
  readonly environment: () => [string, string][];
}

/** What a word changes (`srst`, `crst`). @internal */
export interface ZkStatsReset {
  resetServer(): void;
  resetConnections(): void;
}

/** The version string the words report: ZooKeeper's protocol level, then ours. */
const zkVersionText = '3.8.0-synod, built on synod';

const hex = (n: number) => `0x${n.toString(16)}`;
/** A 64-bit id or zxid in hex, -1 as Java's `Long.toHexString` prints it. */
const longHex = (n: number) => (n < 0 ? '0xffffffffffffffff' : hex(n));
/** A mean as ZooKeeper prints it: a Java double rounded to 4 places (`2.7143`, `0.0`). */
const javaMean = (n: number) => {
  const rounded = Math.round(n * 10_000) / 10_000;
  return Number.isInteger(rounded) ? rounded.toFixed(1) : String(rounded);
};
const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');
/** A wall-clock time as Java's `Date.toString()` prints it, in UTC: `Sat Dec 05 16:02:47 UTC 2026`. */
export function javaDate(ms: number): string {
  const d = new Date(ms);
  return `${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
}
/** A remote address as Java prints an `InetSocketAddress`: a slash first, IPv4-mapped addresses bare. */
const remoteText = (remote: string) => `/${remote.replace(/^::ffff:/, '')}`;

/** `cons`'s line for one connection (`brief`: `stat`'s, without the session's figures). */
function connectionLine(c: ZkConnectionView, brief: boolean): string {
  const s = c.stats;
  let line = ` ${remoteText(c.remote)}[${c.reading ? 1 : 0}](queued=${c.outstanding},recved=${s.received},sent=${s.sent}`;
  if (!brief && c.session !== undefined) {
    line += `,sid=${hex(c.session)},lop=${s.lastOp},est=${c.establishedAt},to=${c.timeoutMs}`;
    if (s.lastCxid >= 0) line += `,lcxid=${hex(s.lastCxid)}`;
    // The connection's mean is a Java long division in ZooKeeper: whole ms.
    line += `,lzxid=${longHex(s.lastZxid)},lresp=${s.lastResponseMs},llat=${s.latency.lastMs},minlat=${s.latency.min},avglat=${Math.floor(s.latency.mean)},maxlat=${s.latency.max}`;
  }
  return `${line})\n`;
}

/** Groups `items` by `key`, in first-seen order. */
function groupBy<T>(items: readonly T[], key: (t: T) => string | number, value: (t: T) => string | number): Map<string | number, (string | number)[]> {
  const out = new Map<string | number, (string | number)[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k) ?? [];
    if (!list.includes(value(item))) list.push(value(item));
    out.set(k, list);
  }
  return out;
}

/**
 * `dump`'s sessions: the leader's as ZooKeeper's leader prints them, grouped by when it
 * expects to expire them (to the second, soonest first); another member's as
 * ZooKeeper's followers print them, with their timeouts.
 */
function sessionsDump(s: ZkServerStats): string[] {
  if (s.mode !== 'leader') return [`Global Sessions(${s.sessions.length}):\n`, ...s.sessions.map((session) => `${hex(session.id)}\t${session.ttlMs}ms\n`)];
  const bySecond = new Map<number, number[]>();
  for (const session of s.sessions) {
    const second = Math.ceil((session.expiresAt ?? 0) / 1000);
    bySecond.set(second, [...(bySecond.get(second) ?? []), session.id]);
  }
  const sets = [...bySecond].sort(([a], [b]) => a - b);
  return [
    `Session Sets (${sets.length})/(${s.sessions.length}):\n`,
    ...sets.map(([second, ids]) => `${ids.length} expire at ${javaDate(second * 1000)}:\n${ids.map((id) => `\t${hex(id)}\n`).join('')}`),
  ];
}

/**
 * The answer to `word`; `reset` is called for `srst` and `crst`. `figures` is called
 * only for the words that print them: `ruok` (a liveness probe, asked often) does not
 * walk the tree. @internal
 */
export function fourLetterWordAnswer(word: string, figures: () => ZkServerStats, reset: ZkStatsReset): string {
  switch (word) {
    case 'ruok':
      return 'imok';
    case 'isro':
      return 'rw';
    case 'srst':
      reset.resetServer();
      return 'Server stats reset.\n';
    case 'crst':
      reset.resetConnections();
      return 'Connection stats reset.\n';
  }
  const s = figures();
  const outstanding = s.connections.reduce((n, c) => n + c.outstanding, 0);
  // ZooKeeper's wchs, wchc and wchp print its data-watch table: data, exist and persistent watches, not child watches.
  const printedWatches = s.watchList.filter((w) => w.kind !== 'child');
  const summary = () =>
    [
      `Latency min/avg/max: ${s.latency.min}/${javaMean(s.latency.mean)}/${s.latency.max}`,
      `Received: ${s.received}`,
      `Sent: ${s.sent}`,
      `Connections: ${s.connections.length}`,
      `Outstanding: ${outstanding}`,
      `Zxid: ${hex(s.zxid)}`,
      `Mode: ${s.mode}`,
      `Node count: ${s.nodeCount}`,
    ].join('\n');
  switch (word) {
    case 'srvr':
      return `Zookeeper version: ${zkVersionText}\n${summary()}\n`;
    case 'stat':
      return `Zookeeper version: ${zkVersionText}\nClients:\n${s.connections.map((c) => connectionLine(c, true)).join('')}\n${summary()}\n`;
    case 'cons':
      return `${s.connections.map((c) => connectionLine(c, false)).join('')}\n`;
    case 'wchs': {
      const sessions = new Set(printedWatches.map((w) => w.session));
      const paths = new Set(printedWatches.map((w) => w.path));
      const total = groupBy(
        printedWatches,
        (w) => w.path,
        (w) => w.session,
      );
      return `${sessions.size} connections watching ${paths.size} paths\nTotal watches:${[...total.values()].reduce((n, l) => n + l.length, 0)}\n`;
    }
    case 'wchc':
      return `${[
        ...groupBy(
          printedWatches,
          (w) => w.session,
          (w) => w.path,
        ),
      ]
        .map(([session, paths]) => `${hex(Number(session))}\n${paths.map((p) => `\t${p}\n`).join('')}`)
        .join('')}\n`;
    case 'wchp':
      return `${[
        ...groupBy(
          printedWatches,
          (w) => w.path,
          (w) => w.session,
        ),
      ]
        .map(([path, sessions]) => `${path}\n${sessions.map((id) => `\t${hex(Number(id))}\n`).join('')}`)
        .join('')}\n`;
    case 'dump':
      return [
        'SessionTracker dump:\n',
        ...sessionsDump(s),
        'ephemeral nodes dump:\n',
        `Sessions with Ephemerals (${s.ephemerals.size}):\n`,
        ...[...s.ephemerals].map(([session, paths]) => `${hex(session)}:\n${paths.map((p) => `\t${p}\n`).join('')}`),
        'Connections dump:\n',
        `Connections (${s.connections.length}):\n`,
        ...s.connections.map((c) => `\tip: ${remoteText(c.remote)} sessionId: ${hex(c.session ?? 0)}\n`),
      ].join('');
    case 'envi':
      return `Environment:\nzookeeper.version=${zkVersionText}\n${s
        .environment()
        .map(([k, v]) => `${k}=${v}\n`)
        .join('')}`;
    case 'mntr':
      return [
        ['zk_version', zkVersionText],
        ['zk_server_state', s.mode],
        ['zk_avg_latency', javaMean(s.latency.mean)],
        ['zk_max_latency', s.latency.max],
        ['zk_min_latency', s.latency.min],
        ['zk_packets_received', s.received],
        ['zk_packets_sent', s.sent],
        ['zk_num_alive_connections', s.connections.length],
        ['zk_outstanding_requests', outstanding],
        ['zk_znode_count', s.nodeCount],
        ['zk_watch_count', s.watchList.length],
        ['zk_ephemerals_count', [...s.ephemerals.values()].reduce((n, l) => n + l.length, 0)],
        ['zk_approximate_data_size', s.dataBytes],
        ['zk_global_sessions', s.sessions.length],
        ['zk_last_zxid', s.zxid],
      ]
        .map(([k, v]) => `${k}\t${v}\n`)
        .join('');
    case 'conf':
      return [
        `clientPort=${s.address.port}`,
        `clientPortAddress=${s.address.host}`,
        `dataDir=${s.dataDir}`,
        `maxClientCnxns=${s.connectionsMax}`,
        `minSessionTimeout=${s.sessionTimeoutMsMin}`,
        `maxSessionTimeout=${s.sessionTimeoutMsMax}`,
        `serverId=${s.serverId}`,
      ]
        .map((line) => `${line}\n`)
        .join('');
    default:
      return `${word} is not executed because it is not supported by this server.\n`;
  }
}
