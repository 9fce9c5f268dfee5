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

  it("draws each operation where its times rank, in its client's lane, as the layout says", () => {
    // Key y's panel: times 0 and 1 rank 0 and 1 of two; one client.
    const html = renderLinearizabilityHtml(failing, checkLinearizability(failing, versionedKvModel));
    const panels = html.split('<section>').slice(1);
    expect(panels).toHaveLength(2);
    const [x, y] = panels as [string, string];
    expect(x.startsWith('<h2>key x <small>(4 operations)</small></h2><svg width="1200" height="134"')).toBe(true);
    expect(y.startsWith('<h2>key y <small>(1 operations)</small></h2><svg width="1200" height="56"')).toBe(true);
    // Width 1200, margin 90, 20 on the right: two ranks of 545 px; an ok bar ends 0.8 of a rank past its completion's rank.
    expect(y).toContain(
      '<text x="4" y="39" class="client">e</text><g class="op other"><title>e {&#34;op&#34;:&#34;get&#34;} [0, 1] -&#62; {&#34;type&#34;:&#34;absent&#34;}</title><rect x="90" y="24" width="981" height="20" rx="3"/></g>',
    );
    // Key x: times 0, 1, 2, 3, 6, 7, 8 rank 0 to 6 (1090 / 7 px a rank); lanes a, b, c, d from the top.
    const scale = 1090 / 7;
    const bars = [...x.matchAll(/<g class="op (\w+)"><title>[^<]*<\/title><rect x="([\d.]+)" y="(\d+)" width="([\d.]+)"/g)].map((m) => ({
      role: m[1],
      x: Number(m[2]),
      y: Number(m[3]),
      width: Number(m[4]),
    }));
    // An ok bar from its invocation's rank to 0.8 of a rank past its completion's; an info bar to the right edge.
    const expected = [
      { role: 'linearized', x: 90, y: 24, width: scale + 0.8 * scale },
      { role: 'linearized', x: 90 + 2 * scale, y: 50, width: 2 * scale + 0.8 * scale },
      { role: 'linearized', x: 90 + 3 * scale, y: 76, width: 1190 - (90 + 3 * scale) },
      { role: 'stuck', x: 90 + 5 * scale, y: 102, width: scale + 0.8 * scale },
    ];
    expect(bars).toHaveLength(expected.length);
    bars.forEach((b, i) => {
      const e = expected[i]!;
      expect({ role: b.role, y: b.y }).toEqual({ role: e.role, y: e.y });
      expect(b.x).toBeCloseTo(e.x, 6);
      expect(b.width).toBeCloseTo(e.width, 6);
    });
    // The linearized ones numbered in their order, at their bars' start.
    const numbers = [...x.matchAll(/<text x="([\d.]+)" y="(\d+)" class="n">(\d+)<\/text>/g)].map((m) => [Number(m[1]), Number(m[2]), Number(m[3])]);
    expect(numbers).toHaveLength(3);
    numbers.forEach(([nx, ny, n], i) => {
      expect(n).toBe(i + 1);
      expect(nx).toBeCloseTo(expected[i]!.x + 3, 6);
      expect(ny).toBe(expected[i]!.y + 15);
    });
    expect(x).toContain('<text x="4" y="117" class="client">d</text>');
  });

  it('escapes every character markup could take', () => {
    const html = renderLinearizabilityHtml([ok('<a&"\'>', get, 0, 1, absent, '<k>')], { result: 'linearizable' });
    expect(html).toContain('class="client">&#60;a&#38;&#34;&#39;&#62;</text>');
    expect(html).toContain('<h2>key &#60;k&#62; <small>');
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
