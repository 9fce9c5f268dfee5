/**
 * A deliberately broken core, for the tests that must see a replayed failure: a Vite
 * plugin that rewrites one line of src/core/proposer.ts as it is loaded (never on
 * disk), so that a new leader ignores the values its promises report (the mutant of
 * the same name in scripts/mutants.ts). Two leaders then choose different values for
 * a slot: an agreement violation the simulation property finds within a few schedules.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Plugin } from 'vite';

const file = '/src/core/proposer.ts';
const from = '  adoptedValues(): Value[] {\n';
const to = '  adoptedValues(): Value[] {\n    if (this.firstSlot > 0) return [];\n';

/** The plugin; it throws if the line it rewrites is gone, so a stale mutant fails loudly. */
export function brokenCore(): Plugin {
  return {
    name: 'synod-broken-core',
    enforce: 'pre',
    transform(code, id) {
      if (!id.replace(/\\/g, '/').endsWith(file)) return undefined;
      if (!code.includes(from)) throw new Error(`broken-core: the line to break is no longer in ${file}; update test/playground/broken-core.ts`);
      return code.replace(from, to);
    },
  };
}

/**
 * Loads `modules` (paths from the repository root) through Vite with the broken core,
 * in Node; close the returned server when done.
 */
export async function loadBroken<T>(root: string, modules: readonly string[]): Promise<{ readonly modules: T[]; close(): Promise<void> }> {
  const server = await createServer({
    configFile: false,
    root,
    // Not under node_modules: that one is shared.
    cacheDir: join(tmpdir(), 'synod-vite-broken-core'),
    logLevel: 'silent',
    plugins: [brokenCore()],
    server: { middlewareMode: true, hmr: false, watch: null },
    appType: 'custom',
    optimizeDeps: { noDiscovery: true, include: [] },
  });
  const loaded: T[] = [];
  for (const m of modules) loaded.push((await server.ssrLoadModule(m)) as T);
  return { modules: loaded, close: () => server.close() };
}
