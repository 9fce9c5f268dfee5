import { fileURLToPath } from 'node:url';
import { defineConfig, type Options } from 'tsup';

type EsbuildPlugin = NonNullable<Options['esbuildPlugins']>[number];

/**
 * The CJS build loads fast-check (an optional peer) with `require`: a CJS module
 * cannot use the ESM loader's top-level await (src/testing/fast-check-module.ts).
 */
const fastCheckByRequire: EsbuildPlugin = {
  name: 'fast-check-by-require',
  setup(build) {
    // tsup names the output format in `define` (with treeshake on, esbuild itself
    // emits ESM for both and rollup converts to CJS afterwards).
    if (build.initialOptions.define?.['TSUP_FORMAT'] !== '"cjs"') return;
    build.onResolve({ filter: /\/fast-check-module\.js$/ }, () => ({
      path: fileURLToPath(new URL('src/testing/fast-check-module.require.ts', import.meta.url)),
    }));
  },
};

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    // Loaded by file path as a worker thread by checkLinearizabilityInParallel, beside testing/index.
    'testing/linearizability-worker': 'src/testing/linearizability/linearizability-worker.ts',
    'kv/index': 'src/kv/index.ts',
    // Lock, election, configuration and queue on the KV's API.
    'recipes/index': 'src/recipes/index.ts',
    // Node-only (node:fs): its own subpath, so a browser bundle cannot pull it in.
    'storage/file/index': 'src/storage/file/index.ts',
    // Node-only too (node:net, node:tls).
    'transport/tcp/index': 'src/transport/tcp/index.ts',
    // The KV's server and client: Node-only too.
    'kv/server/index': 'src/kv/server/index.ts',
    'kv/client/index': 'src/kv/client/index.ts',
    // ZooKeeper's data model (pure), and a member's ZooKeeper port (Node-only).
    'zk/index': 'src/zk/index.ts',
    'zk/server/index': 'src/zk/server/index.ts',
    // The prom-client helpers: their own subpath, so nothing else loads prom-client.
    'prometheus/index': 'src/prometheus/index.ts',
    // The `synod` command (package.json `bin`).
    'cli/synod': 'src/cli/synod.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  // No source maps in the package: they were 12 MB of its 17.5 MB, and the output is
  // not minified (each file marked with its src/ path), so stack traces read as they are.
  sourcemap: false,
  target: 'node20',
  splitting: false,
  treeshake: true,
  // `import.meta.url` in the CJS build (the checker finds its worker entry beside itself).
  shims: true,
  esbuildPlugins: [fastCheckByRequire],
});
