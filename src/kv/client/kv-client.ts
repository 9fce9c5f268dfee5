/**
 * A client of a KV cluster over the network. Node-only (node:net, node:tls).
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { secretBytes } from '../../connection/secret.js';
import { type Configuration, ConfigError, type MembershipChange } from '../../core/index.js';
import { AbortedError, ClosedError, NotLeaderError, type Snapshot, TimeoutError, systemClock } from '../../runtime/index.js';
import { CodecError } from '../../encoding/codec-error.js';
import { framePrefixBytes } from '../../encoding/frame-reader.js';
import type { TcpAddress, TcpTlsOptions } from '../../transport/tcp/index.js';
import { AuthenticationError, KvRequestError } from '../errors.js';
import type { KvApi, ReadOptions, SessionOptions, WatchOptions, WriteOptions } from '../kv-api.js';
import type { KvCommand, KvResult } from '../kv-command.js';
import type { AuthChangeResult, AuthListing, KvPermission, UserDefinition } from '../kv-auth.js';
import {
  authListingOf,
  authResultOf,
  checkCompacted,
  checkKey,
  checkRangeRequest,
  checkWatchRequest,
  putRoleCommand,
  putUserCommand,
  checkSessionClosed,
  deleteCommand,
  deleteResultOf,
  compactCommand,
  putCommand,
  putResultOf,
  revokeCommand,
  revokeResultOf,
  sessionCreateOf,
  sessionOf,
  txnCommand,
  txnResultOf,
} from '../kv-requests.js';
import { KvSession } from '../kv-session.js';
import type {
  DeleteOptions,
  DeleteResult,
  KeyRange,
  KeyValue,
  PutOptions,
  PutResult,
  RangeOptions,
  RangeResult,
  RevokeResult,
  SessionList,
  TxnRequest,
  TxnResult,
} from '../kv-types.js';
import { decodeServerFrame, frameClientRequest } from '../protocol/client-codec.js';
import { errorFromBody } from '../protocol/client-errors.js';
import type { ClientRequest, MemberAction, ServerFrame, ServerStatus } from '../protocol/client-frames.js';
import type { RangeStatus } from '../shard/sharded-kv.js';
import { kvClientDefaults, kvClientLimits } from './kv-client-limits.js';
import { ServerConnection, type ServerConnectionHost } from './server-connection.js';
import { RemoteWatch, type WatchLink } from './remote-watch.js';
import { RemoteRangesWatch, type RangesWatchLink } from './remote-ranges-watch.js';
import { LeaderRoutes } from './leader-routes.js';
import { SnapshotAssembly } from './snapshot-assembly.js';

/** Options of a {@link KvClient}. */
export interface KvClientOptions {
  /** The servers' client addresses; any of them serves every request. The client tries them in order, moving on when one fails (shuffle them to spread clients). */
  readonly endpoints: readonly TcpAddress[];
  /** The cluster's name; a server of another cluster is refused. */
  readonly clusterId: string;
  /** The clients' shared secret (the servers' `clientSecret`), or `user`'s own secret; unless `tls` is given. */
  readonly secret?: string | Uint8Array;
  /**
   * The user this client authenticates as (one of the servers' `auth.users`), proving
   * `secret`, that user's own. Default: none, `secret` is the shared client secret.
   * Under `tls` the certificate names the user; if given, it must be the same.
   */
  readonly user?: string;
  /** Mutual TLS: this client's certificate and key, and the CA that signed the servers'. */
  readonly tls?: TcpTlsOptions;
  /**
   * Under `tls`, the name every server's certificate must carry (a DNS name of its
   * subjectAltName). Default: the endpoint's host, so an endpoint given as an IP
   * address needs that IP in the certificate. Either way, a certificate the same CA
   * issued to a client does not pass for a server.
   */
  readonly serverName?: string;
  /**
   * Sends each key's reads and writes (`get`, `put`, `delete`, `txn`) to the member
   * leading its range, saving the hop from the member this client is connected to:
   * the client lists the ranges and their leaders (`ranges`) and the members'
   * addresses (`members`), again every 2 s while requests come and after a routed
   * request fails, and keeps one more connection per member it routes to (each with
   * its own client id and failover). The list is a hint: any member serves any key.
   * Range reads, sessions and watches stay on this client's connection. Needs read
   * permission on every key (to list the ranges); without it requests go the usual
   * way. Default false.
   */
  readonly routeToLeaders?: boolean;
  /** This client's id for exactly-once. Default: random. Two live clients must not share one. */
  readonly clientId?: string;
  /**
   * How long a request waits by default, across reconnects, in ms. Default 10,000
   * (`kvClientDefaults.requestTimeoutMs`). A
   * request that times out with nothing received since it was written closes the
   * connection (it is presumed dead) and the client dials the next endpoint.
   */
  readonly requestTimeoutMs?: number;
  /** How long one connection attempt (with its handshake) may take, in ms. Default 2,000 (`kvClientDefaults.connectTimeoutMs`). */
  readonly connectTimeoutMs?: number;
  /**
   * The largest request sent, in bytes: a larger one is refused here with
   * `KvRequestError` rather than by the server. Match the servers' `frameBytesMax`.
   * Default 16 MiB (`kvClientDefaults.requestBytesMax`).
   */
  readonly requestBytesMax?: number;
}

interface Pending {
  readonly id: number;
  /** The request's kind, for errors. */
  readonly kind: ClientRequest['kind'];
  /** The request's frame, so it can be sent again on the next connection. */
  readonly frame: Uint8Array;
  readonly resolve: (frame: ServerFrame) => void;
  readonly reject: (error: Error) => void;
  /** When it gives up, on the monotonic clock (`performance.now()`), which a wall clock step does not move. */
  readonly deadline: number;
  readonly timer: ReturnType<typeof setTimeout>;
  /** The write's sequence number, for `ackedBelow`. */
  readonly seq: number | undefined;
  /** The connection the request was last written on, and `chunksReceived` then. */
  written: { readonly socket: Socket; readonly chunksReceived: number } | undefined;
}

const { retryDelayMs } = kvClientLimits;

/** Server errors after which a request is sent again (its identity keeps a write exactly-once). */
const retryCodes = new Set(['CLOSED', 'NOT_LEADER', 'OVERLOADED', 'TIMEOUT', 'NOT_STARTED']);

/**
 * A handle on a KV cluster through its servers. It connects to one endpoint at a
 * time, authenticates both ways, and moves to another when the connection fails,
 * sending again whatever was in flight: writes keep their request identity, so a
 * retried write applies once; watches resume from the revision they reached.
 *
 * @example
 * ```ts
 * const kv = new KvClient({ endpoints: [{ host: '127.0.0.1', port: 7100 }], clusterId: 'demo', secret: clientSecret });
 * await kv.connect();
 * const { version } = await kv.put('greeting', 'hello');
 * await kv.put('greeting', 'hello again', { expectedVersion: version });
 * for await (const event of kv.watch({ prefix: 'jobs/' })) console.log(event.kv.key);
 * await kv.close();
 * ```
 */
export class KvClient implements KvApi {
  readonly clientId: string;
  private readonly secret: Uint8Array | undefined;
  private readonly requestTimeoutMs: number;
  private socket: Socket | undefined;
  private open = false;
  private closed = false;
  private endpoint: number;
  private attempts = 0;
  private nextId = 1;
  /** From the wall clock, so a client restarted with a fixed `clientId` never reuses a sequence number. */
  private seq = Date.now() * 1024;
  /** Writes in flight by sequence number, oldest first; `ackedBelow` is the oldest. */
  private readonly writesInFlight: number[] = [];
  private readonly finishedSeqs = new Set<number>();
  private readonly pending = new Map<number, Pending>();
  /** Where each key's range is led, under `routeToLeaders`. */
  private readonly routes: LeaderRoutes<KvClient> | undefined;
  private readonly watches = new Map<number, RemoteWatch | RemoteRangesWatch>();
  private readonly liveWatches = new Set<RemoteWatch | RemoteRangesWatch>();
  private readonly sessions = new Set<KvSession>();
  /** Snapshots being received, by request id. */
  private readonly snapshotAssemblies = new Map<number, SnapshotAssembly>();
  private opened: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Why the last connection attempt failed, for the errors of requests that waited in vain. */
  private lastFailure: string | undefined;
  /** Chunks of bytes received on any connection: a request that timed out with this unchanged since it was written heard nothing. */
  private chunksReceived = 0;

  constructor(private readonly options: KvClientOptions) {
    if (options.endpoints.length === 0) throw new ConfigError('KvClient', 'endpoints', 'must name at least one server');
    if (options.tls === undefined) {
      if (options.secret === undefined) throw new ConfigError('KvClient', 'secret', 'is required unless tls is given');
      this.secret = secretBytes('secret', options.secret, 'KvClient');
    }
    this.clientId = options.clientId ?? `client-${randomBytes(8).toString('hex')}`;
    this.requestTimeoutMs = options.requestTimeoutMs ?? kvClientDefaults.requestTimeoutMs;
    this.endpoint = 0;
    if (options.routeToLeaders === true) {
      const { clientId: _, routeToLeaders: __, ...lane } = options;
      this.routes = new LeaderRoutes(
        this,
        // A lane tries its member first and fails over as this client does, under its own client id (its own writes' identities).
        (address) => new KvClient({ ...lane, endpoints: [address, ...options.endpoints.filter((e) => e.host !== address.host || e.port !== address.port)] }),
        kvClientLimits.routesRefreshMs,
      );
    }
  }

  /**
   * Connects; resolves once a server accepted this client (requests made before wait
   * for it too). Rejects with `AuthenticationError` if a server refuses it (or it
   * refuses the server) at the handshake.
   */
  connect(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('KvClient: closed'));
    this.opened ??= (() => {
      let resolve!: () => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<void>((yes, no) => ((resolve = yes), (reject = no)));
      // Requests call connect() without awaiting it: they learn of a refusal on their own.
      promise.catch(() => {});
      return { promise, resolve, reject };
    })();
    if (this.socket === undefined && this.reconnectTimer === undefined) this.dial();
    return this.opened.promise;
  }

  /** Closes the connection; pending requests reject with ClosedError, sessions stop their keepalives. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    for (const s of [...this.sessions]) s.detach();
    for (const w of [...this.liveWatches]) w.close();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new ClosedError('KvClient: closed'));
    }
    this.pending.clear();
    this.socket?.destroy();
    await this.routes?.close();
  }

  async get(key: string, options: ReadOptions = {}): Promise<KeyValue | undefined> {
    checkKey('get', key);
    return this.routed(
      key,
      async () => (await this.range({ key }, options)).kvs[0],
      (lane) => lane.get(key, options),
    );
  }

  async range(range: KeyRange, options: RangeOptions & ReadOptions = {}): Promise<RangeResult> {
    checkRangeRequest(range, options);
    // On the wire 0 asks for the current revision (as in etcd).
    if (options.revision === 0)
      throw new KvRequestError('range', 'revision 0 (the empty store before the first write) cannot be asked of a server, where 0 means the current revision');
    const frame = await this.call(
      (id) => ({ kind: 'range', id, range, limit: options.limit ?? 0, revision: options.revision ?? 0, linearizable: options.consistency !== 'serializable' }),
      options,
      undefined,
    );
    if (frame.kind !== 'range') throw new KvRequestError('range', `unexpected answer ${frame.kind}`);
    return frame.result;
  }

  async put(key: string, value: string | Uint8Array, options: PutOptions & WriteOptions = {}): Promise<PutResult> {
    const command = putCommand(key, value, options);
    return this.routed(
      key,
      async () => putResultOf(await this.command(command, options), options),
      (lane) => lane.put(key, value, options),
    );
  }

  async delete(key: string, options: DeleteOptions & WriteOptions = {}): Promise<DeleteResult> {
    const command = deleteCommand(key, options);
    return this.routed(
      key,
      async () => deleteResultOf(await this.command(command, options), options),
      (lane) => lane.delete(key, options),
    );
  }

  async txn(request: TxnRequest, options: WriteOptions = {}): Promise<TxnResult> {
    const command = txnCommand(request);
    // By the first key it names: one that spans ranges is refused wherever it goes.
    const first = request.compare[0]?.key ?? request.success.concat(request.failure ?? []).map((op) => (op.op === 'range' ? undefined : op.key))[0];
    return this.routed(
      first,
      async () => txnResultOf(await this.command(command, options)),
      (lane) => lane.txn(request, options),
    );
  }

  /**
   * Sends a request for `key` through the lane to its range's leader, if routing finds
   * one (see `routeToLeaders`); else its own way. The request is checked before either.
   */
  private routed<T>(key: string | undefined, own: () => Promise<T>, lane: (client: KvClient) => Promise<T>): Promise<T> {
    const via = key === undefined ? undefined : this.routes?.laneFor(key);
    if (via === undefined) return own();
    return lane(via).catch((error: unknown) => {
      // A lane that timed out or lost its server: its member may no longer lead.
      if (error instanceof TimeoutError || error instanceof ClosedError || error instanceof NotLeaderError) this.routes?.failed();
      throw error;
    });
  }

  async createSession(options: SessionOptions): Promise<KvSession> {
    const { command, keepAliveMs } = sessionCreateOf(options);
    const info = sessionOf('createSession', await this.command(command, options));
    if (info === null) throw new KvRequestError('createSession', 'the session vanished as it was created');
    const session = new KvSession(
      {
        clock: systemClock,
        keepAlive: async (id) => sessionOf('session.keepAlive', await this.command({ type: 'session-keepalive', session: id }, { timeoutMs: keepAliveMs })),
        closeSession: async (id) => {
          // A throw here means not applied (yet): `ended` waits for a retried close (the session expires after its TTL meanwhile).
          const result = await this.command({ type: 'session-close', session: id }, {});
          this.sessions.delete(session);
          checkSessionClosed(result);
        },
      },
      info,
      keepAliveMs,
    );
    this.sessions.add(session);
    void session.ended.then(() => this.sessions.delete(session));
    return session;
  }

  watch(range: KeyRange, options: WatchOptions = {}): RemoteWatch {
    if (this.closed) throw new ClosedError('KvClient: closed');
    checkWatchRequest(range, options);
    const watch = new RemoteWatch(range, options.fromRevision, this.watchLink);
    this.liveWatches.add(watch);
    return watch;
  }

  /**
   * Watches a range of keys across the ranges of a sharded cluster (see
   * `KvServerOptions.shards`): each event names its range's `group`, and its `revision`
   * is that range's. Each range named in `fromRevisions` starts there, the others after
   * the revision the server has applied in them. Like `watch`, it resumes across
   * reconnects and failovers with nothing missed or repeated, per range, and follows a
   * range's split. A cluster that is not sharded refuses it (`KvRequestError`): use
   * `watch`.
   *
   * @example
   * ```ts
   * const watch = client.watchRanges({ prefix: 'orders/' });
   * for await (const event of watch) console.log(event.group, event.revision, event.kv.key);
   * ```
   */
  watchRanges(range: KeyRange, options: { readonly fromRevisions?: Readonly<Record<number, number>> } = {}): RemoteRangesWatch {
    if (this.closed) throw new ClosedError('KvClient: closed');
    checkWatchRequest(range, {});
    for (const [group, revision] of Object.entries(options.fromRevisions ?? {})) {
      if (!/^\d+$/.test(group) || !(Number.isSafeInteger(revision) && revision > 0))
        throw new KvRequestError('watchRanges', `fromRevisions must map range groups to positive revisions, not ${group}: ${revision}`);
    }
    const watch = new RemoteRangesWatch(range, options.fromRevisions ?? {}, this.watchLink);
    this.liveWatches.add(watch);
    return watch;
  }

  async compact(revision: number, options: WriteOptions = {}): Promise<void> {
    const result = await this.command(compactCommand(revision), options);
    checkCompacted(result);
  }

  /**
   * The live sessions, by id, with how many keys each owns: at most
   * `kvLimits.sessionsListedMax`; `count` says how many live in all. Linearizable
   * unless `consistency` is `serializable`. A server of an older build refuses it.
   */
  async listSessions(options: ReadOptions = {}): Promise<SessionList> {
    const frame = await this.call((id) => ({ kind: 'sessions', id, linearizable: options.consistency !== 'serializable' }), options, undefined);
    if (frame.kind !== 'sessions') throw new KvRequestError('listSessions', `unexpected answer ${frame.kind}`);
    return frame.list;
  }

  /**
   * Ends session `id` now, as its owner's close would: its ephemeral keys are deleted
   * and its keepalives fail from then on. `revoked` is false if it had ended already.
   * For an operator removing a stuck client's locks; an owner closes its own session.
   */
  async revokeSession(id: number, options: WriteOptions = {}): Promise<RevokeResult> {
    return revokeResultOf(await this.command(revokeCommand(id), options));
  }

  /**
   * Adds or replaces user `name` in the replicated state (every server enforces it once
   * it applied the change). Needs the `root` role. A secret is kept in the log and the
   * snapshots as given.
   *
   * @example
   * ```ts
   * await admin.putRole('billing', [{ prefix: 'billing/', access: 'readwrite' }]);
   * await admin.putUser('billing-app', { secret: billingSecret, roles: ['billing'] });
   * ```
   */
  async putUser(name: string, user: UserDefinition, options: WriteOptions = {}): Promise<AuthChangeResult> {
    return authResultOf('putUser', await this.command(putUserCommand(name, user), options));
  }

  /** Removes user `name` from the replicated state: its connections are closed at their next request. Needs `root`. */
  async deleteUser(name: string, options: WriteOptions = {}): Promise<AuthChangeResult> {
    return authResultOf('deleteUser', await this.command({ type: 'auth-user-delete', name }, options));
  }

  /** Adds or replaces role `name` in the replicated state, with exactly these permissions. Needs `root`. */
  async putRole(name: string, permissions: readonly KvPermission[], options: WriteOptions = {}): Promise<AuthChangeResult> {
    return authResultOf('putRole', await this.command(putRoleCommand(name, permissions), options));
  }

  /** The users (secrets left out) and roles of the replicated state, as of a linearizable point. Needs `root`. */
  async listAuth(options: WriteOptions = {}): Promise<AuthListing> {
    return authListingOf(await this.command({ type: 'auth-list' }, options));
  }

  /** Removes role `name` from the replicated state, and from every user holding it. Needs `root`. */
  async deleteRole(name: string, options: WriteOptions = {}): Promise<AuthChangeResult> {
    return authResultOf('deleteRole', await this.command({ type: 'auth-role-delete', name }, options));
  }

  /** The status of the server this client is connected to. */
  async status(options: { timeoutMs?: number } = {}): Promise<ServerStatus> {
    const frame = await this.call((id) => ({ kind: 'status', id }), options, undefined);
    if (frame.kind !== 'status') throw new KvRequestError('status', `unexpected answer ${frame.kind}`);
    return frame.status;
  }

  /**
   * The ranges of the keyspace as the connected server sees them, in key order: each
   * range's group, bounds, leader, revision and size. A cluster that is not sharded has
   * one range (group 0, every key); a sharded one, one per range (see
   * `KvServerOptions.shards`). Needs read permission on every key (the bounds are keys).
   *
   * @example
   * ```ts
   * for (const r of await client.ranges()) console.log(r.group, r.start, r.end ?? '∞', r.leader, r.keys);
   * ```
   */
  async ranges(options: { timeoutMs?: number } = {}): Promise<RangeStatus[]> {
    const frame = await this.call((id) => ({ kind: 'ranges', id }), options, undefined);
    if (frame.kind !== 'ranges') throw new KvRequestError('ranges', `unexpected answer ${frame.kind}`);
    return [...frame.ranges];
  }

  /**
   * The latest configuration the connected server knows (who votes, who observes,
   * where each listens) and the first slot it governs.
   */
  async members(options: { timeoutMs?: number } = {}): Promise<{ configuration: Configuration; from: number }> {
    return this.member('list', '', '', options);
  }

  /**
   * Asks the connected server, which must lead (else `NotLeaderError` with the leader),
   * for a membership change; resolves with the configuration in effect after it. See
   * `SynodNode.changeMembers` for the rules; a refusal is a `MembershipError`.
   */
  async changeMembers(change: MembershipChange, options: { timeoutMs?: number } = {}): Promise<{ configuration: Configuration; from: number }> {
    if (change.type === 'replace') return this.member('replace', change.remove, change.add, options);
    return this.member(change.type, change.id, change.type === 'addObserver' ? (change.address ?? '') : '', options);
  }

  /** Asks the connected server, which must lead, to hand leadership to the voter `to`. */
  async transferLeadership(to: string, options: { timeoutMs?: number } = {}): Promise<void> {
    await this.member('transfer', to, '', options);
  }

  private async member(
    action: MemberAction,
    target: string,
    argument: string,
    options: { timeoutMs?: number },
  ): Promise<{ configuration: Configuration; from: number }> {
    const frame = await this.call((id) => ({ kind: 'member', id, action, target, argument, timeoutMs: options.timeoutMs ?? 0 }), options, undefined);
    if (frame.kind !== 'members') throw new KvRequestError('member', `unexpected answer ${frame.kind}`);
    return { configuration: frame.configuration, from: frame.from };
  }

  /**
   * A consistent copy of the cluster's replicated state, for a backup (see
   * `SynodNode.exportSnapshot`): the connected server waits for a linearizable read
   * point, then sends its state at an applied slot at or past it, in pieces of at most
   * 1 MiB, checked here against the server's SHA-256. So it holds every write
   * acknowledged before the call. `data` is in the format of a stored snapshot (the
   * runtime's state, then the KV's). Servers send one snapshot at a time; another
   * waits. `timeoutMs` bounds the whole transfer (default `requestTimeoutMs`); a
   * connection lost on the way starts it over on the next.
   *
   * Rejects with `TimeoutError`, `ClosedError`, `AbortedError`, and `KvRequestError` if
   * the pieces do not add up to what the server said it sent.
   */
  async snapshot(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Snapshot> {
    const assembly = new SnapshotAssembly();
    let id: number | undefined;
    try {
      await this.call(
        (n) => {
          id = n;
          this.snapshotAssemblies.set(n, assembly);
          return { kind: 'snapshot', id: n, timeoutMs: options.timeoutMs ?? 0 };
        },
        options,
        undefined,
      );
    } finally {
      if (id !== undefined) this.snapshotAssemblies.delete(id);
    }
    const snapshot = assembly.complete;
    if (snapshot === undefined) throw new KvRequestError('snapshot', 'the answer ended before the snapshot did');
    return snapshot;
  }

  /** Sends a log command with this client's next request identity (or the caller's). */
  private async command(command: KvCommand, options: WriteOptions): Promise<KvResult> {
    const own = options.request === undefined;
    const seq = own ? ++this.seq : undefined;
    if (seq !== undefined) this.writesInFlight.push(seq);
    const frame = await this.call(
      (id) => ({
        kind: 'command',
        id,
        command,
        request: options.request === undefined ? { clientId: this.clientId, seq: seq!, ackedBelow: this.ackedBelow() } : { ackedBelow: 0, ...options.request },
        timeoutMs: 0,
      }),
      options,
      seq,
    );
    if (frame.kind !== 'result') throw new KvRequestError('command', `unexpected answer ${frame.kind}`);
    return frame.result;
  }

  private ackedBelow(): number {
    while (this.writesInFlight.length > 0 && this.finishedSeqs.has(this.writesInFlight[0]!)) this.finishedSeqs.delete(this.writesInFlight.shift()!);
    return this.writesInFlight[0] ?? this.seq + 1;
  }

  /**
   * Sends a request now or once connected, again after a reconnect, until answered,
   * timed out or aborted (a write may still apply after either).
   */
  private call(
    build: (id: number) => ClientRequest,
    wait: { readonly timeoutMs?: number | undefined; readonly signal?: AbortSignal | undefined },
    seq: number | undefined,
  ): Promise<ServerFrame> {
    const signal = wait.signal;
    if (this.closed) return Promise.reject(new ClosedError('KvClient: closed'));
    void this.connect();
    const id = this.nextId++;
    const request = build(id);
    let frame: Uint8Array;
    try {
      frame = frameClientRequest(request);
    } catch (error) {
      // The codec refuses what breaks a limit (a lone surrogate, too many txn ops): nothing was sent.
      if (seq !== undefined) this.finishedSeqs.add(seq);
      return Promise.reject(error instanceof CodecError ? new KvRequestError(request.kind, error.message, { cause: error }) : error);
    }
    const requestBytesMax = this.options.requestBytesMax ?? kvClientDefaults.requestBytesMax;
    const requestBytes = frame.byteLength - framePrefixBytes;
    if (requestBytes > requestBytesMax) {
      if (seq !== undefined) this.finishedSeqs.add(seq);
      return Promise.reject(new KvRequestError(request.kind, `the request is ${requestBytes} bytes, more than the ${requestBytesMax} a server takes`));
    }
    if (signal?.aborted === true) {
      if (seq !== undefined) this.finishedSeqs.add(seq);
      return Promise.reject(new AbortedError(`KvClient: ${request.kind}`, { cause: signal.reason }));
    }
    const waitMs = wait.timeoutMs ?? this.requestTimeoutMs;
    return new Promise<ServerFrame>((resolve, reject) => {
      const onAbort = () => this.pending.get(id)?.reject(new AbortedError(`KvClient: ${request.kind}`, { cause: signal?.reason }));
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => {
        this.pending.delete(id);
        signal?.removeEventListener('abort', onAbort);
        if (seq !== undefined) this.finishedSeqs.add(seq);
      };
      const timer = setTimeout(() => {
        const written = this.pending.get(id)?.written;
        done();
        // Nothing came back on this connection for a whole request timeout: the network
        // dropped it, or the server hangs, with the socket still open (TCP would retry
        // for many minutes). Give it up, so the client dials the next server.
        const socket = this.socket;
        if (this.open && socket !== undefined && written?.socket === socket && written.chunksReceived === this.chunksReceived) {
          this.lastFailure = `${socket.remoteAddress}:${socket.remotePort}: nothing received for ${waitMs} ms`;
          socket.destroy();
        }
        const why = this.open || this.lastFailure === undefined ? '' : ` (no server reachable; last failure: ${this.lastFailure})`;
        // Never written on any connection: it cannot take effect, and the error says so.
        reject(new TimeoutError(`KvClient: ${request.kind}${why}`, waitMs, { sent: written !== undefined }));
      }, waitMs);
      this.pending.set(id, {
        id,
        kind: request.kind,
        frame,
        seq,
        deadline: performance.now() + waitMs,
        timer,
        written: undefined,
        resolve: (frame) => {
          clearTimeout(timer);
          done();
          resolve(frame);
        },
        reject: (error) => {
          clearTimeout(timer);
          done();
          reject(error);
        },
      });
      if (this.open) this.write(this.pending.get(id)!);
    });
  }

  private readonly watchLink: WatchLink & RangesWatchLink = {
    subscribe: (watch, fromRevision) => {
      const id = this.nextId++;
      this.watches.set(id, watch);
      if (this.open) this.send({ kind: 'watch', id, range: watch.range, fromRevision });
      else void this.connect();
      return id;
    },
    subscribeRanges: (watch, from) => {
      const id = this.nextId++;
      this.watches.set(id, watch);
      if (this.open) this.send({ kind: 'watchRanges', id, range: watch.range, from });
      else void this.connect();
      return id;
    },
    unsubscribe: (id) => {
      this.watches.delete(id);
      if (this.open) this.send({ kind: 'unwatch', id });
    },
    closed: (watch) => {
      this.liveWatches.delete(watch);
    },
  };

  /** Writes a pending request on the open connection, noting where and when. */
  private write(p: Pending): void {
    const socket = this.socket;
    if (socket === undefined) return;
    socket.write(p.frame);
    p.written = { socket, chunksReceived: this.chunksReceived };
  }

  private send(request: ClientRequest): void {
    this.socket?.write(frameClientRequest(request));
  }

  private dial(): void {
    if (this.closed) return;
    const o = this.options;
    const address = o.endpoints[this.endpoint % o.endpoints.length]!;
    const settings = {
      clusterId: o.clusterId,
      clientId: this.clientId,
      user: o.user,
      secret: this.secret,
      tls: o.tls,
      serverName: o.serverName,
      connectTimeoutMs: o.connectTimeoutMs ?? kvClientDefaults.connectTimeoutMs,
    };
    this.socket = new ServerConnection(address, settings, this.connectionHost).socket;
  }

  private readonly connectionHost: ServerConnectionHost = {
    received: () => this.chunksReceived++,
    opened: () => this.onOpen(),
    frame: (bytes) => this.onFrame(bytes),
    failed: (why) => (this.lastFailure = why),
    refused: (why) => this.refused(why),
    closed: (connection) => {
      if (this.socket === connection.socket) this.onClose();
    },
  };

  /**
   * A handshake failed for a reason that asking again cannot cure (the secret, the
   * cluster): every request waiting fails now with AuthenticationError, and so do the
   * watches, instead of retrying until their timeout.
   */
  private refused(why: string): void {
    for (const p of [...this.pending.values()]) p.reject(new AuthenticationError(`KvClient: ${p.kind}`, why, { sent: p.written !== undefined }));
    for (const w of [...this.liveWatches]) {
      if (w.subscriptionId !== undefined) w.failed(w.subscriptionId, new AuthenticationError('KvClient: watch', why, { sent: false }));
    }
    const opened = this.opened;
    this.opened = undefined;
    opened?.reject(new AuthenticationError('KvClient: connect', why, { sent: false }));
  }

  private onOpen(): void {
    this.open = true;
    this.lastFailure = undefined;
    this.attempts = 0;
    for (const p of this.pending.values()) this.write(p);
    this.watches.clear();
    for (const watch of this.liveWatches) watch.reconnected();
    this.opened?.resolve();
  }

  private onClose(): void {
    this.open = false;
    this.socket = undefined;
    for (const id of this.watches.keys()) this.watches.delete(id);
    if (this.closed) return;
    this.endpoint++;
    this.attempts++;
    const { redialDelayMsBase, redialDelayMsMax, redialDoublingsMax } = kvClientLimits;
    const delay = Math.min(redialDelayMsMax, redialDelayMsBase * 2 ** Math.min(this.attempts, redialDoublingsMax)) * (0.5 + Math.random() / 2);
    this.reconnectTimer = setTimeout(
      () => {
        this.reconnectTimer = undefined;
        this.dial();
      },
      this.attempts <= 1 ? 0 : delay,
    );
  }

  private onFrame(bytes: Uint8Array): void {
    let frame: ServerFrame;
    try {
      frame = decodeServerFrame(bytes);
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      // A server speaking garbage cannot be trusted with the rest of the stream.
      this.socket?.destroy();
      return;
    }
    const watch = this.watches.get(frame.id);
    if (watch !== undefined) {
      if (watch instanceof RemoteRangesWatch) {
        if (frame.kind === 'rangeWatching') watch.started(frame.id, frame.from);
        else if (frame.kind === 'rangeEvents') watch.events(frame.id, frame.group, frame.events, frame.through);
      } else if (frame.kind === 'watching') watch.started(frame.id, frame.fromRevision);
      else if (frame.kind === 'events') watch.events(frame.id, frame.events, frame.through);
      if (frame.kind === 'error') {
        this.watches.delete(frame.id);
        if (retryCodes.has(frame.error.code)) setTimeout(() => watch.reconnected(), retryDelayMs);
        else {
          watch.failed(frame.id, errorFromBody(frame.error));
          this.liveWatches.delete(watch);
        }
      }
      return;
    }
    const p = this.pending.get(frame.id);
    if (p === undefined) return;
    if (frame.kind === 'snapshotChunk') {
      const assembly = this.snapshotAssemblies.get(frame.id);
      if (assembly === undefined) return p.reject(new KvRequestError('snapshot', 'a snapshot piece answered another request'));
      try {
        if (assembly.add(frame) !== undefined) p.resolve(frame);
      } catch (error) {
        p.reject(error instanceof Error ? error : new Error(String(error)));
      }
      return;
    }
    if (frame.kind === 'error') {
      if (retryCodes.has(frame.error.code) && performance.now() < p.deadline - retryDelayMs) {
        // The server could not finish it (leaderless for a moment, closing): try again shortly.
        setTimeout(() => {
          if (this.pending.has(p.id) && this.open) this.write(p);
        }, retryDelayMs);
        return;
      }
      const error = errorFromBody(frame.error);
      p.reject(error);
      return;
    }
    p.resolve(frame);
  }
}
