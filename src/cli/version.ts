/** `synod --version`: the version of the package this command belongs to. */
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Directories searched upward for the package's package.json (src/cli and dist/cli are two below it). */
const levelsMax = 4;

/** The version in synod's package.json, found upward from the running script (through a bin symlink). */
export function packageVersion(script: string): string {
  let dir = dirname(realpathSync(script));
  for (let level = 0; level < levelsMax; level++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'synod' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // No package.json here (or not ours): look one level up.
    }
    dir = dirname(dir);
  }
  return 'unknown';
}
