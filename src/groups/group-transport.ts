import type { NodeId } from '../core/index.js';
import { ClosedError, type GroupMemberMessage, type NodeMessage, type Transport, type TransportHandlers } from '../runtime/index.js';

/** What a {@link GroupTransport} needs from the host that made it. @internal */
export interface GroupTransportHost {
  /** Sends `message` of group `group` on the shared transport, tagged with the group. */
  send(group: number, message: GroupMemberMessage): void;
  /** The lane closed: its group id is free again. */
  released(lane: GroupTransport): void;
}

/**
 * One group's view of the transport its host shares among all its groups: what the
 * group's node is given as its `Transport`. `send` tags each message with the group
 * (a `GroupMessage`) and hands it to the shared transport; the host delivers to it only
 * the messages tagged with its group, untagged. Closing it frees the group id on the
 * host: closing the group's node removes the group.
 *
 * Contract, as every {@link Transport}'s: `send` never throws and drops what is sent
 * before `start()` or after `close()`; nothing is delivered outside those.
 *
 * @example
 * ```ts
 * const node = createNode({ id: 'a', members, transport: host.groupTransport(7), storage, stateMachine });
 * ```
 */
export class GroupTransport implements Transport {
  private handlers: TransportHandlers | undefined;
  private state: 'new' | 'started' | 'closed' = 'new';

  /** Use {@link GroupHost.groupTransport}. @internal */
  constructor(
    /** The group this view carries. */
    readonly group: number,
    private readonly host: GroupTransportHost,
  ) {}

  /** Begins delivering the group's messages to `handlers`. Rejects with `ClosedError` once closed. */
  start(handlers: TransportHandlers): Promise<void> {
    if (this.state !== 'new') return Promise.reject(new ClosedError(`group ${this.group}'s transport: start() twice or after close()`));
    this.handlers = handlers;
    this.state = 'started';
    return Promise.resolve();
  }

  /** Sends `message` to the same group on `message.to`, through the shared transport. */
  send(message: NodeMessage): void {
    // A node never sends a group's message or a host's own messages itself: the host does.
    if (this.state !== 'started' || message.type === 'group' || message.type === 'hostPing' || message.type === 'hostHeartbeats') return;
    this.host.send(this.group, message);
  }

  /** Stops delivering and frees the group id on the host. Resolves at once. */
  close(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    this.state = 'closed';
    this.handlers = undefined;
    this.host.released(this);
    return Promise.resolve();
  }

  /** Whether the group's node started and the view delivers. */
  get isStarted(): boolean {
    return this.state === 'started';
  }

  /** Whether the view was closed. */
  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** A message of this group arrived. @internal */
  deliver(message: GroupMemberMessage): void {
    this.handlers?.deliver(message);
  }

  /** The shared transport reported `peer` unreachable (`false`) or reachable again. @internal */
  peer(peer: NodeId, reachable: boolean): void {
    if (reachable) this.handlers?.peerReachable(peer);
    else this.handlers?.peerUnreachable(peer);
  }
}
