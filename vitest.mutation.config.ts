import { defineConfig } from 'vitest/config';

/** The tests that judge mutants of src/core and the linearizability checker (see stryker.config.mjs). */
export default defineConfig({
  test: {
    include: ['test/core/**/*.test.ts', 'test/testing/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
