/**
 * The core's batched throughput, as `npm run bench` reports it in its `batched` row:
 * 64 commands a slot, 64-slot chunks, the median of `rounds` rounds after the warm-up
 * rounds. Other benchmarks call it to get the core's figure in the same run, as a
 * baseline on the same machine and under the same load.
 */
import { type RoundResult, medianRound, modes } from './cluster.js';

/** The core's batched figure from one median round. */
export interface CoreBatched {
  /** Commands the leader applied per second. */
  readonly commandsPerSecond: number;
  /** Commands in each slot. */
  readonly commandsPerSlot: number;
  readonly round: RoundResult;
}

/** Measures the core's batched throughput now (a few seconds). */
export function measureCoreBatched(rounds = 7): CoreBatched {
  const mode = modes.find((m) => m.name === 'batched');
  if (mode === undefined) throw new Error('the core benchmark has no batched mode');
  const round = medianRound(mode, rounds);
  return { commandsPerSecond: round.commands / round.seconds, commandsPerSlot: mode.commandsPerSlot, round };
}
