/**
 * Every bound on a queue, window, batch or loop in the core, with its default. The
 * relations between them are checked once, by {@link validateLimits} (and tested).
 */
export interface Limits {
  /** Fewest ticks without a leader before a follower campaigns. Default 10 ticks. */
  readonly electionTicksMin: number;
  /** Most ticks without a leader before a follower campaigns (the timeout is random in [min, max]). Default 20 ticks. */
  readonly electionTicksMax: number;
  /** Ticks between a leader's heartbeats (and retransmissions). Default 2 ticks; below `electionTicksMin`. */
  readonly heartbeatTicks: number;
  /** Slots a leader may have proposed beyond its commit index (the pipeline window). Default 1024 slots. */
  readonly inflightSlotsMax: number;
  /** Commands one slot may carry. Default 256 commands. */
  readonly batchCommandsMax: number;
  /** Payload bytes one slot may carry (a single larger command is refused). Default 1 MiB. */
  readonly batchBytesMax: number;
  /** Commands a leader may hold waiting for a slot; more are refused as overloaded. Default 65,536 commands. */
  readonly proposalQueueMax: number;
  /** Slots one accept message may carry. Default 512 slots. */
  readonly acceptSlotsMax: number;
  /** Slots one catch-up request or chosen message may carry. Default 512 slots. */
  readonly catchUpSlotsMax: number;
  /**
   * Payload bytes of the values one accept or chosen message (or a promise's chosen
   * values) may carry; a single larger value still goes alone. It keeps a message
   * within what a transport takes in one frame: 512 slots of 64 KiB values are 32 MiB.
   * Default 4 MiB; at least `batchBytesMax`.
   */
  readonly messageBytesMax: number;
  /** Out-of-order acknowledgement ranges a leader remembers per voter. Default 64 ranges. */
  readonly ackRangesMax: number;
}

/** The default of every limit. */
export const defaultLimits: Limits = Object.freeze({
  electionTicksMin: 10,
  electionTicksMax: 20,
  heartbeatTicks: 2,
  inflightSlotsMax: 1024,
  batchCommandsMax: 256,
  batchBytesMax: 1024 * 1024,
  proposalQueueMax: 65_536,
  acceptSlotsMax: 512,
  catchUpSlotsMax: 512,
  messageBytesMax: 4 * 1024 * 1024,
  ackRangesMax: 64,
});

/**
 * Why `limits` are inconsistent, as `[field, why]`, or undefined when they are fine.
 * @internal
 */
export function validateLimits(limits: Limits): [keyof Limits, string] | undefined {
  for (const key of Object.keys(defaultLimits) as (keyof Limits)[]) {
    const v = limits[key];
    if (!Number.isSafeInteger(v) || v < 1) return [key, `must be a positive integer, got ${String(v)}`];
  }
  if (limits.electionTicksMax < limits.electionTicksMin) return ['electionTicksMax', 'must be >= electionTicksMin'];
  if (limits.heartbeatTicks >= limits.electionTicksMin) return ['heartbeatTicks', 'must be < electionTicksMin, or followers time out between heartbeats'];
  if (limits.proposalQueueMax < limits.batchCommandsMax) return ['proposalQueueMax', 'must be >= batchCommandsMax'];
  if (limits.messageBytesMax < limits.batchBytesMax) return ['messageBytesMax', 'must be >= batchBytesMax, or a full slot could not be sent'];
  return undefined;
}

/**
 * The last slot of a message starting at `first` and ending by `last`: as many slots as
 * `slotsMax` and `limits.messageBytesMax` allow, and always `first` itself.
 * @internal
 */
export function messageEnd(first: number, last: number, slotsMax: number, limits: Limits, bytesOf: (slot: number) => number): number {
  const end = Math.min(last, first + slotsMax - 1);
  let bytes = bytesOf(first);
  let slot = first;
  while (slot < end) {
    bytes += bytesOf(slot + 1);
    if (bytes > limits.messageBytesMax) break;
    slot++;
  }
  return slot;
}
