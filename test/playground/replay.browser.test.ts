/**
 * Replaying a failing schedule in the page: a core broken on purpose (through a Vite
 * plugin, only in this test: see broken-core.ts) fails the simulation property, which
 * prints a replay line; pasted into the playground built with the same broken core,
 * the line replays that schedule and stops at the event that broke agreement, showing
 * the message the property printed.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokenCore, loadBroken } from './broken-core.js';
import { type PlaygroundPage, chromium, click, openPlayground, screenshot } from './playground-page.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe.skipIf(chromium === undefined)('replaying a failing seed in headless Chromium', () => {
  let pg: PlaygroundPage;
  let report = '';

  beforeAll(async () => {
    const broken = await loadBroken<typeof import('../../src/testing/index.js')>(root, ['/src/testing/index.ts']);
    try {
      const testing = broken.modules[0]!;
      testing.assertSimulations(testing.simulationSuites.majority(), { seed: 1, numRuns: 300 });
    } catch (e) {
      report = (e as Error).message;
    } finally {
      await broken.close();
    }
    pg = await openPlayground([brokenCore()]);
  }, 60_000);
  afterAll(() => pg?.close());

  it('stops at the reported violation, with its message on the drawing', async () => {
    const lines = report.split('\n');
    const replay = lines.find((l) => l.startsWith('replay: SYNOD_REPLAY='));
    expect(replay, 'the broken core must fail the property').toBeDefined();
    const violation = lines[3]!;
    expect(violation).toMatch(/^agreement: /);
    const at = /at t=(\d+)/.exec(report)![1]!;

    const page = pg.page;
    await page.$eval('#replay-text', (t, line) => ((t as unknown as { value: string }).value = line), replay!);
    await page.select('#suite', 'majority');
    await click(page, 'replay');
    expect(await page.$eval('#replay-status', (e) => e.textContent)).toMatch(/suite majority, seed 1/);
    await click(page, 'run-to-stop');
    await page.waitForSelector('#stop-banner');
    const banner = await page.$eval('#stop-banner', (g) => ({
      kind: g.getAttribute('data-kind'),
      text: [...g.querySelectorAll('text')].map((t) => t.textContent).join(' '),
    }));
    expect(banner.kind).toBe('violation');
    expect(banner.text).toContain(`agreement violated at t=${at}`);
    expect(banner.text.replace(/\s+/g, ' ')).toContain(violation.replace(/^agreement: /, '').replace(/\s+/g, ' '));
    await screenshot(page, 'replay-violation');
    await screenshot(page, 'replay-violation-drawing', 'drawing');

    // Exported, the run is the same line (with its suite).
    await click(page, 'export');
    expect(await page.$eval('#replay-text', (t) => (t as unknown as { value: string }).value)).toBe(
      replay!
        .replace(/^replay: /, '')
        .replace(/' npx.*$/, "'")
        .replace(/\}'$/, ',"suite":"majority"}\''),
    );
    expect(pg.errors).toEqual([]);
  });
});
