/**
 * Every ```ts block of the README and docs/ compiles under the project's strict
 * settings against the sources (the package's subpaths mapped to src/), and the
 * blocks marked `run` run to completion: the docs cannot rot. See code-blocks.ts for
 * the hidden directives.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CodeBlock, codeBlocks } from './code-blocks.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
// Outside test/ and src/, so the project's own typecheck never sees the generated files.
const workDir = join(repoRoot, '.docs-check');
const runTimeoutMs = 20_000;

const markdownFiles = [
  'README.md',
  ...readdirSync(join(repoRoot, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const blocks = markdownFiles.flatMap((file) => codeBlocks(repoRoot, file));
const fileOf = (block: CodeBlock): string => `${block.file.replace(/[/.]/g, '_')}_${block.line}.ts`;

/** `synod/kv` → src/kv/index.ts, from the exports map's import targets. */
function subpathSources(): Record<string, string[]> {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown> };
  const paths: Record<string, string[]> = {};
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const built = (target as { import?: { default?: string } }).import?.default;
    if (built === undefined) continue;
    const specifier = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
    paths[specifier] = [`../${built.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts')}`];
  }
  return paths;
}

let diagnostics = new Map<string, string[]>();

describe('code blocks in the README and docs/', () => {
  beforeAll(async () => {
    rmSync(workDir, { recursive: true, force: true });
    mkdirSync(workDir, { recursive: true });
    for (const block of blocks) {
      // The context goes on the block's first line so error lines still point into the doc.
      const context = block.context === '' ? '' : `${block.context.replace(/\n/g, ' ')} `;
      const lines = block.code.split('\n');
      writeFileSync(join(workDir, fileOf(block)), `${context}${lines.join('\n')}\n${block.suffix}\nexport {};\n`);
    }
    writeFileSync(
      join(workDir, 'tsconfig.json'),
      JSON.stringify({
        extends: '../tsconfig.json',
        compilerOptions: { paths: subpathSources(), noUnusedLocals: false, noUnusedParameters: false },
        include: ['*.ts'],
      }),
    );
    writeFileSync(join(workDir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const output = await promisify(execFile)(process.execPath, [tsc, '-p', workDir, '--pretty', 'false'], { cwd: workDir }).then(
      (r) => r.stdout,
      (e: { stdout?: string }) => e.stdout ?? '',
    );
    diagnostics = new Map();
    for (const line of output.split('\n')) {
      const match = /^([^(]+\.ts)\((\d+),\d+\): (.*)$/.exec(line);
      if (match === null) continue;
      const list = diagnostics.get(match[1]!) ?? [];
      list.push(`${Number(match[2])}: ${match[3]}`);
      diagnostics.set(match[1]!, list);
    }
  }, 120_000);

  it('finds the blocks', () => {
    expect(blocks.length).toBeGreaterThan(20);
  });

  it.each(blocks.map((b) => [`${b.file}:${b.line}`, b] as const))('%s type-checks', (_where, block) => {
    // tsc's line N is the block's line N (the context shares its first line).
    const found = (diagnostics.get(fileOf(block)) ?? []).map((d) => d.replace(/^(\d+):/, (_, n: string) => `${block.file}:${block.line + Number(n)}:`));
    expect(found).toEqual([]);
  });

  const runnable = blocks.filter((b) => b.run);
  it.each(runnable.map((b) => [`${b.file}:${b.line}`, b] as const))(
    '%s runs',
    async (_where, block) => {
      await promisify(execFile)(process.execPath, ['--import', 'tsx', fileOf(block)], { cwd: workDir, timeout: runTimeoutMs }).catch(
        (e: { stdout?: string; stderr?: string; message: string }) => {
          throw new Error(`${block.file}:${block.line} failed:\n${e.stderr ?? ''}${e.stdout ?? ''}\n${e.message}`);
        },
      );
    },
    runTimeoutMs + 5_000,
  );
});
