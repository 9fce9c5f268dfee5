/**
 * A failing schedule rebuilt from fast-check's `{ seed, path }`: fast-check walks the
 * same shrink path over the same arbitrary without running the property on the way
 * (its `path` parameter), so the first value it hands the predicate is the shrunk
 * counterexample the test reported. The predicate only records it and fails, which
 * ends the check there (`endOnFailure`): no simulation runs here.
 */
import { fc } from '../../src/testing/fast-check.js';
import type { SimulationConfig } from '../../src/testing/run-simulation.js';
import { type SimulationSuiteName, simulationSuites } from '../../src/testing/simulation-suites.js';
import { ReplayLineError } from './replay-line.js';

/** The names of the suites a replay line can come from. */
export const suiteNames = Object.keys(simulationSuites) as SimulationSuiteName[];

/** The schedule `suite` drew for `seed` and shrank along `path`. */
export function scheduleOf(suite: string, seed: number, path: string): SimulationConfig {
  if (!(suite in simulationSuites)) throw new ReplayLineError(`unknown suite "${suite}": one of ${suiteNames.join(', ')}`);
  const arbitrary = simulationSuites[suite as SimulationSuiteName]();
  let found: SimulationConfig | undefined;
  fc.check(
    fc.property(arbitrary, (config) => {
      found = config;
      return false;
    }),
    { seed, ...(path !== '' ? { path } : {}), numRuns: 1, endOnFailure: true },
  );
  if (found === undefined) throw new ReplayLineError(`fast-check drew nothing for seed ${seed} and path "${path}"`);
  return found;
}
