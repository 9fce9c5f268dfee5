/**
 * The replicated KV as a deterministic state machine: versioned keys with etcd-style
 * revisions, transactions, sessions with ephemeral keys, sequential keys, and the
 * history that watches and revision reads need.
 */
import { assert, unreachable } from '../core/assert.js';
import type { ApplyMeta, SnapshotCapture, StateMachine } from '../runtime/index.js';
import { utf8Length } from './kv-codec.js';
import type { KvCommand, KvResult } from './kv-command.js';
import { kvLimits } from './kv-limits.js';
import { type FrozenRange, type KvSnapshotState, decodeKvSnapshot, decodeKvSnapshotInSteps, encodeKvSnapshot } from './kv-snapshot.js';
import type { Compare, KeyRange, KeyValue, TxnOp, TxnOpResult } from './kv-types.js';
import { type KeyRecord, MvccStore } from './mvcc-store.js';
import { SessionTable } from './session-table.js';
import { AuthTable } from './auth-table.js';
import { deniedCommand, type Grants, grantsOf, sessionsUsed } from './command-authorization.js';
import type { KvExtension } from './kv-extension.js';
import { keptValue } from './kept-value.js';
import { type KeyBounds, boundsHold, keyOutside } from './key-bounds.js';

/**
 * What separates a replicated user's name from its client's id in a request identity
 * (a KV server writes it; a client id holding it is refused there).
 */
export const replicatedUserSeparator = '\u0001';

/** Options of {@link KvStateMachine}; replicated behaviour, so the same on every replica. */
export interface KvStateMachineOptions {
  /**
   * Revisions of history kept for watches and revision reads; older history is
   * compacted as writes go on. Default 100,000 revisions.
   */
  readonly historyRevisionsMax?: number;
  /**
   * Local, not replicated: how a large snapshot's encoding lets other work run between
   * its steps (one every 8,192 history records). Default: a macrotask
   * (`setTimeout(0)`), so requests are served while a 10 MB store encodes. A
   * deterministic simulation of a large store passes `() => Promise.resolve()`.
   */
  readonly snapshotPause?: () => Promise<void>;
  /**
   * A second state machine carried in the same log (`extension` commands), whose state
   * rides in this machine's snapshots. Every replica must be given the same kind.
   * Default none: `extension` commands are refused as invalid.
   */
  readonly extension?: KvExtension;
  /**
   * The keys this machine serves, when it is one range of a sharded KV: a put, delete
   * or transaction that names any other key (a compare, an operation, a range read that
   * reaches outside) answers `wrong-range` and changes nothing, on every replica alike.
   * Default every key.
   */
  readonly bounds?: KeyBounds;
  /**
   * A range made by a split: it starts empty, awaiting the keys it takes over
   * (`range-seed` chunks), and refuses every other command touching keys, sessions or
   * compaction until the last chunk. Default false.
   */
  readonly awaitsSeed?: boolean;
}

/** Why `key` is not a valid key, or undefined. */
export function invalidKey(key: unknown): string | undefined {
  if (typeof key !== 'string' || key.length === 0) return 'a key must be a non-empty string';
  if (key.length > kvLimits.keyBytesMax) return `a key is at most ${kvLimits.keyBytesMax} UTF-8 bytes`;
  const bytes = utf8Length(key);
  if (bytes < 0) return `a key must be valid Unicode (a lone surrogate at index ${~bytes})`;
  if (bytes > kvLimits.keyBytesMax) return `a key is at most ${kvLimits.keyBytesMax} UTF-8 bytes`;
  return undefined;
}

function invalidValue(value: unknown): string | undefined {
  if (!(value instanceof Uint8Array)) return 'a value must be a Uint8Array';
  if (value.byteLength > kvLimits.valueBytesMax) return `a value is at most ${kvLimits.valueBytesMax} bytes, not ${value.byteLength}`;
  return undefined;
}

/** Why `range` is not a valid key range, or undefined. */
export function invalidRange(range: KeyRange): string | undefined {
  if ('key' in range) return invalidKey(range.key);
  if ('prefix' in range)
    return typeof range.prefix === 'string' && utf8Length(range.prefix) >= 0 && utf8Length(range.prefix) <= kvLimits.keyBytesMax
      ? undefined
      : 'a prefix must be a valid string of at most keyBytesMax bytes';
  if (typeof range.start !== 'string' || typeof range.end !== 'string') return 'a range needs string start and end';
  return undefined;
}

/** Why `ttlMs` is not a session TTL the store takes, or undefined. */
export function invalidSessionTtl(ttlMs: unknown): string | undefined {
  if (!isVersionNumber(ttlMs) || ttlMs < kvLimits.sessionTtlMsMin || ttlMs > kvLimits.sessionTtlMsMax)
    return `a session TTL is ${kvLimits.sessionTtlMsMin} to ${kvLimits.sessionTtlMsMax} ms, not ${String(ttlMs)}`;
  return undefined;
}

/** Why a put of `key` with `value` by `session` would be refused (`hasSession` says which sessions live), or undefined. */
function refusedPut(key: string, value: Uint8Array, session: number | undefined, hasSession: (id: number) => boolean): KvResult | undefined {
  const bad = invalidKey(key) ?? invalidValue(value);
  if (bad !== undefined) return { type: 'invalid', reason: bad };
  if (session !== undefined && !hasSession(session)) return { type: 'no-session', session };
  return undefined;
}

/**
 * Why a transaction would be refused before anything ran, or undefined: its counts,
 * keys, values and compared numbers, a key written twice in a branch, and (by
 * `hasSession`) a put by a session that does not live; in this order, the first found.
 * Applying refuses by it, and the embedded node and the client check a transaction by
 * it before sending it (every session taken to live).
 */
export function refusedTxn(
  c: Pick<Extract<KvCommand, { type: 'txn' }>, 'compare' | 'success' | 'failure'>,
  hasSession: (id: number) => boolean,
): KvResult | undefined {
  if (c.compare.length > kvLimits.txnOpsMax || c.success.length > kvLimits.txnOpsMax || c.failure.length > kvLimits.txnOpsMax) {
    return { type: 'invalid', reason: `a transaction has at most ${kvLimits.txnOpsMax} compares and ${kvLimits.txnOpsMax} operations per branch` };
  }
  for (const compare of c.compare) {
    const bad =
      invalidKey(compare.key) ??
      (compare.target === 'value'
        ? invalidValue(compare.value)
        : isVersionNumber(compare.value)
          ? undefined
          : 'a compared number must be a non-negative integer');
    if (bad !== undefined) return { type: 'invalid', reason: bad };
  }
  for (const branch of [c.success, c.failure]) {
    const written = new Set<string>();
    for (const op of branch) {
      if (op.op === 'range') {
        const bad = invalidRange(op.range);
        if (bad !== undefined) return { type: 'invalid', reason: bad };
        continue;
      }
      const refused =
        op.op === 'put'
          ? refusedPut(op.key, op.value, op.session, hasSession)
          : invalidKey(op.key) === undefined
            ? undefined
            : ({ type: 'invalid', reason: invalidKey(op.key)! } as const);
      if (refused !== undefined) return refused;
      if (written.has(op.key)) return { type: 'invalid', reason: `a transaction writes key ${op.key} twice` };
      written.add(op.key);
    }
  }
  return undefined;
}

function isVersionNumber(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** The sequential key under `prefix` for counter `n`: zero padded to `kvLimits.sequenceDigits` digits. */
export function sequentialKey(prefix: string, n: number): string {
  return prefix + String(n).padStart(kvLimits.sequenceDigits, '0');
}

/**
 * The KV state machine. Give it to `createNode` with `kvCommandCodec` and
 * `kvResultCodec`, or let {@link createKvNode} do it. Reads go through {@link read}
 * (after the runtime's read point for a linearizable one).
 *
 * @example
 * ```ts
 * const machine = new KvStateMachine();
 * const node = createNode({ ..., stateMachine: machine, codec: kvCommandCodec, resultCodec: kvResultCodec });
 * ```
 */
export class KvStateMachine implements StateMachine<KvCommand, KvResult> {
  private store = new MvccStore();
  private sessions = new SessionTable();
  private authTable = new AuthTable();
  /** Grants built from the users and roles, valid while they are unchanged (local: decides nothing by itself). */
  private grantsCache: { revision: number; table: AuthTable | undefined; byUser: Map<string, Grants> } = { revision: -1, table: undefined, byUser: new Map() };
  /** The next counter of each sequential prefix. */
  private sequences = new Map<string, number>();
  /** Log time of the last command applied. */
  private time = 0;
  private readonly historyRevisionsMax: number;
  private readonly snapshotPause: () => Promise<void>;
  private readonly extension: KvExtension | undefined;
  /** The bounds the machine was made with: its state's before any freeze (replayed from slot 0, or restored from an older snapshot). */
  private readonly creationBounds: KeyBounds | undefined;
  /** The keys this range serves now: replicated state, narrowed by `range-freeze`. */
  private bounds: KeyBounds | undefined;
  /** The keys a `range-freeze` gave up, awaiting its `range-release`. */
  private frozenRange: FrozenRange | undefined;
  private readonly releasedRanges: FrozenRange[] = [];
  /** While a new range awaits its keys: the last key seeded ('' before the first chunk). */
  private seedCursor: string | undefined;
  private readonly listeners = new Set<(revision: number) => void>();

  constructor(options: KvStateMachineOptions = {}) {
    this.historyRevisionsMax = options.historyRevisionsMax ?? 100_000;
    this.snapshotPause = options.snapshotPause ?? nextTurn;
    this.extension = options.extension;
    this.creationBounds = options.bounds;
    this.bounds = options.bounds;
    assert(options.awaitsSeed !== true || options.bounds !== undefined, 'KvStateMachine: only a range (with bounds) awaits a seed');
    this.seedCursor = options.awaitsSeed === true ? '' : undefined;
    assert(
      Number.isSafeInteger(this.historyRevisionsMax) && this.historyRevisionsMax >= 1,
      `KvStateMachine: historyRevisionsMax must be a positive integer, not ${this.historyRevisionsMax}`,
    );
  }

  /**
   * The keys this machine serves now (see {@link KvStateMachineOptions.bounds}), narrower
   * than it was made with after a `range-freeze`; undefined: every key.
   */
  get keyBounds(): KeyBounds | undefined {
    return this.bounds;
  }

  /** Whether this new range still awaits keys (see {@link KvStateMachineOptions.awaitsSeed}). @internal */
  get awaitingSeed(): boolean {
    return this.seedCursor !== undefined;
  }

  /**
   * Up to `keysMax` live frozen keys after `after` ('' for the first), in key order, as
   * their latest records, and whether they are the last (then with the sequence counters
   * of the frozen prefixes): a chunk of the copy a split makes. Local state (read after a
   * linearizable barrier on this range). @internal
   */
  frozenChunk(after: string, keysMax: number): { readonly records: KeyValue[]; readonly last: boolean; readonly sequences: [string, number][] } {
    const frozen = this.frozenRange;
    assert(frozen !== undefined, 'frozenChunk: no keys are frozen');
    const records: KeyValue[] = [];
    let last = true;
    this.store.keysFrom(after === '' ? frozen.start : `${after}\u0000`, frozen.end, (key) => {
      const record = this.store.latest(key);
      if (record === undefined) return true;
      if (records.length === keysMax) {
        last = false;
        return false;
      }
      records.push({ key, value: record.value!, version: record.version, createRevision: record.createRevision, modRevision: record.revision });
      return true;
    });
    return { records, last, sequences: last ? [...this.sequences].filter(([prefix]) => boundsHold(frozen, prefix)) : [] };
  }

  /**
   * The keys a `range-freeze` gave up and the revision then, until its `range-release`:
   * no write reaches them, and their records as of `revision` are what the new range
   * copies. @internal
   */
  get frozen(): FrozenRange | undefined {
    return this.frozenRange;
  }

  /**
   * The keys released since this replica started, in order, each with the revision it
   * was frozen at: their history is gone from this store, so a watch still short of that
   * revision can no longer see their changes. Local state. @internal
   */
  get releases(): readonly FrozenRange[] {
    return this.releasedRanges;
  }

  /** The store's revision: the last write's. */
  get revision(): number {
    return this.store.revision;
  }

  /** History at or below this revision is gone. */
  get compactRevision(): number {
    return this.store.compactRevision;
  }

  /**
   * How much this replica's copy holds: keys with any history kept, versions newer than
   * the compaction revision, the bytes of every value kept, and sessions open.
   */
  get size(): { readonly keys: number; readonly versions: number; readonly valueBytes: number; readonly sessions: number } {
    return { ...this.store.size, sessions: this.sessions.size };
  }

  /** Log time (ms since the epoch) of the last command applied. */
  get logTime(): number {
    return this.time;
  }

  /** The read view (local state: call after the runtime's read point for a linearizable read). @internal */
  get view(): MvccStore {
    return this.store;
  }

  /** The users and roles of the replicated state (local state: this replica's copy). @internal */
  get auth(): AuthTable {
    return this.authTable;
  }

  /** The session table (local state). @internal */
  get sessionTable(): SessionTable {
    return this.sessions;
  }

  /** Calls `listener` after every write with the new revision, and when the range's bounds narrow; returns the unsubscribe function. @internal */
  onRevision(listener: (revision: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Whether `command` only reads: a transaction whose branches hold `range` operations
   * alone (whichever runs, and whatever its compares find, it writes nothing), or a
   * listing of the users and roles. The
   * runtime keeps no exactly-once entry for it, so a read-only transaction with a large
   * answer holds no memory on the replicas; a retry runs it again.
   */
  readOnly(command: KvCommand): boolean {
    return command.type === 'auth-list' || (command.type === 'txn' && command.success.every(isRange) && command.failure.every(isRange));
  }

  apply(command: KvCommand, meta: ApplyMeta): KvResult {
    if (meta.timestamp > this.time) this.time = meta.timestamp;
    const before = this.store.revision;
    const boundsBefore = this.bounds;
    if (command.type === 'extension') {
      const refused = this.refuseByAuth(command, meta.clientId);
      if (refused !== undefined) return refused;
      if (this.extension === undefined) return { type: 'invalid', reason: 'this KV has no extension state machine' };
      return { type: 'extension', data: this.extension.apply(command.data, meta) };
    }
    const result =
      this.refuseByAuth(command, meta.clientId) ?? this.refuseWhileSeeding(command) ?? this.refuseByBounds(command) ?? this.execute(command, meta.slot);
    if (this.store.revision !== before) {
      if (this.store.revision - this.store.compactRevision > this.historyRevisionsMax) this.store.compact(this.store.revision - this.historyRevisionsMax);
      for (const listener of this.listeners) listener(this.store.revision);
    } else if (this.bounds !== boundsBefore) {
      // A freeze narrows the range without a write: a watch of the keys it gave up must hear of it.
      for (const listener of this.listeners) listener(this.store.revision);
    }
    return result;
  }

  /**
   * A replicated user's command (its request identity is the user's name, U+0001, its
   * client's id) refused if, as of now, the user is gone or its roles do not allow it:
   * its server checked it before proposing, but a role may have changed since, on the
   * way through the log. Every replica decides alike, from the replicated users and
   * roles. Other commands (the shared secret's, a configured user's, the leader's own)
   * were checked by their server alone.
   */
  private refuseByAuth(command: KvCommand, clientId: string): KvResult | undefined {
    const at = clientId.indexOf(replicatedUserSeparator);
    if (at <= 0) return undefined;
    const user = clientId.slice(0, at);
    const grants = this.grantsOfUser(user);
    if (grants === undefined) return { type: 'permission-denied', user, access: 'user', resource: `user ${user} no longer exists` };
    const denied = deniedCommand(grants, command);
    if (denied !== undefined) return { type: 'permission-denied', user, ...denied };
    if (grants.admin) return undefined;
    for (const id of sessionsUsed(command)) {
      const owner = this.sessions.get(id)?.owner;
      // A session gone answers no-session as it runs; one that exists must be the user's.
      if (this.sessions.get(id) !== undefined && owner !== user) return { type: 'permission-denied', user, access: 'session', resource: `session ${id}` };
    }
    return undefined;
  }

  /** While the range awaits its keys, only the seed and the leader's session duties (on no sessions) apply. */
  private refuseWhileSeeding(command: KvCommand): KvResult | undefined {
    if (this.seedCursor === undefined) return undefined;
    if (command.type === 'range-seed' || command.type === 'session-renew' || command.type === 'session-expire' || command.type === 'session-expire-by-log-time')
      return undefined;
    return { type: 'invalid', reason: `this range awaits the keys a split moves to it: ${command.type} must wait` };
  }

  /** A command naming a key outside this range's bounds, refused: nothing changes. */
  private refuseByBounds(command: KvCommand): KvResult | undefined {
    const bounds = this.bounds;
    if (bounds === undefined) return undefined;
    const key = keyOutside(bounds, command);
    return key === undefined ? undefined : this.wrongRange(bounds, key);
  }

  private wrongRange(bounds: KeyBounds, key: string): KvResult {
    return { type: 'wrong-range', key, start: bounds.start, ...(bounds.end === undefined ? {} : { end: bounds.end }) };
  }

  /** The grants of replicated user `name` now (cached while the users and roles do not change); undefined if it does not exist. */
  private grantsOfUser(name: string): Grants | undefined {
    if (this.grantsCache.revision !== this.authTable.revision || this.grantsCache.table !== this.authTable)
      this.grantsCache = { revision: this.authTable.revision, table: this.authTable, byUser: new Map() };
    let grants = this.grantsCache.byUser.get(name);
    if (grants === undefined) {
      const record = this.authTable.user(name);
      if (record === undefined) return undefined;
      const table = this.authTable;
      grants = grantsOf(name, record.roles, (role) => table.role(role)?.permissions);
      this.grantsCache.byUser.set(name, grants);
    }
    return grants;
  }

  /** Runs `c`, chosen in `slot`. */
  private execute(c: KvCommand, slot: number): KvResult {
    switch (c.type) {
      case 'put':
        return this.put(c);
      case 'delete':
        return this.delete(c);
      case 'txn':
        return this.txn(c);
      case 'session-create': {
        const badTtl = invalidSessionTtl(c.ttlMs);
        if (badTtl !== undefined) return { type: 'invalid', reason: badTtl };
        if (this.sessions.size >= kvLimits.sessionsMax) return { type: 'invalid', reason: `at most ${kvLimits.sessionsMax} sessions at once` };
        const owner = c.owner;
        if (owner !== undefined) {
          if (!isVersionNumber(owner.sessionsMax) || owner.sessionsMax === 0)
            return { type: 'invalid', reason: `an owner's sessionsMax must be a positive integer, not ${String(owner.sessionsMax)}` };
          if (this.sessions.ownedBy(owner.user) >= owner.sessionsMax) return { type: 'quota-exceeded', quota: 'sessionsMax', limit: owner.sessionsMax };
        }
        return { type: 'session', session: this.sessions.info(this.sessions.create(c.ttlMs, this.time, slot, owner?.user)) };
      }
      case 'session-keepalive': {
        const session = this.sessions.get(c.session);
        if (session === undefined) return { type: 'no-session', session: c.session };
        return { type: 'session', session: this.sessions.info(this.sessions.renew(session, this.time, slot)) };
      }
      case 'session-close': {
        if (this.sessions.get(c.session) === undefined) return { type: 'no-session', session: c.session };
        const keys = this.deleteAll(this.sessions.end(c.session));
        return { type: 'session-closed', keysDeleted: keys, revision: this.store.revision };
      }
      case 'session-expire': {
        // The leader decided on its state as of `decidedAtSlot`, which must be applied before this slot.
        if (!isVersionNumber(c.decidedAtSlot) || c.decidedAtSlot >= slot)
          return { type: 'invalid', reason: `a session-expire in slot ${slot} cannot be decided at slot ${String(c.decidedAtSlot)}` };
        if (c.sessions.length > kvLimits.sessionsMax) return { type: 'invalid', reason: `a session-expire names at most ${kvLimits.sessionsMax} sessions` };
        return this.endSessions(this.sessions.silentSince(c.sessions, c.decidedAtSlot));
      }
      case 'session-expire-by-log-time':
        return this.endSessions(this.sessions.expiredAt(this.time));
      case 'session-renew': {
        const decided = c.decidedAtSlot;
        if (decided !== undefined && (!isVersionNumber(decided) || decided >= slot))
          return { type: 'invalid', reason: `a session-renew in slot ${slot} cannot be decided at slot ${String(decided)}` };
        // Only what its leader saw silent: a session renewed since (by a later leader's renew, a keepalive) keeps that renewal.
        const renewed = this.sessions.all().filter((s) => decided === undefined || s.renewedSlot <= decided);
        for (const session of renewed) this.sessions.renew(session, this.time, slot);
        return { type: 'renewed', sessions: renewed.length };
      }
      case 'compact': {
        if (!isVersionNumber(c.revision) || c.revision > this.store.revision)
          return { type: 'invalid', reason: `cannot compact to revision ${String(c.revision)}, beyond the store's ${this.store.revision}` };
        if (c.revision <= this.store.compactRevision) return { type: 'compacted-revision', revision: c.revision, compactRevision: this.store.compactRevision };
        this.store.compact(c.revision);
        return { type: 'compacted', revision: c.revision };
      }
      case 'auth-user-put': {
        const bad = this.authTable.refuseUser(c.user);
        if (bad !== undefined) return { type: 'invalid', reason: bad };
        const existed = this.authTable.user(c.user.name) !== undefined;
        this.authTable.putUser(c.user);
        return { type: 'auth', revision: this.authTable.revision, existed };
      }
      case 'auth-role-put': {
        const bad = this.authTable.refuseRole(c.role);
        if (bad !== undefined) return { type: 'invalid', reason: bad };
        const existed = this.authTable.role(c.role.name) !== undefined;
        this.authTable.putRole(c.role);
        return { type: 'auth', revision: this.authTable.revision, existed };
      }
      case 'auth-list':
        return {
          type: 'auth-list',
          revision: this.authTable.revision,
          users: this.authTable
            .allUsers()
            .map((u) => ({ name: u.name, hasSecret: u.secret !== undefined, certificateNames: u.certificateNames, roles: u.roles })),
          roles: this.authTable.allRoles(),
        };
      case 'auth-user-delete': {
        const existed = this.authTable.deleteUser(c.name);
        return { type: 'auth', revision: this.authTable.revision, existed };
      }
      case 'auth-role-delete': {
        const existed = this.authTable.deleteRole(c.name);
        return { type: 'auth', revision: this.authTable.revision, existed };
      }
      case 'range-freeze':
        return this.freeze(c.at);
      case 'range-release':
        return this.release(c.at);
      case 'range-seed':
        return this.seed(c);
      case 'extension':
        throw new Error('unreachable: extension commands are applied before execute');
      default:
        return unreachable(c);
    }
  }

  /** Gives up the keys from `at` to the bounds' end (see `range-freeze` in {@link KvCommand}). */
  private freeze(at: string): KvResult {
    const bounds = this.bounds;
    if (bounds === undefined) return { type: 'invalid', reason: 'range-freeze: this KV is not a range of a sharded KV' };
    const bad = invalidKey(at);
    if (bad !== undefined) return { type: 'invalid', reason: `range-freeze: ${bad}` };
    const frozen = this.frozenRange;
    // A repeat (a coordinator retrying after a crash) answers as the first did.
    if (frozen?.start === at) return { type: 'range-frozen', at, revision: frozen.revision };
    if (frozen !== undefined) return { type: 'invalid', reason: `range-freeze: the keys from ${frozen.start} are frozen, awaiting their release` };
    if (at <= bounds.start || (bounds.end !== undefined && at >= bounds.end))
      return { type: 'invalid', reason: `range-freeze: ${at} is not inside the range [${bounds.start}, ${bounds.end ?? 'end'})` };
    // A sequential prefix before the point whose keys reach past it would make keys its range no longer holds.
    for (const prefix of this.sequences.keys())
      if (prefix < at && at.startsWith(prefix))
        return { type: 'invalid', reason: `range-freeze: ${at} falls among the keys of sequential prefix ${prefix}, which would straddle two ranges` };
    let owned: string | undefined;
    this.store.keysFrom(at, bounds.end, (key) => {
      if (this.store.latest(key)?.session === undefined) return true;
      owned = key;
      return false;
    });
    if (owned !== undefined)
      return {
        type: 'invalid',
        reason: `range-freeze: key ${owned} belongs to session ${this.store.latest(owned)!.session}, and sessions do not move between ranges`,
      };
    this.frozenRange = { start: at, ...(bounds.end === undefined ? {} : { end: bounds.end }), revision: this.store.revision };
    this.bounds = { start: bounds.start, end: at };
    return { type: 'range-frozen', at, revision: this.store.revision };
  }

  /** Forgets the frozen keys (see `range-release` in {@link KvCommand}); a repeat forgets none. */
  private release(at: string): KvResult {
    const frozen = this.frozenRange;
    if (frozen === undefined) {
      if (this.bounds?.end === at) return { type: 'range-released', keys: 0 };
      return { type: 'invalid', reason: `range-release: no keys from ${at} were frozen` };
    }
    if (frozen.start !== at) return { type: 'invalid', reason: `range-release: the keys frozen are from ${frozen.start}, not ${at}` };
    this.frozenRange = undefined;
    this.releasedRanges.push(frozen);
    return { type: 'range-released', keys: this.store.forget(frozen.start, frozen.end) };
  }

  /** Applies one chunk of a new range's keys (see `range-seed` in {@link KvCommand}). */
  private seed(c: Extract<KvCommand, { type: 'range-seed' }>): KvResult {
    const cursor = this.seedCursor;
    const bounds = this.bounds;
    if (cursor === undefined || bounds === undefined) return { type: 'invalid', reason: 'range-seed: this range awaits no keys' };
    // A repeat, or a chunk from a copy that restarted: nothing changes; the answer says where to go on from.
    if (c.after !== cursor) return { type: 'range-seeded', cursor, done: false };
    // Started by the first chunk, even one of no keys (at revision 0 there can be none).
    const started = this.store.revision !== 0;
    if (!isVersionNumber(c.revision) || (started && c.revision !== this.store.revision))
      return { type: 'invalid', reason: `range-seed: revision ${String(c.revision)}, not the seeding's ${this.store.revision}` };
    const bad = this.refuseSeedRecords(c, bounds);
    if (bad !== undefined) return { type: 'invalid', reason: `range-seed: ${bad}` };
    if (!started) this.store.startAt(c.revision);
    for (const kv of c.records) this.store.seed({ ...kv, value: keptValue(kv.value) });
    const next = c.records[c.records.length - 1]?.key ?? cursor;
    if (!c.last) {
      this.seedCursor = next;
      return { type: 'range-seeded', cursor: next, done: false };
    }
    for (const [prefix, counter] of c.sequences) this.sequences.set(prefix, counter);
    this.seedCursor = undefined;
    return { type: 'range-seeded', cursor: next, done: true };
  }

  /** Why a chunk's records cannot be seeded, or undefined: each key valid, in the bounds, after the last; each record whole. */
  private refuseSeedRecords(c: Extract<KvCommand, { type: 'range-seed' }>, bounds: KeyBounds): string | undefined {
    let previous = c.after;
    for (const kv of c.records) {
      const bad = invalidKey(kv.key) ?? invalidValue(kv.value);
      if (bad !== undefined) return bad;
      if (kv.key <= previous) return `key ${kv.key} is not after ${previous}`;
      if (!boundsHold(bounds, kv.key)) return `key ${kv.key} is outside the range`;
      if (kv.session !== undefined) return `key ${kv.key} belongs to a session`;
      if (!isVersionNumber(kv.version) || kv.version === 0 || !isVersionNumber(kv.createRevision) || kv.createRevision === 0)
        return `key ${kv.key} has version ${kv.version}, created at ${kv.createRevision}`;
      if (!isVersionNumber(kv.modRevision) || kv.modRevision < kv.createRevision || kv.modRevision > c.revision)
        return `key ${kv.key} was changed at revision ${kv.modRevision}, not from its creation at ${kv.createRevision} to ${c.revision}`;
      previous = kv.key;
    }
    if (!c.last && c.sequences.length > 0) return 'sequence counters come with the last chunk';
    for (const [prefix, counter] of c.sequences) {
      const bad = invalidKey(prefix);
      if (bad !== undefined || !boundsHold(bounds, prefix) || !isVersionNumber(counter)) return `sequence ${prefix} at ${counter} is not one this range holds`;
    }
    return undefined;
  }

  /** Why a put of `key` with `value` by `session` would be refused, or undefined. */
  private refusePut(key: string, value: Uint8Array, session: number | undefined): KvResult | undefined {
    return refusedPut(key, value, session, this.hasSession);
  }

  private readonly hasSession = (id: number): boolean => this.sessions.get(id) !== undefined;

  private put(c: Extract<KvCommand, { type: 'put' }>): KvResult {
    const refused = this.refusePut(c.key, c.value, c.session);
    if (refused !== undefined) return refused;
    let key = c.key;
    const current = () => this.store.latest(key)?.version ?? 0;
    if (c.sequential === true) {
      if (c.expectedVersion !== undefined) return { type: 'invalid', reason: 'a sequential put takes no expectedVersion' };
      let n = this.sequences.get(c.key) ?? 0;
      key = sequentialKey(c.key, n);
      const bad = invalidKey(key);
      if (bad !== undefined) return { type: 'invalid', reason: bad };
      // A key made by hand where the sequence lands is skipped: a sequential create always creates.
      while (current() !== 0) key = sequentialKey(c.key, ++n);
      // The counter is not taken when the key it makes lies outside this range.
      if (this.bounds !== undefined && !boundsHold(this.bounds, key)) return this.wrongRange(this.bounds, key);
      this.sequences.set(c.key, n + 1);
    } else if (c.expectedVersion !== undefined) {
      if (!isVersionNumber(c.expectedVersion))
        return { type: 'invalid', reason: `expectedVersion must be a non-negative integer, not ${String(c.expectedVersion)}` };
      if (current() !== c.expectedVersion) return { type: 'conflict', key, version: current(), revision: this.store.revision };
    }
    const revision = this.store.revision + 1;
    const record = this.write(key, c.value, c.session, revision);
    this.store.commit(revision);
    return { type: 'put', key, version: record.version, revision };
  }

  private delete(c: Extract<KvCommand, { type: 'delete' }>): KvResult {
    const bad = invalidKey(c.key);
    if (bad !== undefined) return { type: 'invalid', reason: bad };
    if (c.expectedVersion !== undefined && (!isVersionNumber(c.expectedVersion) || c.expectedVersion === 0)) {
      return { type: 'invalid', reason: `a delete's expectedVersion must be a positive integer, not ${String(c.expectedVersion)}` };
    }
    const live = this.store.latest(c.key);
    if (live === undefined) return { type: 'delete', deleted: false, revision: this.store.revision };
    if (c.expectedVersion !== undefined && live.version !== c.expectedVersion)
      return { type: 'conflict', key: c.key, version: live.version, revision: this.store.revision };
    const revision = this.store.revision + 1;
    this.write(c.key, null, undefined, revision);
    this.store.commit(revision);
    return { type: 'delete', deleted: true, revision };
  }

  /** Ends the sessions `ids` (sorted, each existing) and deletes their keys at one new revision. */
  private endSessions(ids: readonly number[]): KvResult {
    const keys = ids.flatMap((id) => this.sessions.end(id));
    this.deleteAll(keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    return { type: 'expired', sessions: ids, revision: this.store.revision };
  }

  /** Deletes every live key of `keys` (sorted) at one new revision; returns how many. */
  private deleteAll(keys: readonly string[]): number {
    const revision = this.store.revision + 1;
    let deleted = 0;
    for (const key of keys) {
      if (this.store.latest(key) === undefined) continue;
      this.write(key, null, undefined, revision);
      deleted++;
    }
    if (deleted > 0) this.store.commit(revision);
    return deleted;
  }

  /** Writes one key and moves its ownership between sessions. */
  private write(key: string, value: Uint8Array | null, session: number | undefined, revision: number): KeyRecord {
    const before = this.store.latest(key);
    // A decoded value is a view into the bytes it came in: the store keeps a copy, or the
    // view itself when that pins little more than the value (see keptValue).
    const record = this.store.write(key, value === null ? null : keptValue(value), session, revision);
    this.sessions.own(key, before?.session, value === null ? undefined : session);
    return record;
  }

  private compareHolds(c: Compare): boolean {
    const live = this.store.latest(c.key);
    if (c.target === 'value') {
      if (live === undefined) return false;
      const same = live.value!.byteLength === c.value.byteLength && live.value!.every((b, i) => b === c.value[i]);
      return c.op === '==' ? same : !same;
    }
    const actual = live === undefined ? 0 : c.target === 'version' ? live.version : c.target === 'createRevision' ? live.createRevision : live.revision;
    switch (c.op) {
      case '==':
        return actual === c.value;
      case '!=':
        return actual !== c.value;
      case '<':
        return actual < c.value;
      case '>':
        return actual > c.value;
      default:
        return unreachable(c);
    }
  }

  /** Why a transaction would be refused before anything ran, or undefined. */
  private refuseTxn(c: Extract<KvCommand, { type: 'txn' }>): KvResult | undefined {
    return refusedTxn(c, this.hasSession);
  }

  private txn(c: Extract<KvCommand, { type: 'txn' }>): KvResult {
    const refused = this.refuseTxn(c);
    if (refused !== undefined) return refused;
    const succeeded = c.compare.every((compare) => this.compareHolds(compare));
    const revision = this.store.revision + 1;
    let wrote = false;
    const results = (succeeded ? c.success : c.failure).map((op: TxnOp): TxnOpResult => {
      switch (op.op) {
        case 'put':
          wrote = true;
          return { op: 'put', key: op.key, version: this.write(op.key, op.value, op.session, revision).version };
        case 'delete': {
          const deleted = this.store.latest(op.key) !== undefined;
          if (deleted) {
            wrote = true;
            this.write(op.key, null, undefined, revision);
          }
          return { op: 'delete', key: op.key, deleted };
        }
        case 'range': {
          const limit = Math.min(op.limit ?? kvLimits.rangeKeysMax, kvLimits.rangeKeysMax);
          return { op: 'range', ...this.store.range(op.range, limit) };
        }
      }
    });
    if (wrote) this.store.commit(revision);
    return { type: 'txn', succeeded, results, revision: this.store.revision };
  }

  snapshot(): SnapshotCapture {
    // The store is captured, not copied: its histories are read as the encoding reaches
    // them (a copy of a million keys held the event loop for most of a second).
    const store = this.store.capture();
    const extension = this.extension?.snapshot();
    const state = {
      store,
      sessions: this.sessions.captured(),
      sequences: new Map(this.sequences),
      time: this.time,
      auth: this.authTable.clone(),
      ...(extension === undefined ? {} : { extension }),
      ...(this.bounds === undefined || (!this.narrowed && this.seedCursor === undefined)
        ? {}
        : {
            range: {
              bounds: this.bounds,
              ...(this.frozenRange === undefined ? {} : { frozen: this.frozenRange }),
              ...(this.seedCursor === undefined ? {} : { seedCursor: this.seedCursor }),
            },
          }),
    };
    let written: Promise<Uint8Array> | undefined;
    // Encoded in steps with a pause between them: requests are served meanwhile.
    return {
      write: () => {
        written ??= encodeKvSnapshot(state, this.snapshotPause).finally(() => store.release());
        return written;
      },
    };
  }

  /**
   * Whether a freeze changed the range since it was made. Only then, or while the range
   * awaits its keys, do snapshots carry the bounds (format version 5): a range never split
   * writes what a build from before splits reads.
   */
  private get narrowed(): boolean {
    // A freeze moves the end, and only the end; nothing moves it back.
    return this.bounds?.end !== this.creationBounds?.end;
  }

  /**
   * A snapshot of more than {@link restoreInStepsBytes} is decoded in steps, with a
   * pause between them (the encoder's), and replaces the state at the end: the node
   * applies nothing meanwhile, and readers see the old state whole until then.
   */
  restore(data: Uint8Array): void | Promise<void> {
    if (data.byteLength <= restoreInStepsBytes) return this.replaceWith(decodeKvSnapshot(data));
    return decodeKvSnapshotInSteps(data, this.snapshotPause).then((state) => this.replaceWith(state));
  }

  private replaceWith(state: KvSnapshotState): void {
    this.store = state.store;
    this.sessions = state.sessions;
    this.sequences = state.sequences;
    this.time = state.time;
    this.authTable = state.auth;
    // A snapshot from before ranges could narrow holds none: the bounds were the creation bounds then.
    this.bounds = state.range?.bounds ?? this.creationBounds;
    this.frozenRange = state.range?.frozen;
    // Written while seeding, a snapshot says so: one without it was written by a range that awaited nothing.
    this.seedCursor = state.range?.seedCursor;
    this.extension?.restore(state.extension);
    for (const listener of this.listeners) listener(this.store.revision);
  }
}

function isRange(op: TxnOp): boolean {
  return op.op === 'range';
}

/** Snapshots up to this size are restored at once: a few milliseconds of work. */
const restoreInStepsBytes = 1024 * 1024;

/** Resolves on a later turn of the event loop, after pending I/O. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
