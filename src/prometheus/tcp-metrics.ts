/**
 * A TcpTransport's counts as Prometheus metrics: in all, and per peer. Only types are
 * imported from the transport, so this subpath loads no Node-only module.
 */
import type { Registry, RegistryContentType } from 'prom-client';
import type { NodeId } from '../core/index.js';
import type { TcpPeerStats, TcpTransportStats } from '../transport/tcp/tcp-stats.js';
import { type Family, type Registered, type RegisterOptions, registerFamilies } from './families.js';

/** A transport's counts at one moment: `TcpTransport.stats` and `peerStats()`, or `KvServer.transportStats()`. */
export interface TcpMetricsReading {
  readonly total: TcpTransportStats;
  readonly peers: Readonly<Record<NodeId, TcpPeerStats>>;
}

/** Anything with a TcpTransport's `stats` and `peerStats()`: a `TcpTransport`. */
export interface TcpMetricsSource {
  readonly stats: TcpTransportStats;
  peerStats(): Readonly<Record<NodeId, TcpPeerStats>>;
}

const perPeer = (r: TcpMetricsReading, field: keyof TcpPeerStats) => Object.entries(r.peers).map(([peer, s]) => [{ peer }, s[field]] as const);

/** The transport's families, without the prefix. @internal */
export const tcpFamilies: readonly Family<TcpMetricsReading>[] = [
  {
    kind: 'counter',
    name: 'peer_frames_sent_total',
    help: 'Messages (one frame each) queued for each peer.',
    labelNames: ['peer'],
    read: (r) => perPeer(r, 'framesSent'),
  },
  {
    kind: 'counter',
    name: 'peer_frames_received_total',
    help: 'Messages (one frame each) received from each peer and decoded.',
    labelNames: ['peer'],
    read: (r) => perPeer(r, 'framesReceived'),
  },
  {
    kind: 'counter',
    name: 'peer_bytes_sent_total',
    help: "Bytes written to each peer's authenticated connection.",
    labelNames: ['peer'],
    read: (r) => perPeer(r, 'bytesSent'),
  },
  {
    kind: 'counter',
    name: 'peer_bytes_received_total',
    help: "Bytes read from each peer's authenticated connection.",
    labelNames: ['peer'],
    read: (r) => perPeer(r, 'bytesReceived'),
  },
  { kind: 'counter', name: 'transport_messages_sent_total', help: 'Messages encoded and queued, to all peers.', read: (r) => r.total.messagesSent },
  {
    kind: 'counter',
    name: 'transport_messages_delivered_total',
    help: 'Messages received, checked and delivered to the node.',
    read: (r) => r.total.messagesDelivered,
  },
  {
    kind: 'counter',
    name: 'transport_messages_dropped_total',
    help: 'Messages dropped on the way out: queue full (queueBytesMax, queueMessagesMax), unknown peer, too large, not started or closed.',
    read: (r) => r.total.messagesDropped,
  },
  {
    kind: 'counter',
    name: 'transport_messages_blocked_total',
    help: 'Messages dropped both ways because their peer was blocked (fault injection).',
    read: (r) => r.total.messagesBlocked,
  },
  {
    kind: 'counter',
    name: 'transport_frames_rejected_total',
    help: 'Frames received and refused: malformed, misaddressed, out of place.',
    read: (r) => r.total.framesRejected,
  },
  { kind: 'counter', name: 'transport_writes_total', help: 'Socket writes (messages sent per write: how well writes coalesce).', read: (r) => r.total.writes },
  { kind: 'counter', name: 'transport_bytes_sent_total', help: 'Bytes written, handshakes included.', read: (r) => r.total.bytesSent },
  { kind: 'counter', name: 'transport_bytes_received_total', help: 'Bytes read, handshakes included.', read: (r) => r.total.bytesReceived },
  {
    kind: 'counter',
    name: 'transport_connections_established_total',
    help: 'Peer connections that completed their handshake, both directions.',
    read: (r) => r.total.connectionsEstablished,
  },
  {
    kind: 'counter',
    name: 'transport_handshakes_failed_total',
    help: 'Peer connections closed before or during their handshake, both directions: refused, timed out, failed authentication or TLS, dials that failed.',
    read: (r) => r.total.handshakesFailed,
  },
  {
    kind: 'counter',
    name: 'transport_connections_closed_for_bad_frames_total',
    help: 'Peer connections closed for sending badFramesMax bad frames.',
    read: (r) => r.total.connectionsClosedForBadFrames,
  },
  {
    kind: 'counter',
    name: 'transport_log_lines_suppressed_total',
    help: 'Transport log lines dropped by the log rate limit.',
    read: (r) => r.total.logLinesSuppressed,
  },
];

/** The help of `connections_refused_total`, whose series the transport and the KV server share. @internal */
export const refusedHelp =
  'Connections closed on arrival or in their handshake, by port and reason. port="peer" reason="load": too many in their handshake (handshakesMax, peerHandshakesMax); port="client" reason="limit": clientConnectionsMax open, or this member removed; port="client" reason="handshake": malformed, failed authentication, or not finished in handshakeTimeoutMs.';

/** The transport's share of `connections_refused_total`. @internal */
export function peerRefusals(r: TcpMetricsReading): readonly (readonly [{ port: string; reason: string }, number])[] {
  return [[{ port: 'peer', reason: 'load' }, r.total.handshakesRefusedForLoad]];
}

/**
 * Registers a `TcpTransport`'s counts in a prom-client `registry` of the caller's,
 * in all and per peer, read at each scrape. See docs/operations.md, "Metrics and
 * health", for the names. For a KV server use {@link registerKvServerMetrics}, which
 * includes these.
 *
 * @throws Error if the registry has a metric of one of these names already.
 */
export function registerTcpTransportMetrics(registry: Registry<RegistryContentType>, transport: TcpMetricsSource, options: RegisterOptions = {}): Registered {
  const families: Family<TcpMetricsReading>[] = [
    ...tcpFamilies,
    { kind: 'counter', name: 'connections_refused_total', help: refusedHelp, labelNames: ['port', 'reason'], read: peerRefusals },
  ];
  return registerFamilies(registry, families, () => ({ total: transport.stats, peers: transport.peerStats() }), options);
}
