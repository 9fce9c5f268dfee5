/**
 * The built package, as users load it: every subpath of the `exports` map imported by
 * name ('synod', 'synod/testing') from ESM and from CJS, in child processes so that
 * Node's own resolver is used, not vitest's. Node resolves a package's own name
 * through its `exports` map (self-reference), so the children run with cwd = repo root.
 *
 * Needs dist/: see built-dist.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { childEnv, distIsCurrent, ensureBuilt } from './built-dist.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

interface PackageJson {
  name: string;
  type?: string;
  sideEffects?: unknown;
  files?: unknown;
  engines?: { node?: string };
  main?: string;
  module?: string;
  types?: string;
  exports: Record<string, unknown>;
}

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as PackageJson;

/** What each subpath must export (every name a function or class). */
const expectedNames: Readonly<Record<string, readonly string[]>> = {
  '.': [
    'Replica',
    'majority',
    'flexible',
    'joint',
    'SynodError',
    'InvariantError',
    'ConfigError',
    'compareBallots',
    'createNode',
    'SynodNode',
    'MemoryNetwork',
    'MemoryStorage',
    'ClosedError',
    'NotLeaderError',
    'TimeoutError',
    'OverloadedError',
    'GroupHost',
    'DuplicateGroupError',
    'UnknownGroupError',
  ],
  './testing': ['Simulator', 'runSimulation', 'RuntimeSimulation', 'storageConformance'],
  './file-storage': ['FileStorage', 'SharedFileLog', 'CorruptionError', 'ClusterMismatchError', 'LockedError', 'StorageFailedError'],
  './tcp-transport': ['TcpTransport', 'TransportError'],
  './kv-server': ['KvServer'],
  './kv-client': ['KvClient', 'KvServerError'],
  './recipes': [
    'KvLock',
    'KvElection',
    'LeaderObserver',
    'ConfigService',
    'SequentialQueue',
    'FencedResource',
    'StaleTokenError',
    'QueueEntryGoneError',
    'TooManyKeysError',
  ],
  './kv': ['createKvNode', 'KvNode', 'KvStateMachine', 'VersionConflictError', 'CompactedError'],
  './zk': ['ZkStateMachine', 'ZkTree', 'ZkWatchTable', 'ZkExtension'],
  './zk-server': ['ZkServer', 'ZkExtension', 'digestAuthId'],
  './prometheus': ['registerNodeMetrics', 'registerTcpTransportMetrics', 'registerKvServerMetrics'],
};

/** Every code subpath of the exports map (`./package.json` aside). */
const subpaths = Object.keys(pkg.exports).filter((key) => key !== './package.json');

const specifierOf = (subpath: string): string => (subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`);

/** The condition objects holding targets, under every subpath of the exports map. */
function exportConditions(): Array<{ path: string[]; conditions: Record<string, unknown> }> {
  return subpaths.flatMap((subpath) => conditionObjects(pkg.exports[subpath], [subpath]));
}

/** Condition objects holding targets (strings) in `value`, with the path that leads to each. */
function conditionObjects(value: unknown, path: string[] = []): Array<{ path: string[]; conditions: Record<string, unknown> }> {
  if (typeof value !== 'object' || value === null) return [];
  const record = value as Record<string, unknown>;
  const found: Array<{ path: string[]; conditions: Record<string, unknown> }> = [];
  if (Object.values(record).some((v) => typeof v === 'string')) found.push({ path, conditions: record });
  for (const [key, child] of Object.entries(record)) found.push(...conditionObjects(child, [...path, key]));
  return found;
}

/** Every file the exports map points at. */
function exportTargets(): string[] {
  return exportConditions().flatMap(({ conditions }) => Object.values(conditions).filter((v): v is string => typeof v === 'string' && v.startsWith('./dist/')));
}

function runNode(args: readonly string[]): string {
  try {
    return execFileSync(process.execPath, args, { cwd: repoRoot, env: childEnv(), encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`node ${args.slice(0, -1).join(' ')} failed:\n${e.stderr ?? ''}${e.stdout ?? ''}\n${e.message}`);
  }
}

const runEsm = (script: string): string => runNode(['--input-type=module', '-e', script]);
const runCjs = (script: string): string => runNode(['--input-type=commonjs', '-e', script]);

const describeExports = (variable: string): string =>
  `console.log(JSON.stringify(Object.fromEntries(Object.keys(${variable}).map((k) => [k, typeof ${variable}[k]]))));`;

describe('package.json', () => {
  it('is an ESM package without side effects that ships only dist/ and docs/', () => {
    expect(pkg.type).toBe('module');
    expect(pkg.sideEffects).toBe(false);
    expect(pkg.files).toEqual(['dist', 'docs']);
    expect(pkg.engines?.node, 'engines.node').toBeTypeOf('string');
  });

  it('puts `types` first in every exports condition', () => {
    const objects = exportConditions();
    expect(objects.length).toBeGreaterThan(0);
    for (const { path, conditions } of objects) {
      expect(
        Object.keys(conditions)[0],
        `exports["${path[0]}"]${path
          .slice(1)
          .map((k) => `.${k}`)
          .join('')}`,
      ).toBe('types');
    }
  });

  it('gives require conditions .d.cts types and .cjs code, import conditions .d.ts and .js', () => {
    for (const subpath of subpaths) {
      const entry = pkg.exports[subpath] as Record<string, Record<string, string>>;
      expect(entry.require?.types, `exports["${subpath}"].require.types`).toMatch(/\.d\.cts$/);
      expect(entry.require?.default, `exports["${subpath}"].require.default`).toMatch(/\.cjs$/);
      expect(entry.import?.types, `exports["${subpath}"].import.types`).toMatch(/\.d\.ts$/);
      expect(entry.import?.default, `exports["${subpath}"].import.default`).toMatch(/\.js$/);
    }
  });

  it('has an expectation for the subpaths this test knows', () => {
    for (const subpath of Object.keys(expectedNames)) expect(subpaths).toContain(subpath);
  });
});

describe('the built package (dist/)', () => {
  beforeAll(async () => {
    await ensureBuilt(repoRoot, exportTargets());
    expect(distIsCurrent(repoRoot, exportTargets()), 'dist/ is still missing or stale after `npm run build`').toBe(true);
  }, 240_000);

  it('points only at files that the build produced', () => {
    const targets = [...exportTargets(), pkg.main, pkg.module, pkg.types].filter((t): t is string => t !== undefined);
    const missing = targets.filter((t) => !existsSync(join(repoRoot, t)));
    expect(missing, 'missing build outputs').toEqual([]);
  });

  describe.each(subpaths)('subpath %s', (subpath) => {
    const specifier = specifierOf(subpath);
    const names = expectedNames[subpath] ?? [];

    it(`import '${specifier}' from ESM`, () => {
      const kinds = JSON.parse(runEsm(`const m = await import(${JSON.stringify(specifier)}); ${describeExports('m')}`)) as Record<string, string>;
      expect(Object.keys(kinds).length, `'${specifier}' exports nothing`).toBeGreaterThan(0);
      for (const name of names) expect(kinds[name], `${name} from '${specifier}' (ESM)`).toBe('function');
    });

    it(`require('${specifier}') from CJS`, () => {
      const kinds = JSON.parse(runCjs(`const m = require(${JSON.stringify(specifier)}); ${describeExports('m')}`)) as Record<string, string>;
      expect(Object.keys(kinds).length, `'${specifier}' exports nothing`).toBeGreaterThan(0);
      for (const name of names) expect(kinds[name], `${name} from '${specifier}' (CJS)`).toBe('function');
    });
  });

  describe('errors across the ESM and CJS copies', () => {
    it('a SynodError subclass from one copy is instanceof the classes of the other', () => {
      const script = `
        import { createRequire } from 'node:module';
        import { join } from 'node:path';
        const require = createRequire(join(process.cwd(), 'package.json'));
        const cjs = require(${JSON.stringify(pkg.name)});
        const esm = await import(${JSON.stringify(pkg.name)});
        const fromCjs = new cjs.ConfigError('createReplica', 'voters', 'must not be empty');
        const fromEsm = new esm.InvariantError('slot 1 chosen twice');
        console.log(JSON.stringify({
          distinctCopies: cjs.SynodError !== esm.SynodError && cjs.ConfigError !== esm.ConfigError,
          cjsErrorIsEsmConfigError: fromCjs instanceof esm.ConfigError,
          cjsErrorIsEsmSynodError: fromCjs instanceof esm.SynodError,
          cjsErrorIsEsmInvariantError: fromCjs instanceof esm.InvariantError,
          esmErrorIsCjsInvariantError: fromEsm instanceof cjs.InvariantError,
          esmErrorIsCjsSynodError: fromEsm instanceof cjs.SynodError,
          esmErrorIsCjsConfigError: fromEsm instanceof cjs.ConfigError,
          plainErrorIsSynodError: new Error('x') instanceof esm.SynodError,
          code: fromCjs.code,
        }));
      `;
      expect(JSON.parse(runEsm(script))).toEqual({
        distinctCopies: true,
        cjsErrorIsEsmConfigError: true,
        cjsErrorIsEsmSynodError: true,
        cjsErrorIsEsmInvariantError: false,
        esmErrorIsCjsInvariantError: true,
        esmErrorIsCjsSynodError: true,
        esmErrorIsCjsConfigError: false,
        plainErrorIsSynodError: false,
        code: 'CONFIG',
      });
    });
  });

  describe('the runtime from the built package', () => {
    const cluster = (load: string): string => `
      ${load}
      const network = new m.MemoryNetwork();
      const node = m.createNode({ id: 'a', members: ['a'], transport: network.transport('a'), storage: new m.MemoryStorage(),
        stateMachine: { total: 0, apply(c) { return (this.total += c.add); } }, tickMs: 5 });
      await node.start();
      const results = [await node.propose({ add: 2 }), await node.propose({ add: 3 })];
      await node.close();
      const closed = await node.propose({ add: 1 }).catch((e) => e);
      console.log(JSON.stringify({ results, closed: closed instanceof m.ClosedError, code: closed.code }));
    `;

    it.each([
      ['ESM', `const m = await import(${JSON.stringify(pkg.name)});`],
      ['CJS', `const { createRequire } = await import('node:module'); const m = createRequire(process.cwd() + '/package.json')(${JSON.stringify(pkg.name)});`],
    ])('a one-node cluster proposes and closes (%s)', (_, load) => {
      expect(JSON.parse(runEsm(`${cluster(load)}`))).toEqual({ results: [2, 5], closed: true, code: 'CLOSED' });
    });
  });
});
