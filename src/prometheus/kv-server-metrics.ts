/**
 * A KV server's metrics for Prometheus: its node's, its peer transport's, its client
 * connections' and its store's, all read from one snapshot of each per scrape. What
 * `synod serve` exposes on `/metrics`. Only types are imported from the server, so this
 * subpath loads no Node-only module.
 */
import type { Registry, RegistryContentType } from 'prom-client';
import type { KvServerMetrics } from '../kv/server/server-metrics.js';
import type { NodeMetrics } from '../runtime/metrics.js';
import { type Family, type Labels, type Registered, type RegisterOptions, registerFamilies } from './families.js';
import { type NodeMetricsSource, nodeFamilies } from './node-metrics.js';
import { peerRefusals, refusedHelp, type TcpMetricsReading, tcpFamilies } from './tcp-metrics.js';

/** The KV store's gauges: `KvStateMachine.revision`, `compactRevision` and `size`. */
export interface KvStoreReading {
  readonly revision: number;
  readonly compactRevision: number;
  readonly size: { readonly keys: number; readonly versions: number; readonly valueBytes: number; readonly sessions: number };
}

/** What {@link registerKvServerMetrics} reads: a `KvServer`. */
export interface KvServerMetricsSource {
  metrics(): KvServerMetrics;
  /** Undefined until the server started. */
  transportStats(): TcpMetricsReading | undefined;
  /** The KV node; read only once `transportStats()` is defined (a server that has not started throws here). */
  readonly kv: { readonly node: NodeMetricsSource; readonly machine: KvStoreReading };
}

/** One scrape's reading of a KV server. @internal */
interface KvServerReading {
  readonly clients: KvServerMetrics;
  readonly transport: TcpMetricsReading | undefined;
  readonly node: NodeMetrics | undefined;
  readonly store: KvStoreReading | undefined;
}

/** A family of a part of the reading, showing no series while that part is missing. */
function lift<P>(family: Family<P>, part: (r: KvServerReading) => P | undefined): Family<KvServerReading> {
  if (family.kind === 'histogram') {
    return {
      ...family,
      read: (r) => {
        const p = part(r);
        return p === undefined ? undefined : family.read(p);
      },
    };
  }
  return {
    ...family,
    read: (r) => {
      const p = part(r);
      return p === undefined ? [] : family.read(p);
    },
  };
}

const counter = (name: string, help: string, read: (m: KvServerMetrics) => number): Family<KvServerReading> => ({
  kind: 'counter',
  name,
  help,
  read: (r) => read(r.clients),
});
const gauge = (name: string, help: string, read: (m: KvServerMetrics) => number): Family<KvServerReading> => ({
  kind: 'gauge',
  name,
  help,
  read: (r) => read(r.clients),
});
const store = (name: string, help: string, read: (s: KvStoreReading) => number): Family<KvServerReading> => ({
  kind: 'gauge',
  name,
  help,
  read: (r) => (r.store === undefined ? [] : read(r.store)),
});

/** The KV server's own families, without the prefix. @internal */
const kvServerFamilies: readonly Family<KvServerReading>[] = [
  gauge('kv_client_connections', 'Client connections open (handshaking included).', (m) => m.clients.connections),
  gauge(
    'kv_client_answer_bytes_queued',
    'Bytes of answers and watch events written to client sockets and not yet taken by the kernel.',
    (m) => m.clients.answerBytesQueued,
  ),
  gauge('kv_client_requests_unanswered', 'Client requests read and not answered yet.', (m) => m.clients.requestsUnanswered),
  gauge('kv_client_partial_frame_bytes', 'Bytes received from clients and not read yet (at most partialFrameBytesMax).', (m) => m.clients.partialFrameBytes),
  gauge('kv_watches', 'Watches open, those being set up included.', (m) => m.clients.watches),
  counter(
    'kv_client_answer_pauses_total',
    'Times the server stopped reading a client whose answers outstanding reached socketBytesHigh.',
    (m) => m.trips.answerPauses,
  ),
  counter('kv_client_bad_frames_total', 'Malformed client frames after the handshake (each answered with a CODEC error).', (m) => m.trips.badFrames),
  {
    kind: 'counter',
    name: 'kv_watches_refused_total',
    help: 'Watches refused: reason="limit", the connection had watchesMax open; reason="duplicate_id", one with the same id was open.',
    labelNames: ['reason'],
    read: (r) => [
      [{ reason: 'limit' }, r.clients.trips.watchesRefused],
      [{ reason: 'duplicate_id' }, r.clients.trips.watchIdsRefused],
    ],
  },
  counter('kv_client_frame_timeouts_total', 'Client connections closed because a frame was not whole within frameCompleteMsMax.', (m) => m.trips.frameTimeouts),
  counter(
    'kv_client_partial_frame_closes_total',
    "Client connections closed because their unread bytes would take all clients' over partialFrameBytesMax.",
    (m) => m.trips.partialFrameCloses,
  ),
  {
    kind: 'counter',
    name: 'connections_refused_total',
    help: refusedHelp,
    labelNames: ['port', 'reason'],
    read: (r) => {
      const client: (readonly [Labels, number])[] = [
        [{ port: 'client', reason: 'limit' }, r.clients.trips.connectionsRefused],
        [{ port: 'client', reason: 'handshake' }, r.clients.trips.handshakesRefused],
      ];
      return r.transport === undefined ? client : [...peerRefusals(r.transport), ...client];
    },
  },
  counter(
    'kv_permission_denied_total',
    "Client requests refused with PermissionDeniedError: outside the user's roles, or another user's session.",
    (m) => m.trips.permissionDenied,
  ),
  {
    kind: 'counter',
    name: 'kv_quota_refusals_total',
    help: "Client requests refused by a per-user quota (auth.quotas), by the quota's name: sessionsMax, sessionTtlMsMax, watchesMax, requestsInFlightMax, requestBytesInFlightMax.",
    labelNames: ['quota'],
    read: (r) => Object.entries(r.clients.quotas).map(([quota, n]): readonly [Labels, number] => [{ quota }, n]),
  },
  store('kv_revision', "The store's revision on this member (the last write's; no read point, so possibly behind the leader).", (s) => s.revision),
  store('kv_compact_revision', 'History at or below this revision is compacted away.', (s) => s.compactRevision),
  store('kv_keys', 'Keys with any history kept (deleted keys until compacted included).', (s) => s.size.keys),
  store('kv_versions', 'Key versions kept above the compaction revision (what watches and reads at a revision can see).', (s) => s.size.versions),
  store('kv_value_bytes', 'Bytes of every value kept, in every version.', (s) => s.size.valueBytes),
  store('kv_sessions', 'Sessions open.', (s) => s.size.sessions),
];

/**
 * Registers a KV server's metrics in a prom-client `registry` of the caller's: the
 * node's (as {@link registerNodeMetrics}), the peer transport's (as
 * {@link registerTcpTransportMetrics}), the client connections' and the store's. Until
 * the server has started, only the client families show series. See
 * docs/operations.md, "Metrics and health", for the names.
 *
 * @throws Error if the registry has a metric of one of these names already.
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client';
 * import { registerKvServerMetrics } from 'synod/prometheus';
 *
 * const registry = new Registry();
 * registerKvServerMetrics(registry, server, { labels: { member: 'a' } });
 * ```
 */
export function registerKvServerMetrics(registry: Registry<RegistryContentType>, server: KvServerMetricsSource, options: RegisterOptions = {}): Registered {
  const families = [...nodeFamilies.map((f) => lift(f, (r) => r.node)), ...tcpFamilies.map((f) => lift(f, (r) => r.transport)), ...kvServerFamilies];
  return registerFamilies(
    registry,
    families,
    (): KvServerReading => {
      const transport = server.transportStats();
      // Started (the transport is made first): the KV node is there to read.
      const kv = transport === undefined ? undefined : server.kv;
      return { clients: server.metrics(), transport, node: kv?.node.metrics(), store: kv?.machine };
    },
    options,
  );
}
