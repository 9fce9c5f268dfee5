export { createNode, SynodNode, type NodeState, type NodeStatus } from './node.js';
export type { ProposeOptions } from './proposals.js';
export type { WaitOptions } from './reads.js';
export type { NodeOptions, SnapshotOptions } from './options.js';
export type { Transport, TransportHandlers } from './transport.js';
export type { Storage, Snapshot, SnapshotReader, SnapshotWriter, OpenSnapshotOptions, CreateSnapshotOptions } from './storage.js';
export { type StateMachine, type ApplyMeta, type SnapshotCapture, type Codec, jsonCodec, bytesCodec, resultJsonCodec } from './state-machine.js';
export {
  isCoreMessage,
  isGroupId,
  groupIdMax,
  type NodeMessage,
  type GroupMessage,
  type HostPingMessage,
  type HostHeartbeatsMessage,
  type GroupHeartbeat,
  type GroupMemberMessage,
  type NodeMessageType,
  type ForwardMessage,
  type ForwardRefusedMessage,
  type ReadRequestMessage,
  type ReadReplyMessage,
  type SnapshotChunkMessage,
  type SnapshotAckMessage,
} from './runtime-messages.js';
export { type Clock, type TimerHandle, systemClock } from './clock.js';
export { type Logger, silentLogger } from './logger.js';
export { type LogRateLimit, type RateLimitedLogger, limitLogRate } from './log-rate-limit.js';
export type { NodeEvents, NodeListener } from './events.js';
export type { NodeMetrics } from './metrics.js';
export type { DedupLimits, DedupStats } from './dedup-table.js';
export {
  ClosedError,
  NotStartedError,
  NotLeaderError,
  TimeoutError,
  AbortedError,
  OverloadedError,
  CommandTooLargeError,
  ResultExpiredError,
  ResultDroppedError,
  ApplyError,
  StorageError,
  TransferError,
  SnapshotError,
  MembershipError,
} from './errors.js';
