/**
 * docs/custom-transport.md's message table names every message a transport carries:
 * each `type` of the core's and the runtime's message unions, and nothing else.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const read = (path: string): string => readFileSync(join(repoRoot, path), 'utf8');

/** The `type: '...'` discriminants declared in a messages file. */
const declaredTypes = (path: string): string[] => [...read(path).matchAll(/readonly type: '(\w+)';/g)].map((m) => m[1]!);

/** The backticked names in the first cell of each row of the table under "## The messages". */
function documentedTypes(): string[] {
  const doc = read('docs/custom-transport.md');
  const section = doc.slice(doc.indexOf('## The messages'), doc.indexOf('\n## ', doc.indexOf('## The messages') + 1));
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `') && !line.startsWith('| `type`'))
    .flatMap((line) => [...line.split('|')[1]!.matchAll(/`(\w+)`/g)].map((m) => m[1]!));
}

it('the message table of docs/custom-transport.md lists exactly the message types', () => {
  const declared = [...declaredTypes('src/core/messages.ts'), ...declaredTypes('src/runtime/runtime-messages.ts')].sort();
  expect(declared.length).toBeGreaterThan(15);
  expect(documentedTypes().sort()).toEqual(declared);
});
