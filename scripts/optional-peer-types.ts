/**
 * After `tsup`: marks each import of an optional peer dependency (fast-check) in the
 * built declaration files with `@ts-ignore`, so a project that installs synod without
 * fast-check still type-checks with `skipLibCheck: false` (the names typed by
 * fast-check read as `any` there; the functions that need it are the ones it cannot
 * call anyway). test/package/tarball.test.ts type-checks such a project.
 * Usage: tsx scripts/optional-peer-types.ts [dist]
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const optionalPeers = ['fast-check'];
const marker = '// @ts-ignore: an optional peer dependency of synod, absent where it is not installed\n';

function declarationFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return declarationFiles(path);
    return /\.d\.c?ts$/.test(entry.name) ? [path] : [];
  });
}

const dist = process.argv[2] ?? 'dist';
let marked = 0;
for (const file of declarationFiles(dist)) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: string[] = [];
  for (const [i, line] of lines.entries()) {
    const importsPeer = optionalPeers.some((peer) => new RegExp(`^import .* from '${peer}';$`).test(line));
    if (importsPeer && !(lines[i - 1] ?? '').startsWith('// @ts-ignore')) {
      out.push(marker.trimEnd());
      marked += 1;
    }
    out.push(line);
  }
  writeFileSync(file, out.join('\n'));
}
console.log(`optional-peer-types: marked ${marked} import(s) of ${optionalPeers.join(', ')} in ${dist}`);
