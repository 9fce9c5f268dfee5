import { fc } from './fast-check.js';
import { simulationArbitrary, transferFaultArbitrary } from './arbitraries.js';
import type { SimulationConfig } from './run-simulation.js';

/**
 * The simulation suites our safety tests run (test/core/safety), by name: each is the
 * arbitrary its test hands to `assertSimulations`. A failure prints fast-check's
 * `{ seed, path }`, which means something only against the same arbitrary; naming
 * them here lets the playground (and anyone) rebuild a failing schedule from the
 * line a test printed and the suite's name, exactly as the test drew it.
 *
 * @example
 * ```ts
 * assertSimulations(simulationSuites.majority(), simulationParameters(500, process.env));
 * ```
 */
export const simulationSuites = {
  /** Majority quorums, 1 to 7 voters, up to one observer, every kind of fault. */
  majority: () => simulationArbitrary({ voters: [1, 3, 5, 7], quorums: ['majority'], observersMax: 1 }),
  /** Flexible quorums (phase-1 and phase-2 sizes that only need to meet), 3 to 7 voters. */
  flexible: () => simulationArbitrary({ voters: [3, 5, 7], quorums: ['flexible'], observersMax: 1 }),
  /** Both quorum kinds. */
  mixed: () => simulationArbitrary({ voters: [1, 3, 5, 7], quorums: ['majority', 'flexible'], observersMax: 1 }),
  /** Up to two observers. */
  observers: () => simulationArbitrary({ voters: [1, 3, 5], quorums: ['majority', 'flexible'], observersMax: 2 }),
  /** Read indexes under slow clocks, leadership transfers and one-way cuts. */
  reads: () => simulationArbitrary({ voters: [3, 5], quorums: ['majority', 'flexible'], observersMax: 0, fault: transferFaultArbitrary, faultsMax: 24 }),
  /** Snapshots and compaction amid crashes, partitions and loss. */
  snapshots: () => simulationArbitrary({ voters: [1, 3, 5], quorums: ['majority', 'flexible'], observersMax: 1, snapshots: true }),
  /** Snapshots with transfers to lagging voters. */
  snapshotTransfers: () =>
    simulationArbitrary({ voters: [3, 5], quorums: ['majority', 'flexible'], observersMax: 0, snapshots: true, fault: transferFaultArbitrary, faultsMax: 24 }),
  /** Membership changes among the faults. */
  membership: () => simulationArbitrary({ voters: [1, 3, 5], quorums: ['majority', 'flexible'], observersMax: 1, membership: true, faultsMax: 20 }),
  /** Membership changes with snapshots and compaction. */
  membershipSnapshots: () => simulationArbitrary({ voters: [3, 5], quorums: ['majority'], observersMax: 1, membership: true, snapshots: true, faultsMax: 20 }),
  /** Idle groups quiesce (a light load: 24 commands a run, so leaders sit idle between them), and replicas whose leader is down or cut off are woken, amid every kind of fault and membership changes. */
  quiescence: () =>
    simulationArbitrary({
      voters: [1, 3, 5],
      quorums: ['majority', 'flexible'],
      observersMax: 1,
      quiescence: true,
      membership: true,
      faultsMax: 20,
      proposals: 24,
    }),
  /** One voter's storage wiped amid the faults. */
  amnesia: () => withWipe(false),
  /** One voter's storage wiped, with snapshots and compaction. */
  amnesiaSnapshots: () => withWipe(true),
} satisfies Record<string, () => fc.Arbitrary<SimulationConfig>>;

/** The name of a suite in {@link simulationSuites}. */
export type SimulationSuiteName = keyof typeof simulationSuites;

/**
 * Schedules with one voter's storage wiped (it restarts empty under the same id) amid
 * crashes, partitions and loss. Phase-2 quorums of at least two voters: a value chosen
 * by one acceptor alone dies with its disk, by definition.
 */
function withWipe(snapshots: boolean): fc.Arbitrary<SimulationConfig> {
  return simulationArbitrary({ voters: [3, 5], quorums: ['majority', 'flexible'], observersMax: 1, snapshots })
    .filter((c) => c.quorum === undefined || c.quorum.kind === 'majority' || c.quorum.phase2 >= 2)
    .chain((c) =>
      fc
        .record({ at: fc.integer({ min: 1, max: c.safetyTicks }), node: fc.integer({ min: 0, max: c.voters - 1 }) })
        .map(({ at, node }): SimulationConfig => ({ ...c, faults: [...c.faults, { at, fault: { kind: 'wipe', node } }] })),
    );
}
