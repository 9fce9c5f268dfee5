/**
 * No file of src/core reaches itself through its imports (type-only ones included): the
 * pieces of the protocol depend one way, so each can be read, and tested, on its own.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { classifySpecifier, lex, listTypeScriptFiles, moduleReferences } from './scan.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const coreRoot = join(repoRoot, 'src', 'core');

/** The relative imports of each file, resolved to the file they name. */
function importGraph(sources: ReadonlyMap<string, string>): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const [file, source] of sources) {
    const targets: string[] = [];
    for (const reference of moduleReferences(lex(source))) {
      if (reference.kind === 'triple-slash' || classifySpecifier(reference.specifier) !== 'relative') continue;
      targets.push(resolve(dirname(file), reference.specifier).replace(/\.js$/, '.ts'));
    }
    graph.set(file, targets);
  }
  return graph;
}

/** Each import cycle once, as its files in import order (depth-first from each file in turn). */
function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const found = new Set<string>();
  const done = new Set<string>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    const at = stack.indexOf(file);
    if (at >= 0) {
      const cycle = stack.slice(at);
      const key = [...cycle].sort().join('\n');
      if (!found.has(key)) {
        found.add(key);
        cycles.push(cycle);
      }
      return;
    }
    if (done.has(file)) return;
    stack.push(file);
    for (const target of graph.get(file) ?? []) visit(target);
    stack.pop();
    done.add(file);
  };
  for (const file of graph.keys()) visit(file);
  return cycles;
}

describe('src/core has no import cycle', () => {
  it('none, type-only imports included', () => {
    const files = listTypeScriptFiles(coreRoot);
    expect(files.length).toBeGreaterThan(10);
    const sources = new Map(files.map((f) => [f, readFileSync(f, 'utf8')]));
    const cycles = importCycles(importGraph(sources)).map((c) => c.map((f) => relative(repoRoot, f)).join(' -> '));
    expect(cycles).toEqual([]);
  });

  it('the check sees a cycle, a type-only one too', () => {
    const root = resolve('/virtual/src/core');
    const sources = new Map([
      [join(root, 'a.ts'), "import type { B } from './b.js';"],
      [join(root, 'b.ts'), "import { c } from './quorum/c.js';"],
      [join(root, 'quorum', 'c.ts'), "export type { A } from '../a.js';"],
      [join(root, 'd.ts'), "import { a } from './a.js';"],
    ]);
    const cycles = importCycles(importGraph(sources));
    expect(cycles.map((c) => c.map((f) => relative(root, f)))).toEqual([['a.ts', 'b.ts', join('quorum', 'c.ts')]]);
  });
});
