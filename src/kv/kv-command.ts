/**
 * What the KV log carries, and what applying it answers. Every write of the store is
 * one of these commands; reads never enter the log.
 */
import type { Compare, SessionInfo, TxnOp, TxnOpResult } from './kv-types.js';

/**
 * A command of the KV state machine.
 *
 * - `put`, `delete`, `txn`: the writes.
 * - `session-create`, `session-keepalive`, `session-close`: a client's sessions.
 * - `session-expire`: entered by the leader when its clock passes a session's expiry;
 *   it ends every session whose expiry is at or before the command's log timestamp.
 * - `session-renew`: entered by a new leader; gives every session a full TTL from the
 *   command's timestamp, so no session expires for want of a leader to keep it alive.
 * - `compact`: forget history at or below `revision`.
 */
export type KvCommand =
  | { readonly type: 'put'; readonly key: string; readonly value: Uint8Array; readonly expectedVersion?: number; readonly session?: number; readonly sequential?: boolean }
  | { readonly type: 'delete'; readonly key: string; readonly expectedVersion?: number }
  | { readonly type: 'txn'; readonly compare: readonly Compare[]; readonly success: readonly TxnOp[]; readonly failure: readonly TxnOp[] }
  | { readonly type: 'session-create'; readonly ttlMs: number }
  | { readonly type: 'session-keepalive'; readonly session: number }
  | { readonly type: 'session-close'; readonly session: number }
  | { readonly type: 'session-expire' }
  | { readonly type: 'session-renew' }
  | { readonly type: 'compact'; readonly revision: number };

/**
 * What applying a command answers. A refusal is an answer too (`conflict`, `no-session`,
 * `invalid`, `compacted`): the state is unchanged and every replica gives the same one.
 */
export type KvResult =
  | { readonly type: 'put'; readonly key: string; readonly version: number; readonly revision: number }
  | { readonly type: 'delete'; readonly deleted: boolean; readonly revision: number }
  | { readonly type: 'txn'; readonly succeeded: boolean; readonly results: readonly TxnOpResult[]; readonly revision: number }
  | { readonly type: 'session'; readonly session: SessionInfo }
  | { readonly type: 'session-closed'; readonly keysDeleted: number; readonly revision: number }
  | { readonly type: 'expired'; readonly sessions: readonly number[]; readonly revision: number }
  | { readonly type: 'renewed'; readonly sessions: number }
  | { readonly type: 'compacted'; readonly revision: number }
  /** `expectedVersion` did not match: `version` is the key's current one (0: absent). */
  | { readonly type: 'conflict'; readonly key: string; readonly version: number; readonly revision: number }
  | { readonly type: 'no-session'; readonly session: number }
  /** The revision asked for is at or below the compacted one. */
  | { readonly type: 'compacted-revision'; readonly revision: number; readonly compactRevision: number }
  | { readonly type: 'invalid'; readonly reason: string };
