/**
 * The soak (`npm run soak`): each run's mix and schedule follow from the soak's seed and
 * the run's number alone, so a failure's replay line gives the same run back; and a
 * short soak runs clean.
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { configOf, mixOf } from '../../scripts/soak.js';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

it('draws each run from its seed and number alone, and runs varied mixes', () => {
  expect(JSON.stringify(configOf(11, 5))).toBe(JSON.stringify(configOf(11, 5)));
  expect(mixOf(11, 5).label).toBe(mixOf(11, 5).label);
  const labels = new Set(Array.from({ length: 50 }, (_, run) => mixOf(11, run).label));
  expect(labels.size).toBeGreaterThan(40);
});

it('runs a short soak clean, on two workers, and replays one of its runs', () => {
  const soak = (...args: string[]) =>
    execFileSync(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'soak.ts'), ...args], { cwd: root, encoding: 'utf8' });
  expect(soak('--runs', '40', '--seed', '3', '--workers', '2')).toMatch(/soak: seed 3: 40 runs in .* 0 failed/);
  expect(soak('--replay', '3:17')).toMatch(/^run 3:17: passed/);
}, 120_000);
