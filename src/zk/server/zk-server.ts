/**
 * The ZooKeeper port of a member: ZooKeeper clients (zkCli, kazoo, Curator, the C
 * client) connect to any member; writes go through consensus on the member's KV node
 * (the tree is the KV's extension, so one group serves both), reads are answered from
 * this replica (sequentially consistent, FIFO per session), `sync` waits for the
 * cluster's read point. Node-only.
 */
import { type Server, type Socket, createServer } from 'node:net';
import type { KvNode } from '../../kv/kv-node.js';
import { type Clock, type Logger, silentLogger, systemClock } from '../../runtime/index.js';
import type { TcpAddress } from '../../transport/tcp/index.js';
import type { ZkExtension } from '../zk-extension.js';
import { zkLimits } from '../zk-limits.js';
import type { ZkApplied } from '../zk-state-machine.js';
import { ZkWatchTable } from '../zk-watch-table.js';
import { ZkConnection, type ZkConnectionHost, type ZkConnectionLimits } from './zk-connection.js';
import { fourLetterWordAnswer, type ZkServerStats } from './four-letter-words.js';
import { dirsAnswer } from './zk-data-dir-size.js';
import { serverEnvironment } from './zk-environment.js';
import { ZkLatency } from './zk-latency.js';
import { ZkNodeKeeper } from './zk-node-keeper.js';
import { ZkSessionKeeper } from './zk-session-keeper.js';

/** Options of a {@link ZkServer}. */
export interface ZkServerOptions {
  /** The member's KV node, started, whose state machine carries `extension`. */
  readonly kv: KvNode;
  /** The ZooKeeper state machine given to the KV node as its extension. */
  readonly extension: ZkExtension;
  /** Where to listen for ZooKeeper clients (port 0 picks a free one). */
  readonly address: TcpAddress;
  /** Shortest session timeout granted, ms (ZooKeeper's `minSessionTimeout`). Default 4,000 ms. */
  readonly sessionTimeoutMsMin?: number;
  /** Longest session timeout granted, ms (ZooKeeper's `maxSessionTimeout`). Default 40,000 ms. */
  readonly sessionTimeoutMsMax?: number;
  /** Client connections at once; more are refused. Default 4,096. */
  readonly connectionsMax?: number;
  /** Bounds on each connection. Defaults: `jute.maxbuffer` (1 MiB - 1) frames, 1,000 queued requests, 8 MiB queued, 30 s for a frame to arrive whole, 65,536 watches, 64 MiB unsent. */
  readonly limits?: Partial<ZkConnectionLimits>;
  /**
   * Bytes held for all clients together: frames arriving and requests not yet answered.
   * A connection whose new bytes would take the total over it is closed. At least
   * `limits.requestBytesMax` + 4. Default 64 MiB.
   */
  readonly bufferedBytesMax?: number;
  /** How often touches are entered and the leader looks for silent sessions, ms. Default 250 ms. */
  readonly sessionCheckMs?: number;
  /**
   * How often the leader looks for containers and TTL nodes to delete, ms (ZooKeeper's
   * `znode.container.checkIntervalMs`): a TTL node goes between its TTL and its TTL
   * plus twice this after its last change. Default 60,000 ms.
   */
  readonly nodeCheckMs?: number;
  /**
   * How long a container that never had a child may stay unmodified, ms, before it is
   * deleted; 0 keeps it (ZooKeeper 3.8 and 3.9's `znode.container.maxNeverUsedIntervalMs`
   * default). Default 0.
   */
  readonly neverUsedContainerMs?: number;
  /** What `conf` reports as the data directory, and whose bytes `dirs` counts. Default none (`dirs` prints 0). */
  readonly dataDir?: string;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/**
 * A member's ZooKeeper port.
 *
 * @example
 * ```ts
 * const extension = new ZkExtension();
 * const server = new KvServer({ ..., node: { kv: { extension } } });
 * await server.start();
 * const zk = new ZkServer({ kv: server.kv, extension, address: { host: '0.0.0.0', port: 2181 } });
 * await zk.start();
 * ```
 */
export class ZkServer {
  private listener: Server | undefined;
  private keeper: ZkSessionKeeper | undefined;
  private nodeKeeper: ZkNodeKeeper | undefined;
  private offApplied: (() => void) | undefined;
  private readonly connections = new Set<ZkConnection>();
  private readonly bySession = new Map<number, ZkConnection>();
  private readonly watches = new ZkWatchTable<ZkConnection>();
  private readonly host: ZkConnectionHost;
  private readonly stats = { received: 0, sent: 0 };
  /** Latency of the requests this member answered since it started or `srst`. */
  private readonly latency = new ZkLatency();
  private heldBytes = 0;
  private readonly timeoutMin: number;
  private readonly timeoutMax: number;
  private readonly connectionsMax: number;
  private readonly logger: Logger;

  constructor(private readonly options: ZkServerOptions) {
    this.timeoutMin = options.sessionTimeoutMsMin ?? 4_000;
    this.timeoutMax = options.sessionTimeoutMsMax ?? 40_000;
    this.connectionsMax = options.connectionsMax ?? 4_096;
    this.logger = options.logger ?? silentLogger;
    if (!(this.timeoutMin > 0 && this.timeoutMin <= this.timeoutMax && this.timeoutMax <= zkLimits.sessionTimeoutMsMax)) {
      throw new RangeError(
        `ZkServer: sessionTimeoutMsMin (${this.timeoutMin}) must be positive and at most sessionTimeoutMsMax (${this.timeoutMax}), itself at most ${zkLimits.sessionTimeoutMsMax}`,
      );
    }
    if (!((options.nodeCheckMs ?? 1) > 0)) throw new RangeError(`ZkServer: nodeCheckMs must be positive, not ${options.nodeCheckMs}`);
    if (!((options.neverUsedContainerMs ?? 0) >= 0))
      throw new RangeError(`ZkServer: neverUsedContainerMs must be 0 or more, not ${options.neverUsedContainerMs}`);
    const limits: ZkConnectionLimits = {
      requestBytesMax: zkLimits.requestBytesMax,
      queuedRequestsMax: 1_000,
      queuedBytesMax: 8 * 1024 * 1024,
      frameCompleteMsMax: 30_000,
      watchesMax: 65_536,
      sendBytesMax: 64 * 1024 * 1024,
      ...options.limits,
    };
    const bufferedBytesMax = options.bufferedBytesMax ?? 64 * 1024 * 1024;
    if (!(bufferedBytesMax >= limits.requestBytesMax + 4))
      throw new RangeError(`ZkServer: bufferedBytesMax (${bufferedBytesMax}) must be at least limits.requestBytesMax + 4 (${limits.requestBytesMax + 4})`);
    // biome-ignore lint/complexity/noUselessThisAlias: inside the host literal, `server` says whose state the callbacks reach
    const server = this;
    this.host = {
      kv: options.kv,
      machine: options.extension.machine,
      watches: this.watches,
      limits,
      logger: this.logger,
      clock: options.clock ?? systemClock,
      negotiateTimeoutMs: (requested) => Math.min(Math.max(requested, server.timeoutMin), server.timeoutMax),
      touch: (session) => server.keeper?.touch(session),
      bind: (connection, session) => {
        const previous = server.bySession.get(session);
        if (previous !== undefined && previous !== connection) previous.close('the session reconnected');
        server.bySession.set(session, connection);
      },
      forget: (connection) => {
        server.connections.delete(connection);
        if (connection.session !== undefined && server.bySession.get(connection.session) === connection) server.bySession.delete(connection.session);
      },
      fourLetterWord: (word) => (word === 'dirs' ? dirsAnswer(options.dataDir ?? '') : fourLetterWordAnswer(word, () => server.statsNow(), server.statsReset)),
      answered: (latencyMs) => server.latency.record(latencyMs),
      count: (kind) => void server.stats[kind]++,
      holdBytes: (bytes) => {
        if (bytes > 0 && server.heldBytes + bytes > bufferedBytesMax) return false;
        server.heldBytes += bytes;
        return true;
      },
    };
  }

  /** Where the server listens (after `start`). */
  get address(): TcpAddress {
    const a = this.listener?.address();
    if (a === undefined || a === null || typeof a === 'string') throw new Error('ZkServer: not listening');
    return { host: a.address, port: a.port };
  }

  /** Opens the port. */
  async start(): Promise<TcpAddress> {
    const machine = this.options.extension.machine;
    this.offApplied = machine.onApplied((applied) => this.onApplied(applied));
    this.keeper = new ZkSessionKeeper(this.options.kv, machine, this.options.clock ?? systemClock, this.logger, {
      intervalMs: this.options.sessionCheckMs ?? 250,
    });
    this.nodeKeeper = new ZkNodeKeeper(this.options.kv, machine, this.options.clock ?? systemClock, this.logger, {
      intervalMs: this.options.nodeCheckMs ?? 60_000,
      neverUsedContainerMs: this.options.neverUsedContainerMs ?? 0,
    });
    const listener = createServer((socket) => this.accept(socket));
    this.listener = listener;
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(this.options.address.port, this.options.address.host, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    listener.on('error', (error) => this.logger.error({ error }, 'zk: listener failed'));
    return this.address;
  }

  /** Closes the port and every connection (sessions live on until they expire). */
  async close(): Promise<void> {
    this.offApplied?.();
    this.keeper?.close();
    this.nodeKeeper?.close();
    for (const c of [...this.connections]) c.close('server closing');
    const listener = this.listener;
    if (listener !== undefined) await new Promise<void>((resolve) => listener.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    if (this.connections.size >= this.connectionsMax) {
      this.logger.warn({ connectionsMax: this.connectionsMax }, 'zk: too many connections; refusing one');
      socket.destroy();
      return;
    }
    this.connections.add(new ZkConnection(socket, this.host));
  }

  /** Watch events go out as each change applies, before any later answer on the same connection. */
  private onApplied(applied: ZkApplied): void {
    if (applied.changes.length > 0) {
      for (const [connection, events] of this.watches.fire(applied.changes, (c, acl) => c.mayRead(acl))) connection.deliver(events, applied.zxid);
    }
    for (const id of applied.endedSessions) {
      const connection = this.bySession.get(id);
      if (connection !== undefined && !connection.closingSession) connection.close('session expired');
    }
  }

  /** What `srst` and `crst` reset: this member's figures, and every connection's. */
  private readonly statsReset = {
    resetServer: () => {
      this.stats.received = 0;
      this.stats.sent = 0;
      this.latency.reset();
    },
    resetConnections: () => {
      for (const c of this.connections) c.stats.reset();
    },
  };

  /** When the leader expects to expire `session` if it stays silent, wall-clock ms; undefined off the leader. */
  private expiresAt(session: number, ttlMs: number): number | undefined {
    if (this.options.kv.node.status().role !== 'leader') return undefined;
    const clock = this.options.clock ?? systemClock;
    const now = clock.now();
    // A session whose countdown starts at the next check: a full timeout from now.
    const deadline = this.keeper?.expiresAtMs(session, ttlMs) ?? now + ttlMs;
    return clock.wallTime() + Math.max(0, deadline - now);
  }

  private statsNow(): ZkServerStats {
    const machine = this.options.extension.machine;
    const status = this.options.kv.node.status();
    const ephemerals = new Map<number, string[]>();
    let dataBytes = 0;
    for (const [path, node] of machine.tree.entries()) {
      dataBytes += path.length + node.data.byteLength;
      if (node.ephemeralOwner !== 0) ephemerals.set(node.ephemeralOwner, [...(ephemerals.get(node.ephemeralOwner) ?? []), path]);
    }
    const watchList = this.watches
      .list()
      .flatMap(({ kind, path, watcher }) => (watcher.session === undefined ? [] : [{ kind, path, session: watcher.session }]));
    return {
      mode: status.role === 'leader' ? 'leader' : status.role === 'observer' ? 'observer' : 'follower',
      serverId: status.id,
      zxid: machine.zxid,
      nodeCount: machine.tree.size,
      received: this.stats.received,
      sent: this.stats.sent,
      latency: this.latency,
      connections: [...this.connections],
      watchList,
      ephemerals: new Map([...ephemerals].sort(([a], [b]) => a - b)),
      dataBytes,
      sessions: [...machine.sessions.values()]
        .map((session) => ({ id: session.id, ttlMs: session.ttlMs, expiresAt: this.expiresAt(session.id, session.ttlMs) }))
        .sort((a, b) => a.id - b.id),
      address: this.address,
      sessionTimeoutMsMin: this.timeoutMin,
      sessionTimeoutMsMax: this.timeoutMax,
      connectionsMax: this.connectionsMax,
      dataDir: this.options.dataDir ?? '',
      environment: serverEnvironment,
    };
  }
}
