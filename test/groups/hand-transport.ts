/** Test doubles for a group host's transports: a shared transport driven by hand, and handlers that keep what they get. */
import type { NodeMessage, Transport, TransportHandlers } from '../../src/index.js';

/** A shared transport the test drives by hand: it keeps what is sent and delivers what the test says. */
export class HandTransport implements Transport {
  handlers: TransportHandlers | undefined;
  readonly sent: NodeMessage[] = [];
  closed = 0;

  start(handlers: TransportHandlers): Promise<void> {
    this.handlers = handlers;
    return Promise.resolve();
  }

  send(message: NodeMessage): void {
    this.sent.push(message);
  }

  close(): Promise<void> {
    this.closed++;
    this.handlers = undefined;
    return Promise.resolve();
  }

  deliver(message: unknown): void {
    this.handlers!.deliver(message as NodeMessage);
  }
}

/** A group transport's handlers that keep what they are given. */
export function keeper(): { handlers: TransportHandlers; got: NodeMessage[]; peers: string[] } {
  const got: NodeMessage[] = [];
  const peers: string[] = [];
  return {
    got,
    peers,
    handlers: {
      deliver: (m) => got.push(m),
      peerUnreachable: (p) => peers.push(`${p} down`),
      peerReachable: (p) => peers.push(`${p} up`),
    },
  };
}
