/**
 * The frames a KV client and a KV server exchange once the connection is
 * authenticated. Each travels length-prefixed, the prefix written in place as the frame
 * is encoded (`frameClientRequest`, `frameServerFrame`); requests carry an id
 * the answers repeat. Writes carry the log command itself (`kvCommandCodec`'s
 * encoding), and their answers the applied result (`kvResultCodec`'s).
 */
import type { Configuration } from '../../core/index.js';
import type { KvCommand, KvResult } from '../kv-command.js';
import type { KeyRange, RangeResult, SessionList, WatchEvent } from '../kv-types.js';
import type { RangeStatus } from '../shard/sharded-kv.js';

/** A request's identity for exactly-once, as in `ProposeOptions.request`. */
export interface RequestIdentity {
  readonly clientId: string;
  readonly seq: number;
  readonly ackedBelow: number;
}

/** What a client asks. */
export type ClientRequest =
  /** A write (or session command) for the log. `timeoutMs` 0: the server's default. */
  | { readonly kind: 'command'; readonly id: number; readonly command: KvCommand; readonly request: RequestIdentity | undefined; readonly timeoutMs: number }
  /** A range read. `revision` 0: now. `limit` 0: no limit beyond the server's. */
  | { readonly kind: 'range'; readonly id: number; readonly range: KeyRange; readonly limit: number; readonly revision: number; readonly linearizable: boolean }
  /** Starts a watch named by `id`. `fromRevision` 0: after the revision the server has applied as the watch arrives. */
  | { readonly kind: 'watch'; readonly id: number; readonly range: KeyRange; readonly fromRevision: number }
  /** Ends the watch started by request `id`. */
  | { readonly kind: 'unwatch'; readonly id: number }
  /** The server node's status. */
  | { readonly kind: 'status'; readonly id: number }
  /**
   * The members (`list`, any server), or a change to them (only the leader takes one;
   * others answer NOT_LEADER with the leader). `target` names the member; `argument`
   * is, for `addObserver`, where it listens, and for `replace`, the observer taking
   * the voter `target`'s place (else empty); `timeoutMs` 0: the server's default.
   */
  | {
      readonly kind: 'member';
      readonly id: number;
      readonly action: MemberAction;
      readonly target: string;
      readonly argument: string;
      readonly timeoutMs: number;
    }
  /**
   * A consistent copy of the replicated state (`SynodNode.exportSnapshot`), for a
   * backup: the server answers with `snapshotChunk` frames. `timeoutMs` bounds the wait
   * for the read point; 0: the server's default.
   */
  | { readonly kind: 'snapshot'; readonly id: number; readonly timeoutMs: number }
  /** The live sessions (`KvNode.listSessions`), read at a linearizable read point unless `linearizable` is false. */
  | { readonly kind: 'sessions'; readonly id: number; readonly linearizable: boolean }
  /** Each range of the keyspace as this server sees it (one, on a cluster that is not sharded). */
  | { readonly kind: 'ranges'; readonly id: number }
  /**
   * Starts a watch named by `id` across the ranges of a sharded cluster: each range
   * named in `from` from its revision there, the others after the revision the server
   * has applied in them as the watch arrives.
   */
  | { readonly kind: 'watchRanges'; readonly id: number; readonly range: KeyRange; readonly from: readonly RangeRevision[] };

/** A revision of one range of a sharded cluster (each range counts its own). */
export interface RangeRevision {
  readonly group: number;
  readonly revision: number;
}

/** What a `member` request does. `transfer` hands leadership to `target`. */
export type MemberAction = 'list' | 'addObserver' | 'promote' | 'demote' | 'remove' | 'transfer' | 'replace';

/** The server node's view of the cluster, for `synod status`. */
export interface ServerStatus {
  readonly node: string;
  readonly leader: string | undefined;
  readonly role: string;
  readonly members: readonly string[];
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly revision: number;
  readonly compactRevision: number;
}

/** A refusal, as a typed error's code and the fields the client rebuilds it from. */
export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  /** VERSION_CONFLICT: the key; RESULT_DROPPED: the request's client id. */
  readonly key?: string;
  /** VERSION_CONFLICT: the current version; COMPACTED: the revision asked for; SESSION_EXPIRED: the session; RESULT_DROPPED: the request's seq. */
  readonly number?: number;
  /** VERSION_CONFLICT: the revision; COMPACTED: the compacted revision. */
  readonly revision?: number;
  /** NOT_LEADER: the node believed to lead. */
  readonly leaderHint?: string;
}

/** What a server sends. */
export type ServerFrame =
  | { readonly kind: 'result'; readonly id: number; readonly result: KvResult }
  | { readonly kind: 'range'; readonly id: number; readonly result: RangeResult }
  /** The watch `id` reports from `fromRevision` on. */
  | { readonly kind: 'watching'; readonly id: number; readonly fromRevision: number }
  /** Events of watch `id`; with them, every change at or below `through` was sent (resume from `through + 1`). */
  | { readonly kind: 'events'; readonly id: number; readonly events: readonly WatchEvent[]; readonly through: number }
  | { readonly kind: 'status'; readonly id: number; readonly status: ServerStatus }
  /** The latest configuration this server knows, and the first slot it governs. */
  | { readonly kind: 'members'; readonly id: number; readonly configuration: Configuration; readonly from: number }
  /**
   * A piece of the snapshot request `id` asked for: `data` holds its bytes from
   * `offset`, of `totalBytes` in all, a copy of the slots up to `slot`; `sha256` is the
   * digest of the whole (the same in every piece). The pieces come in order, and the
   * last ends at `totalBytes`. A piece at offset 0 starts the snapshot over (a request
   * sent again after a reconnect).
   */
  | {
      readonly kind: 'snapshotChunk';
      readonly id: number;
      readonly slot: number;
      readonly totalBytes: number;
      readonly offset: number;
      readonly sha256: Uint8Array;
      readonly data: Uint8Array;
    }
  /** The live sessions a `sessions` request asked for. */
  | { readonly kind: 'sessions'; readonly id: number; readonly list: SessionList }
  | { readonly kind: 'ranges'; readonly id: number; readonly ranges: readonly RangeStatus[] }
  /** The range watch `id` reports each range from these revisions on. */
  | { readonly kind: 'rangeWatching'; readonly id: number; readonly from: readonly RangeRevision[] }
  /** Events of range `group` for range watch `id`; with them, every change of that range at or below `through` was sent. */
  | { readonly kind: 'rangeEvents'; readonly id: number; readonly group: number; readonly events: readonly WatchEvent[]; readonly through: number }
  /** Request `id` failed (a watch: it ended). */
  | { readonly kind: 'error'; readonly id: number; readonly error: ErrorBody };
