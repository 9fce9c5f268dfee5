/**
 * A KV server: one replica of the replicated KV as a process's job. FileStorage on
 * disk, TcpTransport to the other replicas, and a port for clients speaking the KV
 * client protocol. Node-only.
 */
import { type Server, type Socket, createServer as createTcpServer } from 'node:net';
import { type TLSSocket, createServer as createTlsServer } from 'node:tls';
import { crc32 } from 'node:zlib';
import { type Configuration, ConfigError, type NodeId } from '../../core/index.js';
import { type Logger, limitLogRate, silentLogger } from '../../runtime/index.js';
import { FileStorage, type FileStorageOptions, SharedFileLog } from '../../storage/file/index.js';
import { type TcpAddress, type TcpPeerStats, type TcpTlsOptions, TcpTransport, type TcpTransportStats } from '../../transport/tcp/index.js';
import { framePrefixBytes } from '../../encoding/frame-reader.js';
import { secretBytes } from '../../connection/secret.js';
import { type KvNode, type KvNodeOptions, createKvNode } from '../kv-node.js';
import { type ShardedKv, createShardedKv } from '../shard/sharded-kv.js';
import { ClientConnection, type ConnectionHost, type ConnectionLimits } from './client-connection.js';
import { formatMemberAddress, parseMemberAddress } from './member-address.js';
import { checkDataDirLayout } from './data-dir-layout.js';
import { PartialFrameBudget } from '../../connection/partial-frame-budget.js';
import { requestFrameBytesMaxDefault } from '../protocol/client-codec.js';
import { AccessControl, type KvAuthOptions } from './access-control.js';
import { PrincipalUsage } from './principal-usage.js';
import { type KvServerMetrics, ServerMetricsRecorder } from './server-metrics.js';

/** Where one member listens. */
export interface KvServerAddress {
  /** For the other replicas (TcpTransport). */
  readonly peer: TcpAddress;
  /** For clients. */
  readonly client: TcpAddress;
}

/** Options of a {@link KvServer}. */
export interface KvServerOptions {
  /** This server's node id: one of `members`. */
  readonly id: NodeId;
  /** The cluster's name: peers and clients of another cluster are refused. */
  readonly clusterId: string;
  /**
   * Every voting member and where it listens, when the cluster was created (a server
   * that joins later lists the voters it knows of). Members added since are found in
   * the cluster's configuration.
   */
  readonly members: Readonly<Record<NodeId, KvServerAddress>>;
  /** Observers and where they listen; a joining server lists itself here. Default none. */
  readonly observers?: Readonly<Record<NodeId, KvServerAddress>>;
  /**
   * This server's data directory (FileStorage: WAL and snapshots). It belongs to
   * `clusterId` from its first start on: served under another id, the start is refused
   * with `ClusterMismatchError`.
   */
  readonly dataDir: string;
  /** The replicas' shared secret (at least 16 bytes), unless `tls` is given. */
  readonly secret?: string | Uint8Array;
  /** More secrets accepted from peers, while a new one rolls out. */
  readonly acceptedSecrets?: readonly (string | Uint8Array)[];
  /**
   * The clients' shared secret (at least 16 bytes), unless `tls` or `auth` is given. Keep
   * it apart from `secret`. Its clients may do everything (the `root` role), whatever
   * `auth` says: drop it once every client has a user of its own.
   */
  readonly clientSecret?: string | Uint8Array;
  /**
   * Users (each with its own secret, or named by its client certificate under
   * `clientTls`) and roles with read and write permission on keys and prefixes, and
   * per-user quotas. Checked on every request before anything is read or proposed.
   * Every server of the cluster must be given the same. Users and roles can also be
   * kept in the replicated state (`KvClient.putUser`, `putRole`): a user configured
   * here shadows a replicated one of the same name. Default: none; clients of
   * `clientSecret` (and, under `clientTls`, certificates naming no user) may do
   * everything, as before users.
   */
  readonly auth?: KvAuthOptions;
  /**
   * Mutual TLS between the replicas (the peer port): a peer's certificate must be
   * signed by `tls.ca` and name its node id. Needs `clientTls` too.
   */
  readonly tls?: TcpTlsOptions;
  /**
   * Mutual TLS on the client port: this server presents `clientTls.cert`, and a client's
   * certificate must be signed by `clientTls.ca`, a CA the peers do not trust (a
   * certificate issued to a client could otherwise name a member and dial the peer port
   * as that replica). Required with `tls`; refused if it shares a CA with `tls`.
   */
  readonly clientTls?: TcpTlsOptions;
  /** More options of the KV node (timeouts, snapshots, limits). */
  readonly node?: Omit<KvNodeOptions, 'id' | 'members' | 'transport' | 'storage' | 'logger'>;
  readonly storage?: FileStorageOptions;
  /** Bounds on each client connection. Defaults: 16 MiB frames, 4,096 requests in flight, 256 watches, 8 bad frames, 5 s handshake, 30 s for a frame to arrive whole, 8 MiB socket backlog. */
  readonly clientLimits?: Partial<ConnectionLimits>;
  /** Client connections at once; more are refused. Default 4,096. */
  readonly clientConnectionsMax?: number;
  /**
   * Bytes all client connections together may hold of frames received but not yet read
   * (frames still arriving, and whole ones waiting while a connection is not read). A
   * connection whose bytes would take the total over it is closed, saying why. At least
   * `clientLimits.frameBytesMax` plus its 4-byte length, so one frame of the largest size
   * always fits. Default 64 MiB (67,108,864), in bytes.
   */
  readonly partialFrameBytesMax?: number;
  /**
   * Runs the keyspace as ranges, each its own consensus group (a sharded KV), instead of
   * one group: writes to different ranges are ordered by different leaders, spread over
   * the members. Given when the cluster is created, and the same on every member ever
   * after; the data directory then holds one log for every range (`SharedFileLog`),
   * and an unsharded one is refused. Keys are routed to their ranges by the server,
   * and watches span ranges (`KvClient.watchRanges`); sessions, membership changes,
   * snapshots and compaction are not served yet (clients get `KvRequestError`), and
   * observers are refused. Default: one group.
   */
  readonly shards?: KvServerShards;
  readonly logger?: Logger;
}

/** How a sharded server cuts the keyspace (see {@link KvServerOptions.shards}). */
export interface KvServerShards {
  /** Where ranges start, besides `''`, when the cluster is created: n keys make n + 1 ranges. */
  readonly splitKeys: readonly string[];
  /** A range whose values pass this many bytes is split in two. Default 64 MiB; `false` never splits. */
  readonly splitAtBytes?: number | false;
}

/** How long a removed member's server still answers the requests in flight before it closes its client connections. */
const removedGraceMs = 1_000;

/** The default of `KvServerOptions.partialFrameBytesMax`: four frames of the largest default size. */
const defaultPartialFrameBytesMax = 64 * 1024 * 1024;

const defaultLimits: ConnectionLimits = {
  frameBytesMax: requestFrameBytesMaxDefault,
  requestsInFlightMax: 4096,
  watchesMax: 256,
  badFramesMax: 8,
  handshakeTimeoutMs: 5_000,
  frameCompleteMsMax: 30_000,
  socketBytesHigh: 8 * 1024 * 1024,
};

/**
 * A replica of the KV with its client port.
 *
 * @example
 * ```ts
 * const server = new KvServer({
 *   id: 'a', clusterId: 'demo', dataDir: './data/a', secret, clientSecret,
 *   members: {
 *     a: { peer: { host: '10.0.0.1', port: 7000 }, client: { host: '10.0.0.1', port: 7100 } },
 *     b: { peer: { host: '10.0.0.2', port: 7000 }, client: { host: '10.0.0.2', port: 7100 } },
 *     c: { peer: { host: '10.0.0.3', port: 7000 }, client: { host: '10.0.0.3', port: 7100 } },
 *   },
 * });
 * await server.start();
 * ```
 */
export class KvServer {
  private kvNode: KvNode | undefined;
  private shardedKv: ShardedKv | undefined;
  private sharedLog: SharedFileLog | undefined;
  private transport: TcpTransport | undefined;
  private storage: FileStorage | undefined;
  private listener: Server | undefined;
  private readonly connections = new Set<ClientConnection>();
  private readonly host: ConnectionHost;
  private readonly recorder = new ServerMetricsRecorder();
  private readonly usage = new PrincipalUsage();
  private readonly clientSecret: Uint8Array | undefined;
  private readonly logger: Logger;
  private closing = false;
  /** The snapshot sent to a client now, if any: the next waits for it (one copy of the state held at a time). */
  private snapshotting: Promise<void> = Promise.resolve();
  /** This member was removed from the cluster: clients are refused. */
  private removed = false;
  private readonly failure: { promise: Promise<Error>; resolve: (error: Error) => void } = (() => {
    let resolve!: (error: Error) => void;
    const promise = new Promise<Error>((r) => (resolve = r));
    return { promise, resolve };
  })();

  /**
   * Resolves with the error if the node fails (a storage failure, a broken invariant):
   * the server has stopped by then. Exit and let a supervisor restart the process.
   */
  get failed(): Promise<Error> {
    return this.failure.promise;
  }

  constructor(private readonly options: KvServerOptions) {
    if (options.members[options.id] === undefined && options.observers?.[options.id] === undefined)
      throw new ConfigError('KvServer', 'members', `must include this server's id ${options.id} (or observers must)`);
    if (options.tls === undefined && (options.secret === undefined || (options.clientSecret === undefined && options.auth === undefined))) {
      throw new ConfigError('KvServer', 'secret', 'a peer secret and a client secret (or auth.users) are required unless tls is given');
    }
    if (options.shards !== undefined && Object.keys(options.observers ?? {}).length > 0)
      throw new ConfigError('KvServer', 'observers', 'a sharded cluster has no observers yet');
    if ((options.tls === undefined) !== (options.clientTls === undefined)) {
      throw new ConfigError('KvServer', options.tls === undefined ? 'tls' : 'clientTls', 'tls (peers) and clientTls (clients) go together');
    }
    if (options.tls !== undefined && options.clientTls !== undefined) {
      const peerCas = new Set(pemList(options.tls.ca));
      if (pemList(options.clientTls.ca).some((ca) => peerCas.has(ca))) {
        throw new ConfigError(
          'KvServer',
          'clientTls',
          "must not share a CA with tls (the peers'): a client's certificate could name a member and join as a replica",
        );
      }
    }
    this.clientSecret =
      options.clientSecret === undefined || options.tls !== undefined ? undefined : secretBytes('clientSecret', options.clientSecret, 'KvServer');
    if (this.clientSecret !== undefined && options.secret !== undefined) {
      const peer = secretBytes('secret', options.secret, 'KvServer');
      // A client holding the peers' secret could join as a replica: the two must differ.
      if (sameBytes(peer, this.clientSecret)) {
        throw new ConfigError('KvServer', 'clientSecret', "must differ from secret (the peers' secret): a client must not be able to join as a replica");
      }
    }
    // A client can make a server log (a refused handshake, a bad frame): so many lines of a kind, no more.
    this.logger = limitLogRate(options.logger ?? silentLogger);
    const limits = { ...defaultLimits, ...options.clientLimits };
    if (!(Number.isSafeInteger(limits.frameCompleteMsMax) && limits.frameCompleteMsMax > 0)) {
      throw new ConfigError('KvServer', 'clientLimits.frameCompleteMsMax', `must be a positive integer (ms), not ${limits.frameCompleteMsMax}`);
    }
    const partialFrameBytesMax = options.partialFrameBytesMax ?? defaultPartialFrameBytesMax;
    if (!(Number.isSafeInteger(partialFrameBytesMax) && partialFrameBytesMax >= limits.frameBytesMax + framePrefixBytes)) {
      throw new ConfigError(
        'KvServer',
        'partialFrameBytesMax',
        `must be an integer of at least clientLimits.frameBytesMax + ${framePrefixBytes} (${limits.frameBytesMax + framePrefixBytes}), so one frame of the largest size fits, not ${partialFrameBytesMax}`,
      );
    }
    // The users and roles of the replicated state are this replica's, once it runs.
    const access = new AccessControl(options.auth, options.clientTls !== undefined, () => this.kvNode?.machine.auth);
    if (options.auth !== undefined && options.secret !== undefined) {
      const peer = secretBytes('secret', options.secret, 'KvServer');
      for (const name of Object.keys(options.auth.users ?? {})) {
        const user = access.user(name)!;
        // A user holding the peers' secret could join as a replica.
        if (user.secret !== undefined && sameBytes(user.secret, peer))
          throw new ConfigError('KvServer', `auth.users.${name}.secret`, "must differ from secret (the peers')");
      }
    }
    const server = this;
    this.host = {
      get kv() {
        return server.kv;
      },
      get sharded() {
        return server.shardedKv;
      },
      clusterId: options.clusterId,
      nodeId: options.id,
      members: Object.keys(options.members),
      secret: this.clientSecret,
      tls: options.clientTls !== undefined,
      access,
      usage: this.usage,
      logger: this.logger,
      limits,
      metrics: this.recorder,
      partialFrames: new PartialFrameBudget(partialFrameBytesMax),
      closed: (c) => this.connections.delete(c),
      oneSnapshotAtATime: (task) => {
        const run = this.snapshotting.then(task);
        this.snapshotting = run.then(
          () => undefined,
          () => undefined,
        );
        return run;
      },
    };
  }

  /**
   * The KV node this server runs (embedded API, status, events); on a sharded server,
   * the meta group's, which keeps the range map and the replicated users and roles.
   */
  get kv(): KvNode {
    if (this.kvNode === undefined) throw new ConfigError('KvServer', 'start', 'the server has not started');
    return this.kvNode;
  }

  /** The sharded KV this server runs, if `shards` was given and it started. */
  get sharded(): ShardedKv | undefined {
    return this.shardedKv;
  }

  /** What the server holds for its clients now, and how often a bound on a client tripped. */
  metrics(): KvServerMetrics {
    const clients = { connections: this.connections.size, answerBytesQueued: 0, requestsUnanswered: 0, partialFrameBytes: 0, watches: 0 };
    for (const c of this.connections) {
      const u = c.usage();
      clients.answerBytesQueued += u.answerBytesQueued;
      clients.requestsUnanswered += u.requestsUnanswered;
      clients.partialFrameBytes += u.partialFrameBytes;
      clients.watches += u.watches;
    }
    return this.recorder.snapshot(clients, this.usage.tripped());
  }

  /**
   * The peer transport's counts: in all, and per peer it knows now (see
   * `TcpTransport.stats` and `peerStats`). Undefined until started.
   */
  transportStats(): { readonly total: TcpTransportStats; readonly peers: Readonly<Record<NodeId, TcpPeerStats>> } | undefined {
    const transport = this.transport;
    return transport === undefined ? undefined : { total: transport.stats, peers: transport.peerStats() };
  }

  /** The client port's address once started (the port chosen, if 0 was asked). */
  clientAddress(): TcpAddress | undefined {
    const address = this.listener?.address();
    return address === null || address === undefined || typeof address === 'string' ? undefined : { host: address.address, port: address.port };
  }

  /** Fault injection for tests: drops all traffic to and from these peers (see `TcpTransport.blockPeers`). */
  blockPeers(peers: Iterable<NodeId>): void {
    this.transport?.blockPeers(peers);
  }

  /** Opens the storage (recovering it), joins the cluster and starts serving clients. */
  async start(): Promise<void> {
    const { options } = this;
    const everyone = { ...options.members, ...options.observers };
    const me = everyone[options.id]!;
    await checkDataDirLayout(options.dataDir, options.shards !== undefined);
    const peers: Record<NodeId, TcpAddress> = {};
    for (const [id, address] of Object.entries(everyone)) if (id !== options.id) peers[id] = address.peer;
    const addresses: Record<NodeId, string> = {};
    for (const [id, address] of Object.entries(everyone)) addresses[id] = formatMemberAddress(address);
    const transport = (this.transport = new TcpTransport({
      id: options.id,
      clusterId: options.clusterId,
      listen: me.peer,
      peers,
      ...(options.secret === undefined ? {} : { secret: options.secret }),
      ...(options.acceptedSecrets === undefined ? {} : { acceptedSecrets: options.acceptedSecrets }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      logger: this.logger,
    }));
    if (options.shards !== undefined) await this.startSharded(options.shards, addresses, transport);
    else await this.startNode(addresses, transport);
    const onSocket = (socket: Socket) => {
      if (this.closing || this.removed || this.connections.size >= (options.clientConnectionsMax ?? 4096)) {
        if (!this.closing) this.recorder.connectionsRefused++;
        socket.destroy();
        return;
      }
      // A client that vanished without a FIN (its host died, a partition) is found by
      // the kernel's keepalive probes in minutes, not never: its connection counts
      // against clientConnectionsMax until then.
      socket.setKeepAlive(true, 10_000);
      this.connections.add(new ClientConnection(socket, this.host));
    };
    const clientTls = options.clientTls;
    this.listener =
      clientTls === undefined
        ? createTcpServer(onSocket)
        : createTlsServer(
            {
              ca: clientTls.ca as string | string[],
              cert: clientTls.cert as string,
              key: clientTls.key as string,
              passphrase: clientTls.passphrase,
              minVersion: 'TLSv1.3',
              requestCert: true,
              rejectUnauthorized: true,
            },
            (socket: TLSSocket) => onSocket(socket),
          );
    await new Promise<void>((resolve, reject) => {
      this.listener!.once('error', reject);
      this.listener!.listen({ host: me.client.host, port: me.client.port }, () => {
        this.listener!.off('error', reject);
        resolve();
      });
    });
  }

  /** Opens this member's FileStorage and starts its node of the one group. */
  private async startNode(addresses: Record<NodeId, string>, transport: TcpTransport): Promise<void> {
    const { options } = this;
    // The directory is bound to the cluster: another cluster's member cannot serve it.
    this.storage = await FileStorage.open(options.dataDir, {
      // A torn tail repaired on open is normal after a crash, but never silent.
      onWarning: (warning) =>
        this.logger.warn({ node: options.id, dataDir: options.dataDir, warning }, 'kv server: the storage repaired its log while opening'),
      ...options.storage,
      clusterId: options.clusterId,
    });
    this.kvNode = createKvNode({
      ...options.node,
      // Snapshots streamed between servers are checked with zlib's native CRC-32.
      snapshot: { crc32, ...options.node?.snapshot },
      id: options.id,
      members: Object.keys(options.members),
      observers: Object.keys(options.observers ?? {}),
      addresses,
      transport,
      storage: this.storage,
      logger: this.logger,
    });
    // The configuration says where every member listens: dial the ones added later.
    this.kvNode.node.on('configuration', ({ configuration }) => this.learnPeers(configuration));
    // A removed member no longer learns the cluster's writes: its answers would be stale.
    // Its clients are cut off, so they fail over to a member.
    // (A server that joins goes through the configurations of the log it learns, some
    // from before it was added: it may be out of them for a moment, and serves again.)
    this.kvNode.node.on('roleChange', ({ role, previous }) => {
      this.removed = role === 'removed';
      if (role === 'removed') {
        // Info first: a joining server passes through configurations from before it was
        // added. Warned only if it is still out after the grace.
        this.logger.info({ node: options.id }, 'kv server: this member is not in the configuration it knows; refusing new clients');
        // A moment's grace: answers already settling (the removal itself, when this
        // member led and removed itself) still reach their clients.
        setTimeout(() => {
          if (!this.removed) return;
          this.logger.warn(
            { node: options.id, connections: this.connections.size },
            'kv server: this member is not in the configuration; closing client connections and refusing new ones',
          );
          for (const c of [...this.connections]) c.close(undefined);
        }, removedGraceMs).unref();
      } else if (previous === 'removed') {
        this.logger.info({ node: options.id, role }, 'kv server: this member is in the configuration again; serving clients');
      }
    });
    this.kvNode.node.on('error', this.onNodeError);
    await this.kvNode.start();
    const started = this.kvNode.node.status().configuration;
    if (started !== undefined) this.learnPeers(started);
  }

  /** Opens this member's shared log and starts its sharded KV: the meta group, then every range. */
  private async startSharded(shards: KvServerShards, addresses: Record<NodeId, string>, transport: TcpTransport): Promise<void> {
    const { options } = this;
    const { kv, ...node } = options.node ?? {};
    if (kv?.bounds !== undefined || kv?.awaitsSeed !== undefined)
      throw new ConfigError('KvServer', 'node.kv', "a sharded server's ranges have the bounds of its range map");
    const log = (this.sharedLog = await SharedFileLog.open(options.dataDir, { clusterId: options.clusterId }));
    const sharded = createShardedKv({
      id: options.id,
      members: Object.keys(options.members),
      transport,
      storage: (group) => log.group(group),
      dropStorage: (group) => log.dropGroup(group),
      splitKeys: shards.splitKeys,
      ...(shards.splitAtBytes === undefined ? {} : { splitAtBytes: shards.splitAtBytes }),
      // Every group's configuration says where the members listen: clients route by it (routeToLeaders).
      node: { ...node, addresses, snapshot: { crc32, ...node.snapshot } },
      ...(kv === undefined ? {} : { kv }),
      logger: this.logger,
    });
    this.shardedKv = sharded;
    try {
      await sharded.start();
    } catch (error) {
      await sharded.close().catch(() => undefined);
      await log.close().catch(() => undefined);
      throw error;
    }
    this.kvNode = sharded.shard(0);
    // A failed log fails every group: the meta group's node says so for them all.
    this.kvNode?.node.on('error', this.onNodeError);
  }

  /**
   * A fatal error (a storage failure) closes the node: stop serving too, so a
   * supervisor sees the process fail instead of a server answering for a dead replica.
   */
  private readonly onNodeError = ({ error, fatal }: { readonly error: Error; readonly fatal: boolean }): void => {
    if (!fatal) return;
    this.logger.error({ node: this.options.id, error }, 'kv server: the node failed; stopping');
    this.failure.resolve(error);
    void this.close();
  };

  /** Points the transport at every member of `configuration` that has an address. */
  private learnPeers(configuration: Configuration): void {
    const transport = this.transport;
    if (transport === undefined) return;
    for (const [id, text] of Object.entries(configuration.addresses)) {
      if (id === this.options.id) continue;
      try {
        transport.setPeer(id, parseMemberAddress('KvServer', text).peer);
      } catch (error) {
        this.logger.warn(
          { node: this.options.id, member: id, address: text, error },
          'kv server: a member address in the configuration does not parse; not dialing it',
        );
      }
    }
  }

  /** Stops serving clients, closes the node (and its storage). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const listener = this.listener;
    // close() waits for every connection to end, so end them after it stops accepting.
    const stopped = listener === undefined ? Promise.resolve() : new Promise((resolve) => listener.close(resolve));
    for (const c of [...this.connections]) c.close(undefined);
    await stopped;
    if (this.shardedKv !== undefined) {
      await this.shardedKv.close();
      await this.sharedLog?.close();
    } else {
      await this.kvNode?.close();
    }
  }
}

/** The certificates of a TLS `ca` option (bundles split), each as PEM without whitespace. */
function pemList(ca: TcpTlsOptions['ca']): string[] {
  const list = Array.isArray(ca) ? (ca as readonly (string | Uint8Array)[]) : [ca as string | Uint8Array];
  return list.flatMap((c) => {
    const text = typeof c === 'string' ? c : new TextDecoder().decode(c);
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [text];
    return blocks.map((b) => b.replace(/\s+/g, ''));
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
}
