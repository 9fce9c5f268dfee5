import type { Ballot } from './ballot.js';
import type { NodeId } from './node-id.js';
import type { AcceptedEntry, ChosenEntry } from './entries.js';
import type { Value } from './value.js';

/**
 * Every message replicas exchange, one discriminated union on `type`. Slots are
 * absolute, from 1. A transport moves these records; it may lose, duplicate, delay or
 * reorder them, and the protocol stays safe.
 */
export type Message =
  | PrecheckMessage
  | PrecheckReplyMessage
  | PrepareMessage
  | PromiseMessage
  | AcceptMessage
  | AcceptedMessage
  | RejectMessage
  | HeartbeatMessage
  | HeartbeatReplyMessage
  | CatchUpMessage
  | ChosenMessage
  | TimeoutNowMessage
  | CommitMessage
  | ProbeMessage
  | ProbeReplyMessage
  | QuiesceMessage
  | WakeMessage;

/** The `type` of every message. */
export type MessageType = Message['type'];

interface Envelope {
  /** The sender. */
  readonly from: NodeId;
  /** The addressee. */
  readonly to: NodeId;
}

/**
 * Before phase 1: "would you support an election?" A voter that still hears from a
 * live leader, or whose commit index is ahead of the sender's, says no. It changes no
 * state, so a node that cannot reach a quorum never bumps ballots.
 */
export interface PrecheckMessage extends Envelope {
  readonly type: 'precheck';
  /** The sender's commit index. */
  readonly commitIndex: number;
}

/** The answer to a {@link PrecheckMessage}. */
export interface PrecheckReplyMessage extends Envelope {
  readonly type: 'precheckReply';
  readonly granted: boolean;
  /** The replier's promised ballot, so the candidate can pick a higher round. */
  readonly promised: Ballot;
}

/** Phase 1a: promise `ballot` for every slot from `firstSlot` on. */
export interface PrepareMessage extends Envelope {
  readonly type: 'prepare';
  readonly ballot: Ballot;
  /** The candidate's first unchosen slot. */
  readonly firstSlot: number;
}

/** Phase 1b: the promise, with every value accepted from the prepare's `firstSlot` on. */
export interface PromiseMessage extends Envelope {
  readonly type: 'promise';
  readonly ballot: Ballot;
  /** Accepted entries at or above the prepare's `firstSlot`, in slot order. */
  readonly accepted: readonly AcceptedEntry[];
  /**
   * Values the sender knows chosen at or above the prepare's `firstSlot` (learned, maybe
   * never accepted by it), in slot order. They outrank any accepted value: a chosen
   * value is the only one a new leader may propose for its slot.
   */
  readonly chosen: readonly ChosenEntry[];
}

/** Phase 2a: accept `values` for the slots from `firstSlot` on, in ballot `ballot`. */
export interface AcceptMessage extends Envelope {
  readonly type: 'accept';
  readonly ballot: Ballot;
  readonly firstSlot: number;
  readonly values: readonly Value[];
  /** The leader's commit index. */
  readonly commitIndex: number;
}

/** Phase 2b: the sender accepted `count` slots from `firstSlot` in `ballot` (durably). */
export interface AcceptedMessage extends Envelope {
  readonly type: 'accepted';
  readonly ballot: Ballot;
  readonly firstSlot: number;
  readonly count: number;
}

/** A prepare or accept refused: the sender has promised a higher ballot. */
export interface RejectMessage extends Envelope {
  readonly type: 'reject';
  /** The refused ballot. */
  readonly ballot: Ballot;
  /** The higher ballot the sender has promised. */
  readonly promised: Ballot;
}

/** The leader is alive; its commit index. Sent to voters and observers. */
export interface HeartbeatMessage extends Envelope {
  readonly type: 'heartbeat';
  readonly ballot: Ballot;
  readonly commitIndex: number;
  /**
   * The leader's heartbeat round, increasing within a ballot. A reply echoes it, so
   * the leader knows the replier had promised nothing higher after a read began.
   */
  readonly seq: number;
}

/** A follower or observer answers a heartbeat, so the leader knows it still leads. */
export interface HeartbeatReplyMessage extends Envelope {
  readonly type: 'heartbeatReply';
  readonly ballot: Ballot;
  /** The replier's commit index. */
  readonly commitIndex: number;
  /** The `seq` of the heartbeat answered. */
  readonly seq: number;
}

/** "Send me the chosen values of slots `firstSlot..lastSlot`." */
export interface CatchUpMessage extends Envelope {
  readonly type: 'catchUp';
  readonly firstSlot: number;
  readonly lastSlot: number;
}

/** Chosen values, for catch-up and for observers. */
export interface ChosenMessage extends Envelope {
  readonly type: 'chosen';
  readonly firstSlot: number;
  readonly values: readonly Value[];
  /** The sender's commit index. */
  readonly commitIndex: number;
}

/**
 * Leadership transfer: the leader of `ballot` tells a voter that holds every slot it
 * proposed to start phase 1 now, without waiting for its election timeout.
 */
export interface TimeoutNowMessage extends Envelope {
  readonly type: 'timeoutNow';
  /** The sending leader's ballot: a stale request (from a deposed leader) is ignored. */
  readonly ballot: Ballot;
}

/**
 * The leader's commit index moved and no accept is on its way to carry it: sent at
 * once, so followers apply (and answer their clients) without waiting for the next
 * heartbeat. No reply.
 */
export interface CommitMessage extends Envelope {
  readonly type: 'commit';
  readonly ballot: Ballot;
  readonly commitIndex: number;
}

/**
 * An idle leader stops ticking, and tells its peers to stop too: nothing is in flight,
 * every peer reported `commitIndex`, and no heartbeat follows until something happens.
 * A peer that holds every slot to `commitIndex` stops counting time (its election timer
 * holds); one that does not answers with a {@link WakeMessage}. Only a node that
 * something else tells when the leader may have failed (a group host's liveness of
 * its peers) enables it. No reply.
 */
export interface QuiesceMessage extends Envelope {
  readonly type: 'quiesce';
  readonly ballot: Ballot;
  readonly commitIndex: number;
}

/**
 * A quiesced follower roused by anything but its leader (a candidate's precheck, a
 * suspicion that the leader failed) asks the leader of `ballot` to resume its
 * heartbeats: a live leader answers with one at once, so nobody campaigns against it.
 */
export interface WakeMessage extends Envelope {
  readonly type: 'wake';
  readonly ballot: Ballot;
}

/**
 * A voter that starts with empty storage (new, or wiped) asks every other voter what
 * it holds before it votes: it may have promised or accepted before and forgotten.
 */
export interface ProbeMessage extends Envelope {
  readonly type: 'probe';
  /**
   * The zero ballot (round 0) in the first round. In the second, a ballot of the sender's above
   * every promise the first round found: the replier promises it (durably, before it
   * answers), so accepts the sender sent as leader before it lost its storage, maybe
   * still on their way, can no longer be accepted anywhere.
   */
  readonly fence: Ballot;
}

/** The answer to a {@link ProbeMessage}: what the replier holds that the asker may have forgotten. */
export interface ProbeReplyMessage extends Envelope {
  readonly type: 'probeReply';
  /** The probe's `fence`, so answers to an earlier round are told apart. */
  readonly fence: Ballot;
  /** The replier's promised ballot. */
  readonly promised: Ballot;
  /** The replier's commit index. */
  readonly commitIndex: number;
  /** The replier's accepted entries above its commit index, in slot order. */
  readonly accepted: readonly AcceptedEntry[];
}
