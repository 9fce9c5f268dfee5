import type { NodeId } from '../core/index.js';
import type { NodeMessage } from './runtime-messages.js';

/**
 * What a {@link Transport} calls back into its node with. The node passes these to
 * {@link Transport.start}; a transport must not call them after {@link Transport.close}
 * resolved.
 */
export interface TransportHandlers {
  /** A message for this node arrived. Call it with each message once it is fully received. */
  deliver(message: NodeMessage): void;
  /** `peer` cannot be reached now (a connection dropped, a send failed). Optional to report. */
  peerUnreachable(peer: NodeId): void;
  /** `peer` can be reached again. Optional to report. */
  peerReachable(peer: NodeId): void;
}

/**
 * Moves messages between nodes. Sending is fire-and-forget: a transport may lose,
 * duplicate, delay or reorder messages and the protocol stays safe; it must not
 * corrupt them (a codec validates what it decodes). Encoding, if any, is the
 * transport's business; the in-memory transport hands the records over as they are.
 *
 * Contract, checked by `transportConformance` in `synod/testing`:
 * - `send` never throws and never blocks; a message for an unknown or dead peer is dropped;
 * - messages are delivered only to the node they are addressed to (`message.to`), only
 *   between `start()` and `close()`;
 * - memory spent on an unreachable peer stays bounded.
 *
 * @example
 * ```ts
 * const hub = new MemoryNetwork();
 * const node = createNode({ id: 'a', members: ['a', 'b', 'c'], transport: hub.transport('a'), ... });
 * ```
 */
export interface Transport {
  /** Begins delivering messages for this node to `handlers`. */
  start(handlers: TransportHandlers): Promise<void>;
  /** Sends `message` to `message.to`. Fire-and-forget. */
  send(message: NodeMessage): void;
  /** Stops sending and delivering; resolves once no handler will be called again. */
  close(): Promise<void>;
}
