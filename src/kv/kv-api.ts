/**
 * What every handle on the KV offers, embedded (a {@link KvNode} in your process) or
 * remote (a client of a KV server): recipes and applications written against it run
 * on either.
 */
import type { KvSession } from './kv-session.js';
import type {
  DeleteOptions,
  DeleteResult,
  KeyRange,
  KeyValue,
  PutOptions,
  PutResult,
  RangeOptions,
  RangeResult,
  TxnRequest,
  TxnResult,
  WatchEvent,
} from './kv-types.js';
import type { ProposeOptions } from '../runtime/index.js';

/** How fresh a read must be. */
export type Consistency = 'linearizable' | 'serializable';

/** Options of the reads. */
export interface ReadOptions {
  /**
   * `linearizable` (default) waits for the cluster's read point, so the read sees every
   * write acknowledged before it began. `serializable` reads one replica's state at
   * once: consistent, but possibly stale.
   */
  readonly consistency?: Consistency;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

/** Options every write takes: waiting, and the request's identity for exactly-once (see `ProposeOptions`). */
export type WriteOptions = Pick<ProposeOptions, 'signal' | 'timeoutMs' | 'request'>;

/** Options of a session. */
export interface SessionOptions extends WriteOptions {
  /** How long the session lives without a keepalive, in ms (100 ms to 24 h). */
  readonly ttlMs: number;
  /** Time between keepalives, in ms. Default a third of `ttlMs`. */
  readonly keepAliveMs?: number;
}

/** Options of a watch. */
export interface WatchOptions {
  /**
   * The first revision to report: resume a watch after the last revision it
   * delivered with `last + 1`. At or below the compacted revision, the watch fails
   * with `CompactedError`. Default: the changes after the revision the watching
   * replica has applied when the watch is set up (when `watch()` is called; remote,
   * when the server receives it), as etcd's watches start: a write begun after
   * `watch()` returned is never missed, and one that completed just before, not yet
   * applied on that replica, may be reported too.
   */
  readonly fromRevision?: number;
}

/** A running watch: iterate it with `for await`; `close()` (or `break`) ends it. */
export interface Watch extends AsyncIterableIterator<WatchEvent> {
  close(): void;
  /**
   * Every matching change at or below this revision has been handed out by `next()`
   * (one below the start before any was). So once the event just taken has a revision
   * at or below it, that revision's changes are all in hand: apply a transaction's
   * changes together, never a state between two of them.
   *
   * @example
   * ```ts
   * let batch: WatchEvent[] = [];
   * for await (const event of watch) {
   *   batch.push(event);
   *   if (watch.deliveredThrough >= event.revision) { apply(batch); batch = []; }
   * }
   * ```
   */
  readonly deliveredThrough: number;
}

/**
 * The KV's operations. Writes reject with `VersionConflictError`,
 * `SessionExpiredError`, `KvRequestError`, or the runtime's `TimeoutError` (the write
 * may still apply: retry it with the same request identity to find out).
 */
export interface KvApi {
  get(key: string, options?: ReadOptions): Promise<KeyValue | undefined>;
  range(range: KeyRange, options?: RangeOptions & ReadOptions): Promise<RangeResult>;
  put(key: string, value: string | Uint8Array, options?: PutOptions & WriteOptions): Promise<PutResult>;
  delete(key: string, options?: DeleteOptions & WriteOptions): Promise<DeleteResult>;
  txn(request: TxnRequest, options?: WriteOptions): Promise<TxnResult>;
  createSession(options: SessionOptions): Promise<KvSession>;
  watch(range: KeyRange, options?: WatchOptions): Watch;
  compact(revision: number, options?: WriteOptions): Promise<void>;
}
