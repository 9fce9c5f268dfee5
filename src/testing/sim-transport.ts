import { ConfigError, type NodeId } from '../core/index.js';
import { ClosedError, type Clock, type NodeMessage, type TimerHandle, type Transport, type TransportHandlers } from '../runtime/index.js';
import type { Prng } from './prng.js';
import { type NetworkConditions, SimNetwork, calmNetwork } from './sim-network.js';

/** How to build a {@link SimTransportHub}. */
export interface SimTransportHubOptions {
  /** The virtual clock messages travel on. */
  readonly clock: Clock;
  /** Seeded randomness for loss, duplication and delays. */
  readonly random: Prng;
  /**
   * Milliseconds per network tick: {@link NetworkConditions} count delays in ticks,
   * as the core simulator does, and the hub scales them by this. Default 10.
   */
  readonly tickMs?: number;
  /** Initial conditions. Default {@link calmNetwork}. */
  readonly conditions?: NetworkConditions;
}

/**
 * The simulated network for runtime nodes: one hub, one {@link SimTransport} endpoint
 * per node incarnation. Messages travel through a {@link SimNetwork} (loss,
 * duplication, delay and reordering, one-way cuts, partitions) and arrive on the
 * virtual clock. A crashed endpoint stops delivering at once and drops what its dead
 * node still sends; messages it sent before the crash are still in flight, as on a
 * real network.
 *
 * @example
 * ```ts
 * const hub = new SimTransportHub({ clock, random: new Prng(7) });
 * const a = createNode({ id: 'a', members: ['a', 'b'], transport: hub.transport('a'), ... });
 * hub.partition([['a'], ['b']]);
 * hub.heal();
 * ```
 */
export class SimTransportHub {
  /** The network model underneath: conditions, cuts and counts. */
  readonly network: SimNetwork<NodeMessage>;
  private readonly clock: Clock;
  private readonly endpoints = new Map<NodeId, SimTransport>();
  private poll: TimerHandle | undefined;
  private pollAt = Infinity;

  constructor(options: SimTransportHubOptions) {
    const tickMs = options.tickMs ?? 10;
    if (!Number.isFinite(tickMs) || tickMs <= 0) throw new ConfigError('SimTransportHub', 'tickMs', 'must be a positive number of milliseconds');
    this.clock = options.clock;
    this.network = new SimNetwork<NodeMessage>(options.random, { tickLength: tickMs });
    this.network.conditions = options.conditions ?? calmNetwork;
  }

  /**
   * A new endpoint for `id`, for a node (re)starting. An earlier endpoint of `id` is
   * crashed first: one process per node id.
   */
  transport(id: NodeId): SimTransport {
    this.endpoints.get(id)?.crash();
    const endpoint = new SimTransport(id, this);
    this.endpoints.set(id, endpoint);
    return endpoint;
  }

  /** Stops `id`'s endpoint at once: nothing more is delivered to it or sent from it. */
  crash(id: NodeId): void {
    this.endpoints.get(id)?.crash();
  }

  /** Loss, duplication and delay for messages sent from now on. */
  set conditions(conditions: NetworkConditions) {
    this.network.conditions = conditions;
  }

  get conditions(): NetworkConditions {
    return this.network.conditions;
  }

  /** Cuts `from` → `to` (one way). */
  cut(from: NodeId, to: NodeId): void {
    if (from !== to) this.network.cut(from, to);
  }

  /** Cuts `a` and `b` apart, both ways. */
  isolate(a: NodeId, b: NodeId): void {
    this.cut(a, b);
    this.cut(b, a);
  }

  /**
   * Symmetric partition: nodes talk only within their group. `ids` lists every node;
   * those in no group form one more group together.
   */
  partition(groups: readonly (readonly NodeId[])[], ids: readonly NodeId[]): void {
    const group = new Map<NodeId, number>();
    groups.forEach((g, i) => g.forEach((id) => group.set(id, i)));
    for (const a of ids) for (const b of ids) if (a !== b && group.get(a) !== group.get(b)) this.network.cut(a, b);
  }

  /** Restores every link. */
  heal(): void {
    this.network.heal();
  }

  /** Puts `message` on the network, from a live endpoint. @internal */
  post(message: NodeMessage): void {
    this.network.send(message, this.clock.now());
    const due = this.network.nextDue;
    if (due !== undefined && due < this.pollAt) this.arm(due);
  }

  private arm(at: number): void {
    if (this.poll !== undefined) this.clock.clearTimer(this.poll);
    this.pollAt = at;
    this.poll = this.clock.setTimer(this.deliverDue, at - this.clock.now());
  }

  /** Hands every message now due to its addressee, if it is up; then waits for the next. */
  private readonly deliverDue = (): void => {
    this.poll = undefined;
    this.pollAt = Infinity;
    for (const m of this.network.takeDue(this.clock.now())) this.endpoints.get(m.to)?.receive(m);
    const due = this.network.nextDue;
    if (due !== undefined) this.arm(due);
  };
}

/**
 * One node incarnation's {@link Transport} on a {@link SimTransportHub}. Send is
 * fire-and-forget; delivery happens on the virtual clock, only between `start()` and
 * `close()` (or a crash).
 *
 * @example
 * ```ts
 * const transport = hub.transport('a');
 * const node = createNode({ id: 'a', members, transport, storage, stateMachine, clock });
 * ```
 */
export class SimTransport implements Transport {
  private handlers: TransportHandlers | undefined;
  private state: 'new' | 'started' | 'closed' | 'crashed' = 'new';
  /** Messages this endpoint sent and received, for reports. */
  readonly counts = { sent: 0, received: 0 };

  /** Use {@link SimTransportHub.transport}. @internal */
  constructor(
    readonly id: NodeId,
    private readonly hub: SimTransportHub,
  ) {}

  /** Begins delivering to `handlers`. */
  start(handlers: TransportHandlers): Promise<void> {
    if (this.state === 'crashed') return new Promise<void>(() => {});
    if (this.state !== 'new') return Promise.reject(new ClosedError('SimTransport: start() twice or after close()'));
    this.handlers = handlers;
    this.state = 'started';
    return Promise.resolve();
  }

  /** Sends `message`; dropped unless started and addressed from this node. */
  send(message: NodeMessage): void {
    if (this.state !== 'started' || message.from !== this.id) return;
    this.counts.sent++;
    this.hub.post(message);
  }

  /** Stops delivering; resolves at once. */
  close(): Promise<void> {
    if (this.state === 'crashed') return new Promise<void>(() => {});
    this.state = 'closed';
    this.handlers = undefined;
    return Promise.resolve();
  }

  /** The process died: nothing is delivered to it from now on, and what it sends is dropped. */
  crash(): void {
    this.state = 'crashed';
    this.handlers = undefined;
  }

  /** Whether the endpoint delivers now. */
  get isUp(): boolean {
    return this.state === 'started';
  }

  /** A message for this node arrived. @internal */
  receive(message: NodeMessage): void {
    if (this.state !== 'started' || this.handlers === undefined) return;
    this.counts.received++;
    this.handlers.deliver(message);
  }
}
