/**
 * The embedded KV: a synod node running the KV state machine, with a typed API for
 * reads, writes, transactions, sessions and watches, and the leader's duties for
 * sessions (renew on election, expire after a TTL of silence on its monotonic clock).
 */
import { ClosedError, type Clock, type NodeOptions, type SynodNode, type TimerHandle, createNode, systemClock } from '../runtime/index.js';
import { CodecError } from '../encoding/codec-error.js';
import { CompactedError, KvRequestError, WrongRangeError } from './errors.js';
import { type KeyBounds, boundsCover, firstKeyOf, sameBounds } from './key-bounds.js';
import type { AuthChangeResult, AuthListing, KvPermission, UserDefinition } from './kv-auth.js';
import {
  authListingOf,
  authResultOf,
  checkClientCommand,
  checkCompacted,
  checkKey,
  checkRangeRequest,
  checkSessionClosed,
  checkWatchRequest,
  putRoleCommand,
  putUserCommand,
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
} from './kv-requests.js';
import { kvCommandCodec, kvResultCodec } from './kv-codec.js';
import type { KvCommand, KvResult } from './kv-command.js';
import { kvLimits } from './kv-limits.js';
import { KvSession } from './kv-session.js';
import { SessionCountdown, expireSessionsPerCommandMax } from './session-countdown.js';
import { KvStateMachine, type KvStateMachineOptions } from './kv-state-machine.js';
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
  SessionInfo,
  SessionList,
  TxnRequest,
  TxnResult,
} from './kv-types.js';
import { KvWatch } from './kv-watch.js';
import type { KvApi, ReadOptions, SessionOptions, WatchOptions, WriteOptions } from './kv-api.js';

/**
 * The default `commandBytesMax` of a KV node: a put of a key and a value at their
 * limits, with room for the command's other fields and the runtime's envelope (36
 * bytes and two ids of at most 255 bytes). The runtime's own default (1 MiB) would
 * refuse a value of `kvLimits.valueBytesMax`.
 */
const kvCommandBytesMax = kvLimits.valueBytesMax + kvLimits.keyBytesMax + 1024;

/**
 * Options of {@link createKvNode}: those of `createNode`, less what the KV supplies.
 * `commandBytesMax` defaults to room for a put of a key and a value at their limits
 * (`kvLimits.valueBytesMax + kvLimits.keyBytesMax + 1024` bytes), capped at
 * `batchBytesMax` if that is given.
 */
export interface KvNodeOptions extends Omit<NodeOptions<KvCommand, KvResult>, 'stateMachine' | 'codec' | 'resultCodec'> {
  /** The state machine's replicated options; the same on every replica. */
  readonly kv?: KvStateMachineOptions;
  /**
   * How often the leader looks for sessions silent for their TTL, in ms (of its
   * monotonic clock). A session expires up to two checks after its TTL. Default 100 ms.
   */
  readonly sessionCheckMs?: number;
}

/**
 * A node of the replicated KV. Every method may be called on any node: writes go to
 * the leader (forwarded by the runtime), linearizable reads wait for the cluster's
 * read point, watches read this replica's copy of the history.
 *
 * Guarantees: a resolved write is chosen, durable on a quorum and applied; a write
 * retried with the same request identity applies once; a conflict, a missing session
 * or a malformed request rejects with a typed error and changes nothing.
 *
 * @example
 * ```ts
 * const kv = createKvNode({ id: 'a', members: ['a', 'b', 'c'], transport, storage });
 * await kv.start();
 * const { version } = await kv.put('config/mode', 'fast');
 * await kv.put('config/mode', 'safe', { expectedVersion: version }); // compare-and-set
 * const entry = await kv.get('config/mode');
 * console.log(new TextDecoder().decode(entry?.value), entry?.version); // safe 2
 * ```
 */
export class KvNode implements KvApi {
  /** The synod node underneath: status, metrics, events, leadership transfer. */
  readonly node: SynodNode<KvCommand, KvResult>;
  /** The state machine (this replica's copy of the store). */
  readonly machine: KvStateMachine;
  private readonly clock: Clock;
  private readonly sessionCheckMs: number;
  private readonly sessions = new Map<number, KvSession>();
  private readonly watches = new Set<KvWatch>();
  private sessionTimer: TimerHandle | undefined;
  /** On the leader: how long each session has been silent, by the monotonic clock. */
  private readonly countdown = new SessionCountdown();
  /** Whether this leadership's `session-renew` is applied, so expiry may run. */
  private renewed = false;
  private renewing = false;
  private expiring = false;
  private closed = false;

  /** Use {@link createKvNode}. @internal */
  constructor(options: KvNodeOptions) {
    const { kv, sessionCheckMs, ...nodeOptions } = options;
    this.machine = new KvStateMachine(kv);
    this.clock = options.clock ?? systemClock;
    this.sessionCheckMs = sessionCheckMs ?? 100;
    if (!(this.sessionCheckMs > 0)) throw new KvRequestError('createKvNode', `sessionCheckMs must be positive, not ${this.sessionCheckMs}`);
    const commandBytesMax = nodeOptions.commandBytesMax ?? Math.min(kvCommandBytesMax, nodeOptions.batchBytesMax ?? kvCommandBytesMax);
    this.node = createNode<KvCommand, KvResult>({
      ...nodeOptions,
      commandBytesMax,
      stateMachine: this.machine,
      codec: kvCommandCodec,
      resultCodec: kvResultCodec,
    });
    this.node.on('roleChange', ({ role }) => {
      this.renewed = false;
      this.countdown.clear();
      if (role === 'leader') this.renewSessions();
    });
  }

  /** Starts the node (replays its log) and the leader's session duties. */
  async start(): Promise<void> {
    await this.node.start();
    this.scheduleSessionCheck();
  }

  /** Stops keeping sessions alive (they expire after their TTL), ends watches, closes the node. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.sessionTimer !== undefined) this.clock.clearTimer(this.sessionTimer);
    for (const session of [...this.sessions.values()]) session.detach();
    for (const watch of [...this.watches]) watch.close();
    await this.node.close();
  }

  /** The value of `key`, or undefined if it is absent. */
  async get(key: string, options: ReadOptions = {}): Promise<KeyValue | undefined> {
    checkKey('get', key);
    const { kvs } = await this.range({ key }, options);
    return kvs[0];
  }

  /** The keys of a range, sorted by key, at the current revision or at `options.revision`. */
  async range(range: KeyRange, options: RangeOptions & ReadOptions = {}): Promise<RangeResult> {
    checkRangeRequest(range, options);
    return this.read(range, options, () => this.checkBounds('range', range));
  }

  /** Reads `range` at the read point `options` ask for, if `inBounds` (which throws otherwise) passes now and there. */
  private async read(range: KeyRange, options: RangeOptions & ReadOptions, inBounds: () => void): Promise<RangeResult> {
    inBounds();
    await this.readPoint(options);
    // Again at the read point: a split applied on the way to it may have taken the keys
    // away (and deleted them here), and their absence here says nothing of them.
    inBounds();
    const view = this.machine.view;
    const revision = options.revision ?? view.revision;
    if (revision > view.revision) throw new KvRequestError('range', `revision ${revision} is in the future (the store is at ${view.revision})`);
    if (revision < view.compactRevision) throw new CompactedError(revision, view.compactRevision);
    const limit = Math.min(options.limit ?? kvLimits.rangeKeysMax, kvLimits.rangeKeysMax);
    return { ...view.range(range, limit, revision, rangeAnswerBytesMax), revision };
  }

  /**
   * A sharded read's part: the keys of `range` this node's range holds, if its bounds
   * are `bounds` (the range map's, as the router knows it); else {@link WrongRangeError}.
   * @internal
   */
  async rangePart(range: KeyRange, bounds: KeyBounds, options: RangeOptions & ReadOptions = {}): Promise<RangeResult> {
    checkRangeRequest(range, options);
    // Every key this range's store holds lies in its bounds: the rest of `range` is another range's.
    return this.read(range, options, () => this.checkOwnBounds('range', range, bounds));
  }

  /** Writes `key`. With `expectedVersion`, a compare-and-set: rejects with {@link VersionConflictError} on a mismatch. */
  async put(key: string, value: string | Uint8Array, options: PutOptions & WriteOptions = {}): Promise<PutResult> {
    return putResultOf(await this.submit('put', putCommand(key, value, options), options), options);
  }

  /** Deletes `key`; `deleted` is false if it was absent. With `expectedVersion`, only at that version. */
  async delete(key: string, options: DeleteOptions & WriteOptions = {}): Promise<DeleteResult> {
    return deleteResultOf(await this.submit('delete', deleteCommand(key, options), options), options);
  }

  /**
   * A transaction: if every compare holds, the `success` operations run, else the
   * `failure` ones; atomically, at one revision (etcd's Txn, ZooKeeper's multi).
   *
   * @example
   * ```ts
   * const { succeeded } = await kv.txn({
   *   compare: [{ key: 'lock', target: 'version', op: '==', value: 0 }],
   *   success: [{ op: 'put', key: 'lock', value: new TextEncoder().encode('me') }],
   *   failure: [{ op: 'range', range: { key: 'lock' } }],
   * });
   * ```
   */
  async txn(request: TxnRequest, options: WriteOptions = {}): Promise<TxnResult> {
    return txnResultOf(await this.submit('txn', txnCommand(request), options));
  }

  /**
   * The live sessions, by id, with how many keys each owns: at most
   * `kvLimits.sessionsListedMax`; `count` says how many live in all. Linearizable
   * unless `consistency` is `serializable`.
   */
  async listSessions(options: ReadOptions = {}): Promise<SessionList> {
    await this.readPoint(options);
    const table = this.machine.sessionTable;
    const all = table.all();
    const sessions = all.slice(0, kvLimits.sessionsListedMax).map((s) => ({ ...table.info(s), keys: s.keys.size }));
    return { sessions, count: all.length, revision: this.machine.view.revision };
  }

  /**
   * Ends session `id` now, as its owner's close would: its ephemeral keys are deleted
   * and its keepalives fail from then on. `revoked` is false if it had ended already.
   * For an operator removing a stuck client's locks; an owner closes its own session.
   */
  async revokeSession(id: number, options: WriteOptions = {}): Promise<RevokeResult> {
    return revokeResultOf(await this.submit('revokeSession', revokeCommand(id), options));
  }

  /** Opens a session that this node keeps alive until it is closed (or the node closes). */
  async createSession(options: SessionOptions): Promise<KvSession> {
    const { command, keepAliveMs } = sessionCreateOf(options);
    const info = sessionOf('createSession', await this.submit('createSession', command, options));
    if (info === null) throw new KvRequestError('createSession', 'the session vanished as it was created');
    const session = new KvSession(
      {
        clock: this.clock,
        keepAlive: (id) => this.keepAlive(id, keepAliveMs),
        closeSession: async (id) => {
          this.sessions.delete(id);
          let closed: KvResult;
          try {
            closed = await this.submit('session.close', { type: 'session-close', session: id }, {});
          } catch (error) {
            // Not applied (yet): look out for its expiry again, so `ended` still resolves.
            if (!this.closed) this.sessions.set(id, session);
            throw error;
          }
          checkSessionClosed(closed);
        },
      },
      info,
      keepAliveMs,
    );
    this.sessions.set(session.id, session);
    void session.ended.then(() => this.sessions.delete(session.id));
    return session;
  }

  /**
   * Watches a key, a prefix or a range from a revision on. See {@link KvWatch}.
   *
   * @example
   * ```ts
   * for await (const event of kv.watch({ prefix: 'jobs/' }, { fromRevision: lastSeen + 1 })) {
   *   lastSeen = event.revision;
   * }
   * ```
   */
  watch(range: KeyRange, options: WatchOptions = {}): KvWatch {
    if (this.closed) throw new ClosedError('watch: the KV node is closed');
    checkWatchRequest(range, options);
    this.checkBounds('watch', range);
    return this.openWatch(range, options);
  }

  /**
   * A sharded watch's part: the changes to `range` in this node's range, if its bounds
   * are `bounds` (see {@link rangePart}). It ends with `WrongRangeError` once a split
   * narrows them, after the last change made within them. @internal
   */
  watchPart(range: KeyRange, bounds: KeyBounds, options: WatchOptions = {}): KvWatch {
    if (this.closed) throw new ClosedError('watch: the KV node is closed');
    checkWatchRequest(range, options);
    this.checkOwnBounds('watch', range, bounds);
    return this.openWatch(range, options, bounds);
  }

  private openWatch(range: KeyRange, options: WatchOptions, bounds?: KeyBounds): KvWatch {
    // By default from this replica's next revision: a write begun after watch() returned
    // applies here later, so it is never missed. (A read point could be passed by such a
    // write on its way to the leader.)
    const watch = new KvWatch(this.machine, range, options.fromRevision ?? this.machine.revision + 1, (w) => this.watches.delete(w), bounds);
    this.watches.add(watch);
    return watch;
  }

  /** Forgets history at or below `revision` on every replica; reads and watches need a later one after. */
  async compact(revision: number, options: WriteOptions = {}): Promise<void> {
    const result = await this.submit('compact', compactCommand(revision), options);
    checkCompacted(result);
  }

  /**
   * Adds or replaces user `name` in the replicated state: the KV servers of this
   * cluster enforce it (see `KvClient.putUser`). The embedded API itself checks no
   * permission.
   */
  async putUser(name: string, user: UserDefinition, options: WriteOptions = {}): Promise<AuthChangeResult> {
    return authResultOf('putUser', await this.submit('putUser', putUserCommand(name, user), options));
  }

  /** Removes user `name` from the replicated state. */
  async deleteUser(name: string, options: WriteOptions = {}): Promise<AuthChangeResult> {
    return authResultOf('deleteUser', await this.submit('deleteUser', { type: 'auth-user-delete', name }, options));
  }

  /** Adds or replaces role `name` in the replicated state, with exactly these permissions. */
  async putRole(name: string, permissions: readonly KvPermission[], options: WriteOptions = {}): Promise<AuthChangeResult> {
    return authResultOf('putRole', await this.submit('putRole', putRoleCommand(name, permissions), options));
  }

  /** The users (secrets left out) and roles of the replicated state, as of a linearizable point. */
  async listAuth(options: WriteOptions = {}): Promise<AuthListing> {
    return authListingOf(await this.submit('listAuth', { type: 'auth-list' }, options));
  }

  /** Removes role `name` from the replicated state, and from every user holding it. */
  async deleteRole(name: string, options: WriteOptions = {}): Promise<AuthChangeResult> {
    return authResultOf('deleteRole', await this.submit('deleteRole', { type: 'auth-role-delete', name }, options));
  }

  /** This replica's revision (no read point: possibly stale). */
  get revision(): number {
    return this.machine.revision;
  }

  /** Throws {@link WrongRangeError} for a read reaching past the keys this node's range serves. */
  private checkBounds(api: string, range: KeyRange): void {
    const bounds = this.machine.keyBounds;
    if (bounds !== undefined && !boundsCover(bounds, range)) throw new WrongRangeError(api, firstKeyOf(range), bounds.start, bounds.end);
  }

  /** Throws {@link WrongRangeError} unless this node's range has exactly `bounds`. */
  private checkOwnBounds(api: string, range: KeyRange, bounds: KeyBounds): void {
    const own = this.machine.keyBounds;
    if (!sameBounds(own, bounds)) throw new WrongRangeError(api, firstKeyOf(range), own?.start ?? '', own === undefined ? undefined : own.end);
  }

  private async readPoint(options: ReadOptions): Promise<void> {
    if ((options.consistency ?? 'linearizable') === 'serializable') {
      if (this.closed) throw new ClosedError('the KV node is closed');
      return;
    }
    await this.node.read({
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    });
  }

  /**
   * Enters a command a KV server read from a client, which checked it against the
   * client's permissions and quotas: as this node's own writes are entered (with the
   * client's request identity in `options.request`), never one of the leader's own
   * duties. A command read from a client's frame goes into the log as the bytes it came
   * in (see `readCommandWithBytes`). @internal
   */
  submitClientCommand(command: KvCommand, options: WriteOptions): Promise<KvResult> {
    checkClientCommand(command);
    return this.submit('command', command, options);
  }

  private submit(api: string, command: KvCommand, options: WriteOptions): Promise<KvResult> {
    return this.node.propose(command, options).catch((error: unknown) => {
      // The command codec refuses to encode what breaks a limit (a too large value in a
      // transaction, a key with a lone surrogate, ...): the command never entered the log.
      throw error instanceof CodecError ? new KvRequestError(api, error.message, { cause: error }) : error;
    });
  }

  private async keepAlive(id: number, timeoutMs: number): Promise<SessionInfo | null> {
    return sessionOf('session.keepAlive', await this.submit('session.keepAlive', { type: 'session-keepalive', session: id }, { timeoutMs }));
  }

  /**
   * A new leader first renews every session (their keepalives had no leader to reach),
   * and expires nothing before that is applied: every countdown then starts from its
   * takeover, and an expiry decided by an earlier leader that lands after it ends
   * nothing (each session was renewed since).
   */
  private renewSessions(): void {
    if (this.renewing) return;
    this.renewing = true;
    this.node.propose({ type: 'session-renew', decidedAtSlot: this.node.status().appliedIndex }).then(
      () => {
        this.renewing = false;
        if (this.node.status().role === 'leader') this.renewed = true;
      },
      () => {
        // Lost leadership (the next leader renews), or a timeout: the next check tries again.
        this.renewing = false;
      },
    );
  }

  private scheduleSessionCheck(): void {
    if (this.closed) return;
    this.sessionTimer = this.clock.setTimer(() => {
      this.sessionTimer = undefined;
      this.checkSessions();
      this.scheduleSessionCheck();
    }, this.sessionCheckMs);
  }

  /**
   * On the leader: enters a `session-expire` naming the sessions silent for their TTL,
   * by the countdowns on the monotonic clock (a wall clock decides nothing here). It
   * says which slot the leader had applied when it decided, so a keepalive applied
   * after that slot keeps its session.
   */
  private checkSessions(): void {
    for (const [id, session] of this.sessions) if (this.machine.sessionTable.get(id) === undefined && !session.isOver) session.expired();
    const status = this.node.status();
    if (status.role !== 'leader') return;
    if (!this.renewed) return this.renewSessions();
    // Every check, even with an expiry in flight: renewals restart their countdowns.
    const due = this.countdown.observe(this.machine.sessionTable.values(), this.clock.now(), expireSessionsPerCommandMax);
    if (due.length === 0 || this.expiring) return;
    this.expiring = true;
    this.node.propose({ type: 'session-expire', sessions: due, decidedAtSlot: status.appliedIndex }).then(
      () => (this.expiring = false),
      () => (this.expiring = false),
    );
  }
}

/**
 * The most bytes of keys and values one `range` read returns (at least one key): the
 * rest is left for the next read, as with `limit` (`more` is true, `count` counts all).
 * A local read's bound, not part of the replicated behaviour: a transaction's range
 * operations are not cut by it.
 */
const rangeAnswerBytesMax = 32 * 1024 * 1024;

/**
 * Creates a node of the replicated KV.
 *
 * @example
 * ```ts
 * const kv = createKvNode({ id: 'a', members: ['a', 'b', 'c'], transport: network.transport('a'), storage: new MemoryStorage() });
 * await kv.start();
 * ```
 */
export function createKvNode(options: KvNodeOptions): KvNode {
  return new KvNode(options);
}
