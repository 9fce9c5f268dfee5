/**
 * The packed package (`npm pack`) installed in an empty project without fast-check,
 * an optional peer: `synod/testing` must load from ESM and CJS, its checker must run,
 * the functions built on fast-check must fail with MissingPeerError naming the
 * package, and a strict `tsc` (skipLibCheck off) must accept the types.
 *
 * "Installed" = the tarball unpacked into node_modules/synod and synod's own
 * dependencies linked from this repository's node_modules: what `npm install` would
 * lay out, without a registry, so the test runs offline and fast.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, ensureBuilt } from './built-dist.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };

let workDir = '';
let app = '';
let packedFiles: string[] = [];

function run(command: string, args: readonly string[], cwd: string): string {
  try {
    return execFileSync(command, args, { cwd, env: childEnv(), encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}\n${e.message}`);
  }
}

const node = (args: readonly string[]): string => run(process.execPath, args, app);

// A put acknowledged at version 1, then a read that completes later and sees nothing.
const staleRead = JSON.stringify([
  { client: 'a', key: 'k', input: { op: 'put', value: 'x' }, invokedAt: 0, completedAt: 1, outcome: 'ok', output: { type: 'written', version: 1 } },
  { client: 'b', key: 'k', input: { op: 'get' }, invokedAt: 2, completedAt: 3, outcome: 'ok', output: { type: 'absent' } },
]);

const probe = (testing: string): string => `
  const lines = [];
  lines.push('checker: ' + ${testing}.checkLinearizability(${staleRead}, ${testing}.versionedKvModel).result);
  try { ${testing}.simulationArbitrary(); lines.push('arbitrary: no error'); }
  catch (e) { lines.push('arbitrary: ' + (e instanceof ${testing}.MissingPeerError) + ' ' + e.code + ' ' + e.packageName + ' ' + /npm install --save-dev fast-check/.test(e.message)); }
  console.log(lines.join('\\n'));
`;

// Two keys, so that two workers each take one: the stale read on k, and a fine key j.
const twoKeys = JSON.stringify([
  ...JSON.parse(staleRead),
  { client: 'c', key: 'j', input: { op: 'put', value: 'y' }, invokedAt: 0, completedAt: 1, outcome: 'ok', output: { type: 'written', version: 1 } },
]);

// A user's model, in its own module, naming itself for the workers (ESM: import.meta.url; CJS: __filename).
const counterModel = (origin: string): string => `{
  name: 'counter',
  init: () => 0,
  step: (state, input, observed) => input.op === 'add' ? { ok: true, state: state + input.by, output: null } : { ok: observed === undefined || observed === state, state, output: state },
  hash: (state) => String(state),
  origin: { module: ${origin}, export: 'counter' },
}`;
const counterHistory = JSON.stringify([
  { client: 'a', key: 'c', input: { op: 'add', by: 1 }, invokedAt: 0, completedAt: 1, outcome: 'ok', output: null },
  { client: 'b', key: 'c', input: { op: 'read' }, invokedAt: 2, completedAt: 3, outcome: 'ok', output: 2 },
  { client: 'a', key: 'd', input: { op: 'add', by: 1 }, invokedAt: 0, completedAt: 1, outcome: 'ok', output: null },
]);

const workersProbe = (testing: string, counter: string): string => `
  Promise.all([
    ${testing}.checkLinearizabilityInParallel(${twoKeys}, ${testing}.versionedKvModel, { workers: 2 }),
    ${testing}.checkLinearizabilityInParallel(${counterHistory}, ${counter}, { workers: 2 }),
  ]).then((verdicts) => console.log(verdicts.map((v) => v.result + ' ' + (v.key ?? v.detail) + ' on ' + v.execution.workers).join('\\n')));
`;

describe('the packed tarball, installed without fast-check', () => {
  beforeAll(async () => {
    await ensureBuilt(repoRoot, [
      'dist/testing/index.js',
      'dist/testing/index.cjs',
      'dist/testing/index.d.ts',
      'dist/testing/linearizability-worker.js',
      'dist/testing/linearizability-worker.cjs',
    ]);
    workDir = mkdtempSync(join(tmpdir(), 'synod-tarball-'));
    const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', workDir], repoRoot)) as Array<{
      filename: string;
      files: Array<{ path: string }>;
    }>;
    const tarball = join(workDir, packed[0]!.filename);
    packedFiles = packed[0]!.files.map((f) => f.path);
    app = join(workDir, 'app');
    const installed = join(app, 'node_modules', 'synod');
    mkdirSync(installed, { recursive: true });
    run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1'], workDir);
    for (const dependency of Object.keys(pkg.dependencies ?? {})) {
      symlinkSync(realpathSync(join(repoRoot, 'node_modules', dependency)), join(app, 'node_modules', dependency), 'dir');
    }
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  }, 240_000);

  afterAll(() => {
    if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
  });

  it('really has no fast-check to find', () => {
    expect(() => node(['-e', "require.resolve('fast-check')"])).toThrow(/Cannot find module 'fast-check'/);
  });

  it('loads synod/testing from ESM: the checker runs, the arbitraries name the missing package', () => {
    const out = node(['--input-type=module', '-e', `import * as testing from 'synod/testing';\n${probe('testing')}`]);
    expect(out.trim().split('\n')).toEqual(['checker: not-linearizable', 'arbitrary: true MISSING_PEER fast-check true']);
  });

  it('loads synod/testing from CJS: the checker runs, the arbitraries name the missing package', () => {
    const out = node(['--input-type=commonjs', '-e', `const testing = require('synod/testing');\n${probe('testing')}`]);
    expect(out.trim().split('\n')).toEqual(['checker: not-linearizable', 'arbitrary: true MISSING_PEER fast-check true']);
  });

  it('checks keys on worker threads from ESM: the worker entry is found beside the ESM build, a model by name and one by origin', () => {
    writeFileSync(join(app, 'counter.mjs'), `export const counter = ${counterModel('import.meta.url')};\n`);
    const out = node([
      '--input-type=module',
      '-e',
      `import * as testing from 'synod/testing';\nimport { counter } from './counter.mjs';\n${workersProbe('testing', 'counter')}`,
    ]);
    expect(out.trim().split('\n')).toEqual(['not-linearizable k on 2', 'not-linearizable c on 2']);
  });

  it('checks keys on worker threads from CJS: the worker entry is found beside the CJS build, a model by name and one by origin', () => {
    writeFileSync(join(app, 'counter.cjs'), `exports.counter = ${counterModel('__filename')};\n`);
    const out = node([
      '--input-type=commonjs',
      '-e',
      `const testing = require('synod/testing');\nconst { counter } = require('./counter.cjs');\n${workersProbe('testing', 'counter')}`,
    ]);
    expect(out.trim().split('\n')).toEqual(['not-linearizable k on 2', 'not-linearizable c on 2']);
  });

  it('type-checks an importer under tsc --strict with skipLibCheck off', () => {
    writeFileSync(
      join(app, 'main.ts'),
      [
        "import { checkLinearizability, checkLinearizabilityInParallel, versionedKvModel, MissingPeerError, Simulator, type Model } from 'synod/testing';",
        "import { createNode, MemoryStorage } from 'synod';",
        'const verdict: { result: string } = checkLinearizability([], versionedKvModel);',
        "const counter: Model<number, { by: number }, null> = { name: 'c', init: () => 0, step: (s, i) => ({ ok: true, state: s + i.by, output: null }), hash: String, origin: { module: '/m.js', export: 'counter' } };",
        'const parallel: Promise<{ result: string; execution: { workers: number; note?: string } }> = checkLinearizabilityInParallel([], counter, { workers: 2 });',
        'export const used = [verdict, parallel, MissingPeerError, Simulator, createNode, MemoryStorage] as const;',
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'ES2022', noEmit: true, skipLibCheck: false, types: [] },
        files: ['main.ts'],
      }),
    );
    expect(node([join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app])).toBe('');
  });

  it('ships the license and the guides, and no source maps', () => {
    expect(packedFiles).toContain('LICENSE');
    expect(packedFiles).toContain('docs/getting-started.md');
    expect(packedFiles.filter((f) => f.endsWith('.map'))).toEqual([]);
  });
});
