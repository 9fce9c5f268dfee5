import { fc } from './fast-check.js';
import { groupsSimulationArbitrary, runtimeSimulationArbitrary, simulationArbitrary } from './arbitraries.js';
import { type GroupsSimulationConfig, type GroupsSimulationResult, runGroupsSimulation } from './run-groups-simulation.js';
import { type RuntimeSimulationConfig, type RuntimeSimulationResult, runRuntimeSimulation } from './run-runtime-simulation.js';
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
export function simulationParameters<Config = SimulationConfig>(defaultRuns: number, env: Record<string, string | undefined> = {}): fc.Parameters<[Config]> {
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

/**
 * Runs a simulation property and, on failure, throws one error that says how to replay
 * it (`SYNOD_REPLAY='{"seed":…,"path":"…"}'`), the shrunk configuration, and the broken
 * rule with the end of that run's trace.
 *
 * @example
 * ```ts
 * it('is safe', () => assertSimulations(simulationArbitrary(), simulationParameters(300, process.env)));
 * ```
 */
export function assertSimulations(arbitrary: fc.Arbitrary<SimulationConfig>, parameters: fc.Parameters<[SimulationConfig]>): void {
  const details = fc.check(simulationProperty(arbitrary), parameters);
  if (details.failed) throw replayError('simulation', details);
}

/**
 * The same property for real runtime nodes: for every drawn run,
 * {@link runRuntimeSimulation} finds no violation and the healed cluster converges.
 * `onResult` sees each passing run's statistics (to check the schedules did what they
 * were drawn for, e.g. that membership changes took effect).
 *
 * @example
 * ```ts
 * await fc.assert(runtimeSimulationProperty(runtimeSimulationArbitrary({ voters: [3] })), { numRuns: 50 });
 * ```
 */
export function runtimeSimulationProperty(
  arbitrary: fc.Arbitrary<RuntimeSimulationConfig> = runtimeSimulationArbitrary(),
  onResult?: (result: RuntimeSimulationResult, config: RuntimeSimulationConfig) => void,
): fc.IAsyncPropertyWithHooks<[RuntimeSimulationConfig]> {
  return fc.asyncProperty(arbitrary, async (config) => {
    const result = await runRuntimeSimulation(config);
    onResult?.(result, config);
  });
}

/**
 * Runs the runtime simulation property and, on failure, throws one error that says
 * how to replay it, the shrunk run, and the broken rule with the end of its trace.
 *
 * @example
 * ```ts
 * it('is safe', () => assertRuntimeSimulations(runtimeSimulationArbitrary(), simulationParameters(100, process.env)));
 * ```
 */
export async function assertRuntimeSimulations(
  arbitrary: fc.Arbitrary<RuntimeSimulationConfig>,
  parameters: fc.Parameters<[RuntimeSimulationConfig]>,
  onResult?: (result: RuntimeSimulationResult, config: RuntimeSimulationConfig) => void,
): Promise<void> {
  const details = await fc.check(runtimeSimulationProperty(arbitrary, onResult), parameters);
  if (details.failed) throw replayError('runtime simulation', details);
}

/**
 * The property for many groups over shared processes: for every drawn run,
 * {@link runGroupsSimulation} finds no violation in any group and the healed groups
 * converge. Failures say how to replay, as {@link assertRuntimeSimulations} does.
 *
 * @example
 * ```ts
 * it('is safe', () => assertGroupsSimulations(groupsSimulationArbitrary(), simulationParameters(500, process.env)));
 * ```
 */
export async function assertGroupsSimulations(
  arbitrary: fc.Arbitrary<GroupsSimulationConfig> = groupsSimulationArbitrary(),
  parameters: fc.Parameters<[GroupsSimulationConfig]> = {},
  onResult?: (result: GroupsSimulationResult, config: GroupsSimulationConfig) => void,
): Promise<void> {
  const property = fc.asyncProperty(arbitrary, async (config) => {
    const result = await runGroupsSimulation(config);
    onResult?.(result, config);
  });
  const details = await fc.check(property, parameters);
  if (details.failed) throw replayError('groups simulation', details);
}

function replayError<Config>(what: string, details: fc.RunDetails<[Config]>): Error {
  const replay = JSON.stringify({ seed: details.seed, path: details.counterexamplePath ?? '' });
  const error = details.errorInstance;
  const cause = error instanceof Error ? error.message : String(error ?? (details.interrupted ? 'interrupted' : 'unknown'));
  return new Error(
    [
      `${what} failed after ${details.numRuns} schedule(s), shrunk ${details.numShrinks} time(s)`,
      `replay: SYNOD_REPLAY='${replay}' npx vitest run <this test file>`,
      `schedule: ${JSON.stringify(details.counterexample?.[0])}`,
      cause,
    ].join('\n'),
    { cause: error },
  );
}
