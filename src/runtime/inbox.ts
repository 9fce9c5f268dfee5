/**
 * A node's inbox: every message the transport delivers, checked for its address,
 * validated where the format is the runtime's own, and handed to the part that handles
 * it; the core's protocol messages are stepped into the core (which guards them itself).
 */
import type { Message, Replica } from '../core/index.js';
import type { MetricsRecorder } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import type { Proposals } from './proposals.js';
import type { Reads } from './reads.js';
import type { NodeMessage, SnapshotAckMessage, SnapshotChunkMessage } from './runtime-messages.js';
import type { Snapshots } from './snapshots.js';

/** The parts of a node's options the inbox reads. @internal */
export type InboxOptions = Pick<ResolvedOptions<unknown, unknown>, 'id' | 'logger'>;

/** What the inbox needs from its node: where each kind of message goes. @internal */
export interface InboxHost {
  /** Whether the node runs: a message that arrives before its start or after its close is ignored. */
  running(): boolean;
  /** The core, which takes the protocol's own messages (there once the node started). */
  core(): Pick<Replica, 'step'>;
  readonly proposals: Pick<Proposals<unknown, unknown>, 'onForward' | 'onForwardRefused'>;
  readonly reads: Pick<Reads, 'onReadRequest' | 'onReadReply'>;
  readonly snapshots: Pick<Snapshots<unknown>, 'onChunk' | 'onAck'>;
  /** Runs the drive loop soon (this turn): whatever a message caused goes out. */
  drainSoon(): void;
  /** An exception while handling a message is a bug: the node stops. */
  fail(error: unknown): void;
}

/**
 * Takes what the transport delivers (see {@link TransportHandlers.deliver}). A message
 * not addressed to this node, from itself, or without a sender or type is dropped and
 * counted; a snapshot chunk or ack with a field out of range too (and logged), before
 * the snapshot transfer sees it.
 * @internal
 */
export class Inbox {
  constructor(
    private readonly options: InboxOptions,
    private readonly recorder: MetricsRecorder,
    private readonly host: InboxHost,
  ) {}

  /** One message from the transport. */
  readonly deliver = (message: NodeMessage): void => {
    if (!this.host.running()) return;
    this.recorder.messagesIn++;
    if (!this.isFromPeer(message)) {
      this.recorder.messagesDropped++;
      return;
    }
    try {
      this.route(message);
    } catch (error) {
      this.host.fail(error);
    }
    this.host.drainSoon();
  };

  /** A message that fails validation (here or in the part it went to): counted and logged, never acted on. */
  dropMalformed(m: NodeMessage): void {
    this.recorder.messagesDropped++;
    this.options.logger.warn({ node: this.options.id, from: m.from, type: m.type }, 'dropped a malformed message');
  }

  private route(message: NodeMessage): void {
    switch (message.type) {
      case 'forward':
        return this.host.proposals.onForward(message);
      case 'forwardRefused':
        return this.host.proposals.onForwardRefused(message);
      case 'readRequest':
        return this.host.reads.onReadRequest(message);
      case 'readReply':
        return this.host.reads.onReadReply(message);
      case 'snapshotChunk':
        return this.onSnapshotChunk(message);
      case 'snapshotAck':
        return this.onSnapshotAck(message);
      case 'group':
      case 'hostPing':
      case 'hostHeartbeats':
        // A peer runs groups (a group host) and this node runs one alone: not a message for it.
        return this.dropMalformed(message);
      default:
        return this.host.core().step(message as Message);
    }
  }

  private isFromPeer(m: unknown): m is NodeMessage {
    if (typeof m !== 'object' || m === null) return false;
    const { from, to, type } = m as { from: unknown; to: unknown; type: unknown };
    // Any sender the transport let through: it authenticates who may speak. A member
    // may hear from one that a configuration it has not learned yet added (the new
    // leader, say), and must listen to it to learn of it.
    return to === this.options.id && typeof from === 'string' && from !== '' && from !== this.options.id && typeof type === 'string';
  }

  private onSnapshotChunk(m: SnapshotChunkMessage): void {
    const ok =
      isCount(m.transfer) &&
      isCount(m.slot) &&
      m.slot >= 1 &&
      isCount(m.total) &&
      m.total >= 1 &&
      isCount(m.offset) &&
      isCount(m.crc) &&
      m.crc <= 0xffffffff &&
      m.data instanceof Uint8Array;
    if (!ok) return this.dropMalformed(m);
    this.host.snapshots.onChunk(m);
  }

  private onSnapshotAck(m: SnapshotAckMessage): void {
    const ok = isCount(m.transfer) && isCount(m.received) && (m.status === 'more' || m.status === 'done' || m.status === 'failed');
    if (!ok) return this.dropMalformed(m);
    this.host.snapshots.onAck(m);
  }
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}
