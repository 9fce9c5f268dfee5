/**
 * architecture rule 1, "the core is pure": nothing under src/core imports Node, an npm
 * package or anything outside src/core, reads a clock, sets a timer, calls
 * Math.random, touches `process`, or is asynchronous.
 */
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatFinding, listTypeScriptFiles, scanCoreSource } from './scan.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const coreRoot = join(repoRoot, 'src', 'core');
const coreFiles = listTypeScriptFiles(coreRoot);

describe('src/core is pure (architecture rule 1)', () => {
  it('src/core exists and has TypeScript files', () => {
    expect(coreFiles.length, `no .ts files under ${coreRoot}`).toBeGreaterThan(0);
  });

  it.each(coreFiles.map((file) => relative(repoRoot, file)))('%s', (file) => {
    const source = readFileSync(join(repoRoot, file), 'utf8');
    const findings = scanCoreSource(source, join(repoRoot, file), coreRoot).map((f) => formatFinding(file, f));
    expect(findings, `${file} breaks architecture rule 1:\n${findings.join('\n')}`).toEqual([]);
  });
});

describe('the purity scanner can fail', () => {
  // Virtual paths: nothing is read from disk.
  const root = resolve('/virtual/src/core');
  const file = join(root, 'quorum', 'example.ts');
  const rulesOf = (source: string): string[] => scanCoreSource(source, file, root).map((f) => f.rule);

  const bad: ReadonlyArray<readonly [string, string]> = [
    ["import { readFileSync } from 'node:fs';", 'node-import'],
    ["import * as path from 'path';", 'node-import'],
    ['import { readFile } from "fs/promises";', 'node-import'],
    ["import type { Hash } from 'crypto';", 'node-import'],
    ["export { EventEmitter } from 'eventemitter3';", 'package-import'],
    ["import fc from 'fast-check';", 'package-import'],
    ["import 'reflect-metadata';", 'package-import'],
    ["import { Node } from '../../runtime/node.js';", 'outside-core-import'],
    ["export * from '../../testing/index.js';", 'outside-core-import'],
    ["import { x } from '../../core-extra/x.js';", 'outside-core-import'],
    ["import { x } from '#internal/x';", 'outside-core-import'],
    ["const m = import('../../kv/store.js');", 'outside-core-import'],
    ['/// <reference types="node" />', 'triple-slash'],
    ['const t = Date.now();', 'Date'],
    ['const d = new Date();', 'Date'],
    ['let at: Date | undefined;', 'Date'],
    ['const label = `at ${Date.now()} ms`;', 'Date'],
    ['const r = Math.random();', 'Math.random'],
    ['const r = Math . random();', 'Math.random'],
    ['setTimeout(() => {}, 10);', 'timer'],
    ['globalThis.setInterval(tick, 1);', 'timer'],
    ['queueMicrotask(flush);', 'timer'],
    ['setImmediate(flush);', 'timer'],
    ['const debug = process.env.DEBUG;', 'process'],
    ["if (typeof process !== 'undefined') {}", 'process'],
    ['const t = performance.now();', 'performance'],
    ['const id = crypto.randomUUID();', 'crypto'],
    ['const b = Buffer.from([1]);', 'Buffer'],
    ["const fs = require('fs');", 'require'],
    ['async function f() {}', 'async'],
    ['const f = async () => 1;', 'async'],
    ['class A { async run() {} }', 'async'],
    ['function* g() { await x; }', 'await'],
    ['const p = new Promise<void>((r) => r());', 'Promise'],
    ['function f(): Promise<number> { return g(); }', 'Promise'],
  ];

  it.each(bad)('reports %s', (source, rule) => {
    expect(rulesOf(source)).toContain(rule);
  });

  it('reports file, line and offending text', () => {
    const source = "import { a } from './a.js';\n\nconst t = Date.now();\n";
    const [finding, ...rest] = scanCoreSource(source, file, root);
    expect(rest).toEqual([]);
    expect(formatFinding('src/core/quorum/example.ts', finding!)).toMatch(/^src\/core\/quorum\/example\.ts:3:11 \[Date\] .* — const t = Date\.now\(\);$/);
  });

  const good: readonly string[] = [
    "import { compareBallots } from '../ballot.js';",
    "import type { Quorum } from './quorum.js';",
    "export { majority } from './majority.js';",
    '/** Unlike Date or Promise, ticks are deterministic; never call setTimeout. */\nexport const x = 1;',
    '// process.env, performance.now(), Math.random(), async, await, require("fs")\nexport const y = 2;',
    "const s = 'Date.now() and process.env and setTimeout(f)';",
    'const s = "import fs from \'node:fs\'";',
    'const t = `no substitution: Date, Promise, async, await`;',
    'const t = `${ballot.round}: queueMicrotask is not used ${`nested ${slot} Date`}`;',
    'const re = /Date|Promise|process\\.env/g;',
    'const half = total / 2 / 3;',
    'replica.process(message);',
    'class Learner { process(message: Message): void {} }',
    'function step(process: Step): void {}',
    'const options = { async: false, await: 1, Date: 2 };',
    'const a = output.promise; const b = state.random; const c = timers.setTimeout;',
    'const updatedAt = 1; const dateLike = 2; const mathRandom = 3; const promised = 4;',
    'const slots = Math.max(1, 2) + Math.randomish;',
  ];

  it.each(good)('accepts %s', (source) => {
    expect(scanCoreSource(source, file, root).map((f) => formatFinding('example.ts', f))).toEqual([]);
  });
});
