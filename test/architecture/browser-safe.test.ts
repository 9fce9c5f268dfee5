/**
 * The browser-safe entry points (`synod`, `synod/kv`, `synod/recipes`) run in a browser or a worker
 * unchanged (architecture rule 6: Node-only code lives in the file storage, the TCP
 * transport and the CLI, on their own subpaths). Everything they load, followed
 * through relative imports, may not import a Node builtin nor use a Node-only global:
 * `setImmediate`, `process`, `Buffer`, `require(`. A feature test on the same line
 * (`typeof setImmediate === 'function' ? ...`) is allowed: that is how the code falls
 * back where the global is missing. test/browser/cluster.browser.test.ts runs the
 * result in a real browser.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { classifySpecifier, lex, moduleReferences, position } from './scan.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

/** The entry files of the subpaths a browser bundle may import. */
/** The playground runs in the browser too (the core and the simulator, through the testing kit's files). */
const browserEntries = ['src/index.ts', 'src/kv/index.ts', 'src/zk/index.ts', 'src/recipes/index.ts', 'playground/src/main.ts'];

const nodeOnlyGlobals: ReadonlyArray<{ readonly name: string; readonly pattern: RegExp }> = [
  { name: 'setImmediate', pattern: /\b(?:setImmediate|clearImmediate)\b/g },
  { name: 'process', pattern: /(?<![\w$.]\s*|[\w$]\??\.\s*)\bprocess\s*(?:\??\.|\[)/g },
  { name: 'Buffer', pattern: /(?<![\w$]\??\.\s*)\bBuffer\b/g },
  { name: 'require', pattern: /(?<![\w$]\??\.\s*)\brequire\s*\(/g },
  { name: 'global', pattern: /(?<![\w$]\??\.\s*)\bglobal\s*\./g },
];

/** What in `source` a browser lacks: Node builtin imports and Node-only globals. */
function nodeOnlyUses(source: string): string[] {
  const lexed = lex(source);
  const found: string[] = [];
  for (const reference of moduleReferences(lexed)) {
    if (classifySpecifier(reference.specifier) === 'node-builtin') {
      found.push(`${position(source, reference.offset).line}: imports '${reference.specifier}'`);
    }
  }
  const lines = lexed.code.split('\n');
  for (const { name, pattern } of nodeOnlyGlobals) {
    for (const match of lexed.code.matchAll(pattern)) {
      const { line } = position(source, match.index);
      const guardedHere = new RegExp(`\\btypeof\\s+${match[0].replace(/\W.*$/s, '')}\\b`).test(lines[line - 1] ?? '');
      if (!guardedHere) found.push(`${line}: uses ${name} (${(source.split('\n')[line - 1] ?? '').trim()})`);
    }
  }
  return found;
}

/** The value imports of a file that point into src (type-only imports are erased). */
function relativeValueImports(file: string, source: string): string[] {
  const lexed = lex(source);
  return moduleReferences(lexed)
    .filter((r) => r.kind !== 'triple-slash' && classifySpecifier(r.specifier) === 'relative')
    .filter((r) => {
      const statementStart = Math.max(lexed.code.lastIndexOf(';', r.offset), lexed.code.lastIndexOf('\n\n', r.offset));
      return !/^\s*(?:import|export)\s+type\b/.test(lexed.code.slice(statementStart + 1, r.offset));
    })
    .map((r) => {
      const target = resolve(dirname(file), r.specifier.replace(/\.js$/, '.ts'));
      return existsSync(target) ? target : join(resolve(dirname(file), r.specifier), 'index.ts');
    });
}

/** Every source file `entry` loads, itself included. */
function reachable(entry: string): string[] {
  const seen = new Set<string>();
  const queue = [join(repoRoot, entry)];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    queue.push(...relativeValueImports(file, readFileSync(file, 'utf8')));
  }
  return [...seen].sort();
}

describe('browser-safe entry points use nothing Node-only', () => {
  for (const entry of browserEntries) {
    const files = reachable(entry);
    it(`${entry} reaches its files`, () => {
      expect(files.length, `${entry} should load more than itself`).toBeGreaterThan(5);
    });
    it.each(files.map((f) => relative(repoRoot, f)))(`${entry}: %s`, (file) => {
      const uses = nodeOnlyUses(readFileSync(join(repoRoot, file), 'utf8'));
      expect(uses, `${file} is loaded by ${entry} but uses what a browser lacks:\n${uses.join('\n')}`).toEqual([]);
    });
  }
});

describe('the Node-only scanner can fail', () => {
  it.each([
    ["import { readFileSync } from 'node:fs';", "imports 'node:fs'"],
    ["export { x } from 'fs';", "imports 'fs'"],
    ['setImmediate(flush);', 'uses setImmediate'],
    ['const d = process.env.DEBUG;', 'uses process'],
    ["const b = Buffer.from('a');", 'uses Buffer'],
    ["const m = require('x');", 'uses require'],
    ['global.x = 1;', 'uses global'],
  ])('reports %s', (source, what) => {
    expect(nodeOnlyUses(source).join('\n')).toContain(what);
  });

  it.each([
    "const defer = typeof setImmediate === 'function' ? setImmediate : undefined;",
    'const s = status.process.id;',
    'class A { process(x: number) { return x; } }',
    "// setImmediate is Node's",
    "const note = 'Buffer';",
  ])('allows %s', (source) => {
    expect(nodeOnlyUses(source)).toEqual([]);
  });
});
