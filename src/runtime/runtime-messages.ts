import type { Message, NodeId } from '../core/index.js';

/**
 * Everything nodes send each other: the core's protocol messages, plus the few the
 * runtime adds to forward proposals and reads from followers to the leader. A
 * {@link Transport} moves these records unchanged; a codec may turn them into bytes.
 */
export type NodeMessage = GroupMemberMessage | GroupMessage | HostPingMessage | HostHeartbeatsMessage;

/** Every message one group's node sends or takes: all but the {@link GroupMessage} a group host wraps them in. */
export type GroupMemberMessage =
  | Message
  | ForwardMessage
  | ForwardRefusedMessage
  | ReadRequestMessage
  | ReadReplyMessage
  | SnapshotChunkMessage
  | SnapshotAckMessage;

/** The `type` of every node message. */
export type NodeMessageType = NodeMessage['type'];

const runtimeTypes: ReadonlySet<string> = new Set<Exclude<NodeMessageType, Message['type']>>([
  'forward',
  'forwardRefused',
  'readRequest',
  'readReply',
  'snapshotChunk',
  'snapshotAck',
  'group',
  'hostPing',
  'hostHeartbeats',
]);

/** Whether `m` is one of the core's protocol messages (the others are the runtime's own). */
export function isCoreMessage(m: NodeMessage): m is Message {
  return !runtimeTypes.has(m.type);
}

/**
 * A follower hands proposals to the node it believes leads. Each command is a
 * runtime envelope (client id, sequence number, payload); the follower learns the
 * outcome by applying the slot that carries it, so there is no positive reply.
 */
export interface ForwardMessage {
  readonly type: 'forward';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly commands: readonly Uint8Array[];
}

/** The addressee could not take forwarded proposals: it does not lead, or its queue is full. */
export interface ForwardRefusedMessage {
  readonly type: 'forwardRefused';
  readonly from: NodeId;
  readonly to: NodeId;
  /** The refused requests, as `[clientId, seq]` pairs. */
  readonly requests: readonly (readonly [clientId: string, seq: number])[];
  readonly reason: 'not-leader' | 'overloaded';
  /** Who the refusing node believes leads. */
  readonly leaderHint: NodeId | undefined;
}

/** A follower asks the leader for a read index on behalf of its read `id`. */
export interface ReadRequestMessage {
  readonly type: 'readRequest';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly id: number;
}

/** The leader's answer: the confirmed read index, or that it does not lead. */
export interface ReadReplyMessage {
  readonly type: 'readReply';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly id: number;
  /** The slot the follower must have applied before it reads; undefined when refused. */
  readonly index: number | undefined;
  readonly leaderHint: NodeId | undefined;
}

/**
 * One piece of a snapshot streamed to a replica that needs slots the sender compacted.
 * Chunks of one transfer are sent in order, a bounded window of them ahead of the last
 * ack; the receiver takes them in order only.
 */
export interface SnapshotChunkMessage {
  readonly type: 'snapshotChunk';
  readonly from: NodeId;
  readonly to: NodeId;
  /** Identifies the transfer: chunks of another (older) transfer are not mixed in. */
  readonly transfer: number;
  /** The snapshot covers every slot up to this one. */
  readonly slot: number;
  /** The snapshot's size in bytes. */
  readonly total: number;
  /** Where `data` starts in the snapshot. */
  readonly offset: number;
  /**
   * The CRC-32 (IEEE, as zlib's) of the snapshot's bytes from its start to the end of
   * `data`: the last chunk's covers the whole snapshot.
   */
  readonly crc: number;
  readonly data: Uint8Array;
}

/** The receiver's answer to a chunk: how far it got, and whether the transfer ended. */
export interface SnapshotAckMessage {
  readonly type: 'snapshotAck';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly transfer: number;
  /** The offset of the next chunk it wants (everything before it arrived). */
  readonly received: number;
  /**
   * `'more'`: send the chunk at `received`. `'done'`: installed, or no longer needed.
   * `'failed'`: refused (too large, unreadable, the storage failed); the receiver asks
   * again later through catch-up.
   */
  readonly status: 'more' | 'done' | 'failed';
}

/** The largest group id: group ids are unsigned 32-bit integers. */
export const groupIdMax = 0xffff_ffff;

/** Whether `n` is a valid group id: an integer from 0 to {@link groupIdMax}. */
export function isGroupId(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= groupIdMax;
}

/**
 * A group host tells each peer host it runs, every so often, whatever its groups do:
 * one message per peer however many groups they share. A peer not heard from for a
 * while may have failed, and the groups it leads that quiesced are woken. A
 * single-group node never sends one, and drops one it is handed.
 */
export interface HostPingMessage {
  readonly type: 'hostPing';
  readonly from: NodeId;
  readonly to: NodeId;
}

/**
 * One consensus group's message on a transport that many groups share (a `GroupHost`
 * runs them): `message`, sent by the node of group `group` on `from` to the node of the
 * same group on `to`. `from` and `to` are `message`'s own, repeated so a transport
 * routes this record as any other. A transport moves it unchanged; the codec encodes
 * it as `message`'s frame with a flag and the group id as a varint, so a group id
 * under 128 adds one byte, under 16,384 two. A single-group node never sends one,
 * and drops one it is handed.
 */
export interface GroupMessage {
  readonly type: 'group';
  readonly from: NodeId;
  readonly to: NodeId;
  /** The group, from 0 to {@link groupIdMax}. */
  readonly group: number;
  /** The group's own message; never itself a `GroupMessage`. */
  readonly message: GroupMemberMessage;
}

/**
 * One group's heartbeat, or a reply to one, inside a {@link HostHeartbeatsMessage}: the
 * core's `heartbeat` (its ballot's node is the sender) or `heartbeatReply` (its
 * ballot's node is the addressee, the leader it answers) without what the host message
 * already says.
 */
export interface GroupHeartbeat {
  /** The group, from 0 to {@link groupIdMax}. */
  readonly group: number;
  /** A reply to a heartbeat (`heartbeatReply`), or a heartbeat. */
  readonly reply: boolean;
  /** The leader's ballot round. */
  readonly round: number;
  readonly commitIndex: number;
  readonly seq: number;
}

/**
 * The heartbeats and replies a group host's groups send one peer host in the same
 * turn, in one message: with the groups' ticks on one beat (see `GroupHost`), an active
 * host sends each peer one of these a tick, however many groups they share. The
 * receiving host hands each group its own `heartbeat` or `heartbeatReply`, rebuilt
 * whole. A single-group node never sends one, and drops one it is handed.
 */
export interface HostHeartbeatsMessage {
  readonly type: 'hostHeartbeats';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly beats: readonly GroupHeartbeat[];
}
