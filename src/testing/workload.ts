/**
 * The workload of a runtime simulation run ({@link runRuntimeSimulation},
 * {@link runGroupsSimulation}): proposals, reads and faults, in time order. @internal
 */
import type { ScheduledFault } from './faults.js';
import type { Prng } from './prng.js';

/** One event of a run's safety phase, at a virtual ms. @internal */
export type WorkloadEvent =
  | { readonly at: number; readonly kind: 'propose'; readonly i: number }
  | { readonly at: number; readonly kind: 'read' }
  | { readonly at: number; readonly kind: 'fault'; readonly fault: ScheduledFault['fault'] };

/** What {@link workload} draws from: the run's config fields of the same names. @internal */
export interface WorkloadConfig {
  /** Length of the safety phase, in ms. */
  readonly safetyMs: number;
  /** Commands proposed. */
  readonly proposals: number;
  /** Linearizable reads. Default half of `proposals`. */
  readonly reads?: number;
  /** Faults, each at a time (ms) of the safety phase. */
  readonly faults: readonly ScheduledFault[];
}

/**
 * Proposals over the first 80% of the safety phase, reads over all of it, and the
 * faults, in time order, drawn from `random`. @internal
 */
export function workload(config: WorkloadConfig, random: Prng): WorkloadEvent[] {
  const events: WorkloadEvent[] = [];
  const submitMs = Math.max(1, Math.floor(config.safetyMs * 0.8));
  for (let i = 0; i < config.proposals; i++) events.push({ at: 1 + random.int(submitMs), kind: 'propose', i });
  const reads = config.reads ?? Math.floor(config.proposals / 2);
  for (let i = 0; i < reads; i++) events.push({ at: 1 + random.int(config.safetyMs), kind: 'read' });
  for (const f of config.faults) events.push({ at: f.at, kind: 'fault', fault: f.fault });
  // Stable: same-time events keep their order (proposals by index, then reads, then faults).
  return events
    .map((e, order) => ({ e, order }))
    .sort((a, b) => a.e.at - b.e.at || a.order - b.order)
    .map(({ e }) => e);
}
