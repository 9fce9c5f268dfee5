/**
 * Every deliberate bug in scripts/mutants.ts must still apply to the code it breaks: a
 * pattern that no longer matches (the code moved on) would leave a rule shown to be
 * checked by a mutant that is never made.
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

it('every mutant pattern is still found in its file', () => {
  let out: string;
  try {
    out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'mutants.ts'), '--check'], { cwd: root, encoding: 'utf8' });
  } catch (error) {
    out = String((error as { stdout?: string }).stdout ?? error);
  }
  expect(out).toMatch(/^(\d+) of \1 mutant patterns apply$/m);
}, 30_000);
