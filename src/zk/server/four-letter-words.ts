/**
 * ZooKeeper's four-letter words, the commands operators script against: `ruok`,
 * `isro`, `srvr`, `stat`, `mntr`, `conf` (others answer that they are not supported).
 * The text follows ZooKeeper's layout, so scripts that parse it keep working.
 */
import type { TcpAddress } from '../../transport/tcp/index.js';

/** What the words report. @internal */
export interface ZkServerStats {
  readonly mode: 'leader' | 'follower' | 'observer';
  readonly serverId: string;
  readonly zxid: number;
  readonly nodeCount: number;
  readonly received: number;
  readonly sent: number;
  readonly connections: readonly { readonly remote: string; readonly received: number; readonly sent: number; readonly session: number | undefined }[];
  readonly watches: number;
  readonly ephemerals: number;
  readonly dataBytes: number;
  readonly sessions: number;
  readonly address: TcpAddress;
  readonly sessionTimeoutMsMin: number;
  readonly sessionTimeoutMsMax: number;
  readonly connectionsMax: number;
  readonly dataDir: string;
}

/** The version string the words report: ZooKeeper's protocol level, then ours. */
const zkVersionText = '3.8.0-synod, built on synod';

const hex = (n: number) => `0x${n.toString(16)}`;

/** The answer to `word`. @internal */
export function fourLetterWordAnswer(word: string, s: ZkServerStats): string {
  const summary = () =>
    [
      `Latency min/avg/max: 0/0.0/0`,
      `Received: ${s.received}`,
      `Sent: ${s.sent}`,
      `Connections: ${s.connections.length}`,
      `Outstanding: 0`,
      `Zxid: ${hex(s.zxid)}`,
      `Mode: ${s.mode}`,
      `Node count: ${s.nodeCount}`,
    ].join('\n');
  switch (word) {
    case 'ruok':
      return 'imok';
    case 'isro':
      return 'rw';
    case 'srvr':
      return `Zookeeper version: ${zkVersionText}\n${summary()}\n`;
    case 'stat':
      return `Zookeeper version: ${zkVersionText}\nClients:\n${s.connections.map((c) => ` /${c.remote}[1](queued=0,recved=${c.received},sent=${c.sent}${c.session === undefined ? '' : `,sid=${hex(c.session)}`})`).join('\n')}\n\n${summary()}\n`;
    case 'mntr':
      return [
        ['zk_version', zkVersionText],
        ['zk_server_state', s.mode],
        ['zk_avg_latency', 0],
        ['zk_max_latency', 0],
        ['zk_min_latency', 0],
        ['zk_packets_received', s.received],
        ['zk_packets_sent', s.sent],
        ['zk_num_alive_connections', s.connections.length],
        ['zk_outstanding_requests', 0],
        ['zk_znode_count', s.nodeCount],
        ['zk_watch_count', s.watches],
        ['zk_ephemerals_count', s.ephemerals],
        ['zk_approximate_data_size', s.dataBytes],
        ['zk_global_sessions', s.sessions],
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
