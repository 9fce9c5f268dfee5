/**
 * The HTML picture of a checked history: written by `visualize`, and drawn by a real
 * headless browser (Debian's chromium; the browser test skips, saying so, without it).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { checkLinearizability, renderLinearizabilityHtml, versionedKvModel } from '../../../src/testing/index.js';
import { ConfigError } from '../../../src/index.js';
import { writeVisualization } from '../../../src/testing/linearizability/visualization.js';
import { absent, fail, get, info, ok, put, value, written } from './fixtures.js';

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

  it('puts the failing key first wherever it is, lanes by client name, and leaves out failed operations and info completions', () => {
    const history = [
      ok('a', put('1'), 0, 1, written(1), 'y'),
      ok('z', put('1'), 0, 1, written(1)),
      { client: 'm', key: 'x', input: put('2'), invokedAt: 2, completedAt: 9, outcome: 'info' as const },
      fail('f', put('4'), 5, 6),
      ok('q', get, 3, 4, value('3', 1)),
      ok('w', get, 3, 10, value('7', 1)),
      ok('b', get, 0, 1, absent, 'k'),
    ];
    const verdict = checkLinearizability(history, versionedKvModel);
    if (verdict.result !== 'not-linearizable') throw new Error(`expected a failure, got ${verdict.result}`);
    const html = renderLinearizabilityHtml(history, verdict);
    const panels = html.split('\n').filter((line) => line.startsWith('<section>'));
    expect(panels.map((p) => /<h2>key (\w+)/.exec(p)?.[1])).toEqual(['x', 'y', 'k']); // the failing key first, the others in the history's order
    const [x] = panels as [string];
    // Lanes m, q, w, z from the top, whatever order the clients came in; f failed and is not drawn.
    expect([...x.matchAll(/class="client">(\w+)</g)].map((m) => m[1])).toEqual(['m', 'q', 'w', 'z']);
    // Names, then bars, each run together: nothing between two of them.
    expect(x).toContain('class="client">m</text><text x="4" y="65" class="client">q</text>');
    expect(x.match(/<\/g><g class="op /g)).toHaveLength(3);
    expect(x).toContain('(4 operations)');
    // Times 0, 1, 2, 3, 4, 10: the info operation's completion (9) and the failed one's times take no rank.
    const scale = 1090 / 6;
    const bar = (client: string) => new RegExp(`<title>${client} [^<]*</title><rect x="([\\d.]+)" y="(\\d+)" width="([\\d.]+)"`).exec(x)!;
    expect(Number(bar('z')[3])).toBeCloseTo(1.8 * scale, 6);
    expect(Number(bar('q')[1])).toBeCloseTo(90 + 3 * scale, 6);
    // The info bar runs to the right edge.
    expect(Number(bar('m')[1]) + Number(bar('m')[3])).toBeCloseTo(1190, 6);
    // Operations pending where the check got stuck are marked as such.
    const pending = verdict.explanation.window.filter((o) => o !== verdict.explanation.stuck && !verdict.explanation.linearized.includes(o));
    expect(pending.length).toBeGreaterThan(0);
    expect(x.match(/class="op window"/g)).toHaveLength(pending.length);
    // Only numbered bars carry a number: the others end with their rectangle.
    expect(x.match(/rx="3"\/><\/g>/g)).toHaveLength(4 - verdict.explanation.linearized.length);
    expect(html).toContain('<p class="legend"><span class="linearized">linearized, in order</span>');
    const json = /<script type="application\/json" id="verdict">([^<]*)<\/script>/.exec(html)![1]!;
    expect(json.replaceAll('&#34;', '"')).toBe('{"result":"not-linearizable","keys":3,"operations":7}');
  });

  it('refuses to write a file where Node cannot give it node:fs (a browser, Node before 20.16)', () => {
    const process = globalThis.process as { getBuiltinModule?: unknown };
    const getBuiltinModule = process.getBuiltinModule;
    process.getBuiltinModule = undefined;
    try {
      expect(() => writeVisualization(join(dir, 'never.html'), failing, { result: 'linearizable' })).toThrow(ConfigError);
      expect(() => writeVisualization(join(dir, 'never.html'), failing, { result: 'linearizable' })).toThrow(
        'checkLinearizability: `visualize` writes a file, which needs Node 20.16 or later',
      );
    } finally {
      process.getBuiltinModule = getBuiltinModule;
    }
    // Nor where there is no `process` at all.
    vi.stubGlobal('process', undefined);
    let thrown: unknown;
    try {
      writeVisualization(join(dir, 'never.html'), failing, { result: 'linearizable' });
    } catch (error) {
      thrown = error;
    } finally {
      vi.unstubAllGlobals();
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect(existsSync(join(dir, 'never.html'))).toBe(false);
  });

  it('draws a bar at least 4 px wide, however many times the key has', () => {
    // 300 operations one after another: 600 ranks of 1090 / 600 px, an ok bar 1.8 ranks wide, under 4 px.
    const history = Array.from({ length: 300 }, (_, i) => ok('a', put(`${i}`), 2 * i, 2 * i + 1, written(i + 1)));
    const html = renderLinearizabilityHtml(history, { result: 'linearizable' });
    const widths = [...html.matchAll(/<rect x="[\d.]+" y="\d+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths).toHaveLength(300);
    for (const width of widths) expect(width).toBeCloseTo(4, 6);
  });

  it('escapes every character markup could take', () => {
    const html = renderLinearizabilityHtml([ok('<a&"\'>', get, 0, 1, absent, '<k>')], { result: 'linearizable' });
    expect(html).toContain('class="client">&#60;a&#38;&#34;&#39;&#62;</text>');
    expect(html).toContain('<h2>key &#60;k&#62; <small>');
  });

  it('is written for a linearizable and an unknown verdict too', () => {
    const file = join(dir, 'ok.html');
    checkLinearizability(failing.slice(0, 3), versionedKvModel, { visualize: file });
    const ok = readFileSync(file, 'utf8');
    expect(ok).toContain('class="verdict ok"');
    // No explanation: an info operation is drawn as info, the others as ok.
    expect(ok.match(/class="op (\w+)"/g)).toEqual(['class="op other"', 'class="op other"', 'class="op info"']);
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
