/**
 * What the tree's log carries, and what applying it answers. Every change of the
 * tree and of its sessions is one of these commands, proposed by the member serving
 * the client (or, for expiry, by the leader).
 */
import type { ZkExpiringNode } from './zk-tree.js';
import type { ZkId, ZkWriteRequest, ZkWriteResult } from './zk-types.js';

/**
 * A command of the ZooKeeper state machine.
 *
 * - `session-create`: a new session with the password its member chose and the
 *   timeout it negotiated.
 * - `session-touch`: the sessions a member heard from (requests, pings) since its last
 *   touch: each is renewed (records the slot).
 * - `session-expire`: entered by the leader, whose monotonic clock measured each of
 *   `sessions` silent for its whole timeout, deciding on its state as of slot
 *   `decidedAtSlot`: ends each listed session not renewed after that slot.
 * - `session-renew`: entered by a new leader before it expires anything; renews every
 *   session, so a leader change ends none.
 * - `session-close`: the client closed its session.
 * - `write`: a client's write request, with the session and the ids its connection holds.
 * - `node-expire`: entered by the leader, which found each of `nodes` due on its
 *   monotonic clock and its applied state (a container that had children and has
 *   none, a TTL node childless and unmodified for its TTL): deletes each still
 *   childless and still at the mzxid the leader saw (ZooKeeper's `deleteContainer`).
 */
export type ZkCommand =
  | { readonly type: 'session-create'; readonly password: Uint8Array; readonly ttlMs: number }
  | { readonly type: 'session-touch'; readonly sessions: readonly number[] }
  | { readonly type: 'session-expire'; readonly sessions: readonly number[]; readonly decidedAtSlot: number }
  | { readonly type: 'session-renew' }
  | { readonly type: 'session-close'; readonly session: number }
  | { readonly type: 'write'; readonly session: number; readonly auth: readonly ZkId[]; readonly request: ZkWriteRequest }
  | { readonly type: 'node-expire'; readonly nodes: readonly ZkExpiringNode[] };

/** What applying a command answers; `zxid` is the tree's revision after it. */
export type ZkResult =
  | { readonly type: 'session'; readonly session: number; readonly password: Uint8Array; readonly ttlMs: number; readonly zxid: number }
  | { readonly type: 'written'; readonly result: ZkWriteResult; readonly zxid: number }
  | { readonly type: 'done'; readonly zxid: number }
  /** The session named has ended (or never was): ZooKeeper's `sessionExpired`. */
  | { readonly type: 'no-session'; readonly zxid: number }
  /** The command was malformed or broke a limit: nothing changed. */
  | { readonly type: 'invalid'; readonly reason: string; readonly zxid: number };
