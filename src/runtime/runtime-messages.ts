import type { Message, NodeId } from '../core/index.js';

/**
 * Everything nodes send each other: the core's protocol messages, plus the few the
 * runtime adds to forward proposals and reads from followers to the leader. A
 * {@link Transport} moves these records unchanged; a codec may turn them into bytes.
 */
export type NodeMessage = Message | ForwardMessage | ForwardRefusedMessage | ReadRequestMessage | ReadReplyMessage;

/** The `type` of every node message. */
export type NodeMessageType = NodeMessage['type'];

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
