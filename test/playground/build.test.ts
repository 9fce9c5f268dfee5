/**
 * The playground builds (as `npm run playground:build` does) into a small static page
 * that needs nothing from the network: every script and stylesheet is a relative file
 * in `playground/dist`, and no Node builtin reached the bundle.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { expect, it } from 'vitest';

const config = fileURLToPath(new URL('../../playground/vite.config.ts', import.meta.url));
const dist = fileURLToPath(new URL('../../playground/dist', import.meta.url));

/** Most bytes the built page may weigh (uncompressed, every file): a budget, so growth is a decision. */
const pageBytesMax = 400_000;

it('builds a small page that works offline', async () => {
  await build({ configFile: config, logLevel: 'warn' });
  const files = await walk(dist);
  const sizes = await Promise.all(
    files.map(async (f) => ({ f: f.slice(dist.length + 1), bytes: (await stat(f)).size, gzip: gzipSync(await readFile(f)).length })),
  );
  const total = sizes.reduce((s, x) => s + x.bytes, 0);
  const gzip = sizes.reduce((s, x) => s + x.gzip, 0);
  console.log(`playground page: ${total} bytes (${gzip} gzipped) in ${files.length} files: ${sizes.map((s) => `${s.f} ${s.bytes}`).join(', ')}`);
  expect(total).toBeLessThan(pageBytesMax);

  const html = await readFile(join(dist, 'index.html'), 'utf8');
  const references = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  expect(references.length).toBeGreaterThan(0);
  for (const r of references) expect(r, `${r} must be a file of the page`).toMatch(/^(\.\/|data:)/);
  for (const f of files.filter((x) => x.endsWith('.js'))) {
    const code = await readFile(f, 'utf8');
    expect(code, `${f} imports a Node builtin`).not.toMatch(/from\s*["']node:|require\(["']node:/);
    expect(code, `${f} loads something from the network`).not.toMatch(/import\(["']https?:|from\s*["']https?:/);
  }
}, 60_000);

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else out.push(path);
  }
  return out;
}
