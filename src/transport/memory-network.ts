import { ConfigError, InvariantError, type NodeId } from '../core/index.js';
import { type Clock, type TimerHandle, systemClock } from '../runtime/clock.js';
import { ClosedError } from '../runtime/errors.js';
import type { NodeMessage } from '../runtime/runtime-messages.js';
import type { Transport, TransportHandlers } from '../runtime/transport.js';

/**
 * How a {@link MemoryNetwork} misbehaves, changeable at runtime with
 * {@link MemoryNetwork.setConditions}. Rates are probabilities per message.
 *
 * @example
 * ```ts
 * network.setConditions({ dropRate: 0.1, delayMs: { min: 1, max: 20 } });
 * ```
 */
export interface MemoryNetworkConditions {
  /**
   * Delivery delay in milliseconds of the network's clock, drawn uniformly from
   * [min, max] per message, which reorders messages. Default `{ min: 0, max: 0 }`;
   * even then delivery happens on a timer, never inside `send()`.
   */
  readonly delayMs: { readonly min: number; readonly max: number };
  /** Probability in [0, 1] that a message is lost. Default 0. */
  readonly dropRate: number;
  /** Probability in [0, 1] that a message is delivered twice. Default 0. */
  readonly duplicateRate: number;
}

/**
 * Options of a {@link MemoryNetwork}; all optional.
 *
 * @example
 * ```ts
 * const network = new MemoryNetwork({ clock: virtualClock, random: seededRandom, delayMs: { min: 1, max: 5 } });
 * ```
 */
export interface MemoryNetworkOptions extends Partial<MemoryNetworkConditions> {
  /** Where delays come from: every delivery is a `clock.setTimer`, so a virtual clock drives it. Default `systemClock`. */
  readonly clock?: Clock;
  /** The only source of randomness, returning numbers in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
  /**
   * Messages in flight per directed link (sender → addressee), a count. Beyond it
   * messages are dropped and counted, so memory toward a slow peer stays bounded.
   * Default 10 000.
   */
  readonly inflightMax?: number;
}

/**
 * What a {@link MemoryNetwork} did with messages since it was made. At any time
 * `sent + duplicated = delivered + dropped + network.inflight`.
 */
export interface MemoryNetworkCounts {
  /** Calls to `send`. */
  readonly sent: number;
  /** Messages handed to a node (a duplicate counts twice). */
  readonly delivered: number;
  /** Messages lost: by `dropRate`, a cut link, a full link, or an addressee that is unknown, not started or closed. */
  readonly dropped: number;
  /** Messages sent twice by `duplicateRate`. */
  readonly duplicated: number;
}

/** Default `inflightMax`: far above any sane burst, yet a bound on memory toward a dead peer. */
const inflightMaxDefault = 10_000;

/** What a transport tells its network; kept off the network's public API. */
interface Hub {
  started(endpoint: Endpoint): void;
  closed(endpoint: Endpoint): void;
  route(sender: Endpoint, message: NodeMessage): void;
}

/** A message on its way, on a timer. */
interface InFlight {
  readonly link: string;
  readonly to: Endpoint;
  timer: TimerHandle;
}

/**
 * An in-process network with fault injection, for tests and examples: it hands each
 * node a {@link Transport} and moves messages between them on the clock's timers.
 *
 * Faults: random loss, duplication and delay (which reorders) per message; partitions,
 * one-way cuts and isolated nodes, until `heal()`. A cut, partition or isolation also
 * drops messages already in flight on the link when they come due. Each handler of a
 * started transport hears `peerUnreachable(peer)` and `peerReachable(peer)` when its
 * link to a started peer goes down or comes back (including when the peer closes or
 * starts), once per change, synchronously in the call that made the change; a
 * transport starts from what is true when it starts and hears only of changes.
 *
 * Messages are delivered as the very record objects that were sent (no copy, no
 * codec): neither side may mutate them, as the core never does. A node can always
 * reach itself.
 *
 * @example
 * ```ts
 * const network = new MemoryNetwork({ delayMs: { min: 0, max: 5 } });
 * const a = createNode({ id: 'a', members: ['a', 'b', 'c'], transport: network.transport('a'), ... });
 * network.partition(['a'], ['b', 'c']); // a is alone now
 * network.heal();
 * ```
 */
export class MemoryNetwork {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly inflightMax: number;
  private conditions: MemoryNetworkConditions;
  /** The transport of each id that is not closed. */
  private readonly live = new Map<NodeId, Endpoint>();
  /** Every id that ever had a transport, in order: the peers reachability is reported for. */
  private readonly known = new Set<NodeId>();
  private readonly cuts = new Set<string>();
  private readonly isolated = new Set<NodeId>();
  /** The group of each listed id of the current partition; undefined when not partitioned. */
  private groups: Map<NodeId, number> | undefined;
  private readonly inflightByLink = new Map<string, number>();
  private inflightTotal = 0;
  private readonly tally = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };
  private readonly hub: Hub = {
    started: (endpoint) => this.onStarted(endpoint),
    closed: (endpoint) => this.onClosed(endpoint),
    route: (sender, message) => this.route(sender, message),
  };

  /** @throws {@link ConfigError} naming the first invalid option. */
  constructor(options: MemoryNetworkOptions = {}) {
    const api = 'MemoryNetwork';
    const clock = options.clock ?? systemClock;
    if (typeof clock?.setTimer !== 'function' || typeof clock.clearTimer !== 'function') {
      throw new ConfigError(api, 'clock', 'must have setTimer and clearTimer');
    }
    const random = options.random ?? Math.random;
    if (typeof random !== 'function') throw new ConfigError(api, 'random', 'must be a function returning numbers in [0, 1)');
    const inflightMax = options.inflightMax ?? inflightMaxDefault;
    if (!Number.isSafeInteger(inflightMax) || inflightMax < 1) {
      throw new ConfigError(api, 'inflightMax', `must be a positive integer, got ${inflightMax}`);
    }
    this.clock = clock;
    this.random = random;
    this.inflightMax = inflightMax;
    this.conditions = checkConditions(api, { delayMs: { min: 0, max: 0 }, dropRate: 0, duplicateRate: 0 }, options);
  }

  /**
   * The transport of node `id`: one per id at a time. Once it is closed, asking again
   * returns a new one, as a restarted node would get.
   *
   * @throws {@link ConfigError} (field `id`) if `id` is empty or its transport is not closed.
   * @example
   * ```ts
   * const transport = network.transport('a');
   * await transport.start({ deliver: (m) => console.log(m), peerUnreachable() {}, peerReachable() {} });
   * ```
   */
  transport(id: NodeId): Transport {
    if (typeof id !== 'string' || id === '') throw new ConfigError('MemoryNetwork', 'id', 'must be a non-empty string');
    if (this.live.has(id)) {
      throw new ConfigError('MemoryNetwork', 'id', `"${id}" has a transport that is not closed; close it first to restart`);
    }
    const endpoint = new Endpoint(this.hub, id);
    this.live.set(id, endpoint);
    this.known.add(id);
    return endpoint;
  }

  /**
   * Changes loss, duplication or delay from now on; fields left out stay. Messages
   * already in flight keep their delay.
   *
   * @throws {@link ConfigError} naming the invalid field; nothing changes then.
   * @example
   * ```ts
   * network.setConditions({ dropRate: 0.2 });
   * ```
   */
  setConditions(conditions: Partial<MemoryNetworkConditions>): void {
    this.conditions = checkConditions('MemoryNetwork.setConditions', this.conditions, conditions);
  }

  /**
   * Splits the network: nodes reach only nodes of their own group; ids listed in no
   * group form one more group. Replaces the previous partition (cuts and isolations
   * stay until `heal()`).
   *
   * @throws {@link ConfigError} (field `groups`) if an id is listed twice.
   * @example
   * ```ts
   * network.partition(['a', 'b'], ['c']); // a and b talk, c is alone (with any unlisted node)
   * ```
   */
  partition(...groups: NodeId[][]): void {
    const groupOf = new Map<NodeId, number>();
    groups.forEach((group, index) => {
      for (const id of group) {
        if (groupOf.has(id)) throw new ConfigError('MemoryNetwork.partition', 'groups', `list "${id}" twice`);
        groupOf.set(id, index);
      }
    });
    this.groups = groupOf;
    this.reconcile();
  }

  /**
   * Loses every message from `from` to `to` (one way) until `heal()`.
   *
   * @example
   * ```ts
   * network.cut('a', 'b'); // b still reaches a
   * ```
   */
  cut(from: NodeId, to: NodeId): void {
    if (from === to) throw new ConfigError('MemoryNetwork.cut', 'to', `must differ from \`from\` ("${from}"): a node always reaches itself`);
    this.cuts.add(linkKey(from, to));
    this.reconcile();
  }

  /**
   * Loses every message from and to `id` until `heal()`.
   *
   * @example
   * ```ts
   * network.isolate('a');
   * ```
   */
  isolate(id: NodeId): void {
    this.isolated.add(id);
    this.reconcile();
  }

  /**
   * Undoes every partition, cut and isolation. Loss, duplication and delay stay.
   *
   * @example
   * ```ts
   * network.heal();
   * ```
   */
  heal(): void {
    this.groups = undefined;
    this.cuts.clear();
    this.isolated.clear();
    this.reconcile();
  }

  /**
   * A copy of the counters.
   *
   * @example
   * ```ts
   * const { sent, delivered, dropped } = network.counts;
   * ```
   */
  get counts(): MemoryNetworkCounts {
    return { ...this.tally };
  }

  /**
   * Messages on their way now, over all links.
   *
   * @example
   * ```ts
   * network.inflight; // 0 once everything sent was delivered or dropped
   * ```
   */
  get inflight(): number {
    return this.inflightTotal;
  }

  /** Whether the links let `from` reach `to`, whatever the nodes' state. */
  private linked(from: NodeId, to: NodeId): boolean {
    if (from === to) return true;
    if (this.cuts.has(linkKey(from, to))) return false;
    if (this.isolated.has(from) || this.isolated.has(to)) return false;
    if (this.groups === undefined) return true;
    return (this.groups.get(from) ?? -1) === (this.groups.get(to) ?? -1);
  }

  /** Whether `observer` can reach the current transport of `peer`. */
  private reaches(observer: Endpoint, peer: NodeId): boolean {
    return this.live.get(peer)?.state === 'started' && this.linked(observer.id, peer);
  }

  /**
   * Tells each started transport about every peer whose reachability changed since it
   * was last told. Re-reads the truth per pair, so a handler that changes the network
   * (a reentrant call) cannot leave a stale report behind.
   */
  private reconcile(): void {
    for (const observer of [...this.live.values()]) {
      for (const peer of this.known) {
        if (peer === observer.id || observer.state !== 'started') continue;
        const now = this.reaches(observer, peer);
        if ((observer.told.get(peer) ?? false) === now) continue;
        observer.told.set(peer, now);
        if (now) observer.handlers?.peerReachable(peer);
        else observer.handlers?.peerUnreachable(peer);
      }
    }
  }

  /** A transport starts from the truth, then its peers hear that it is reachable. */
  private onStarted(endpoint: Endpoint): void {
    for (const peer of this.known) if (peer !== endpoint.id) endpoint.told.set(peer, this.reaches(endpoint, peer));
    this.reconcile();
  }

  /** A transport closed: deliveries to it are cancelled, and its peers hear it is gone. */
  private onClosed(endpoint: Endpoint): void {
    if (this.live.get(endpoint.id) === endpoint) this.live.delete(endpoint.id);
    for (const flight of endpoint.pending) {
      if (flight.timer !== undefined) this.clock.clearTimer(flight.timer);
      this.land(flight);
      this.tally.dropped++;
    }
    endpoint.pending.clear();
    this.reconcile();
  }

  /** Routes a message from `sender`: dropped and counted, or put on a timer. Never throws. */
  private route(sender: Endpoint, message: NodeMessage): void {
    this.tally.sent++;
    // Typed callers cannot pass a non-object, but send must not throw for anyone.
    const to = typeof message === 'object' && message !== null ? this.live.get(message.to) : undefined;
    if (sender.state === 'closed' || to?.state !== 'started' || !this.linked(sender.id, to.id)) {
      this.tally.dropped++;
      return;
    }
    const { dropRate, duplicateRate } = this.conditions;
    if (dropRate > 0 && this.random() < dropRate) {
      this.tally.dropped++;
      return;
    }
    const copies = duplicateRate > 0 && this.random() < duplicateRate ? 2 : 1;
    if (copies === 2) this.tally.duplicated++;
    for (let i = 0; i < copies; i++) this.launch(sender.id, to, message);
  }

  /** Puts one copy of `message` on a timer toward `to`, unless its link is full. */
  private launch(from: NodeId, to: Endpoint, message: NodeMessage): void {
    const link = linkKey(from, to.id);
    const inflight = this.inflightByLink.get(link) ?? 0;
    if (inflight >= this.inflightMax) {
      this.tally.dropped++;
      return;
    }
    this.inflightByLink.set(link, inflight + 1);
    this.inflightTotal++;
    const { min, max } = this.conditions.delayMs;
    const delay = max > min ? min + this.random() * (max - min) : min;
    const flight: InFlight = { link, to, timer: undefined };
    to.pending.add(flight);
    if (delay > 0) {
      flight.timer = this.clock.setTimer(() => this.arrive(flight, from, message), delay);
      return;
    }
    // Zero delay: one deferred turn delivers every such message, in send order, without
    // a zero-delay timer's 1 ms floor on Node.
    this.soon.push({ flight, from, message });
    if (this.soon.length === 1) {
      if (this.clock.defer !== undefined) this.clock.defer(this.deliverSoon);
      else this.clock.setTimer(this.deliverSoon, 0);
    }
  }

  private soon: { flight: InFlight; from: NodeId; message: NodeMessage }[] = [];

  private readonly deliverSoon = (): void => {
    const due = this.soon;
    this.soon = [];
    for (const d of due) this.arrive(d.flight, d.from, d.message);
  };

  /** A timer came due: hand the message over if its addressee and link are still there. */
  private arrive(flight: InFlight, from: NodeId, message: NodeMessage): void {
    // A clock that runs a cleared timer anyway finds the flight gone: ignore it.
    if (!flight.to.pending.delete(flight)) return;
    this.land(flight);
    const handlers = flight.to.handlers;
    if (flight.to.state !== 'started' || handlers === undefined || !this.linked(from, flight.to.id)) {
      this.tally.dropped++;
      return;
    }
    this.tally.delivered++;
    handlers.deliver(message);
  }

  /** Takes a flight off its link's count. */
  private land(flight: InFlight): void {
    const inflight = this.inflightByLink.get(flight.link) ?? 0;
    if (inflight <= 0 || this.inflightTotal <= 0) throw new InvariantError(`MemoryNetwork: link ${flight.link} landed more than it launched`);
    if (inflight === 1) this.inflightByLink.delete(flight.link);
    else this.inflightByLink.set(flight.link, inflight - 1);
    this.inflightTotal--;
  }
}

/** The transport of one node on a {@link MemoryNetwork}. */
class Endpoint implements Transport {
  state: 'new' | 'started' | 'closed' = 'new';
  handlers: TransportHandlers | undefined;
  /** What this transport's handlers were last told about each peer (true: reachable). */
  readonly told = new Map<NodeId, boolean>();
  /** Messages on their way to this transport. */
  readonly pending = new Set<InFlight>();

  constructor(
    private readonly hub: Hub,
    readonly id: NodeId,
  ) {}

  start(handlers: TransportHandlers): Promise<void> {
    if (this.state === 'closed')
      return Promise.reject(new ClosedError(`MemoryNetwork: the transport of "${this.id}" is closed; ask the network for a new one`));
    if (this.state === 'started') return Promise.reject(new InvariantError(`MemoryNetwork: the transport of "${this.id}" is started already`));
    this.handlers = handlers;
    this.state = 'started';
    this.hub.started(this);
    return Promise.resolve();
  }

  send(message: NodeMessage): void {
    this.hub.route(this, message);
  }

  close(): Promise<void> {
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.handlers = undefined;
      this.hub.closed(this);
    }
    return Promise.resolve();
  }
}

/** `current` with `changes` applied, each field checked. */
function checkConditions(api: string, current: MemoryNetworkConditions, changes: Partial<MemoryNetworkConditions>): MemoryNetworkConditions {
  const rate = (field: 'dropRate' | 'duplicateRate'): number => {
    const value = changes[field] === undefined ? current[field] : changes[field];
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new ConfigError(api, field, `must be a probability in [0, 1], got ${value}`);
    return value;
  };
  const delayMs = changes.delayMs === undefined ? current.delayMs : changes.delayMs;
  if (typeof delayMs !== 'object' || delayMs === null) throw new ConfigError(api, 'delayMs', 'must be an object { min, max } in milliseconds');
  const { min, max } = delayMs;
  if (!Number.isFinite(min) || min < 0) throw new ConfigError(api, 'delayMs.min', `must be a finite number of milliseconds >= 0, got ${min}`);
  if (!Number.isFinite(max) || max < min) throw new ConfigError(api, 'delayMs.max', `must be a finite number of milliseconds >= min (${min}), got ${max}`);
  return { delayMs: { min, max }, dropRate: rate('dropRate'), duplicateRate: rate('duplicateRate') };
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}\u0000${to}`;
}
