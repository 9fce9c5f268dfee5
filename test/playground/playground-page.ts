/**
 * Drives a built playground in Debian's Chromium (puppeteer-core, never a downloaded
 * browser): builds the page (optionally with extra Vite plugins, such as the broken
 * core) into a temporary directory, serves it on loopback, and gives the tests a page
 * with the helpers they share. Screenshots go to test/playground/.screenshots (ignored
 * by git). Where Chromium is missing the tests skip, saying so.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { type Plugin, build } from 'vite';
import { serveStatic } from './static-server.js';

const config = fileURLToPath(new URL('../../playground/vite.config.ts', import.meta.url));
/** Where each run saves its screenshots. */
const screenshots = fileURLToPath(new URL('./.screenshots', import.meta.url));

/** Chromium's path, or undefined (CHROMIUM_PATH overrides). */
export const chromium = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (path): path is string => path !== undefined && path !== '' && existsSync(path),
);
if (chromium === undefined) console.warn('skipping the playground browser tests: no chromium (run scripts/install-system-packages.sh, or set CHROMIUM_PATH)');

/** A served playground in a browser. */
export interface PlaygroundPage {
  readonly page: Page;
  /** Console errors, page errors and failed requests seen so far. */
  readonly errors: string[];
  close(): Promise<void>;
}

/** Builds the playground (with `plugins`), serves it and opens it in a fresh browser page. */
export async function openPlayground(plugins: Plugin[] = []): Promise<PlaygroundPage> {
  const outDir = await mkdtemp(join(tmpdir(), 'synod-playground-'));
  await build({ configFile: config, logLevel: 'warn', plugins, build: { outDir, emptyOutDir: true } });
  const server = await serveStatic(outDir);
  let browser: Browser | undefined;
  try {
    browser = await puppeteer.launch({ executablePath: chromium!, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 1000 });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`page: ${String(e)}`));
    page.on('requestfailed', (r) => {
      if (r.url().startsWith(server.url)) errors.push(`request failed: ${r.url()}`);
    });
    // Offline: anything but the page's own files is refused, and counts as an error.
    await page.setRequestInterception(true);
    page.on('request', (r) => {
      if (r.url().startsWith(server.url) || r.url().startsWith('data:')) void r.continue();
      else {
        errors.push(`request outside the page: ${r.url()}`);
        void r.abort('blockedbyclient');
      }
    });
    await page.goto(server.url, { waitUntil: 'load' });
    await page.waitForSelector('#cluster');
    const opened = browser;
    return {
      page,
      errors,
      close: async () => {
        await opened.close();
        await server.close();
        await rm(outDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await browser?.close();
    await server.close();
    throw e;
  }
}

/** Clicks the button `#id` `times` times in one round trip. */
export async function click(page: Page, id: string, times = 1): Promise<void> {
  await page.$eval(
    `#${id}`,
    (button, n) => {
      for (let i = 0; i < n; i++) (button as unknown as { click(): void }).click();
    },
    times,
  );
}

/**
 * Steps whole ticks until the expression `done` holds in the page, at most
 * `ticksMax`; returns whether it held.
 */
export async function tickUntil(page: Page, done: string, ticksMax: number): Promise<boolean> {
  return clickUntil(page, 'step-tick', done, ticksMax);
}

/** Steps single (visible) events until the expression `done` holds, at most `stepsMax`. */
export async function stepUntil(page: Page, done: string, stepsMax: number): Promise<boolean> {
  return clickUntil(page, 'step', done, stepsMax);
}

async function clickUntil(page: Page, id: string, done: string, max: number): Promise<boolean> {
  return page.evaluate(
    (source, button, n) => {
      const check = new Function(`return (${source})`) as () => boolean;
      const element = (globalThis as unknown as { document: { getElementById(id: string): { click(): void } } }).document.getElementById(button);
      for (let i = 0; i < n; i++) {
        if (check()) return true;
        element.click();
      }
      return check();
    },
    done,
    id,
    max,
  );
}

/** Clicks member `id` on the drawing (selects it, or unselects it). */
export async function selectMember(page: Page, id: string): Promise<void> {
  const box = await page.$eval(`[data-member="${id}"][data-role] circle`, (c) => {
    const r = c.getBoundingClientRect();
    return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
  });
  await page.mouse.click(box.x, box.y);
}

/** Each member's drawn role, commit index and promised ballot. */
export async function members(page: Page): Promise<{ id: string; role: string; commit: number; promised: string }[]> {
  return page.$$eval('[data-member][data-role]', (gs) =>
    gs.map((g) => ({
      id: g.getAttribute('data-member')!,
      role: g.getAttribute('data-role')!,
      commit: Number(g.getAttribute('data-commit')),
      promised: g.getAttribute('data-promised')!,
    })),
  );
}

/** The members whose drawn log shows `value` chosen. */
export async function chosenBy(page: Page, value: string): Promise<string[]> {
  return page.$$eval(`#logs td[data-state="chosen"][data-value="${value}"]`, (cells) => [...new Set(cells.map((c) => c.getAttribute('data-member')!))].sort());
}

/**
 * Saves a screenshot as `name`.png: the whole page, or (`drawing`) only the cluster
 * and the logs under it, as the docs show them.
 */
export async function screenshot(page: Page, name: string, part: 'page' | 'drawing' = 'page'): Promise<string> {
  await mkdir(screenshots, { recursive: true });
  const path = join(screenshots, `${name}.png`);
  if (part === 'page') {
    await page.screenshot({ path, fullPage: true });
    return path;
  }
  const clip = await page.evaluate(() => {
    const d = (
      globalThis as unknown as {
        document: { getElementById(id: string): { getBoundingClientRect(): { left: number; top: number; right: number; bottom: number } } };
      }
    ).document;
    const stage = d.getElementById('stage').getBoundingClientRect();
    const logs = d.getElementById('log-panel').getBoundingClientRect();
    return { x: stage.left - 4, y: stage.top - 4, width: stage.right - stage.left + 8, height: logs.bottom - stage.top + 8 };
  });
  await page.screenshot({ path, clip, captureBeyondViewport: true });
  return path;
}

/** Moves member `id` on the drawing to (x, y) in drawing units, by dragging it with the mouse. */
export async function drag(page: Page, id: string, x: number, y: number): Promise<void> {
  const from = await page.$eval(`[data-member="${id}"][data-role]`, (g) => {
    const svg = g.closest('svg')!;
    const box = svg.getBoundingClientRect();
    const m = /translate\(([-\d.]+),([-\d.]+)\)/.exec(g.getAttribute('transform')!)!;
    const scale = box.width / svg.viewBox.baseVal.width;
    return { x: box.left + Number(m[1]) * scale, y: box.top + Number(m[2]) * scale, left: box.left, top: box.top, scale };
  });
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move((from.x + from.left + x * from.scale) / 2, (from.y + from.top + y * from.scale) / 2, { steps: 3 });
  await page.mouse.move(from.left + x * from.scale, from.top + y * from.scale, { steps: 3 });
  await page.mouse.up();
}
