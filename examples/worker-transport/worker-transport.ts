/**
 * A custom Transport over `worker_threads` message channels: the worked example of
 * docs/custom-transport.md. Nodes may run in different threads of one process; each
 * pair of nodes talks over its own MessageChannel, with frames from synod's codec.
 *
 * - `WorkerNetwork` lives in one thread (the main one). `join(id)` gives a node a
 *   control port; through it the network hands the node one end of a fresh channel to
 *   every other member, and the other end to that member. A node that rejoins (a
 *   restart) gets fresh channels, and its peers close the old ones.
 * - `WorkerTransport` lives wherever its node does: pass the control port to a worker
 *   in `workerData`, with it in `transferList`.
 *
 * Reachability is best effort: a peer is reported reachable when a channel to it
 * arrives, and unreachable when that channel's `close` event fires (the peer's
 * transport closed, or its thread ended). A channel replaced before its `close` event
 * arrived is not reported unreachable.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { CodecError, decodeMessage, encodeMessage, type NodeId, type NodeMessage, type Transport, type TransportHandlers } from '../../src/index.js';

/** What travels on a control port, from the network to a node. */
type Control = { readonly peer: NodeId; readonly port: MessagePort } | { readonly ready: true };

/** Messages held for one peer whose channel has not arrived (or was lost); beyond it the oldest go. */
const waitingMessagesMax = 1_000;
/** Peers with messages held at once; a message for one more peer without a channel is dropped. */
const waitingPeersMax = 16;

export class WorkerNetwork {
  private readonly controls = new Map<NodeId, MessagePort>();

  /** A control port for node `id`, to pass to its {@link WorkerTransport}. */
  join(id: NodeId): MessagePort {
    const { port1: ours, port2: theirs } = new MessageChannel();
    this.controls.get(id)?.close();
    this.controls.set(id, ours);
    ours.on('close', () => {
      if (this.controls.get(id) === ours) this.controls.delete(id);
    });
    for (const [peer, control] of this.controls) {
      if (peer === id) continue;
      const channel = new MessageChannel();
      ours.postMessage({ peer, port: channel.port1 } satisfies Control, [channel.port1]);
      control.postMessage({ peer: id, port: channel.port2 } satisfies Control, [channel.port2]);
    }
    ours.postMessage({ ready: true } satisfies Control);
    ours.unref();
    return theirs;
  }
}

/** What a WorkerTransport counted. */
export interface WorkerTransportCounts {
  delivered: number;
  /** Sends dropped: after close, or beyond the bounds of what waits for a peer's channel. */
  dropped: number;
  /** Sends that `encodeMessage` refused (a bug in the sender): dropped. */
  unencodable: number;
  /** Frames refused: malformed, or not from the channel's peer to this node. */
  rejected: number;
}

export class WorkerTransport implements Transport {
  readonly counts: WorkerTransportCounts = { delivered: 0, dropped: 0, unencodable: 0, rejected: 0 };
  private readonly ports = new Map<NodeId, MessagePort>();
  private readonly waiting = new Map<NodeId, NodeMessage[]>();
  private handlers: TransportHandlers | undefined;
  private closed = false;

  constructor(
    private readonly id: NodeId,
    private readonly control: MessagePort,
  ) {}

  /** Resolves once the channels to every member already known have arrived. */
  start(handlers: TransportHandlers): Promise<void> {
    this.handlers = handlers;
    return new Promise((resolve) => {
      this.control.once('close', resolve);
      this.control.on('message', (m: Control) => {
        if ('ready' in m) resolve();
        else this.attach(m.peer, m.port);
      });
    });
  }

  /** Never throws: what cannot be sent is dropped and counted. */
  send(message: NodeMessage): void {
    if (this.closed) {
      this.counts.dropped++;
      return;
    }
    const port = this.ports.get(message.to);
    if (port === undefined) return this.wait(message);
    let frame: Uint8Array;
    try {
      frame = encodeMessage(message);
    } catch {
      this.counts.unencodable++; // a CodecError, or a TypeError for a record missing fields
      return;
    }
    // Transferring detaches the whole ArrayBuffer, and posting a view without transfer
    // clones the whole ArrayBuffer. The encoder's buffer is usually larger than the
    // frame, so copy exactly the frame out and transfer the copy; a frame that owns its
    // buffer (nobody else holds it) is transferred as it is, with no copy.
    const owned = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength ? frame : frame.slice();
    port.postMessage(owned, [owned.buffer as ArrayBuffer]); // to a closed port: dropped by Node
  }

  close(): Promise<void> {
    this.closed = true;
    for (const port of this.ports.values()) port.close();
    this.ports.clear();
    this.waiting.clear();
    this.control.close();
    return Promise.resolve();
  }

  /** No channel to `message.to` (not joined yet, or restarting): hold a bounded few. */
  private wait(message: NodeMessage): void {
    let queue = this.waiting.get(message.to);
    if (queue === undefined) {
      if (this.waiting.size >= waitingPeersMax) {
        this.counts.dropped++;
        return;
      }
      queue = [];
      this.waiting.set(message.to, queue);
    }
    if (queue.length >= waitingMessagesMax) {
      queue.shift(); // the oldest goes: newer messages supersede it
      this.counts.dropped++;
    }
    queue.push(message);
  }

  /** A channel to `peer` arrived: it replaces any older one, and what waited is sent. */
  private attach(peer: NodeId, port: MessagePort): void {
    if (this.closed) return port.close();
    this.ports.get(peer)?.close();
    this.ports.set(peer, port);
    port.on('message', (frame: unknown) => this.receive(peer, frame));
    port.on('close', () => {
      if (this.ports.get(peer) !== port) return;
      this.ports.delete(peer);
      if (!this.closed) this.handlers?.peerUnreachable(peer);
    });
    port.unref(); // an open channel alone does not keep the thread alive
    this.handlers?.peerReachable(peer);
    const queue = this.waiting.get(peer) ?? [];
    this.waiting.delete(peer);
    for (const message of queue) this.send(message);
  }

  /** Checks a frame from `peer` before the node sees it: the channel vouches for the sender. */
  private receive(peer: NodeId, frame: unknown): void {
    if (this.closed) return;
    let message: NodeMessage;
    try {
      if (!(frame instanceof Uint8Array)) throw new CodecError(`a ${typeof frame} where a frame was expected`);
      message = decodeMessage(frame);
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      this.counts.rejected++;
      return;
    }
    if (message.from !== peer || message.to !== this.id) {
      this.counts.rejected++;
      return;
    }
    this.counts.delivered++;
    this.handlers?.deliver(message);
  }
}
