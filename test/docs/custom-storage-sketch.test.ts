/**
 * The storage sketch in docs/custom-storage.md, taken from the doc itself, passes the
 * project's own storageConformance: a reader who copies it starts from a storage
 * that keeps the contract.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, it } from 'vitest';
import type { Storage } from '../../src/index.js';
import { storageConformance } from '../../src/testing/index.js';
import { codeBlocks } from './code-blocks.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const sketch = codeBlocks(repoRoot, 'docs/custom-storage.md').find((b) => b.code.includes('class AppendFileStorage'));
if (sketch === undefined) throw new Error('docs/custom-storage.md has no AppendFileStorage sketch any more');

const workDir = mkdtempSync(join(tmpdir(), 'synod-storage-sketch-'));
const sketchFile = join(workDir, 'append-file-storage.ts');
// The doc imports the package by name; here it is the source.
writeFileSync(sketchFile, sketch.code.replace(/from 'synod'/g, `from '${pathToFileURL(join(repoRoot, 'src', 'index.ts')).href}'`));

interface SketchStorage extends Storage {
  readonly path: string;
}
const { AppendFileStorage } = (await import(pathToFileURL(sketchFile).href)) as { AppendFileStorage: { open(path: string): Promise<SketchStorage> } };

let directories = 0;
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

storageConformance(
  'AppendFileStorage (the docs/custom-storage.md sketch)',
  {
    create: () => AppendFileStorage.open(join(workDir, `log-${++directories}`)),
    reopen: (previous) => AppendFileStorage.open((previous as SketchStorage).path),
  },
  { describe, it },
);
