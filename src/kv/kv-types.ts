/**
 * The records of the replicated KV that users see: keys with their versions and
 * revisions, transactions, watch events.
 */

/**
 * A key and its value, with ZooKeeper's version and etcd's revisions.
 *
 * - `version` counts the writes since the key was created: 1 after the create, +1 per
 *   put. A delete removes the key; a later create starts again at 1.
 * - `createRevision` is the store revision of the create, `modRevision` of the last put.
 * - `session` is the session that owns the key (an ephemeral key), if any.
 */
export interface KeyValue {
  readonly key: string;
  readonly value: Uint8Array;
  readonly version: number;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly session?: number;
}

/** Keys to read: one key, every key under a prefix, or the range `[start, end)`. */
export type KeyRange = { readonly key: string } | { readonly prefix: string } | { readonly start: string; readonly end: string };

/** Options of a put. */
export interface PutOptions {
  /**
   * Compare-and-set on the key's version: `0` writes only if the key is absent (a
   * create), `n > 0` only if its version is `n`. Default: write whatever it holds.
   */
  readonly expectedVersion?: number;
  /** Make the key ephemeral: owned by this session, deleted when it ends. */
  readonly session?: number;
  /**
   * Treat the key as a prefix and create `prefix + counter`: the counter, zero padded
   * to 10 digits, grows by one at each sequential create under the same prefix and is
   * never reused (ZooKeeper's sequential nodes). `expectedVersion` does not apply.
   */
  readonly sequential?: boolean;
}

/** Options of a delete. */
export interface DeleteOptions {
  /** Delete only if the key's version is this. Default: whatever it holds. */
  readonly expectedVersion?: number;
}

/** Options of a range read. */
export interface RangeOptions {
  /** At most this many keys (the rest is reported by `more`). Default: every key in the range, up to `kvLimits.rangeKeysMax`. */
  readonly limit?: number;
  /** Read the store as it was at this revision (etcd's MVCC read). Default: now. */
  readonly revision?: number;
}

/** What a range read found. */
export interface RangeResult {
  /** The keys found, sorted by key (UTF-16 code unit order). */
  readonly kvs: readonly KeyValue[];
  /**
   * Whether keys were left out: beyond `limit`, or beyond 32 MiB of keys and values in
   * one answer (a range read answers at least one key). Read on from the last key.
   */
  readonly more: boolean;
  /** How many keys the range holds, the left-out ones included. */
  readonly count: number;
  /** The store revision the read observed. */
  readonly revision: number;
}

/** What a put did. */
export interface PutResult {
  /** The key written (for a sequential put: the key it created). */
  readonly key: string;
  /** The key's new version. */
  readonly version: number;
  /** The store revision of the write. */
  readonly revision: number;
}

/** What a delete did. */
export interface DeleteResult {
  /** Whether a key was deleted (false: it was absent). */
  readonly deleted: boolean;
  /** The store revision after the delete (unchanged when nothing was deleted). */
  readonly revision: number;
}

/**
 * One comparison of a transaction, on one key. An absent key has version 0,
 * revisions 0 and no value (every value comparison with it is false).
 */
export type Compare =
  | { readonly key: string; readonly target: 'version' | 'createRevision' | 'modRevision'; readonly op: '==' | '!=' | '<' | '>'; readonly value: number }
  | { readonly key: string; readonly target: 'value'; readonly op: '==' | '!='; readonly value: Uint8Array };

/** One operation of a transaction branch. */
export type TxnOp =
  | { readonly op: 'put'; readonly key: string; readonly value: Uint8Array; readonly session?: number }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'range'; readonly range: KeyRange; readonly limit?: number };

/** A transaction: if every compare holds, run `success`, else `failure`; atomically, at one revision. */
export interface TxnRequest {
  readonly compare: readonly Compare[];
  readonly success: readonly TxnOp[];
  readonly failure?: readonly TxnOp[];
}

/** The result of one transaction operation, in the order of the branch. */
export type TxnOpResult =
  | { readonly op: 'put'; readonly key: string; readonly version: number }
  | { readonly op: 'delete'; readonly key: string; readonly deleted: boolean }
  | { readonly op: 'range'; readonly kvs: readonly KeyValue[]; readonly more: boolean; readonly count: number };

/** What a transaction did. */
export interface TxnResult {
  /** Whether every compare held (the `success` branch ran). */
  readonly succeeded: boolean;
  readonly results: readonly TxnOpResult[];
  /** The store revision after the transaction (unchanged if it wrote nothing). */
  readonly revision: number;
}

/**
 * One change seen by a watch. `kv` is the key after a put; for a delete, `kv` holds the
 * key with an empty value and `modRevision` set to the delete's revision.
 */
export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly kv: KeyValue;
  /** The revision of the change; events come in revision order, several may share one (a transaction). */
  readonly revision: number;
}

/** A session: ephemeral keys live as long as it does. */
export interface SessionInfo {
  readonly id: number;
  readonly ttlMs: number;
  /**
   * For display: log time (the leaders' wall clocks, ms since the epoch) of its last
   * renewal plus its TTL. Expiry does not follow it: the leader expires a session
   * after a TTL of silence measured by its monotonic clock, so a wall clock step on any
   * machine neither ends a live session nor keeps a dead one.
   */
  readonly expiresAt: number;
}

/** A live session as `sessions()` lists it. */
export interface SessionListing extends SessionInfo {
  /** Keys it owns: its ephemeral keys, deleted when it ends. */
  readonly keys: number;
}

/** The live sessions, by id: at most `kvLimits.sessionsListedMax` (10,000) of them. */
export interface SessionList {
  readonly sessions: readonly SessionListing[];
  /** Sessions live in all: more than listed if over the limit. */
  readonly count: number;
  /** The store revision the read observed. */
  readonly revision: number;
}

/** What `revokeSession` did. */
export interface RevokeResult {
  /** Whether the session was live and is now ended (false: it had expired or been closed already). */
  readonly revoked: boolean;
  /** Ephemeral keys deleted with it. */
  readonly keysDeleted: number;
  /** The store revision after it (0 when nothing was revoked). */
  readonly revision: number;
}
