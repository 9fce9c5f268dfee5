import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * Stryker stops a mutant's run at its first failing test, so the order of the test
 * files decides how long a killed mutant takes: a file that failed before first (it
 * killed the last mutant, it may kill this one), then the fastest. Vitest's own order
 * runs the slowest first, and the simulations would run before every unit test.
 */
class FailedThenFastestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cache = this.ctx.cache;
    const key = (spec: TestSpecification): string => `${spec.project.name}:${relative(this.ctx.config.root, spec.moduleId)}`;
    const rank = (spec: TestSpecification): [failed: number, duration: number] => {
      const result = cache.getFileTestResults(key(spec));
      // Not run yet: smaller files first, as a guess at their duration.
      if (result === undefined) return [1, cache.getFileStats(key(spec))?.size ?? Number.MAX_SAFE_INTEGER];
      return [result.failed ? 0 : 1, result.duration];
    };
    return [...files].sort((a, b) => {
      const [fa, da] = rank(a);
      const [fb, db] = rank(b);
      return fa - fb || da - db;
    });
  }
}

/** The tests that judge mutants of src/core and the linearizability checker (see stryker.config.mjs). */
export default defineConfig({
  test: {
    include: ['test/core/**/*.test.ts', 'test/regressions/**/*.test.ts', 'test/testing/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    sequence: { sequencer: FailedThenFastestFirst },
  },
});
