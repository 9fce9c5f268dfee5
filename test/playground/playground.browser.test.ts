/**
 * The playground in a real headless Chromium: it loads without a console error, a
 * proposed command ends chosen in every live member's drawn log, and a leader dragged
 * into a minority (with one follower) cannot commit while the majority elects another.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PlaygroundPage, chosenBy, chromium, click, drag, members, openPlayground, screenshot, stepUntil, tickUntil } from './playground-page.js';

describe.skipIf(chromium === undefined)('the playground in headless Chromium', () => {
  let pg: PlaygroundPage;

  beforeAll(async () => {
    pg = await openPlayground();
  }, 60_000);
  afterAll(() => pg?.close());

  it('loads with no console error and draws every member', async () => {
    const drawn = await members(pg.page);
    // The default cluster: five voters and one observer.
    expect(drawn.map((m) => m.id)).toEqual(['n1', 'n2', 'n3', 'n4', 'n5', 'o1']);
    expect(drawn.find((m) => m.id === 'o1')!.role).toBe('observer');
    expect(await pg.page.$eval('#words', (e) => e.textContent)).toMatch(/ZooKeeper words/);
    expect(pg.errors).toEqual([]);
  });

  it("ends a proposed command chosen in every live member's drawn log", async () => {
    const page = pg.page;
    expect(await tickUntil(page, `document.querySelector('[data-role="leader"]') !== null`, 200)).toBe(true);
    await click(page, 'propose');
    await click(page, 'step', 3);
    await screenshot(page, 'propose-in-flight');
    const all = ['n1', 'n2', 'n3', 'n4', 'n5', 'o1'];
    const done = await tickUntil(
      page,
      `new Set([...document.querySelectorAll('#logs td[data-state="chosen"][data-value="x1"]')].map((c) => c.getAttribute('data-member'))).size === 6`,
      50,
    );
    expect(done).toBe(true);
    expect(await chosenBy(page, 'x1')).toEqual(all);
    await screenshot(page, 'propose-chosen');
    expect(pg.errors).toEqual([]);
  });

  it('pauses the world: virtual time moves only while playing', async () => {
    const page = pg.page;
    const now = (): Promise<number> => page.$eval('#cluster .clock', (t) => Number(/t = (\d+)/.exec(t.textContent!)![1]));
    const before = await now();
    await click(page, 'play');
    await page.waitForFunction(`Number(/t = (\\d+)/.exec(document.querySelector('#cluster .clock').textContent)[1]) > ${before}`, { timeout: 20_000 });
    await click(page, 'play');
    const paused = await now();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await now()).toBe(paused);
  });

  it('drops or duplicates the next message in flight, and cuts a link one way, the other, both, and back', async () => {
    const page = pg.page;
    const inFlight = (): Promise<number> => page.$$eval('.message', (m) => m.length);
    expect(await stepUntil(page, `document.querySelectorAll('.message').length >= 2`, 100)).toBe(true);
    const count = await inFlight();
    await click(page, 'drop');
    expect(await inFlight()).toBe(count - 1);
    await click(page, 'duplicate');
    expect(await inFlight()).toBe(count);
    const state = async (): Promise<string | null> => page.$eval('line.link[data-link="n1|n2"]', (l) => l.getAttribute('data-state'));
    const clickLink = (): Promise<void> =>
      page.$eval('line.link-hit[data-link="n1|n2"]', (l) => {
        const events = globalThis as unknown as { PointerEvent: new (type: string, init: { bubbles: boolean }) => Event };
        l.dispatchEvent(new events.PointerEvent('pointerdown', { bubbles: true }));
      });
    // Where the drawn link starts: the end that can still send.
    const arrowFrom = async (): Promise<number> => page.$eval('line.link[data-link="n1|n2"]', (l) => Number(l.getAttribute('x1')));
    const n1 = await page.$eval('[data-member="n1"][data-role]', (g) => Number(/translate\(([-\d.]+),/.exec(g.getAttribute('transform')!)![1]));
    await clickLink();
    expect(await state()).toBe('oneway');
    const firstWay = await arrowFrom();
    await clickLink();
    expect(await state()).toBe('oneway');
    // First n1 -> n2 is cut (only n2 sends), then n2 -> n1 (only n1 sends).
    expect(Math.abs(firstWay - n1)).toBeGreaterThan(10);
    expect(await arrowFrom()).toBeCloseTo(n1, 0);
    await clickLink();
    expect(await state()).toBe('down');
    await clickLink();
    expect(await state()).toBe('up');
    expect(pg.errors).toEqual([]);
  });

  it('a partition stops a minority leader from committing; the majority elects a leader and goes on', async () => {
    const page = pg.page;
    // A fresh cluster (seed 1), so this test stands alone: its commands are x1 and x2.
    await click(page, 'new-cluster');
    expect(await tickUntil(page, `document.querySelector('[data-role="leader"]') !== null`, 200)).toBe(true);
    const before = await members(page);
    const leader = before.find((m) => m.role === 'leader')!;
    const follower = before.find((m) => m.role === 'follower' && m.id !== leader.id)!;
    // Drag the leader and one follower to the left edge, everyone else to the right.
    await drag(page, leader.id, 80, 180);
    await drag(page, follower.id, 80, 340);
    let y = 60;
    for (const m of before.filter((x) => x.id !== leader.id && x.id !== follower.id)) {
      await drag(page, m.id, 820, y);
      y += 120;
    }
    const cut = await page.$$eval('line.link[data-state="down"]', (ls) => ls.length);
    expect(cut).toBe(2 * 4); // each of the two minority members is cut from the four others
    await click(page, 'propose');
    await tickUntil(page, 'false', 60);
    await screenshot(page, 'partition-minority-leader');
    const after = await members(page);
    const old = after.find((m) => m.id === leader.id)!;
    // The minority leader never got a quorum for x1: nobody's log shows it chosen, and its commit index stood still.
    expect(await chosenBy(page, 'x1')).toEqual([]);
    expect(old.commit).toBe(leader.commit);
    const majority = after.filter((m) => m.id !== leader.id && m.id !== follower.id);
    const newLeader = majority.find((m) => m.role === 'leader');
    expect(newLeader, 'the majority side elects a leader').toBeDefined();
    // The majority's leader commits what it is given.
    await click(page, 'propose');
    const count = majority.length;
    expect(await tickUntil(page, `document.querySelectorAll('#logs td[data-state="chosen"][data-value="x2"]').length === ${count}`, 40)).toBe(true);
    expect(await chosenBy(page, 'x2')).toEqual(majority.map((m) => m.id).sort());
    expect(pg.errors).toEqual([]);
  });
});
