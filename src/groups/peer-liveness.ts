/**
 * A group host's view of which peer hosts are alive, for all its groups at once: it
 * pings every peer host every `pingMs` (one small message per peer, however many
 * groups they share), counts anything heard from a peer as a sign of life, and
 * suspects a peer not heard from for `suspectAfterMs` (counted in rounds: at most
 * `pingMs` more, never less). A suspicion is reported once,
 * until the peer is heard again. This is what lets a quiesced group sleep: its
 * followers need no heartbeats from their leader while its host answers for it.
 */
import type { NodeId } from '../core/index.js';
import type { Clock, TimerHandle } from '../runtime/index.js';

/** What a {@link PeerLiveness} does to the world. @internal */
export interface PeerLivenessHost {
  /** Sends `peer` a ping. */
  ping(peer: NodeId): void;
  /** `peer` has not been heard from for `suspectAfterMs`. */
  suspect(peer: NodeId): void;
  /** A suspected `peer` was heard from again. */
  recovered(peer: NodeId): void;
}

interface Peer {
  /** When it was last heard from, on the clock, as of the last round. */
  heard: number;
  /** Whether it was heard from since the last round: a message only sets this, so the clock is read once a round, not once a message. */
  heardSinceRound: boolean;
  suspected: boolean;
}

/** @internal */
export class PeerLiveness {
  private readonly peers = new Map<NodeId, Peer>();
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly pingMs: number,
    private readonly suspectAfterMs: number,
    private readonly host: PeerLivenessHost,
  ) {}

  /** Starts pinging. */
  start(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = this.clock.setTimer(this.round, this.pingMs);
  }

  /** Stops for good. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** `peer` is one of this host's peers from now on (a group here sent it something): pinged, and watched from now. */
  know(peer: NodeId): void {
    if (!this.peers.has(peer)) this.peers.set(peer, { heard: this.clock.now(), heardSinceRound: false, suspected: false });
  }

  /** Something arrived from `peer`: it is alive. */
  heard(peer: NodeId): void {
    const p = this.peers.get(peer);
    if (p === undefined) {
      this.peers.set(peer, { heard: this.clock.now(), heardSinceRound: false, suspected: false });
      return;
    }
    p.heardSinceRound = true;
    if (!p.suspected) return;
    p.suspected = false;
    this.host.recovered(peer);
  }

  /** The transport gave up on `peer` (its connection failed), and said so itself: suspected, without reporting it again. */
  unreachable(peer: NodeId): void {
    const p = this.peers.get(peer);
    if (p !== undefined) p.suspected = true;
  }

  /** Whether `peer` is suspected now. */
  isSuspected(peer: NodeId): boolean {
    return this.peers.get(peer)?.suspected === true;
  }

  /** The peers known, in the order they became known. */
  known(): NodeId[] {
    return [...this.peers.keys()];
  }

  private readonly round = (): void => {
    if (this.stopped) return;
    this.timer = this.clock.setTimer(this.round, this.pingMs);
    const now = this.clock.now();
    for (const [id, p] of this.peers) {
      if (p.heardSinceRound) {
        p.heard = now;
        p.heardSinceRound = false;
      }
      this.host.ping(id);
      if (!p.suspected && now - p.heard >= this.suspectAfterMs) {
        p.suspected = true;
        this.host.suspect(id);
      }
    }
  };
}
