/** Test helpers: a cluster of KV servers on 127.0.0.1, each with its own data directory. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../../transport/tcp/helpers.js';
import { KvClient, type KvClientOptions } from '../../../src/kv/client/index.js';
import { KvServer, type KvServerAddress, type KvServerOptions } from '../../../src/kv/server/index.js';

/** How a {@link ServerCluster} starts. */
export interface ServerClusterOptions {
  /** More options of member `id`'s server (client limits, `tls`: then no secrets are given). */
  readonly server?: (id: string) => Partial<KvServerOptions>;
  /** The members started (default all); the others never answer, as if down. */
  readonly started?: readonly string[];
}

export class ServerCluster {
  readonly servers = new Map<string, KvServer>();
  readonly secret = randomBytes(32);
  readonly clientSecret = randomBytes(32);
  readonly clusterId = 'test-kv';
  private readonly clients: KvClient[] = [];

  private constructor(
    readonly dir: string,
    readonly members: Record<string, KvServerAddress>,
    private readonly options: ServerClusterOptions,
  ) {}

  static async start(ids: readonly string[] = ['a', 'b', 'c'], options: ServerClusterOptions = {}): Promise<ServerCluster> {
    const members: Record<string, KvServerAddress> = {};
    const ports = await freePorts(ids.length * 2);
    ids.forEach((id, i) => (members[id] = { peer: { host: '127.0.0.1', port: ports[2 * i]! }, client: { host: '127.0.0.1', port: ports[2 * i + 1]! } }));
    const cluster = new ServerCluster(await mkdtemp(join(tmpdir(), 'synod-kv-server-')), members, options);
    await Promise.all((options.started ?? ids).map((id) => cluster.startServer(id)));
    return cluster;
  }

  /** Member `id`'s client port. */
  port(id: string): number {
    return this.members[id]!.client.port;
  }

  server(id: string): KvServer {
    return this.servers.get(id)!;
  }

  /** Starts member `id`'s server, with `override` over the cluster's options for it. */
  async startServer(id: string, override: Partial<KvServerOptions> = {}): Promise<KvServer> {
    const extra = { ...this.options.server?.(id), ...override };
    const server = new KvServer({
      id,
      clusterId: this.clusterId,
      members: this.members,
      dataDir: join(this.dir, id),
      ...(extra.tls === undefined ? { secret: this.secret, clientSecret: this.clientSecret } : {}),
      node: { tickMs: 10, electionTicks: { min: 10, max: 20 }, sessionCheckMs: 20 },
      ...extra,
    });
    await server.start();
    this.servers.set(id, server);
    return server;
  }

  async stopServer(id: string): Promise<void> {
    await this.servers.get(id)?.close();
    this.servers.delete(id);
  }

  /** A client of the given servers (default all). */
  client(options: Partial<KvClientOptions> & { only?: readonly string[] } = {}): KvClient {
    const { only, ...rest } = options;
    const endpoints = (only ?? Object.keys(this.members)).map((id) => this.members[id]!.client);
    const client = new KvClient({ endpoints, clusterId: this.clusterId, secret: this.clientSecret, requestTimeoutMs: 8_000, ...rest });
    this.clients.push(client);
    return client;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
    await Promise.all([...this.servers.keys()].map((id) => this.stopServer(id)));
    await rm(this.dir, { recursive: true, force: true });
  }
}
