/**
 * The recipe demos run as a user runs them (`npx tsx examples/kv-*.ts`), so they never
 * rot: each must exit 0 within its own 30 s guard, having printed its summary with
 * every check held.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Runs `examples/<file>` with tsx; resolves with its exit code and output. */
function run(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', `examples/${file}`], { cwd: root, timeout: 40_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

describe('recipe demos', () => {
  it.each(['kv-lock.ts', 'kv-election.ts', 'kv-config.ts'])('%s exits 0 with every check held', async (file) => {
    const { code, stdout, stderr } = await run(file);
    expect(stderr).toBe('');
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(/\nsummary\n/);
    expect(stdout).toMatch(/check +every check held\n$/);
  });
});
