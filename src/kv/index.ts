/**
 * synod/kv: the replicated key-value store. Versioned keys (ZooKeeper's versions,
 * etcd's revisions), transactions, sessions with ephemeral keys, sequential keys,
 * watches and linearizable reads, on a synod node.
 * @packageDocumentation
 */
export { createKvNode, KvNode, type KvNodeOptions } from './kv-node.js';
export type { KvApi, Consistency, ReadOptions, WriteOptions, SessionOptions, WatchOptions, Watch } from './kv-api.js';
export { KvStateMachine, type KvStateMachineOptions, sequentialKey } from './kv-state-machine.js';
export { KvSession, type SessionEnd } from './kv-session.js';
export { KvWatch } from './kv-watch.js';
export {
  VersionConflictError,
  CompactedError,
  SessionExpiredError,
  KvRequestError,
  AuthenticationError,
  PermissionDeniedError,
  QuotaExceededError,
  AnswerTooLargeError,
} from './errors.js';
export { kvLimits } from './kv-limits.js';
export {
  authLimits,
  rootRole,
  type KeyAccess,
  type KeyPattern,
  type KvPermission,
  type KvRoleRecord,
  type KvUserRecord,
  type UserDefinition,
  type AuthChangeResult,
  type AuthListing,
  type KvUserView,
} from './kv-auth.js';
export { kvCommandCodec, kvResultCodec } from './kv-codec.js';
export type { KvExtension } from './kv-extension.js';
export type { KvCommand, KvResult, SessionOwner } from './kv-command.js';
export type {
  KeyValue,
  KeyRange,
  PutOptions,
  DeleteOptions,
  RangeOptions,
  RangeResult,
  PutResult,
  DeleteResult,
  Compare,
  TxnOp,
  TxnRequest,
  TxnOpResult,
  TxnResult,
  WatchEvent,
  SessionInfo,
  SessionListing,
  SessionList,
  RevokeResult,
} from './kv-types.js';
export { WrongRangeError, CrossShardError } from './errors.js';
export type { KeyBounds } from './key-bounds.js';
export { type RangeCreation, RangeMap, type ShardRange } from './shard/range-map.js';
export {
  ShardedKv,
  createShardedKv,
  type ShardedKvOptions,
  type ShardNodeOptions,
  type ShardedRangeResult,
  type RangeStatus,
  type ShardedWatchOptions,
} from './shard/sharded-kv.js';
export { ShardedWatch, type ShardedWatchEvent } from './shard/sharded-watch.js';
export { ShardedSession } from './shard/sharded-session.js';
