import type { KnipConfig } from 'knip';

/**
 * Unused files, exports and dependencies (`npm run lint`). Entries are every way code is
 * reached from outside: the package's subpaths, the CLI, the scripts a person or CI
 * runs, and the files a test spawns or bundles instead of importing. An export reached
 * only from an entry's own file is still reported: un-export it or delete it.
 */
const config: KnipConfig = {
  workspaces: {
    '.': {
      // Also entries without being listed: package.json's `exports` and `bin` (knip maps
      // dist/ back to src/), the files npm scripts run, test files and the configs of
      // vitest, vite (playground/index.html's script) and stryker.
      entry: [
        // CI runs each example; the scripts and benchmarks are run by hand or by npm scripts.
        'examples/*.ts',
        'scripts/*.ts',
        'bench/*/run.ts',
        'bench/storage/shared-log.ts',
        'bench/kv/{authorization,echo-server,load-process,profile-top,server-process,snapshot-pause}.ts',
        'bench/transport/{sink,sink-process}.ts',
        // Spawned as child processes (`node --import tsx FILE`) or bundled by a test.
        'test/kv/nemesis/server-process.ts',
        'test/transport/tcp/process-node.ts',
        'test/storage/file/crash-child.ts',
        'test/zk/c-client-worker.ts',
        'test/bench/compare/fixtures/crashing-harness.ts',
        'test/browser/cluster-page.ts',
        // stryker.config.mjs names it by path.
        'vitest.mutation.config.ts',
      ],
      project: ['**/*.{ts,mjs}', '!.stryker-tmp*/**'],
      ignoreDependencies: [
        // A JSDoc type import in stryker.config.mjs; @stryker-mutator/core brings it at its own version.
        '@stryker-mutator/api',
        // test/browser bundles a page with esbuild's API; it loads the copy tsup and tsx bring
        // (hoisted to node_modules/esbuild), not a devDependency of its own.
        'esbuild',
      ],
      // test/zk/zk-curator.test.ts runs Curator with a JDK's launcher, installed by scripts/install-system-packages.sh.
      ignoreBinaries: ['java', 'javac'],
    },
    // The comparison benchmark's own package (etcd3, vega, vega-lite), installed by its setup.sh.
    'bench/compare': {
      // run.ts and zk-port.ts are entries by the npm scripts that run them.
      entry: ['cluster.ts', 'plot.ts'],
      project: ['**/*.ts'],
      // zookeeper-c-client.ts loads the C client's binding with createRequire (a native addon, CommonJS).
      ignoreDependencies: ['zookeeper'],
    },
  },
};

export default config;
