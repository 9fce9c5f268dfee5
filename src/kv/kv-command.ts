/**
 * What the KV log carries, and what applying it answers. Every write of the store is
 * one of these commands; reads never enter the log.
 */
import type { AuthListing, KvRoleRecord, KvUserRecord } from './kv-auth.js';
import type { Compare, KeyValue, SessionInfo, TxnOp, TxnOpResult } from './kv-types.js';

/**
 * A command of the KV state machine.
 *
 * - `put`, `delete`, `txn`: the writes.
 * - `session-create`, `session-keepalive`, `session-close`: a client's sessions. A
 *   create or keepalive renews the session: it records the command's slot.
 * - `session-expire`: entered by the leader, whose monotonic clock measured each of
 *   `sessions` silent (no renewal it saw) for a whole TTL. The leader decided with its
 *   state as of slot `decidedAtSlot`; the command ends each listed session not
 *   renewed after that slot, so a keepalive that got into the log meanwhile wins. No
 *   wall clock decides it.
 * - `session-renew`: entered by a new leader before it expires anything; renews every
 *   session (records the slot), so a leader change ends no session and the new
 *   leader's countdowns all start from its takeover. With `decidedAtSlot` (the slot the
 *   leader had applied when it entered it), only the sessions not renewed after that
 *   slot: a renew from a leader deposed meanwhile, applied late (forwarded after its
 *   step-down), renews nothing the next leader's renew covered already, so it cannot
 *   stretch a silent session's life. Logs written before have none: every session.
 * - `session-expire-by-log-time`: read from logs written before expiry was elapsed
 *   time (it was `session-expire` then, the same bytes), never entered now: ends every
 *   session whose `expiresAt` is at or before the command's log timestamp, as it did.
 * - `compact`: forget history at or below `revision`.
 * - `auth-user-put`, `auth-user-delete`, `auth-role-put`, `auth-role-delete`: change
 *   the users and roles of the replicated state (a put adds or replaces the whole
 *   record; deleting a role takes it from every user). Refused (`invalid`) if the
 *   record is malformed, names a role that does not exist, or takes another user's
 *   certificate name. `auth-list` reads them (secrets left out), through the log so it
 *   is linearizable; it changes nothing.
 *
 * - `range-freeze`, `range-release`: a range of a sharded KV giving up its keys from
 *   `at` to its end, entered by the split that moves them to a new range (never by a
 *   client). A freeze narrows the range's bounds to end at `at`, at one slot of its log:
 *   every write to the keys past it answers `wrong-range` from then on, on every replica
 *   alike, while they stay readable for the copy (see `KvStateMachine.frozen`).
 *   Refused (`invalid`) on a KV that is not a range, for an `at` not strictly inside the
 *   bounds, while another freeze awaits its release, if a session owns a key past `at`
 *   (sessions do not move between ranges), or if `at` falls among the keys of a
 *   sequential prefix in use (its keys would straddle two ranges). Repeated, it answers as the first time. A
 *   release forgets the frozen keys and their history, once the new range has them.
 * - `range-seed`: one chunk of the keys a new range takes over, read from the frozen
 *   keys of the range it splits off (each key's latest record, as it was: its version,
 *   creation and modification revisions kept, so a compare-and-set with a version read
 *   before the split still holds). Entered by the split, in key order: a chunk applies
 *   only if `after` is the last key seeded so far ('' before the first), and any other
 *   answers where the seeding is (so a repeat or a resumed copy changes nothing). The
 *   first chunk sets the store's revision (and its compaction revision) to `revision`,
 *   the frozen range's revision at its freeze; the `last` one hands over the sequence
 *   counters of the prefixes the range holds, and the range serves from then on.
 *
 * A `session-create` entered by a KV server for an authenticated user names the user
 * as the session's `owner`, with the user's quota: refused (`quota-exceeded`) if the
 * owner already holds `sessionsMax` sessions. Counted as applied, so every replica
 * refuses alike.
 */
export type KvCommand =
  | {
      readonly type: 'put';
      readonly key: string;
      readonly value: Uint8Array;
      readonly expectedVersion?: number;
      readonly session?: number;
      readonly sequential?: boolean;
    }
  | { readonly type: 'delete'; readonly key: string; readonly expectedVersion?: number }
  | { readonly type: 'txn'; readonly compare: readonly Compare[]; readonly success: readonly TxnOp[]; readonly failure: readonly TxnOp[] }
  | { readonly type: 'session-create'; readonly ttlMs: number; readonly owner?: SessionOwner }
  | { readonly type: 'session-keepalive'; readonly session: number }
  | { readonly type: 'session-close'; readonly session: number }
  | { readonly type: 'session-expire'; readonly sessions: readonly number[]; readonly decidedAtSlot: number }
  | { readonly type: 'session-renew'; readonly decidedAtSlot?: number }
  | { readonly type: 'session-expire-by-log-time' }
  | { readonly type: 'compact'; readonly revision: number }
  | { readonly type: 'auth-user-put'; readonly user: KvUserRecord }
  | { readonly type: 'auth-user-delete'; readonly name: string }
  | { readonly type: 'auth-role-put'; readonly role: KvRoleRecord }
  | { readonly type: 'auth-role-delete'; readonly name: string }
  | { readonly type: 'auth-list' }
  | { readonly type: 'range-freeze'; readonly at: string }
  | { readonly type: 'range-release'; readonly at: string }
  | {
      readonly type: 'range-seed';
      readonly revision: number;
      readonly after: string;
      readonly records: readonly KeyValue[];
      readonly last: boolean;
      /** With the last chunk: the next counter of each sequential prefix the range holds. */
      readonly sequences: readonly (readonly [string, number])[];
    }
  /** A command of the machine's extension (see `KvExtension`), opaque to the KV. */
  | { readonly type: 'extension'; readonly data: Uint8Array };

/** Who owns a session, and how many that owner may hold at once. */
export interface SessionOwner {
  /** The user's name (at most 255 UTF-8 bytes). */
  readonly user: string;
  /** Sessions the user may own at once; a create at it is refused. */
  readonly sessionsMax: number;
}

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
  | { readonly type: 'invalid'; readonly reason: string }
  /** A per-owner quota (`quota`, e.g. `sessionsMax`) is at its `limit`: nothing changed. */
  | { readonly type: 'quota-exceeded'; readonly quota: string; readonly limit: number }
  /** A change to the users and roles applied: `revision` counts the changes so far; `existed` for a delete. */
  | { readonly type: 'auth'; readonly revision: number; readonly existed: boolean }
  /**
   * A replicated user's command refused as it applied: `user` lacks `access` on
   * `resource` (its roles changed after its server checked it, or it was deleted).
   * Nothing changed.
   */
  | { readonly type: 'permission-denied'; readonly user: string; readonly access: string; readonly resource: string }
  /** What `auth-list` found. */
  | ({ readonly type: 'auth-list' } & AuthListing)
  /** A freeze applied (or repeated): the keys from `at` on were frozen at `revision`, the store's then. */
  | { readonly type: 'range-frozen'; readonly at: string; readonly revision: number }
  /** A release applied: `keys` keys forgotten (0 for a repeat). */
  | { readonly type: 'range-released'; readonly keys: number }
  /** Where a new range's seeding is after a chunk: the last key seeded, and whether it is over. */
  | { readonly type: 'range-seeded'; readonly cursor: string; readonly done: boolean }
  /** What the extension answered. */
  | { readonly type: 'extension'; readonly data: Uint8Array }
  /**
   * The command names `key` (or a range starting there), which lies outside the keys
   * this group serves, `[start, end)` (no `end`: unbounded): a range of a sharded KV
   * refuses it. Nothing changed.
   */
  | { readonly type: 'wrong-range'; readonly key: string; readonly start: string; readonly end?: string };
