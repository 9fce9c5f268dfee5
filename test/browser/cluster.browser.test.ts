/**
 * A 3-node cluster in a real headless browser: the `synod` entry bundled for the
 * browser (esbuild, platform `browser`: a Node builtin would fail the bundle) and run
 * in Debian's Chromium, driven by puppeteer-core. It must elect a leader and commit
 * on the system clock alone, where there is no `setImmediate`.
 *
 * Needs `chromium` (scripts/install-system-packages.sh installs it; CI runs that);
 * skips, saying so, where it is missing. CHROMIUM_PATH overrides where to find it.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PageResult } from './cluster-page.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const chromium = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (path): path is string => path !== undefined && path !== '' && existsSync(path),
);
if (chromium === undefined) {
  console.warn('skipping the browser test: no chromium (run scripts/install-system-packages.sh, or set CHROMIUM_PATH)');
}

describe.skipIf(chromium === undefined)('a cluster in headless Chromium', () => {
  let browser: Browser | undefined;

  beforeAll(async () => {
    browser = await puppeteer.launch({
      executablePath: chromium!,
      headless: true,
      // Root in CI: Chromium's sandbox refuses to start as root.
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('bundles for the browser, elects a leader and commits on every node', async () => {
    const bundle = await build({
      entryPoints: [resolve(here, 'cluster-page.ts')],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    const script = bundle.outputFiles[0]!.text;
    expect(script, 'the bundle pulled in a Node builtin').not.toMatch(/require\(["']node:/);

    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    await page.goto('about:blank');
    await page.addScriptTag({ content: script });
    const result = (await page.evaluate(() => (globalThis as { synodResult?: Promise<unknown> }).synodResult)) as PageResult;

    expect(errors).toEqual([]);
    expect(result.error).toBeUndefined();
    expect(result.hasSetImmediate, 'the page must lack setImmediate, as browsers do').toBe(false);
    expect(result).toMatchObject({ ok: true, totals: [55, 55, 55], lastResult: 55 });
    expect(['a', 'b', 'c']).toContain(result.leader);
  }, 30_000);
});
