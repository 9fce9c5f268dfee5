/**
 * A sharded KV in one process per member: the keyspace cut into ranges, each range a
 * KV group of its own on a {@link GroupHost}, and a meta group keeping the range map.
 * Many leaders share the work a single group's leader would do alone.
 */
import { ConfigError, type NodeId } from '../../core/index.js';
import { CodecError } from '../../encoding/codec-error.js';
import { GroupHost, type GroupQuiescence } from '../../groups/index.js';
import { ClosedError, type Clock, type Logger, type Storage, type TimerHandle, type Transport, systemClock } from '../../runtime/index.js';
import { CompactedError, CrossShardError, KvRequestError, VersionConflictError, WrongRangeError } from '../errors.js';
import { type KvNode, type KvNodeOptions, createKvNode } from '../kv-node.js';
import type { KvStateMachineOptions } from '../kv-state-machine.js';
import type { DeleteOptions, DeleteResult, KeyRange, KeyValue, PutOptions, PutResult, RangeOptions, TxnOp, TxnRequest, TxnResult } from '../kv-types.js';
import type { ReadOptions, SessionOptions, WriteOptions } from '../kv-api.js';
import { kvLimits } from '../kv-limits.js';
import { type KeyBounds, keysWithin } from '../key-bounds.js';
import { checkKey, checkRangeRequest, checkWatchRequest, sessionCreateOf, txnCommand } from '../kv-requests.js';
import type { KvCommand, KvResult } from '../kv-command.js';
import { RangeMap, type ShardRange, creationOf, metaGroup } from './range-map.js';
import {
  type MetaState,
  type SplitOutcome,
  beginSplit,
  finishSplit,
  localMetaState,
  rangeOfSplit,
  rangeMapKey,
  readMetaState,
  releaseFrozenKeys,
  splitPoint,
} from './range-split.js';
import type { SplitIntent } from './split-intent.js';
import { ShardedWatch, type WatchPart } from './sharded-watch.js';
import { ShardedSession } from './sharded-session.js';
import { recordFirstStart } from './group-births.js';

/** The most slots a member may lag behind a range's leader for the leadership to be handed to it. */
const transferLagMax = 64;

/** Checks a group's leadership stays put after a transfer of it failed. */
const transferBackoffChecks = 10;

/** Checks a split stays under way before the meta group's leader finishes it itself. */
const stalledSplitChecks = 5;

/** Values past which a range splits by itself, unless `splitAtBytes` says otherwise. */
const defaultSplitAtBytes = 64 * 1024 * 1024;

/** Checks a range is left alone after its automatic split was refused. */
const autoSplitBackoffChecks = 60;

/** A range's node options: those of a KV node, less what the sharded KV gives each group. */
export type ShardNodeOptions = Omit<KvNodeOptions, 'id' | 'members' | 'transport' | 'storage' | 'kv' | 'clock' | 'logger'>;

/** Options of {@link createShardedKv}. */
export interface ShardedKvOptions {
  /** This member's node id, in every group. */
  readonly id: NodeId;
  /** The members: each runs a replica of every range and of the meta group. */
  readonly members: readonly NodeId[];
  /** The one transport all groups share (messages carry their group's id). */
  readonly transport: Transport;
  /**
   * Makes group `group`'s storage: the meta group is group 0, the ranges 1, 2, ... A
   * `SharedFileLog`'s `log.group(group)` keeps them all in one log with shared syncs.
   */
  readonly storage: (group: number) => Storage;
  /**
   * Frees group `group`'s storage, once this member stops hosting the group for good (a
   * split abandoned) and its storage is closed: with a `SharedFileLog`,
   * `(group) => log.dropGroup(group)`. Default: the storage is kept (a few records for
   * each split abandoned, and a range whose split is refused is tried again every 60
   * balance checks, each time with a new group).
   */
  readonly dropStorage?: (group: number) => void | Promise<void>;
  /**
   * Where the keyspace is cut when the cluster is created: valid keys in increasing
   * order, `n` of them making `n + 1` ranges (`['', k1)`, `[k1, k2)`, ..., `[kn, ∞)`),
   * served by groups 1 to `n + 1`. The meta group keeps the map from the first start on;
   * a member started later with other split keys is refused with `ConfigError`. Cut
   * where your keys spread (by prefix, for example): a transaction stays within one
   * range. Default none: one range.
   */
  readonly splitKeys?: readonly string[];
  /**
   * `spread` (default): each group's leadership is handed to member
   * `members[group % members.length]`, so the ranges' leaders, and their work, spread
   * over the members; checked every `balanceMs`. `elected`: whoever wins an election
   * leads.
   */
  readonly leaders?: 'spread' | 'elected';
  /** Between checks of where the leaders are, in ms. Default 1,000. */
  readonly balanceMs?: number;
  /** Each group's node options (timeouts, snapshots, limits). */
  readonly node?: ShardNodeOptions;
  /** Each range's state machine options (the same on every member). */
  readonly kv?: Omit<KvStateMachineOptions, 'bounds' | 'awaitsSeed'>;
  /** How idle groups sleep (see `GroupQuiescence`); default on. */
  readonly quiescence?: GroupQuiescence | false;
  /** Default the system clock. */
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** How long {@link ShardedKv.start} waits for the meta group to answer, in ms. Default 30,000. */
  readonly startTimeoutMs?: number;
  /**
   * A range whose values (every version kept) pass this many bytes is split in two by
   * itself, at the key that halves its live values ({@link ShardedKv.splitRange}); the
   * meta group's leader decides, one split at a time. A split the range refuses (a
   * session owns a key past the point) is tried again after 60 checks. Default 64 MiB;
   * `false`: never by itself.
   */
  readonly splitAtBytes?: number | false;
  /**
   * How long a request refused by a range that gave its keys away (`WrongRangeError`)
   * is tried again, in ms, while this member learns the map's next generation or a split
   * moves the keys. Default 10,000; 0 passes the error on at once.
   */
  readonly rerouteMs?: number;
}

/** What a {@link ShardedKv.range} read found. */
export interface ShardedRangeResult {
  /** The keys found, sorted by key: each range's part in key order. */
  readonly kvs: readonly KeyValue[];
  /** Whether more keys are in the range than `kvs` holds (`limit`, or a range's answer bound). */
  readonly more: boolean;
  /** How many keys the range holds, in all its parts. */
  readonly count: number;
  /**
   * The ranges read, in key order: each range's group and the revision its part was read
   * at. Each range counts its own revisions, so two ranges' revisions say nothing of
   * each other's order.
   */
  readonly parts: readonly { readonly group: number; readonly revision: number }[];
}

/** One range of a sharded KV as a member sees it (see {@link ShardedKv.rangeStatus}). */
export interface RangeStatus {
  /** The range's consensus group. */
  readonly group: number;
  /** Its first key; the first range starts at `''`. */
  readonly start: string;
  /** The first key past it; none for the last range. */
  readonly end?: string;
  /** Its leader, as this member's replica of the range knows it; none while it has none. */
  readonly leader?: string;
  /** The range's revision on this member (each range counts its own). */
  readonly revision: number;
  /** Keys it holds now. */
  readonly keys: number;
  /** Bytes of the values it keeps, past versions not yet compacted included (what `splitAtBytes` is compared with). */
  readonly valueBytes: number;
}

/** Options of {@link ShardedKv.watch}. */
export interface ShardedWatchOptions {
  /**
   * Where to start in each range, by group: the first revision of that range to report
   * (a watch's `resumeRevisions()`). A range not named starts after the revision this
   * member has applied in it (as `KvNode.watch` does), except, when some range is named,
   * a range a split made: it starts at its first own change, the revision after its
   * keys were copied, if the range it was cut from is named from past the split (as in
   * the `resumeRevisions()` of a watch that reached the split). So a watch resumed with
   * its `resumeRevisions()` misses nothing and repeats nothing in the ranges splits
   * made since it stopped.
   *
   * @throws `CompactedError` from `watch()` for a range a split made whose earlier
   *   changes, from where the resume starts, are gone (the range it was cut from is
   *   named from before the split, or was itself made by a split since).
   */
  readonly fromRevisions?: Readonly<Record<number, number>>;
}

/**
 * One member of a sharded KV: routes every request by key to the range serving it, on
 * this member (a write reaches the range's leader through its group, as a `KvNode`'s
 * does). Each range is a complete replicated KV group, as safe as a single one: its
 * writes, reads and transactions are linearizable within it, and every replica of a
 * range refuses a key outside it (`WrongRangeError`), so nothing lands in the wrong
 * group. A read across ranges reads each range's part linearizably, but the parts are
 * not one snapshot; a transaction must stay within one range (`CrossShardError`).
 *
 * The map is made when the cluster is created, and changes by {@link splitRange}: a
 * request a range refuses because its keys moved is routed again by the new map. A
 * watch spans ranges, each event naming its range (a split of a range it spans ends
 * it with `WrongRangeError`); a session spans ranges too, open in each range it has
 * keys in.
 *
 * @example
 * ```ts
 * const kv = createShardedKv({ id: 'a', members: ['a', 'b', 'c'], transport, storage: (g) => log.group(g), splitKeys: ['m'] });
 * await kv.start();
 * await kv.put('apple', 'red'); // range ['', 'm'), group 1
 * await kv.put('pear', 'green'); // range ['m', ∞), group 2
 * const { kvs } = await kv.range({ prefix: '' }); // both, in key order
 * ```
 */
export class ShardedKv {
  /** The host running this member's groups. */
  readonly host: GroupHost;
  private readonly options: ShardedKvOptions;
  private readonly clock: Clock;
  private readonly shards = new Map<number, KvNode>();
  private meta: KvNode | undefined;
  private map: RangeMap | undefined;
  private balanceTimer: TimerHandle | undefined;
  private readonly transferring = new Set<number>();
  /** When a group's last transfer failed, on the clock. */
  private readonly transferFailedAt = new Map<number, number>();
  private readonly sessions = new Map<number, ShardedSession>();
  private nextSessionId = 1;
  /** Each range group's start here, by group: a group is built and started once. */
  private readonly starting = new Map<number, Promise<KvNode>>();
  /** The split this member runs, if any. */
  private splitting: Promise<SplitOutcome> | undefined;
  /** The split under way as this member's meta replica last showed it. */
  private seenIntent: SplitIntent | undefined;
  /** The meta replica's revision this member last looked at. */
  private metaRevisionSeen = -1;
  /** The split under way at the last balance check, and for how many checks in a row. */
  private intentChecked: SplitIntent | undefined;
  private intentChecks = 0;
  /** Ranges whose automatic split was refused lately, and for how many more checks to leave them. */
  private readonly autoSplitRefused = new Map<number, number>();
  private autoSplitting = false;
  private state: 'new' | 'starting' | 'running' | 'closed' = 'new';

  /** Use {@link createShardedKv}. @internal */
  constructor(options: ShardedKvOptions) {
    if (!Array.isArray(options.members) || !options.members.includes(options.id))
      throw new ConfigError('createShardedKv', 'members', `must list this member, ${String(options.id)}`);
    const balanceMs = options.balanceMs ?? 1_000;
    if (!(Number.isSafeInteger(balanceMs) && balanceMs > 0))
      throw new ConfigError('createShardedKv', 'balanceMs', `must be a positive integer, not ${balanceMs}`);
    // Checked now, so a bad key fails at construction rather than at the first start.
    RangeMap.fromSplitKeys(options.splitKeys ?? []);
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.host = new GroupHost({
      id: options.id,
      transport: options.transport,
      storage: options.storage,
      ...(options.quiescence === undefined ? {} : { quiescence: options.quiescence }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
  }

  /**
   * Starts the meta group, reads the range map (writing it first if the cluster is new),
   * then starts every range's group. Resolves once this member serves every range.
   *
   * @throws `ConfigError` if the map the cluster keeps was made with other split keys.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new ClosedError(`start: the sharded KV is ${this.state === 'closed' ? 'closed' : 'started already'}`);
    this.state = 'starting';
    await this.host.start();
    const meta = this.buildGroup(metaGroup, undefined);
    this.meta = meta;
    await meta.start();
    const map = await this.loadMap(meta);
    this.map = map;
    await Promise.all(map.ranges.map((range) => this.startGroup(range)));
    if (this.state !== 'starting') throw new ClosedError('start: the sharded KV was closed while starting');
    this.state = 'running';
    // The meta replica tells this member of splits: a new group to host, a new map to route by.
    meta.node.on('apply', () => this.watchMeta());
    this.watchMeta();
    if ((this.options.leaders ?? 'spread') === 'spread') this.scheduleBalance();
    else this.scheduleSplitDuties();
  }

  /**
   * Splits the range holding `at` in two: the keys from `at` to the range's end move to
   * a new group (on every member), which serves them from then on. Writes to the keys
   * that move wait (retried, see `rerouteMs`) from the moment they are frozen in the old
   * range until the new one holds them; nothing acknowledged is lost, and each key's
   * history stays linearizable. Resolves with the map's next generation; a point where
   * a range starts already resolves with the map as it is. One split runs at a time in
   * the cluster: a split under way (begun by any member, which may have died since) is
   * finished first.
   *
   * @throws {@link KvRequestError} if `at` is not a valid key, or the range refused to
   *   give its keys away: a session owns a key past `at` (sessions do not move between
   *   ranges), or `at` falls among the keys of a sequential prefix in use. The split
   *   is then abandoned and nothing moved.
   *
   * @example
   * ```ts
   * const map = await kv.splitRange('orders/5');
   * map.rangeOf('orders/7').group; // the new group
   * ```
   */
  async splitRange(at: string): Promise<RangeMap> {
    this.running('splitRange');
    checkKey('splitRange', at);
    const meta = this.meta!;
    for (;;) {
      const state = await readMetaState(meta);
      if (state === undefined) throw new ClosedError('splitRange: the meta group holds no range map');
      this.adopt(state.map);
      if (state.intent !== undefined) {
        await this.runSplit({ ...state, intent: state.intent });
        continue;
      }
      if (state.map.rangeOf(at).start === at) return state.map;
      const intent = await beginSplit(meta, state, at);
      if (intent === undefined) continue;
      const outcome = await this.runSplit({ ...state, intent });
      if (outcome.result === 'abandoned') throw new KvRequestError('splitRange', `the split at ${JSON.stringify(at)} was abandoned: ${outcome.reason}`);
      return outcome.map;
    }
  }

  /** The range map this member routes by. */
  get rangeMap(): RangeMap {
    return this.running('rangeMap');
  }

  /** The KV node of group `group` on this member (the meta group is 0), for its status, sessions and watches. */
  shard(group: number): KvNode | undefined {
    return group === metaGroup ? this.meta : this.shards.get(group);
  }

  /** The value of `key` in its range, or undefined. */
  async get(key: string, options: ReadOptions = {}): Promise<KeyValue | undefined> {
    checkKey('get', key);
    return this.routed('get', (map) => this.node(map.rangeOf(key).group, 'get').get(key, options));
  }

  /**
   * Writes `key` in its range (see `KvNode.put`). A sequential put's prefix decides its
   * range. With `session` (a {@link ShardedSession}'s id), the key is ephemeral: the
   * session is opened in the key's range on first use.
   */
  async put(key: string, value: string | Uint8Array, options: PutOptions & WriteOptions = {}): Promise<PutResult> {
    checkKey('put', key);
    return this.routed('put', async (map) => {
      const group = map.rangeOf(key).group;
      if (options.session === undefined) return this.node(group, 'put').put(key, value, options);
      const session = await this.sessionOf('put', options.session).idIn(group);
      return this.node(group, 'put').put(key, value, { ...options, session });
    });
  }

  /**
   * Opens a session spanning the ranges (see {@link ShardedSession}): nothing is sent
   * until a put names it, which opens it in that put's range.
   *
   * @throws `KvRequestError` for a TTL or keepalive interval the store refuses.
   */
  async createSession(options: SessionOptions): Promise<ShardedSession> {
    this.running('createSession');
    sessionCreateOf(options);
    const id = this.nextSessionId++;
    const session = new ShardedSession(id, options.ttlMs, (group) => this.node(group, 'createSession').createSession(options));
    this.sessions.set(id, session);
    void session.ended.then(() => this.sessions.delete(id));
    return session;
  }

  /** Deletes `key` in its range (see `KvNode.delete`). */
  async delete(key: string, options: DeleteOptions & WriteOptions = {}): Promise<DeleteResult> {
    checkKey('delete', key);
    return this.routed('delete', (map) => this.node(map.rangeOf(key).group, 'delete').delete(key, options));
  }

  /**
   * A transaction within one range (see `KvNode.txn`): atomic, at one revision of that
   * range.
   *
   * @throws {@link CrossShardError} naming the ranges' groups if its compares and
   *   operations name keys of more than one range; nothing is sent.
   */
  async txn(request: TxnRequest, options: WriteOptions = {}): Promise<TxnResult> {
    this.running('txn');
    const command = txnCommand(request);
    if (command.type !== 'txn') throw new KvRequestError('txn', 'not a transaction');
    return this.routed('txn', (map) => this.txnIn(map, command, options));
  }

  private async txnIn(map: RangeMap, command: TxnCommand, options: WriteOptions): Promise<TxnResult> {
    const group = txnGroup(map, command);
    const inRange = async (op: TxnOp): Promise<TxnOp> =>
      op.op === 'put' && op.session !== undefined ? { ...op, session: await this.sessionOf('txn', op.session).idIn(group) } : op;
    const success = await Promise.all(command.success.map(inRange));
    const failure = await Promise.all(command.failure.map(inRange));
    return this.node(group, 'txn').txn({ compare: command.compare, success, failure }, options);
  }

  /**
   * Enters a command a KV server read from a client (see `KvNode.submitClientCommand`)
   * in the group it belongs to: a put, delete or transaction in its keys' range
   * (rerouted, as every request is, if a split moved them), a change of users and roles
   * in the meta group, which keeps them for every range. A `wrong-range` answer is never
   * returned: it is retried on the new map, or thrown as {@link WrongRangeError} after
   * `rerouteMs`.
   *
   * @throws {@link CrossShardError} for a transaction spanning ranges, and
   *   `KvRequestError` for what a sharded KV does not serve to clients yet: sessions
   *   (and ephemeral puts) and compaction. @internal
   */
  async submitClientCommand(command: KvCommand, options: WriteOptions): Promise<KvResult> {
    this.running('command');
    const inRange = async (group: number): Promise<KvResult> => {
      const result = await this.node(group, 'command').submitClientCommand(command, options);
      if (result.type === 'wrong-range') throw new WrongRangeError('command', result.key, result.start, result.end);
      return result;
    };
    switch (command.type) {
      case 'put':
        if (command.session !== undefined) throw notServed('an ephemeral put (a session)');
        return this.routed('command', (map) => inRange(map.rangeOf(command.key).group));
      case 'delete':
        return this.routed('command', (map) => inRange(map.rangeOf(command.key).group));
      case 'txn':
        if ([...command.success, ...command.failure].some((op) => op.op === 'put' && op.session !== undefined)) throw notServed('an ephemeral put (a session)');
        return this.routed('command', (map) => inRange(txnGroup(map, command)));
      case 'auth-user-put':
      case 'auth-user-delete':
      case 'auth-role-put':
      case 'auth-role-delete':
      case 'auth-list':
        return this.meta!.submitClientCommand(command, options);
      case 'compact':
        throw notServed('compaction (each range compacts its own history)');
      default:
        throw notServed(`a ${command.type} command (sessions)`);
    }
  }

  /**
   * Each range as this member sees it, in key order: its bounds, the leader its replica
   * here knows, its revision and size. For `synod status` and a server's `ranges` answer.
   */
  rangeStatus(): RangeStatus[] {
    return this.running('rangeStatus').ranges.map((range) => {
      const kv = this.shards.get(range.group);
      const size = kv?.machine.view.size;
      const leader = kv?.node.status().leader;
      return {
        group: range.group,
        start: range.start,
        ...(range.end === undefined ? {} : { end: range.end }),
        ...(leader === undefined ? {} : { leader }),
        revision: kv?.machine.revision ?? 0,
        keys: size?.keys ?? 0,
        valueBytes: size?.valueBytes ?? 0,
      };
    });
  }

  /**
   * The keys of a range, sorted by key, read from every range it spans (in parallel).
   * Each part is linearizable unless `consistency` is `serializable`; the parts are not
   * one snapshot. `options.revision` reads a range's history, so it is taken only by a
   * read within one range.
   */
  async range(range: KeyRange, options: RangeOptions & ReadOptions = {}): Promise<ShardedRangeResult> {
    checkRangeRequest(range, options);
    return this.routed('range', (map) => this.rangeIn(map, range, options));
  }

  private async rangeIn(map: RangeMap, range: KeyRange, options: RangeOptions & ReadOptions): Promise<ShardedRangeResult> {
    const spans = map.spans(range);
    if (spans.length > 1 && options.revision !== undefined)
      throw new KvRequestError('range', `a read at a revision reads one range; this one spans groups ${spans.map((s) => s.group).join(', ')}`);
    const limit = Math.min(options.limit ?? kvLimits.rangeKeysMax, kvLimits.rangeKeysMax);
    const results = await Promise.all(spans.map((span) => this.node(span.group, 'range').rangePart(range, span, { ...options, limit })));
    const kvs: KeyValue[] = [];
    let count = 0;
    let cut = false;
    for (const result of results) {
      count += result.count;
      // Once a part was cut short (by the limit or its answer bound), a later part's keys would leave a gap.
      if (cut) continue;
      for (const kv of result.kvs) {
        if (kvs.length === limit) break;
        kvs.push(kv);
      }
      cut = kvs.length === limit || result.kvs.length < result.count;
    }
    return { kvs, more: count > kvs.length, count, parts: results.map((r, i) => ({ group: spans[i]!.group, revision: r.revision })) };
  }

  /**
   * Watches a key, a prefix or a range across the ranges it spans: one watch per range,
   * merged (see {@link ShardedWatch}). Each event names its range's group; revisions
   * are per range. A split of a range watched is followed: the keys that moved are
   * watched in their new range once this member routes them there.
   *
   * @example
   * ```ts
   * const watch = kv.watch({ prefix: 'orders/' });
   * for await (const event of watch) console.log(event.group, event.revision, event.type, event.kv.key);
   * ```
   */
  watch(range: KeyRange, options: ShardedWatchOptions = {}): ShardedWatch {
    checkWatchRequest(range, {});
    const spans = this.running('watch').spans(range);
    const from = options.fromRevisions ?? {};
    for (const [group, revision] of Object.entries(from)) {
      if (!spans.some((s) => String(s.group) === group)) throw new KvRequestError('watch', `fromRevisions names group ${group}, not a range this watch spans`);
      checkWatchRequest(range, { fromRevision: revision });
    }
    const resuming = Object.keys(from).length > 0;
    const parts = [];
    try {
      for (const span of spans) {
        // A resume that does not name a range a split made since: from its first own change.
        const seedRevision = resuming && from[span.group] === undefined ? span.creation?.seedRevision : undefined;
        if (seedRevision !== undefined) checkSplitFollowed(span, spans, from, seedRevision);
        const fromRevision = from[span.group] ?? (seedRevision === undefined ? undefined : seedRevision + 1);
        parts.push({
          group: span.group,
          bounds: span,
          watch: this.node(span.group, 'watch').watchPart(range, span, fromRevision === undefined ? {} : { fromRevision }),
        });
      }
    } catch (error) {
      for (const part of parts) part.watch.close();
      throw error;
    }
    return new ShardedWatch(parts, {
      narrowed: (group, bounds, fromRevision) =>
        keysWithin(range, bounds) === undefined ? undefined : { group, bounds, watch: this.node(group, 'watch').watchPart(range, bounds, { fromRevision }) },
      moved: (moved, split, closed) => this.movedParts(range, moved, split, closed),
    });
  }

  /**
   * The part of a watch of `range` over the keys `moved` a split took from a range it
   * watched, once this member routes them elsewhere: the range the split made, from its
   * first own change (the revision after its keys were copied); the events before are
   * the old range's, handed out already. None if `range` holds none of those keys.
   *
   * @throws `split` if that range was split again meanwhile: the changes between its
   *   seeding and that split are in no store a watch can read from any more.
   */
  private async movedParts(range: KeyRange, moved: KeyBounds, split: WrongRangeError, closed: () => boolean): Promise<WatchPart[]> {
    if (keysWithin(range, moved) === undefined) return [];
    for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
      if (closed() || this.state !== 'running') return [];
      const made = this.map!.madeOf(moved);
      if (made === 'split-again') throw split;
      if (made !== 'unmoved') {
        const kv = await this.startGroup(made);
        if (closed()) return [];
        return [{ group: made.group, bounds: made, watch: kv.watchPart(range, made, { fromRevision: creationOf(made).seedRevision! + 1 }) }];
      }
      // The keys stay in the old range until the map switches; they take no writes meanwhile.
      await new Promise<void>((resolve) => this.clock.setTimer(resolve, wait));
    }
  }

  /**
   * Hands the leadership of every group this member leads to its preferred member, if
   * it is another one (see `leaders`), heard from within `balanceMs` and caught up
   * (at most 64 slots behind). Runs every `balanceMs` by itself under `spread`; call it
   * to balance now. Resolves when the transfers asked for end (each may fail: the
   * member went down meanwhile; the group then stays put for 10 checks).
   */
  async balanceLeaders(): Promise<void> {
    if (this.state !== 'running') return;
    const members = this.options.members;
    const balanceMs = this.options.balanceMs ?? 1_000;
    const transfers: Promise<void>[] = [];
    for (const [group, kv] of [[metaGroup, this.meta] as const, ...this.shards]) {
      if (kv === undefined || this.transferring.has(group)) continue;
      const preferred = members[group % members.length]!;
      if (preferred === this.options.id || kv.node.status().role !== 'leader') continue;
      // A leader hands over only to a member it hears from and that is caught up: a
      // transfer stops the group's writes until it ends, and one to a member down would
      // stop them again at every check.
      const target = kv.node.metrics().members.find((m) => m.id === preferred);
      if (target?.silentMs === undefined || target.silentMs > balanceMs || target.lag > transferLagMax) continue;
      // After a transfer that failed, the group is left where it is for a while.
      const failed = this.transferFailedAt.get(group);
      if (failed !== undefined && this.clock.now() - failed < transferBackoffChecks * balanceMs) continue;
      this.transferring.add(group);
      transfers.push(
        kv.node
          .transferLeadership(preferred)
          .then(
            () => {
              this.transferFailedAt.delete(group);
            },
            (error: unknown) => {
              this.transferFailedAt.set(group, this.clock.now());
              this.options.logger?.debug({ group, to: preferred, error }, 'sharded KV: a leadership transfer failed');
            },
          )
          .finally(() => this.transferring.delete(group)),
      );
    }
    await Promise.all(transfers);
  }

  /** Closes every group and the host. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.balanceTimer !== undefined) this.clock.clearTimer(this.balanceTimer);
    this.balanceTimer = undefined;
    for (const session of [...this.sessions.values()]) session.detach();
    await Promise.all([...this.shards.values(), ...(this.meta === undefined ? [] : [this.meta])].map((kv) => kv.close()));
    await this.host.close();
  }

  /** Runs the split `state` records here, or joins the one this member runs already. */
  private runSplit(state: MetaState & { readonly intent: NonNullable<MetaState['intent']> }): Promise<SplitOutcome> {
    if (this.splitting !== undefined) return this.splitting;
    const member = {
      meta: this.meta!,
      members: this.options.members,
      node: (group: number) => this.node(group, 'splitRange'),
      host: (range: ShardRange) => this.startGroup(range),
      adopt: (map: RangeMap) => this.adopt(map),
    };
    const running = finishSplit(member, state).finally(() => {
      if (this.splitting === running) this.splitting = undefined;
    });
    this.splitting = running;
    return running;
  }

  /**
   * Builds and starts range `range`'s group here, once; resolves when it has started. A
   * split's group first puts this member's first start in it on record (see
   * group-births.ts); if that fails, a later call tries again.
   */
  private startGroup(range: ShardRange): Promise<KvNode> {
    const { group } = range;
    let starting = this.starting.get(group);
    if (starting === undefined) {
      const meta = this.meta!;
      const firstStart = creationOf(range).seeded ? recordFirstStart(meta, group, this.options.id) : Promise.resolve(false);
      const started = firstStart.then(
        (neverVoted) => {
          // Dropped meanwhile (its split abandoned), or closed: not built.
          if (this.starting.get(group) !== started || this.state === 'closed') throw new ClosedError(`range group ${group} is no longer hosted here`);
          const kv = this.buildGroup(group, range, neverVoted);
          return kv.start().then(() => kv);
        },
        (error: unknown) => {
          if (this.starting.get(group) === started) this.starting.delete(group);
          throw error;
        },
      );
      starting = started;
      this.starting.set(group, started);
    }
    return starting;
  }

  /** Routes by `map` from now on if it is newer than this member's, hosting the groups it names that do not run here yet. */
  private adopt(map: RangeMap): void {
    if (this.map === undefined || map.generation <= this.map.generation || this.state !== 'running') return;
    this.map = map;
    for (const range of map.ranges)
      void this.startGroup(range).catch((error: unknown) =>
        this.options.logger?.warn({ group: range.group, error }, 'sharded KV: a range group did not start'),
      );
  }

  /**
   * Looks at the meta replica once it changed: hosts the new group of a split under way
   * (so that its group has a majority as soon as the split begins), routes by a newer
   * map, and stops hosting the group of a split abandoned.
   */
  private watchMeta(): void {
    const meta = this.meta;
    if (meta === undefined || this.state !== 'running' || meta.machine.revision === this.metaRevisionSeen) return;
    this.metaRevisionSeen = meta.machine.revision;
    let state: MetaState | undefined;
    try {
      state = localMetaState(meta);
    } catch (error) {
      this.options.logger?.warn({ error }, 'sharded KV: the meta group holds a map or split this build cannot read');
      return;
    }
    if (state === undefined) return;
    this.adopt(state.map);
    const seen = this.seenIntent;
    const intent = state.intent?.intent;
    this.seenIntent = intent;
    if (intent !== undefined && !this.shards.has(intent.group) && state.map.rangeOfGroup(intent.from) !== undefined) {
      void this.startGroup(rangeOfSplit(state.map, intent)).catch((error: unknown) =>
        this.options.logger?.warn({ group: intent.group, error }, "sharded KV: a split's new group did not start"),
      );
    }
    // A split seen under way and now gone, its group in no range: abandoned.
    if (seen !== undefined && intent?.group !== seen.group && state.map.rangeOfGroup(seen.group) === undefined) this.dropGroup(seen.group);
  }

  /** Stops hosting an abandoned split's group, and frees its storage (`dropStorage`). */
  private dropGroup(group: number): void {
    // A start still putting its first start on record sees it is no longer wanted.
    this.starting.delete(group);
    if (!this.shards.has(group)) return;
    this.shards.delete(group);
    const { dropStorage } = this.options;
    void this.host
      .removeGroup(group)
      .then(() => dropStorage?.(group))
      .catch((error: unknown) => this.options.logger?.warn({ group, error }, "sharded KV: an abandoned group's replica or storage could not be removed"));
  }

  /**
   * What a member does for splits at every balance check: the meta group's leader
   * finishes a split whose member stopped (or abandons it), and each range's leader
   * releases keys it froze once the map no longer routes them to it.
   */
  private async splitDuties(): Promise<void> {
    const meta = this.meta;
    const map = this.map;
    if (meta === undefined || map === undefined || this.state !== 'running') return;
    const duties: Promise<unknown>[] = [];
    // A split is left to the member running it for a while: two copies at once are
    // safe, but each would pay for the whole copy.
    const intent = this.seenIntent;
    this.intentChecks = intent !== undefined && intent.group === this.intentChecked?.group ? this.intentChecks + 1 : 0;
    this.intentChecked = intent;
    if (intent !== undefined && this.intentChecks >= stalledSplitChecks && this.splitting === undefined && meta.node.status().role === 'leader') {
      duties.push(
        readMetaState(meta).then((state) => {
          if (state?.intent !== undefined && this.splitting === undefined) return this.runSplit({ ...state, intent: state.intent });
          return undefined;
        }),
      );
    }
    if (intent === undefined && this.splitting === undefined && !this.autoSplitting && meta.node.status().role === 'leader') {
      // Keys frozen with no split under way (a split abandoned while another member's
      // copy of it froze them after all) are split off as a new split would: the freeze
      // is repeated, and the rest follows. Otherwise, the largest range past splitAtBytes.
      const point = this.orphanFreeze(map) ?? this.autoSplitPoint(map);
      // Not waited for: a copy may take longer than a check.
      if (point !== undefined) {
        this.autoSplitting = true;
        void this.splitRange(point.at)
          .catch((error: unknown) => {
            this.autoSplitRefused.set(point.group, autoSplitBackoffChecks);
            this.options.logger?.info({ group: point.group, at: point.at, error }, 'sharded KV: a range was not split; tried again later');
          })
          .finally(() => {
            this.autoSplitting = false;
          });
      }
    }
    for (const range of map.ranges) {
      // A range whose start here failed (its first start could not be put on record) is tried again.
      if (!this.starting.has(range.group)) duties.push(this.startGroup(range));
      const kv = this.shards.get(range.group);
      const frozen = kv?.machine.frozen;
      if (kv === undefined || frozen === undefined || frozen.start !== range.end || kv.node.status().role !== 'leader') continue;
      duties.push(releaseFrozenKeys(kv, frozen.start));
    }
    await Promise.all(
      duties.map((duty) => duty.catch((error: unknown) => this.options.logger?.debug({ error }, 'sharded KV: a split duty failed; tried again later'))),
    );
  }

  /** A range holding keys frozen at a point where the map does not end it, and that point, if any. */
  private orphanFreeze(map: RangeMap): { readonly group: number; readonly at: string } | undefined {
    for (const range of map.ranges) {
      const frozen = this.shards.get(range.group)?.machine.frozen;
      if (frozen !== undefined && frozen.start !== range.end) return { group: range.group, at: frozen.start };
    }
    return undefined;
  }

  /** The largest range past `splitAtBytes` (not refused lately) and where to split it, if any. */
  private autoSplitPoint(map: RangeMap): { readonly group: number; readonly at: string } | undefined {
    const splitAtBytes = this.options.splitAtBytes ?? defaultSplitAtBytes;
    if (splitAtBytes === false) return undefined;
    for (const [group, checks] of this.autoSplitRefused) {
      if (checks <= 1) this.autoSplitRefused.delete(group);
      else this.autoSplitRefused.set(group, checks - 1);
    }
    let largest: { readonly range: ShardRange; readonly kv: KvNode; readonly bytes: number } | undefined;
    for (const range of map.ranges) {
      const kv = this.shards.get(range.group);
      const bytes = kv?.machine.view.size.valueBytes ?? 0;
      if (kv === undefined || bytes <= splitAtBytes || this.autoSplitRefused.has(range.group) || (largest !== undefined && bytes <= largest.bytes)) continue;
      largest = { range, kv, bytes };
    }
    if (largest === undefined) return undefined;
    const at = splitPoint(largest.kv.machine.view, largest.range);
    return at === undefined ? undefined : { group: largest.range.group, at };
  }

  /**
   * Runs `request` on the map as this member knows it; if a range refuses it for a key
   * it gave away (`WrongRangeError`: nothing was done), reads the map again and retries,
   * waiting while the keys are moving, for up to `rerouteMs`.
   */
  private async routed<T>(api: string, request: (map: RangeMap) => Promise<T>): Promise<T> {
    const deadline = this.clock.now() + (this.options.rerouteMs ?? 10_000);
    for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
      const map = this.running(api);
      try {
        return await request(map);
      } catch (error) {
        if (!(error instanceof WrongRangeError) || this.clock.now() >= deadline) throw error;
      }
      const state = await readMetaState(this.meta!).catch(() => undefined);
      if (state !== undefined) this.adopt(state.map);
      // The same map: the keys are frozen and being copied; the map switches once they are.
      if (this.map === map) await new Promise<void>((resolve) => this.clock.setTimer(resolve, wait));
    }
  }

  private running(api: string): RangeMap {
    if (this.state === 'closed') throw new ClosedError(`${api}: the sharded KV is closed`);
    if (this.state !== 'running' || this.map === undefined) throw new ClosedError(`${api}: the sharded KV has not started`);
    return this.map;
  }

  private sessionOf(api: string, id: number): ShardedSession {
    const session = this.sessions.get(id);
    if (session === undefined) throw new KvRequestError(api, `session ${id} is not a live session of this member's sharded KV (createSession)`);
    return session;
  }

  private node(group: number, api: string): KvNode {
    const kv = this.shards.get(group);
    if (kv === undefined) throw new ClosedError(`${api}: range group ${group} does not run here`);
    return kv;
  }

  /**
   * Builds group `group`'s KV node on the host: the meta group's, or a range's, with the
   * bounds its group was created with (a split narrows them later, through its log).
   */
  private buildGroup(group: number, range: ShardRange | undefined, neverVoted = false): KvNode {
    const { node, kv, members } = this.options;
    const bounds = range === undefined ? {} : creationOptions(range);
    const built = this.host.hostGroup(group, node ?? {}, (given) => {
      const created = createKvNode({
        ...node,
        ...given,
        ...(neverVoted ? { neverVoted } : {}),
        members: [...members],
        kv: { ...kv, ...bounds },
        ...(this.options.logger === undefined ? {} : { logger: this.options.logger }),
      });
      return { node: created.node, built: created };
    });
    if (range !== undefined) this.shards.set(group, built);
    return built;
  }

  /**
   * The cluster's range map: read from the meta group, or, if the cluster is new,
   * written there from `splitKeys` (a create: of two members creating it at once, one
   * wins and the other reads it). Retries while the meta group has no leader.
   */
  private async loadMap(meta: KvNode): Promise<RangeMap> {
    const wanted = RangeMap.fromSplitKeys(this.options.splitKeys ?? []);
    const deadline = this.clock.now() + (this.options.startTimeoutMs ?? 30_000);
    for (;;) {
      try {
        const found = await meta.get(rangeMapKey);
        if (found === undefined) {
          await meta.put(rangeMapKey, wanted.encode(), { expectedVersion: 0 }).catch((error: unknown) => {
            // Another member created it first: read it.
            if (!(error instanceof VersionConflictError)) throw error;
          });
          continue;
        }
        const map = RangeMap.decode(found.value);
        if (map.generation === 0 && !map.sameRanges(wanted))
          throw new ConfigError(
            'createShardedKv',
            'splitKeys',
            `the cluster was created with split keys ${JSON.stringify(map.ranges.slice(1).map((r) => r.start))}, not ${JSON.stringify(this.options.splitKeys ?? [])}`,
          );
        return map;
      } catch (error) {
        // A map in another format or of other split keys will not change by asking again.
        if (error instanceof ConfigError || error instanceof CodecError || this.state !== 'starting' || this.clock.now() >= deadline) throw error;
        this.options.logger?.debug({ error }, 'sharded KV: the meta group did not answer; trying again');
        await new Promise<void>((resolve) => this.clock.setTimer(resolve, 50));
      }
    }
  }

  private scheduleBalance(): void {
    this.balanceTimer = this.clock.setTimer(() => {
      this.balanceTimer = undefined;
      void Promise.all([this.balanceLeaders(), this.splitDuties()]).finally(() => {
        if (this.state === 'running') this.scheduleBalance();
      });
    }, this.options.balanceMs ?? 1_000);
  }

  /** Under `elected`: the split duties alone, every `balanceMs`. */
  private scheduleSplitDuties(): void {
    this.balanceTimer = this.clock.setTimer(() => {
      this.balanceTimer = undefined;
      void this.splitDuties().finally(() => {
        if (this.state === 'running') this.scheduleSplitDuties();
      });
    }, this.options.balanceMs ?? 1_000);
  }
}

/** A range's state machine options as its group was created: its bounds then, and whether a split seeds it. */
/**
 * Checks that a resume from `from` can start `made`, a range a split made that `from`
 * does not name, at its first own change: the range the split cut it from (on its left:
 * a split gives away a range's tail) is named, from past the split. Otherwise the
 * changes to its keys before it was made, from where the resume starts, may be in no
 * history any more (released by the old range, or by a range split from it since).
 *
 * @throws {@link CompactedError} if it cannot.
 */
function checkSplitFollowed(made: ShardRange, spans: readonly ShardRange[], from: Readonly<Record<number, number>>, seedRevision: number): void {
  const left = spans.find((r) => r.end === made.start);
  const resumedAt = left === undefined ? undefined : from[left.group];
  if (resumedAt !== undefined && resumedAt > seedRevision) return;
  throw new CompactedError(
    resumedAt ?? 0,
    seedRevision,
    `watch: range group ${made.group}, made by a split at revision ${seedRevision} of the range before it, cannot be resumed here: the changes to its keys before then are gone with the range that held them (resume a watch that followed that split, or read the keys again and watch from after that read)`,
  );
}

function creationOptions(range: ShardRange): Pick<KvStateMachineOptions, 'bounds' | 'awaitsSeed'> {
  const { seeded, seedRevision: _, ...bounds } = creationOf(range);
  return seeded ? { bounds, awaitsSeed: true } : { bounds };
}

/** A transaction's command. */
type TxnCommand = Extract<KvCommand, { type: 'txn' }>;

/**
 * The group of the one range a transaction's keys are in (the first range's, if it
 * names none); {@link CrossShardError} naming the groups in key order if they span more.
 */
function txnGroup(map: RangeMap, command: TxnCommand): number {
  const groups: ShardRange[] = [];
  const add = (range: ShardRange): void => {
    if (!groups.includes(range)) groups.push(range);
  };
  for (const compare of command.compare) add(map.rangeOf(compare.key));
  for (const op of [...command.success, ...command.failure]) {
    if (op.op === 'range') for (const range of map.spans(op.range)) add(range);
    else add(map.rangeOf(op.key));
  }
  if (groups.length > 1) throw new CrossShardError(groups.sort((a, b) => (a.start < b.start ? -1 : 1)).map((r) => r.group));
  return (groups[0] ?? map.rangeOf('')).group;
}

/** What a sharded KV refuses its server's clients, for now. */
function notServed(what: string): KvRequestError {
  return new KvRequestError('command', `${what} is not served by a sharded cluster yet`);
}

/**
 * Creates one member of a sharded KV. Call `start()` next.
 *
 * @example
 * ```ts
 * const log = await SharedFileLog.open('data/a');
 * const kv = createShardedKv({
 *   id: 'a', members: ['a', 'b', 'c'], transport, splitKeys: ['g', 'p'],
 *   storage: (g) => log.group(g), dropStorage: (g) => log.dropGroup(g),
 * });
 * await kv.start();
 * ```
 */
export function createShardedKv(options: ShardedKvOptions): ShardedKv {
  return new ShardedKv(options);
}
