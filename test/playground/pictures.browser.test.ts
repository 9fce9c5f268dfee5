/**
 * The walk through docs/paxos-in-pictures.md, played in the page and photographed:
 * phase 1 once per leadership, phase 2 pipelined, a leader failing, a partition
 * healing, an observer catching up. Each step also checks the drawing says what the
 * doc says it shows. Screenshots land in test/playground/.screenshots; the doc's
 * copies in docs/images are refreshed by hand from there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PlaygroundPage,
  chosenBy,
  chromium,
  click,
  drag,
  members,
  openPlayground,
  screenshot,
  selectMember,
  stepUntil,
  tickUntil,
} from './playground-page.js';

const message = (type: string): string => `document.querySelector('.message[data-type="${type}"]') !== null`;
const leaderDrawn = `document.querySelector('[data-role="leader"]') !== null`;

describe.skipIf(chromium === undefined)('Paxos in pictures', () => {
  let pg: PlaygroundPage;

  beforeAll(async () => {
    pg = await openPlayground();
    await pg.page.select('#voters', '3');
    await pg.page.select('#observers', '1');
    await click(pg.page, 'new-cluster');
  }, 60_000);
  afterAll(() => pg?.close());

  it('walks through the protocol', async () => {
    const page = pg.page;
    // Phase 1: a candidate's prepare, then the promises coming back.
    expect(await tickUntil(page, message('prepare'), 100)).toBe(true);
    expect(await stepUntil(page, message('promise'), 50)).toBe(true);
    await screenshot(page, 'phase-1', 'drawing');
    expect(await tickUntil(page, leaderDrawn, 50)).toBe(true);

    // Phase 2, pipelined: several proposals, several accepts in flight at once; no new prepare.
    await tickUntil(page, 'false', 3);
    await click(page, 'propose', 3);
    expect(await stepUntil(page, `document.querySelectorAll('.message[data-type="accept"]').length >= 6`, 20)).toBe(true);
    expect(await page.$$eval('.message[data-type="prepare"]', (m) => m.length)).toBe(0);
    await screenshot(page, 'phase-2', 'drawing');
    expect(await tickUntil(page, `document.querySelectorAll('#logs td[data-state="chosen"][data-value="x3"]').length === 4`, 30)).toBe(true);

    // The leader fails: a follower times out and campaigns with a higher ballot.
    const leader = (await members(page)).find((m) => m.role === 'leader')!;
    await selectMember(page, leader.id);
    await click(page, 'kill');
    expect(await tickUntil(page, message('prepare'), 100)).toBe(true);
    await screenshot(page, 'leader-fails', 'drawing');
    expect(await tickUntil(page, leaderDrawn, 60)).toBe(true);
    await click(page, 'restart');
    await selectMember(page, leader.id);

    // A partition: the new leader dragged away alone; the other two elect a leader of their own.
    await tickUntil(page, 'false', 10);
    const second = (await members(page)).find((m) => m.role === 'leader')!;
    await drag(page, second.id, 70, 70);
    await click(page, 'propose');
    expect(
      await tickUntil(
        page,
        `document.querySelectorAll('[data-role="leader"]').length === 1 && document.querySelector('[data-member="${second.id}"][data-role="leader"]') === null`,
        120,
      ),
    ).toBe(true);
    await click(page, 'propose');
    await tickUntil(page, 'false', 10);
    await screenshot(page, 'partition', 'drawing');
    // Healing: the cut-off member hears the higher ballot, follows, and catches up.
    await click(page, 'heal');
    expect(await tickUntil(page, `document.querySelectorAll('#logs td[data-state="chosen"][data-value="x5"]').length === 4`, 100)).toBe(true);
    await screenshot(page, 'partition-healed', 'drawing');

    // An observer catching up: killed while three commands are chosen, then restarted.
    await selectMember(page, 'o1');
    await click(page, 'kill');
    for (let i = 0; i < 3; i++) await click(page, 'propose');
    expect(await tickUntil(page, `document.querySelectorAll('#logs td[data-state="chosen"][data-value="x8"]').length === 3`, 60)).toBe(true);
    await click(page, 'restart');
    expect(await stepUntil(page, `document.querySelector('.message[data-type="chosen"], .message[data-type="catchUp"]') !== null`, 200)).toBe(true);
    await screenshot(page, 'observer-catching-up', 'drawing');
    expect(await tickUntil(page, `document.querySelector('#logs td[data-member="o1"][data-value="x8"]') !== null`, 60)).toBe(true);
    expect(await chosenBy(page, 'x8')).toContain('o1');
    expect(pg.errors).toEqual([]);
  });
});
