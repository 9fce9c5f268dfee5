/**
 * The HTML picture of a checked history: written by `visualize`, and drawn by a real
 * headless browser (Debian's chromium; the browser test skips, saying so, without it).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkLinearizability, renderLinearizabilityHtml, versionedKvModel } from '../../../src/testing/index.js';
import { absent, get, info, ok, put, value, written } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'synod-visualize-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const failing = [
  ok('a', put('1'), 0, 1, written(1)),
  ok('b', put('2'), 2, 6, written(2)),
  info('c', put('<script>'), 3),
  ok('d', get, 7, 8, value('1', 1)),
  ok('e', get, 0, 1, absent, 'y'),
];

describe('the HTML picture', () => {
  it('is written by visualize, with the failing key first, its linearization numbered and the stuck operation marked', () => {
    const file = join(dir, 'failing.html');
    const verdict = checkLinearizability(failing, versionedKvModel, { visualize: file });
    expect(verdict.result).toBe('not-linearizable');
    const html = readFileSync(file, 'utf8');
    expect(html).toContain('not linearizable: key x');
    expect(html.indexOf('key x')).toBeLessThan(html.indexOf('key y'));
    if (verdict.result === 'not-linearizable') expect(html.match(/class="op linearized"/g)).toHaveLength(verdict.explanation.linearized.length);
    expect(html).toMatch(/class="n">1</);
    expect(html.match(/class="op stuck"/g)).toHaveLength(1);
    expect(html).toContain('no linearization gets past the completion of d');
    // What clients wrote is escaped, never markup.
    expect(html).not.toContain('<script>"');
    expect(html).toContain('&#60;script&#62;');
  });

  it('is written for a linearizable and an unknown verdict too', () => {
    const file = join(dir, 'ok.html');
    checkLinearizability(failing.slice(0, 3), versionedKvModel, { visualize: file });
    expect(readFileSync(file, 'utf8')).toContain('class="verdict ok"');
    const html = renderLinearizabilityHtml(failing, { result: 'unknown', reason: 'time budget', keys: ['x'], detail: 'the time budget ran out' });
    expect(html).toContain('unknown: the time budget ran out');
  });
});

const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));

describe.skipIf(chromium === undefined)('in a headless browser', () => {
  it('draws every operation as a bar, the stuck one in red', { timeout: 60_000 }, async () => {
    const file = join(dir, 'browser.html');
    checkLinearizability(failing, versionedKvModel, { visualize: file });
    const { default: puppeteer } = await import('puppeteer-core');
    const browser = await puppeteer.launch({ executablePath: chromium!, args: ['--no-sandbox', '--headless=new'] });
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1280, height: 600 });
      await page.goto(`file://${file}`);
      const bars = await page.$$eval('g.op rect', (rects) =>
        rects.map((r) => ({ width: r.getBoundingClientRect().width, fill: r.ownerDocument.defaultView!.getComputedStyle(r).fill })),
      );
      expect(bars).toHaveLength(failing.length);
      expect(bars.every((bar) => bar.width > 0)).toBe(true);
      const stuck = await page.$eval('g.op.stuck rect', (r) => r.ownerDocument.defaultView!.getComputedStyle(r).fill);
      expect(stuck).toBe('rgb(242, 139, 130)');
      const screenshot = await page.screenshot({ path: process.env['SYNOD_SCREENSHOT'] ?? join(dir, 'browser.png') });
      expect(screenshot.length).toBeGreaterThan(5_000);
    } finally {
      await browser.close();
    }
  });
});

if (chromium === undefined)
  console.warn(
    'visualization.test: no chromium at /usr/bin/chromium; the headless-browser test is skipped (bash scripts/install-system-packages.sh installs it)',
  );
