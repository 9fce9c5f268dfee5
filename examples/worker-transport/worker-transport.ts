/**
 * A custom Transport over `worker_threads` message channels: the worked example of
 * docs/custom-transport.md. Nodes may run in different threads of one process; each
 * pair of nodes talks over its own MessageChannel, with frames from synod's codec.
 *
 * - `WorkerNetwork` lives in one thread (the main one). `join(id)` gives a node a
 *   control port; through it the network hands the node one end of a fresh channel to
 *   every other member, and the other end to that member. A node that rejoins (a
 *   restart) gets fresh channels, and its peers drop the old ones.
 * - `WorkerTransport` lives wherever its node does: pass the control port to a worker
 *   in `workerData`, with it in `transferList`.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { CodecError, decodeMessage, encodeMessage, type NodeId, type NodeMessage, type Transport, type TransportHandlers } from '../../src/index.js';

/** What travels on a control port, from the network to a node. */
type Control = { readonly peer: NodeId; readonly port: MessagePort } | { readonly ready: true };

/** Messages held for a peer whose channel has not arrived (or was lost) before more are dropped. */
const waitingMessagesMax = 1_000;

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
  /** Sends dropped: closed, or too many waiting for a peer's channel. */
  dropped: number;
  /** Frames refused: malformed, or not from the channel's peer to this node. */
  rejected: number;
}

export class WorkerTransport implements Transport {
  readonly counts: WorkerTransportCounts = { delivered: 0, dropped: 0, rejected: 0 };
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
      this.control.on('message', (m: Control) => {
        if ('ready' in m) resolve();
        else this.attach(m.peer, m.port);
      });
    });
  }

  send(message: NodeMessage): void {
    if (this.closed) {
      this.counts.dropped++;
      return;
    }
    const port = this.ports.get(message.to);
    if (port === undefined) {
      // No channel yet (the peer has not joined, or is restarting): hold a bounded few.
      const queue = this.waiting.get(message.to) ?? [];
      if (queue.length >= waitingMessagesMax) {
        queue.shift(); // the oldest goes: newer messages supersede it
        this.counts.dropped++;
      }
      queue.push(message);
      this.waiting.set(message.to, queue);
      return;
    }
    const frame = encodeMessage(message);
    // The frame is a view into a larger buffer: copy it so the transfer moves only its bytes.
    const owned = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength ? frame : frame.slice();
    port.postMessage(owned, [owned.buffer as ArrayBuffer]);
  }

  close(): Promise<void> {
    this.closed = true;
    for (const port of this.ports.values()) port.close();
    this.ports.clear();
    this.waiting.clear();
    this.control.close();
    return Promise.resolve();
  }

  /** A channel to `peer` arrived: it replaces any older one, and what waited is sent. */
  private attach(peer: NodeId, port: MessagePort): void {
    if (this.closed) return port.close();
    this.ports.get(peer)?.close();
    this.ports.set(peer, port);
    port.on('message', (frame: Uint8Array) => this.receive(peer, frame));
    port.on('close', () => {
      if (this.ports.get(peer) !== port) return;
      this.ports.delete(peer);
      if (!this.closed) this.handlers?.peerUnreachable(peer);
    });
    port.unref();
    this.handlers?.peerReachable(peer);
    const queue = this.waiting.get(peer) ?? [];
    this.waiting.delete(peer);
    for (const message of queue) this.send(message);
  }

  /** Checks a frame from `peer` before the node sees it: the channel vouches for the sender. */
  private receive(peer: NodeId, frame: Uint8Array): void {
    if (this.closed) return;
    let message: NodeMessage;
    try {
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
