/**
 * Everything a TcpTransport keeps for one peer: the messages waiting for it (encoded
 * straight into one buffer, so a burst leaves in one write), the connection to it, and
 * the redial schedule when this node is the side that dials. A peer whose address is
 * not known (it dialed in before any configuration named it) is never dialed.
 */
import type { NodeId } from '../../core/index.js';
import type { NodeMessage } from '../../runtime/index.js';
import { writeMessage, writeMessageHead } from '../codec/message-codec.js';
import { Writer } from '../../encoding/writer.js';
import type { Connection } from './connection.js';
import { RedialBackoff } from './redial-backoff.js';
import type { ResolvedTcpOptions, TcpAddress } from './tcp-options.js';
import type { TcpCounters, TcpPeerCounters } from './tcp-stats.js';

/** What a link asks of its transport. @internal */
export interface LinkHost {
  readonly options: ResolvedTcpOptions;
  readonly counters: TcpCounters;
  /** Opens a connection to `peer` at `address`, as the dialer. */
  dial(peer: NodeId, address: TcpAddress): Connection;
  /** `peer` became reachable (true) or unreachable (false). */
  reach(peer: NodeId, reachable: boolean): void;
}

/** Batches up to this size are copied out and their buffer reused; larger ones are handed to the socket whole. */
const batchCopyBytesMax = 16 * 1024;
const batchBytesCap = 1024 * 1024;
/** Batch buffers kept for reuse once the socket is done with them. */
const spareBatchesMax = 2;

/** @internal */
export class PeerLink {
  /** What went to and came from the peer; its connections count into it once attached. */
  readonly counts: TcpPeerCounters = { framesSent: 0, bytesSent: 0, framesReceived: 0, bytesReceived: 0 };
  /** Messages waiting, encoded with their length prefixes. */
  private batch = newBatch(batchCopyBytesMax);
  private batchMessages = 0;
  /**
   * Large batches the socket has written out, ready to take the next turn's messages:
   * a fresh buffer per turn cost page faults on first touch and garbage collections.
   */
  private readonly spareBatches: Writer[] = [];
  private connection: Connection | undefined;
  private dialing: Connection | undefined;
  private redialTimer: ReturnType<typeof setTimeout> | undefined;
  /** A flush is set for the end of this turn of the event loop. */
  private turnFlushSet = false;
  /** Messages sent in this turn of the event loop. */
  private turnMessages = 0;
  /** The last turn that sent anything sent more than one message. */
  private busy = false;
  private reachable: boolean | undefined;
  private closed = false;
  private readonly backoff: RedialBackoff;
  /** The waiting side's own dials, in case the peer does not know this node (see `detach`). */
  private readonly waitingBackoff: RedialBackoff;

  constructor(
    readonly peer: NodeId,
    private address: TcpAddress | undefined,
    /** Whether this node's id sorts first, which makes it the side that dials. */
    private readonly sortsFirst: boolean,
    private readonly host: LinkHost,
  ) {
    const o = host.options;
    this.backoff = new RedialBackoff(o.reconnectDelayMsMin, o.reconnectDelayMsMax, o.random);
    this.waitingBackoff = new RedialBackoff(o.idleTimeoutMs, 8 * o.idleTimeoutMs, o.random);
  }

  /** Whether this node dials the peer rather than waits for it: its id sorts first and it knows where the peer is. */
  get dials(): boolean {
    return this.sortsFirst && this.address !== undefined;
  }

  /** The host the peer listens on, if known. */
  get listenHost(): string | undefined {
    return this.address?.host;
  }

  /** Whether this node knows where the peer listens (from its options or a configuration). */
  get known(): boolean {
    return this.address !== undefined;
  }

  /** Whether an authenticated connection to the peer is open. */
  get connected(): boolean {
    return this.connection !== undefined;
  }

  /** Bytes held for the peer: waiting here and in the socket's buffer. */
  get heldBytes(): number {
    return this.batch.length + (this.connection?.writableLength ?? 0);
  }

  /**
   * Queues `message`. When the peer holds too much already, the oldest messages go
   * first: the queue waiting here is dropped (and counted) to make room, because a
   * newer message supersedes older ones (a later commit index, a later ballot). What
   * the socket already took cannot be recalled; if that alone is over the limit,
   * `message` is dropped.
   */
  send(message: NodeMessage): void {
    const o = this.host.options;
    const c = this.host.counters;
    if (this.batchMessages >= o.queueMessagesMax || this.heldBytes >= o.queueBytesMax) this.dropQueue();
    // A group's snapshot chunk (many groups over one transport) is written alone too.
    const inner = message.type === 'group' ? message.message : message;
    if (inner.type === 'snapshotChunk' && inner.data.byteLength > batchCopyBytesMax && this.connection !== undefined) {
      this.sendAlone(message, inner.data);
      return;
    }
    const w = this.batch;
    const start = w.length;
    try {
      const at = w.reserveU32();
      writeMessage(w, message);
      const frameBytes = w.length - at - 4;
      if (frameBytes > o.frameBytesMax) throw new RangeError(`a ${message.type} message of ${frameBytes} bytes, more than frameBytesMax ${o.frameBytesMax}`);
      w.setU32(at, frameBytes);
    } catch (error) {
      w.truncate(start);
      c.messagesDropped++;
      o.logger.error({ node: o.id, peer: this.peer, error }, 'tcp: a message could not be encoded; dropped');
      return;
    }
    if (this.heldBytes > o.queueBytesMax) {
      w.truncate(start);
      c.messagesDropped++;
      return;
    }
    this.batchMessages++;
    this.turnMessages++;
    c.messagesSent++;
    this.counts.framesSent++;
    if (this.connection !== undefined && !this.turnFlushSet) {
      // The first message of a quiet link's turn leaves at once (no added latency); the
      // rest of the turn's messages leave together in one write when the turn ends. On
      // a busy link (the last turn sent many) the whole turn waits for that one write:
      // the next turn's messages follow soon, and a write of its own for the first
      // message of each turn doubled the writes under load.
      this.turnFlushSet = true;
      if (!this.busy) this.flush();
      setImmediate(() => {
        this.turnFlushSet = false;
        this.busy = this.turnMessages > 1;
        this.turnMessages = 0;
        this.flush();
      });
    }
  }

  /**
   * Writes a large snapshot chunk on its own, after what is waiting (order kept): its
   * frame's fields, then its data straight from the sender's buffer (which it never
   * changes once sent). Copied into the batch, a window of chunks left in one turn
   * made the batch double, copying what it held, and every byte was copied once more.
   * `data` is the chunk's: `message`'s own, or that of the group's chunk it wraps.
   */
  private sendAlone(message: NodeMessage, data: Uint8Array): void {
    const o = this.host.options;
    const c = this.host.counters;
    this.flush();
    // The frame's fields besides the data: a few varints and the two ids.
    const w = newBatch(4 + 64 + 3 * (message.from.length + message.to.length));
    try {
      const at = w.reserveU32();
      writeMessageHead(w, message);
      const frameBytes = w.length - at - 4 + data.byteLength;
      if (frameBytes > o.frameBytesMax) throw new RangeError(`a ${message.type} message of ${frameBytes} bytes, more than frameBytesMax ${o.frameBytesMax}`);
      w.setU32(at, frameBytes);
    } catch (error) {
      c.messagesDropped++;
      o.logger.error({ node: o.id, peer: this.peer, error }, 'tcp: a message could not be encoded; dropped');
      return;
    }
    if (this.heldBytes + w.length + data.byteLength > o.queueBytesMax) {
      c.messagesDropped++;
      return;
    }
    c.messagesSent++;
    this.connection!.writeParts(w.finish(), data);
  }

  /** Drops every message waiting here, counted. */
  private dropQueue(): void {
    this.host.counters.messagesDropped += this.batchMessages;
    this.batch.truncate(0);
    this.batchMessages = 0;
  }

  /** Takes `connection` (open, authenticated as this peer) as the one to use. */
  attach(connection: Connection): void {
    const previous = this.connection;
    this.connection = connection;
    connection.peerCounts = this.counts;
    if (this.dialing === connection) this.dialing = undefined;
    // A peer that restarted dials again before the old connection noticed: the newer wins.
    if (previous !== undefined && previous !== connection) previous.close('replaced by a newer connection from the same peer');
    this.backoff.reset();
    this.waitingBackoff.reset();
    this.setReachable(true);
    this.flush();
  }

  /** `connection` ended: forget it, and redial if this side dials. */
  detach(connection: Connection): void {
    // Not ours: an inbound connection that claimed this peer and never authenticated.
    if (connection !== this.dialing && connection !== this.connection) return;
    if (connection === this.dialing) this.dialing = undefined;
    if (connection === this.connection) this.connection = undefined;
    if (this.connection !== undefined || this.closed) return;
    this.setReachable(false);
    this.scheduleDial();
  }

  /** The transport started, or took this link while started: dial, or wait to be dialed. */
  start(): void {
    if (this.dials) this.dial();
    else this.scheduleDial();
  }

  /**
   * Dials now, if no connection is open or on its way: as the side that dials, or as
   * the waiting side when `waited` (the peer has not dialed for a while: it may not
   * know this node yet, being a member that missed the configuration adding it).
   */
  dial(waited = false): void {
    if (this.closed || this.address === undefined || this.connection !== undefined || this.dialing !== undefined) return;
    if (!this.dials && !waited) return;
    this.dialing = this.host.dial(this.peer, this.address);
  }

  /**
   * The peer moved: drop its connection and dial the new address. A peer that dialed
   * in unknown keeps its connection: this is where it listens, now known.
   */
  moveTo(address: TcpAddress): void {
    const before = this.address;
    this.address = address;
    if (before === undefined) {
      this.scheduleDial();
      return;
    }
    // The same address again (a configuration that did not move it): keep the connection.
    if (address.host === before.host && address.port === before.port) return;
    this.dialing?.close('the peer moved to a new address');
    this.connection?.close('the peer moved to a new address');
  }

  /** Stops for good: timers cleared, connections closed, the queue dropped. */
  close(): void {
    this.closed = true;
    if (this.redialTimer !== undefined) clearTimeout(this.redialTimer);
    this.dialing?.close('the transport closed');
    this.connection?.close('the transport closed');
    this.dropQueue();
  }

  private flush(): void {
    const connection = this.connection;
    const w = this.batch;
    if (connection === undefined || w.length === 0) return;
    this.batchMessages = 0;
    this.counts.bytesSent += w.length;
    if (w.length <= batchCopyBytesMax) {
      // Small batches are the common case: one pooled copy, and the buffer is kept.
      connection.write(Buffer.from(w.finish()));
      w.truncate(0);
      return;
    }
    // The next batch is one the socket is done with, or a new one as large as this: a
    // batch that grew to hold a turn's messages is needed again next turn, and growing
    // it again would copy what it holds each time.
    this.batch = this.spareBatches.pop() ?? newBatch(Math.min(batchBytesCap, w.capacity));
    connection.write(w.finish(), () => {
      // Written out (or the socket is gone): nothing holds the bytes any more.
      w.truncate(0);
      if (this.spareBatches.length < spareBatchesMax && w.capacity <= batchBytesCap) this.spareBatches.push(w);
    });
  }

  /**
   * Dials again later when no connection is open: soon as the side that dials; after
   * a longer wait (idle timeouts, growing) as the waiting side, whose peer dials it
   * unless the peer does not know it.
   */
  private scheduleDial(): void {
    if (this.redialTimer !== undefined || this.closed || this.address === undefined || this.connection !== undefined) return;
    const waited = !this.dials;
    this.redialTimer = setTimeout(
      () => {
        this.redialTimer = undefined;
        this.dial(waited);
        if (waited && this.dialing === undefined) this.scheduleDial();
      },
      waited ? this.waitingBackoff.next() : this.backoff.next(),
    );
    this.redialTimer.unref();
  }

  private setReachable(reachable: boolean): void {
    if (this.reachable === reachable) return;
    const before = this.reachable;
    this.reachable = reachable;
    const o = this.host.options;
    // Lost is news; never reached yet is a cluster starting its members one by one.
    if (!reachable && before === true) o.logger.warn({ node: o.id, peer: this.peer }, 'tcp: peer unreachable');
    else if (!reachable) o.logger.debug({ node: o.id, peer: this.peer }, 'tcp: peer not reachable yet');
    this.host.reach(this.peer, reachable);
  }
}

/**
 * A batch buffer, not zero-filled (every byte is written before it is read), seen as a
 * plain Uint8Array: the writer then meets one array type only, and stays fast.
 */
function newBatch(bytes: number): Writer {
  const buffer = Buffer.allocUnsafe(Math.max(batchCopyBytesMax, bytes));
  return new Writer(new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength));
}
