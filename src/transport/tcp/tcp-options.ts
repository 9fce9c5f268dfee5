import type { NodeId } from '../../core/index.js';
import { ConfigError } from '../../core/index.js';
import type { Logger, RateLimitedLogger } from '../../runtime/index.js';
import { limitLogRate, silentLogger } from '../../runtime/index.js';
import { secretBytes } from '../../connection/secret.js';
import { defaultCodecLimits } from '../codec/message-codec.js';
import { clusterIdBytesMax } from './handshake.js';

/** Where a node listens, or where a peer is reached. */
export interface TcpAddress {
  /** Host name or IP address, such as `10.0.0.5` or `127.0.0.1`. */
  readonly host: string;
  /** TCP port. 0 when listening picks a free one (read it back with `address()`). */
  readonly port: number;
}

/** Mutual TLS: every node presents a certificate and checks its peer's against `ca`. */
export interface TcpTlsOptions {
  /** The CA certificate(s) (PEM) a peer's certificate must chain to. */
  readonly ca: string | Uint8Array | readonly (string | Uint8Array)[];
  /**
   * This node's certificate (PEM). It must name this node's id, as a DNS name in its
   * subjectAltName or as its subject's CN: peers refuse it otherwise.
   */
  readonly cert: string | Uint8Array;
  /** The private key of `cert` (PEM). */
  readonly key: string | Uint8Array;
  /** The key's passphrase, if it has one. */
  readonly passphrase?: string;
}

/**
 * Options of {@link TcpTransport}. Authentication is not optional: give `secret`, or
 * `tls`, or both (see docs/security.md).
 */
export interface TcpTransportOptions {
  /** This node's id, as the cluster knows it. */
  readonly id: NodeId;
  /** The cluster's name. A peer that names another cluster is refused. 1 to 255 bytes. */
  readonly clusterId: string;
  /** Where this node accepts connections. */
  readonly listen: TcpAddress;
  /**
   * The other nodes this one talks to, by id. Change with `setPeer`/`removePeer`. An
   * authenticated node not named here is taken only within `unknownPeersMax`.
   */
  readonly peers: Readonly<Record<NodeId, TcpAddress>>;
  /**
   * A secret every node of the cluster shares (at least 16 bytes; 32 random bytes
   * recommended). Both ends of a connection prove they hold it (HMAC-SHA256 over fresh
   * nonces) before any message is taken. It authenticates connections, not bytes: on
   * a network where someone can tamper with packets, use `tls`.
   */
  readonly secret?: string | Uint8Array;
  /**
   * Other secrets a peer may prove, to rotate `secret` without a window in which
   * nodes refuse each other. This node always proves `secret`. Rotate in three
   * rolling restarts: `{ secret: old, acceptedSecrets: [new] }`, then
   * `{ secret: new, acceptedSecrets: [old] }`, then `{ secret: new }`. Default none.
   */
  readonly acceptedSecrets?: readonly (string | Uint8Array)[];
  /** Mutual TLS 1.3. */
  readonly tls?: TcpTlsOptions;
  /** The largest frame sent or taken, in bytes. Default 16 MiB, like the codec's. */
  readonly frameBytesMax?: number;
  /**
   * Bytes held for one peer (waiting to be written plus in the socket's buffer) above
   * which messages to it are dropped and counted. Default 16 MiB.
   */
  readonly queueBytesMax?: number;
  /** Messages waiting for one peer above which more are dropped. Default 4,096. */
  readonly queueMessagesMax?: number;
  /** First redial delay after a failure, in ms; doubles on each failure. Default 50. */
  readonly reconnectDelayMsMin?: number;
  /** The longest redial delay, in ms. Default 2,000. Each delay is jittered down by up to half. */
  readonly reconnectDelayMsMax?: number;
  /** Time a connection has to finish its handshake (TLS included), in ms. Default 5,000. */
  readonly handshakeTimeoutMs?: number;
  /**
   * Connections still in their handshake above which new ones are closed at once.
   * Those from the hosts the peers listen on are counted apart (`peerHandshakesMax`).
   * Default 64.
   */
  readonly handshakesMax?: number;
  /**
   * Connections in their handshake from the hosts the peers listen on (as IP addresses
   * in `peers`; a host name is not resolved for this), counted apart from
   * `handshakesMax`, so that a flood of connections from elsewhere cannot keep the
   * members out. Default 16.
   */
  readonly peerHandshakesMax?: number;
  /** A ping is sent on a connection that wrote nothing for this long, in ms. Default 1,000. */
  readonly pingIntervalMs?: number;
  /** A connection that received nothing for this long is closed, in ms. Default 5,000. */
  readonly idleTimeoutMs?: number;
  /** Bad frames a connection may send before it is closed. Default 8. */
  readonly badFramesMax?: number;
  /** The longest node id taken, in UTF-8 bytes. Default 255. */
  readonly idBytesMax?: number;
  /**
   * Authenticated nodes missing from `peers` whose dial this node takes, at most this
   * many at once; it answers them over the connection they opened, and forgets them
   * when it closes. They are members that a configuration this node has not learned
   * yet added: a lagging member must take the new leader's dial to catch up and learn
   * of it. They prove the cluster's secret or certificate like anyone else. 0 refuses
   * every unknown id. Default 16.
   */
  readonly unknownPeersMax?: number;
  /** Where connection events go (pino's shape). Default: silent. */
  readonly logger?: Logger;
  /**
   * How many lines of each kind reach `logger`: a flood of refused connections costs a
   * few lines, and the rest are counted in `stats.logLinesSuppressed`. Default 20 per
   * kind per 10 s.
   */
  readonly logRateLimit?: { readonly linesMax?: number; readonly intervalMs?: number };
  /** Randomness for the redial jitter, in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
}

/** Options with every default filled in. @internal */
export interface ResolvedTcpOptions {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly listen: TcpAddress;
  readonly peers: Readonly<Record<NodeId, TcpAddress>>;
  readonly secret: Uint8Array | undefined;
  /** Every secret a peer may prove: `secret` first, then `acceptedSecrets`. Empty without a secret. */
  readonly secrets: readonly Uint8Array[];
  readonly tls: TcpTlsOptions | undefined;
  readonly frameBytesMax: number;
  readonly queueBytesMax: number;
  readonly queueMessagesMax: number;
  readonly reconnectDelayMsMin: number;
  readonly reconnectDelayMsMax: number;
  readonly handshakeTimeoutMs: number;
  readonly handshakesMax: number;
  readonly peerHandshakesMax: number;
  readonly pingIntervalMs: number;
  readonly idleTimeoutMs: number;
  readonly badFramesMax: number;
  readonly idBytesMax: number;
  readonly unknownPeersMax: number;
  readonly logger: RateLimitedLogger;
  readonly random: () => number;
}

const api = 'TcpTransport';

/** Validates `o` and fills in the defaults. @internal */
export function resolveTcpOptions(o: TcpTransportOptions): ResolvedTcpOptions {
  const idBytesMax = positive('idBytesMax', o.idBytesMax ?? defaultCodecLimits.idBytesMax);
  checkId('id', o.id, idBytesMax);
  const clusterBytes = new TextEncoder().encode(o.clusterId ?? '').byteLength;
  if (clusterBytes === 0 || clusterBytes > clusterIdBytesMax) throw new ConfigError(api, 'clusterId', `must be 1 to ${clusterIdBytesMax} bytes`);
  checkAddress('listen', o.listen, true);
  for (const [peer, address] of Object.entries(o.peers ?? {})) checkPeer(o.id, peer, address, idBytesMax);
  const secret = o.secret === undefined ? undefined : secretBytes('secret', o.secret, api);
  if (secret === undefined && o.tls === undefined) throw new ConfigError(api, 'secret', 'or `tls` must be given: a transport never runs unauthenticated');
  const accepted = (o.acceptedSecrets ?? []).map((s, i) => secretBytes(`acceptedSecrets[${i}]`, s, api));
  if (secret === undefined && accepted.length > 0) throw new ConfigError(api, 'acceptedSecrets', 'needs `secret`: this node must prove one too');
  const frameBytesMax = positive('frameBytesMax', o.frameBytesMax ?? defaultCodecLimits.frameBytesMax);
  const queueBytesMax = positive('queueBytesMax', o.queueBytesMax ?? 16 * 1024 * 1024);
  const reconnectDelayMsMin = positive('reconnectDelayMsMin', o.reconnectDelayMsMin ?? 50);
  const reconnectDelayMsMax = positive('reconnectDelayMsMax', o.reconnectDelayMsMax ?? 2_000);
  if (reconnectDelayMsMax < reconnectDelayMsMin) throw new ConfigError(api, 'reconnectDelayMsMax', 'must be at least `reconnectDelayMsMin`');
  const pingIntervalMs = positive('pingIntervalMs', o.pingIntervalMs ?? 1_000);
  const idleTimeoutMs = positive('idleTimeoutMs', o.idleTimeoutMs ?? 5_000);
  // A healthy but quiet peer pings once an interval; two missed pings are not yet silence.
  if (idleTimeoutMs < 2 * pingIntervalMs) throw new ConfigError(api, 'idleTimeoutMs', 'must be at least twice `pingIntervalMs`');
  return {
    id: o.id,
    clusterId: o.clusterId,
    listen: o.listen,
    peers: { ...o.peers },
    secret,
    secrets: secret === undefined ? [] : [secret, ...accepted],
    tls: o.tls,
    frameBytesMax,
    queueBytesMax,
    queueMessagesMax: positive('queueMessagesMax', o.queueMessagesMax ?? 4_096),
    reconnectDelayMsMin,
    reconnectDelayMsMax,
    handshakeTimeoutMs: positive('handshakeTimeoutMs', o.handshakeTimeoutMs ?? 5_000),
    handshakesMax: positive('handshakesMax', o.handshakesMax ?? 64),
    peerHandshakesMax: positive('peerHandshakesMax', o.peerHandshakesMax ?? 16),
    pingIntervalMs,
    idleTimeoutMs,
    badFramesMax: positive('badFramesMax', o.badFramesMax ?? 8),
    idBytesMax,
    unknownPeersMax: atLeastZero('unknownPeersMax', o.unknownPeersMax ?? 16),
    logger: limitLogRate(o.logger ?? silentLogger, {
      linesMax: positive('logRateLimit.linesMax', o.logRateLimit?.linesMax ?? 20),
      intervalMs: positive('logRateLimit.intervalMs', o.logRateLimit?.intervalMs ?? 10_000),
    }),
    random: o.random ?? Math.random,
  };
}

function positive(field: string, n: number): number {
  if (!Number.isSafeInteger(n) || n <= 0) throw new ConfigError(api, field, `must be a positive integer, not ${n}`);
  return n;
}

function atLeastZero(field: string, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError(api, field, `must be a non-negative integer, not ${n}`);
  return n;
}

function checkId(field: string, id: unknown, idBytesMax: number): void {
  if (typeof id !== 'string' || id.length === 0) throw new ConfigError(api, field, 'must be a non-empty string');
  if (new TextEncoder().encode(id).byteLength > idBytesMax) throw new ConfigError(api, field, `is longer than ${idBytesMax} bytes`);
}

/** Validates one entry of `peers`. @internal */
export function checkPeer(self: NodeId, peer: NodeId, address: TcpAddress, idBytesMax: number): void {
  checkId(`peers.${peer}`, peer, idBytesMax);
  if (peer === self) throw new ConfigError(api, `peers.${peer}`, 'is this node itself');
  checkAddress(`peers.${peer}`, address, false);
}

/** Validates a peer address, or the listening one (where port 0 picks a free port). */
function checkAddress(field: string, a: TcpAddress | undefined, listening: boolean): void {
  if (a === undefined || typeof a.host !== 'string' || a.host.length === 0) throw new ConfigError(api, field, 'must have a `host`');
  const portMin = listening ? 0 : 1;
  if (!Number.isInteger(a.port) || a.port < portMin || a.port > 65_535) throw new ConfigError(api, field, `has port ${a.port}, not ${portMin} to 65535`);
}
