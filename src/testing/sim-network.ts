import type { Message, NodeId } from '../core/index.js';
import type { Prng } from './prng.js';

/** How the simulated network misbehaves; every rate is a probability per message. */
export interface NetworkConditions {
  /** Probability a message is lost. Default 0. */
  readonly lossRate: number;
  /** Probability a message is delivered twice. Default 0. */
  readonly duplicateRate: number;
  /** Largest delivery delay in ticks; each message draws a delay in [0, max], which reorders them. Default 1. */
  readonly delayTicksMax: number;
  /**
   * Probability a message is a straggler, delayed up to `stragglerTicksMax` ticks: long
   * enough to arrive after elections, from a ballot long gone. Default 0.
   */
  readonly stragglerRate?: number;
  /** Longest straggler delay in ticks. Default 200. */
  readonly stragglerTicksMax?: number;
}

/** A perfect network: nothing lost or duplicated, delays of 0 or 1 tick. */
export const calmNetwork: NetworkConditions = Object.freeze({ lossRate: 0, duplicateRate: 0, delayTicksMax: 1 });

/** What the network can carry: any record addressed from one node to another. */
export interface Addressed {
  readonly from: NodeId;
  readonly to: NodeId;
}

/** How a {@link SimNetwork} measures time. */
export interface SimNetworkOptions {
  /**
   * Length of one tick in the network's time unit: delays are drawn in ticks (see
   * {@link NetworkConditions}) and scaled by it. Default 1, for the core simulator,
   * which counts time in ticks; the runtime simulation counts milliseconds and passes
   * its tick length, so the same conditions mean the same thing to both.
   */
  readonly tickLength?: number;
}

/** A message on its way, as {@link SimNetwork.inFlight} shows it. */
export interface InFlight<M> {
  /** When it was sent, in the network's time unit. */
  readonly sentAt: number;
  /** When it is due. */
  readonly deliverAt: number;
  /** Its place in sending order (unique): how {@link SimNetwork.drop} and {@link SimNetwork.duplicate} name it. */
  readonly order: number;
  readonly message: M;
}

/**
 * The simulated network: messages in flight with a delivery time; links cut one way
 * or both ways (partitions, asymmetric and partial connectivity); loss, duplication
 * and random delay (which reorders). It carries the core's {@link Message}s by
 * default, or any addressed record (the runtime's `NodeMessage`s).
 *
 * @example
 * ```ts
 * const network = new SimNetwork(new Prng(1));
 * network.send({ type: 'catchUp', from: 'a', to: 'b', firstSlot: 1, lastSlot: 3 }, 0);
 * network.takeDue(1); // the message, unless the link was cut meanwhile
 * ```
 */
export class SimNetwork<M extends Addressed = Message> {
  private flying: InFlight<M>[] = [];
  private readonly blocked = new Set<string>();
  private sequence = 0;
  /** Loss, duplication and delay applied to messages sent from now on. */
  conditions: NetworkConditions = calmNetwork;
  /** Counts, for reports. */
  readonly counts = { sent: 0, delivered: 0, lost: 0, duplicated: 0, cut: 0 };

  private readonly tickLength: number;

  constructor(
    private readonly random: Prng,
    options: SimNetworkOptions = {},
  ) {
    this.tickLength = options.tickLength ?? 1;
  }

  /** Whether `from` can reach `to` now. */
  connected(from: NodeId, to: NodeId): boolean {
    return !this.blocked.has(linkKey(from, to));
  }

  /** Cuts the link from `from` to `to` (one way). */
  cut(from: NodeId, to: NodeId): void {
    this.blocked.add(linkKey(from, to));
  }

  /** Restores every link. */
  heal(): void {
    this.blocked.clear();
  }

  /** Number of links cut. */
  get cutLinks(): number {
    return this.blocked.size;
  }

  /** Sends `message` at time `now`: it is lost, or due once or twice after a random delay. */
  send(message: M, now: number): void {
    this.counts.sent++;
    if (!this.connected(message.from, message.to)) {
      this.counts.cut++;
      return;
    }
    if (this.random.chance(this.conditions.lossRate)) {
      this.counts.lost++;
      return;
    }
    const copies = this.random.chance(this.conditions.duplicateRate) ? 2 : 1;
    if (copies === 2) this.counts.duplicated++;
    for (let i = 0; i < copies; i++) {
      const straggler = this.random.chance(this.conditions.stragglerRate ?? 0);
      const delay = this.random.int((straggler ? (this.conditions.stragglerTicksMax ?? 200) : this.conditions.delayTicksMax) + 1) * this.tickLength;
      this.flying.push({ sentAt: now, deliverAt: now + delay, order: this.sequence++, message });
    }
  }

  /**
   * Takes the messages due by `now`, in a random order (reordering among messages due
   * together), dropping those whose link is cut at delivery time.
   */
  takeDue(now: number): M[] {
    if (this.flying.length === 0) return [];
    const due: InFlight<M>[] = [];
    const later: InFlight<M>[] = [];
    for (const f of this.flying) (f.deliverAt <= now ? due : later).push(f);
    this.flying = later;
    for (let i = due.length - 1; i > 0; i--) {
      const j = this.random.int(i + 1);
      const t = due[i]!;
      due[i] = due[j]!;
      due[j] = t;
    }
    const out: M[] = [];
    for (const f of due) {
      if (!this.connected(f.message.from, f.message.to)) {
        this.counts.cut++;
        continue;
      }
      this.counts.delivered++;
      out.push(f.message);
    }
    return out;
  }

  /** The messages in flight, in sending order: to draw them (the playground). */
  get inFlight(): readonly InFlight<M>[] {
    return this.flying;
  }

  /** Loses the message in flight sent as `order`; returns whether it was still in flight. */
  drop(order: number): boolean {
    const before = this.flying.length;
    this.flying = this.flying.filter((f) => f.order !== order);
    if (this.flying.length === before) return false;
    this.counts.lost++;
    return true;
  }

  /** Delivers the message in flight sent as `order` twice (the copy due with it); returns whether it was in flight. */
  duplicate(order: number): boolean {
    const f = this.flying.find((g) => g.order === order);
    if (f === undefined) return false;
    this.counts.duplicated++;
    this.flying.push({ ...f, order: this.sequence++ });
    return true;
  }

  /** Messages still in flight. */
  get pending(): number {
    return this.flying.length;
  }

  /** The earliest delivery time of a message in flight, or undefined when none is. */
  get nextDue(): number | undefined {
    let next: number | undefined;
    for (const f of this.flying) if (next === undefined || f.deliverAt < next) next = f.deliverAt;
    return next;
  }
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}\u0000${to}`;
}
