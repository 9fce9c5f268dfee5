// Mutation testing with StrykerJS: `npm run mutate` (all of src/core and the
// linearizability checker; hours on two cores), or one file at a time:
// `npm run mutate -- --mutate src/core/ballot.ts`. Only the tests under test/core,
// test/regressions and test/testing run (with fewer simulation schedules each,
// SYNOD_SCHEDULES below), and per test coverage picks those that reach each mutant. Survivors judged equivalent are
// listed, each with its reason, in test/mutation/equivalent-mutants.md.
//
// Incremental: each run reads and rewrites test/mutation/stryker-incremental.json
// (committed), and retests only the mutants whose code or covering tests changed since;
// the mutants of files outside `--mutate` are carried over as they were, so a one-file
// run keeps the others' results. `npm run mutate -- --force` retests everything.
process.env.SYNOD_SCHEDULES ??= '40';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  mutate: ['src/core/**/*.ts', 'src/testing/linearizability/**/*.ts', '!**/index.ts'],
  coverageAnalysis: 'perTest',
  checkers: [],
  ignoreStatic: true,
  incremental: true,
  incrementalFile: 'test/mutation/stryker-incremental.json',
  concurrency: 2,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  tempDirName: '.stryker-tmp',
  thresholds: { high: 90, low: 80, break: null },
};
