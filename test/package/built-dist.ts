/**
 * dist/ as the package tests need it: built from the current sources. CI builds before
 * testing; locally the build runs here when dist/ is missing or older than the sources.
 * Test files run in parallel, so one build at a time (a lock directory): two `tsup`
 * runs cleaning dist/ under each other would break both.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const lockWaitMs = 180_000;

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

/** Whether every target exists and none is older than the sources that make it. */
export function distIsCurrent(repoRoot: string, targets: readonly string[]): boolean {
  const files = targets.map((t) => join(repoRoot, t));
  if (files.length === 0 || !files.every((f) => existsSync(f))) return false;
  const built = Math.min(...files.map((f) => statSync(f).mtimeMs));
  const inputs = ['src', 'package.json', 'tsup.config.ts', 'tsconfig.json', 'scripts/optional-peer-types.ts'].map((p) => join(repoRoot, p));
  return Math.max(...inputs.filter((p) => existsSync(p)).map(newestMtime)) <= built;
}

/** The environment for child processes: no loaders or flags inherited from the test runner. */
export function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

/** Runs `npm run build` unless `targets` are current; throws with the build's output if it fails. */
export async function ensureBuilt(repoRoot: string, targets: readonly string[]): Promise<void> {
  // In the work tree, not node_modules: that may be shared with other checkouts.
  const lock = join(repoRoot, '.build.lock');
  const deadline = Date.now() + lockWaitMs;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`another build held ${lock} for ${lockWaitMs} ms; remove it if no build runs`);
      await sleep(200);
    }
  }
  try {
    if (distIsCurrent(repoRoot, targets)) return;
    // Asynchronous: a minute of blocked event loop makes vitest's worker miss its heartbeats.
    await promisify(execFile)('npm', ['run', 'build'], {
      cwd: repoRoot,
      env: childEnv(),
      encoding: 'utf8',
      shell: process.platform === 'win32',
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`dist/ is missing or stale and \`npm run build\` failed; fix the build first:\n${e.stdout ?? ''}${e.stderr ?? ''}${e.message}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
