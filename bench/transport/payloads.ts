/**
 * The messages the transport benchmark moves, each as the record a node hands to a
 * transport and as the bytes that record is on the wire (its frame, length prefix
 * included), which is what the raw-socket baseline writes.
 */
import { type Ballot, batch } from '../../src/core/index.js';
import type { NodeMessage } from '../../src/runtime/index.js';
import { prefixFrame } from '../../src/encoding/frame-reader.js';
import { encodeMessage } from '../../src/transport/codec/index.js';

/** A message and its frame, built once, before any timing. */
export interface Payload {
  readonly message: NodeMessage;
  /** `message` encoded, with its 4-byte length prefix: the bytes a TcpTransport writes for it. */
  readonly frame: Uint8Array;
}

/** The node that sends the load (and dials: its id sorts first). */
export const senderId = 'a';
/** The node that sinks the load and replies. */
export const sinkId = 'b';

const ballot: Ballot = { round: 42, node: senderId };
/** Slot numbers of a log that has run for a while: 3-byte varints. */
const firstSlot = 1_000_000;

function payloadOf(message: NodeMessage): Payload {
  return { message, frame: prefixFrame(encodeMessage(message)) };
}

/** What the sender streams, by row. */
export const rowNames = ['accepted', 'accept-10x100B'] as const;
export type RowName = (typeof rowNames)[number];

const commandBytes = 100;
const commandsPerAccept = 10;

/** The message the sender sends in row `row`. */
export function loadOf(row: RowName): Payload {
  switch (row) {
    case 'accepted':
      // The smallest message a replica sends at a high rate: a follower acknowledging a slot.
      return payloadOf({ type: 'accepted', from: senderId, to: sinkId, ballot, firstSlot, count: 1 });
    case 'accept-10x100B': {
      // A leader's accept of one slot holding a batch of 10 commands of 100 bytes.
      const commands = Array.from({ length: commandsPerAccept }, (_, i) => new Uint8Array(commandBytes).fill(i + 1));
      return payloadOf({ type: 'accept', from: senderId, to: sinkId, ballot, firstSlot, commitIndex: firstSlot - 1, values: [batch(commands)] });
    }
  }
}

/** What the sink sends back, in every row: an `accepted`, the reply an accept gets. */
export const reply: Payload = payloadOf({ type: 'accepted', from: sinkId, to: senderId, ballot, firstSlot, count: 1 });
