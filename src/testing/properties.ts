import fc from 'fast-check';
import { simulationArbitrary } from './arbitraries.js';
import { type SimulationConfig, runSimulation } from './run-simulation.js';

/**
 * The safety-and-liveness property over simulation configurations: for every drawn
 * cluster, fault schedule and workload, {@link runSimulation} finds no violation and
 * the healed cluster converges. Hand it to `fc.assert`; a failure report carries
 * fast-check's `{ seed, path }` to replay and the trace of the shrunk schedule.
 *
 * @example
 * ```ts
 * fc.assert(simulationProperty(simulationArbitrary({ voters: [3, 5] })), { numRuns: 200 });
 * ```
 */
export function simulationProperty(arbitrary: fc.Arbitrary<SimulationConfig> = simulationArbitrary()): fc.IPropertyWithHooks<[SimulationConfig]> {
  return fc.property(arbitrary, (config) => {
    runSimulation(config);
  });
}

/**
 * fast-check parameters for simulation suites, read from the environment so a run can
 * be scaled or replayed without editing tests: `SYNOD_SCHEDULES` (runs per suite) and
 * `SYNOD_REPLAY` (the `{"seed":..,"path":".."}` a failure printed), and
 * `SYNOD_NO_SHRINK=1` to stop at the first failure (for counting schedules to failure).
 */
export function simulationParameters(defaultRuns: number, env: Record<string, string | undefined> = {}): fc.Parameters<[SimulationConfig]> {
  const runs = env['SYNOD_SCHEDULES'] !== undefined ? Number(env['SYNOD_SCHEDULES']) : defaultRuns;
  const replay = env['SYNOD_REPLAY'] !== undefined ? (JSON.parse(env['SYNOD_REPLAY']) as { seed: number; path?: string }) : undefined;
  return {
    numRuns: runs,
    ...(env['SYNOD_NO_SHRINK'] === '1' ? { endOnFailure: true } : {}),
    // Shrinking re-runs whole simulations: bound it, and report what it has by then.
    interruptAfterTimeLimit: 240_000,
    markInterruptAsFailure: true,
    ...(replay !== undefined ? { seed: replay.seed, ...(replay.path !== undefined ? { path: replay.path } : {}), endOnFailure: true } : {}),
  };
}
