/**
 * architecture rule 6, "layers point one way": core ← runtime ← storage/transport; testing
 * may use core and runtime; nothing below the testing kit imports it; storage and
 * transport adapters never import each other. Directories that do not exist yet are
 * skipped, so the rules are written once for the target layout.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { classifySpecifier, isInside, lex, listTypeScriptFiles, moduleReferences, position } from './scan.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const srcRoot = join(repoRoot, 'src');

/** A top-level folder of src/, `root` for files directly in src/ (the `synod` entry). */
type Layer = 'encoding' | 'core' | 'runtime' | 'storage' | 'transport' | 'kv' | 'zk' | 'recipes' | 'testing' | 'prometheus' | 'cli' | 'root';

interface LayerRule {
  readonly layer: Exclude<Layer, 'root'>;
  /** If given, the only layers this one may import. */
  readonly mayImport?: readonly Layer[];
  /** Layers this one must not import. */
  readonly mayNotImport?: readonly Layer[];
}

const rules: readonly LayerRule[] = [
  { layer: 'core', mayImport: ['core'] },
  { layer: 'runtime', mayImport: ['encoding', 'core', 'runtime'] },
  { layer: 'storage', mayNotImport: ['transport', 'testing', 'kv', 'cli', 'root'] },
  { layer: 'transport', mayNotImport: ['storage', 'testing', 'kv', 'cli', 'root'] },
  { layer: 'testing', mayImport: ['encoding', 'core', 'runtime', 'testing'] },
  { layer: 'kv', mayNotImport: ['zk', 'recipes', 'testing', 'prometheus', 'cli', 'root'] },
  // The ZooKeeper front end runs on the KV's node (one group serves both); the KV knows nothing of it.
  { layer: 'zk', mayNotImport: ['recipes', 'testing', 'prometheus', 'cli', 'root'] },
  // The recipes are written against the KV's API (and the errors it shares with the runtime).
  { layer: 'recipes', mayImport: ['core', 'runtime', 'kv', 'recipes'] },
  // The prom-client helpers read the others' metrics (types only); nothing but the CLI imports them.
  { layer: 'prometheus', mayNotImport: ['storage', 'testing', 'cli', 'root'] },
];

/** The entry file of `synod` may not pull in the testing kit: it has its own subpath. */
const rootMayNotImport: readonly Layer[] = ['testing', 'prometheus', 'cli'];

const packageSubpaths: Readonly<Record<string, Layer>> = {
  synod: 'root',
  'synod/testing': 'testing',
  'synod/kv': 'kv',
  'synod/recipes': 'recipes',
  'synod/kv-server': 'kv',
  'synod/kv-client': 'kv',
  'synod/zk': 'zk',
  'synod/zk-server': 'zk',
  'synod/file-storage': 'storage',
  'synod/tcp-transport': 'transport',
  'synod/prometheus': 'prometheus',
};

/**
 * The layer a specifier imported from `file` lands in, or undefined for npm packages,
 * Node builtins and files outside src/ (other tests check those).
 */
function targetLayer(file: string, specifier: string, src: string): Layer | 'outside-src' | undefined {
  const self = packageSubpaths[specifier];
  if (self !== undefined) return self;
  if (specifier.startsWith('synod/')) return specifier.split('/')[1] as Layer;
  if (classifySpecifier(specifier) !== 'relative') return undefined;
  const target = resolve(dirname(file), specifier);
  if (!isInside(src, target)) return 'outside-src';
  return layerOf(target, src);
}

function layerOf(path: string, src: string): Layer {
  const parts = relative(src, path).split(sep);
  return parts.length === 1 ? 'root' : (parts[0] as Layer);
}

/** Every import in `source` (at `file`, inside `src`) that breaks a layer rule, as `file:line text`. */
function layerViolations(file: string, source: string, src: string): string[] {
  const from = layerOf(file, src);
  const rule = rules.find((r) => r.layer === from);
  const forbidden = (to: Layer): boolean => {
    if (to === from) return false;
    if (from === 'root') return rootMayNotImport.includes(to);
    if (rule === undefined) return false;
    if (rule.mayImport !== undefined && !rule.mayImport.includes(to)) return true;
    return rule.mayNotImport?.includes(to) ?? false;
  };
  const violations: string[] = [];
  for (const reference of moduleReferences(lex(source))) {
    const to = targetLayer(file, reference.specifier, src);
    if (to === undefined) continue;
    const { line } = position(source, reference.offset);
    const name = relative(dirname(src), file).split(sep).join('/');
    if (to === 'outside-src') {
      violations.push(`${name}:${line} imports '${reference.specifier}', outside src/`);
    } else if (forbidden(to)) {
      violations.push(`${name}:${line} src/${from} imports '${reference.specifier}' (src/${to === 'root' ? 'index' : to})`);
    }
  }
  return violations;
}

describe('layers point one way (architecture rule 6)', () => {
  it('src/core exists and has files', () => {
    expect(existsSync(join(srcRoot, 'core'))).toBe(true);
    expect(listTypeScriptFiles(join(srcRoot, 'core')).length).toBeGreaterThan(0);
  });

  const present = [...rules.map((r) => r.layer), 'root' as const].filter((layer) => layer === 'root' || existsSync(join(srcRoot, layer)));

  it.each(present)('src/%s imports only what its layer allows', (layer) => {
    const files = layer === 'root' ? listTypeScriptFiles(srcRoot).filter((f) => layerOf(f, srcRoot) === 'root') : listTypeScriptFiles(join(srcRoot, layer));
    const violations = files.flatMap((file) => layerViolations(file, readFileSync(file, 'utf8'), srcRoot));
    expect(violations, `architecture rule 6 broken:\n${violations.join('\n')}`).toEqual([]);
  });
});

describe('the layer check can fail', () => {
  const src = resolve('/virtual/src');
  const at = (path: string): string => join(src, ...path.split('/'));
  const cases: ReadonlyArray<readonly [string, string, boolean]> = [
    ['core/replica.ts', "import { Node } from '../runtime/node.js';", true],
    ['core/quorum/joint.ts', "import { Simulator } from '../../testing/simulator.js';", true],
    ['core/replica.ts', "import { x } from '../index.js';", true],
    ['core/replica.ts', "import { x } from '../../test/helpers.js';", true],
    ['core/replica.ts', "import { Simulator } from 'synod/testing';", true],
    ['runtime/node.ts', "import type { FileStorage } from '../storage/file/wal.js';", true],
    ['runtime/node.ts', "import { Simulator } from '../testing/simulator.js';", true],
    ['runtime/node.ts', "import { KvStore } from '../kv/store.js';", true],
    ['runtime/node.ts', "import { tcp } from '../transport/tcp/tcp.js';", true],
    ['storage/file/wal.ts', "import { frame } from '../../transport/tcp/framing.js';", true],
    ['transport/memory.ts', "import { MemoryStorage } from '../storage/memory.js';", true],
    ['testing/simulator.ts', "import { KvStore } from '../kv/store.js';", true],
    ['testing/simulator.ts', "import { FileStorage } from '../storage/file.js';", true],
    ['index.ts', "export * from './testing/index.js';", true],
    ['index.ts', "export * from './prometheus/index.js';", true],
    ['kv/server/kv-server.ts', "import { registerKvServerMetrics } from '../../prometheus/index.js';", true],
    ['prometheus/node-metrics.ts', "import { FileStorage } from '../storage/file/index.js';", true],
    ['core/replica.ts', "import { compareBallots } from './ballot.js';", false],
    ['core/quorum/joint.ts', "import type { NodeId } from '../node-id.js';", false],
    ['runtime/node.ts', "import { Replica } from '../core/replica.js';", false],
    ['testing/simulator.ts', "import { Replica } from '../core/replica.js';", false],
    ['testing/simulator.ts', "import { Node } from '../runtime/node.js';", false],
    ['testing/simulator.ts', "import fc from 'fast-check';", false],
    ['storage/file/wal.ts', "import { assert } from '../../core/assert.js';", false],
    ['storage/file/wal.ts', "import { open } from 'node:fs/promises';", false],
    ['kv/server.ts', "import { Node } from '../runtime/node.js';", false],
    ['prometheus/node-metrics.ts', "import type { NodeMetrics } from '../runtime/metrics.js';", false],
    ['prometheus/node-metrics.ts', "import { Counter } from 'prom-client';", false],
    ['index.ts', "export * from './core/ballot.js';", false],
  ];

  it.each(cases)('%s: %s → violation %s', (path, source, expected) => {
    expect(layerViolations(at(path), source, src).length > 0).toBe(expected);
  });
});

/** Every import matching `wanted` in a module reachable from `entry` (through relative imports, type-only ones included), as `file imports specifier`. */
function importsReachable(entry: string, wanted: (specifier: string) => boolean): string[] {
  const seen = new Set<string>();
  const found: string[] = [];
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const reference of moduleReferences(lex(source))) {
      if (reference.kind === 'triple-slash') continue;
      const specifier = reference.specifier;
      if (wanted(specifier)) found.push(`${relative(repoRoot, file)} imports ${specifier}`);
      if (classifySpecifier(specifier) !== 'relative') continue;
      visit(resolve(dirname(file), specifier).replace(/\.js$/, '.ts'));
    }
  };
  visit(entry);
  return found;
}

/**
 * architecture rule 6, second half: Node-only code (fs, net, tls, ...) lives in the file
 * storage, the TCP transport and the CLI, on their own subpaths. So the `synod` entry,
 * followed through every import, reaches no Node builtin: a browser bundle of it works.
 */
describe('the synod entry reaches no Node builtin', () => {
  /** Every module reachable from `entry`, and the Node builtins each imports. */
  function builtinsReachable(entry: string): string[] {
    return importsReachable(entry, (specifier) => specifier.startsWith('node:'));
  }

  it('src/index.ts imports no node: module, directly or through any import', () => {
    expect(builtinsReachable(join(srcRoot, 'index.ts'))).toEqual([]);
  });

  it('neither does synod/kv (the KV state machine and the embedded node); its server and client are Node-only subpaths', () => {
    expect(builtinsReachable(join(srcRoot, 'kv', 'index.ts'))).toEqual([]);
    expect(builtinsReachable(join(srcRoot, 'kv', 'server', 'index.ts')).some((f) => f.includes('node:net'))).toBe(true);
  });

  it('the check sees a builtin behind the Node-only subpaths', () => {
    expect(builtinsReachable(join(srcRoot, 'transport', 'tcp', 'index.ts')).some((f) => f.includes('node:net'))).toBe(true);
    expect(builtinsReachable(join(srcRoot, 'storage', 'file', 'index.ts')).some((f) => f.includes('node:fs'))).toBe(true);
  });
});

/**
 * prom-client is for the `synod/prometheus` subpath and `synod serve` alone: the core,
 * the `synod` entry, `synod/kv` and `synod/testing` never load it, so an embedder that
 * does not export metrics (or runs in a browser) never pulls it in.
 */
describe('prom-client stays on its own subpath', () => {
  const promClient = (specifier: string): boolean => specifier === 'prom-client' || specifier.startsWith('prom-client/');

  it.each(['index.ts', 'kv/index.ts', 'testing/index.ts', 'kv/client/index.ts', 'storage/file/index.ts', 'transport/tcp/index.ts'])(
    'src/%s reaches no prom-client import',
    (entry) => {
      expect(importsReachable(join(srcRoot, ...entry.split('/')), promClient)).toEqual([]);
    },
  );

  it('no file under src/core imports it', () => {
    const found = listTypeScriptFiles(join(srcRoot, 'core')).flatMap((file) => importsReachable(file, promClient));
    expect(found).toEqual([]);
  });

  it('synod/prometheus reaches no Node builtin of its own (only types of the Node-only parts)', () => {
    expect(importsReachable(join(srcRoot, 'prometheus', 'index.ts'), (s) => s.startsWith('node:'))).toEqual([]);
  });

  it('the check sees prom-client behind synod/prometheus and the synod command', () => {
    expect(importsReachable(join(srcRoot, 'prometheus', 'index.ts'), promClient).length).toBeGreaterThan(0);
    expect(importsReachable(join(srcRoot, 'cli', 'synod.ts'), promClient).length).toBeGreaterThan(0);
  });
});
