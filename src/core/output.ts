import type { PersistBatch } from './durable-state.js';
import type { Message, MessageType } from './messages.js';
import type { NodeId } from './node-id.js';
import type { CommittedEntry } from './entries.js';

/**
 * The answer to a {@link Replica.readIndex} request: the slot a linearizable read must
 * wait to have applied, or the news that this replica stopped leading first.
 */
export type ReadIndexResult =
  | { readonly id: number; readonly ok: true; readonly index: number }
  | { readonly id: number; readonly ok: false; readonly leaderHint: NodeId | undefined };

/**
 * The work a replica hands its driver after a batch of inputs. The driver must do it
 * in this order:
 *
 * 1. make `persist` durable (one atomic write), after every earlier output's persist;
 *    a batch {@link persistNeedsSync} says needs no sync may merely be written in order;
 * 2. then report {@link Replica.persisted} with `persistSeq`;
 * 3. send `messages` only after step 1 (and every earlier output's step 1): a promise
 *    or an accepted message reports state that must survive a crash (persist before you
 *    speak). The leader's and learner's messages ({@link mayPrecedePersist}) may leave
 *    at once, so a leader's disk write and its followers' run side by side;
 * 4. apply `committed` in order and report {@link Replica.applied} (this may happen
 *    before step 1: chosen values are durable on a quorum already).
 */
export interface Output {
  /** State to make durable before any message of this output is sent. */
  readonly persist: PersistBatch | undefined;
  /** Report it to `persisted()` once `persist` is durable; 0 when there is nothing to persist. */
  readonly persistSeq: number;
  /** Messages to send, each after `persist` of this and every earlier output is durable. */
  readonly messages: readonly Message[];
  /** Newly chosen slots, contiguous and in order, to apply to the state machine. */
  readonly committed: readonly CommittedEntry[];
  /**
   * Commands this replica queued as leader and gave up before they got a slot (it
   * lost leadership). They were never proposed; the caller may retry elsewhere.
   */
  readonly dropped: readonly Uint8Array[];
  /**
   * Read-index requests settled since the last output: confirmed by a phase-2 quorum
   * (a read may return once the state machine applied `index`), or failed.
   */
  readonly reads: readonly ReadIndexResult[];
  /**
   * Peers that need slots this replica compacted away: send each the latest snapshot
   * (covering at least {@link ReplicaStatus.compactedThrough}); they install it with
   * {@link Replica.installSnapshot}. No ordering duty: a snapshot holds only chosen slots.
   */
  readonly snapshotsTo: readonly NodeId[];
}

/** Whether `output` holds no work at all: the driver's signal that the replica is idle. */
export function isEmptyOutput(output: Output): boolean {
  return (
    output.persist === undefined &&
    output.messages.length === 0 &&
    output.committed.length === 0 &&
    output.dropped.length === 0 &&
    output.reads.length === 0 &&
    output.snapshotsTo.length === 0
  );
}

/**
 * The messages that report no acceptor state of their sender: a leader's accepts,
 * heartbeats and commit notices, chosen values, and catch-up requests. A leader counts
 * its own acceptance only once it is durable ({@link Replica.persisted}), and no other
 * node hears of its ballot before that ballot is durable (the prepare waits for it), so
 * these may be sent before their output's persist: the leader's fsync then overlaps its
 * followers' instead of preceding them.
 */
const sentBeforePersist: ReadonlySet<string> = new Set<MessageType>(['accept', 'heartbeat', 'commit', 'chosen', 'catchUp']);

/**
 * Whether `message` may be sent before its output's persist (and every earlier one) is
 * durable. Every other message, a promise, an accepted, a reject or any reply, must
 * wait: it speaks for the sender's durable state.
 *
 * @example
 * ```ts
 * const out = replica.takeOutput();
 * for (const m of out.messages) if (mayPrecedePersist(m)) transport.send(m);
 * ```
 */
export function mayPrecedePersist(message: { readonly type: string }): boolean {
  return sentBeforePersist.has(message.type);
}
