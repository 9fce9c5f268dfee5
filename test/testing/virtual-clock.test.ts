import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/testing/index.js';

describe('VirtualClock', () => {
  it('fires timers in (due time, order set) order, and only when time is advanced', async () => {
    const clock = new VirtualClock({ epochMs: 1_000 });
    const fired: string[] = [];
    clock.setTimer(() => fired.push('b@20'), 20);
    clock.setTimer(() => fired.push('a@10'), 10);
    clock.setTimer(() => fired.push('c@20'), 20);
    const cancelled = clock.setTimer(() => fired.push('never'), 15);
    clock.clearTimer(cancelled);
    expect(clock.pendingTimers).toBe(3);
    await clock.advance(9);
    expect(fired).toEqual([]);
    await clock.advance(11);
    expect(fired).toEqual(['a@10', 'b@20', 'c@20']);
    expect(clock.now()).toBe(20);
    expect(clock.wallTime()).toBe(1_020);
  });

  it('lets the promise chains a timer starts settle before the next timer fires', async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    clock.setTimer(() => {
      void Promise.resolve()
        .then(() => Promise.resolve())
        .then(() => log.push(`chain done at ${clock.now()}`));
    }, 5);
    clock.setTimer(() => log.push(`second timer at ${clock.now()}`), 5);
    await clock.advance(5);
    expect(log).toEqual(['chain done at 5', 'second timer at 5']);
  });

  it('fires timers set by timers within the window, and runUntil stops at the timer that made it true', async () => {
    const clock = new VirtualClock();
    let ticks = 0;
    const tick = (): void => {
      ticks++;
      clock.setTimer(tick, 10);
    };
    clock.setTimer(tick, 10);
    expect(await clock.runUntil(() => ticks === 3, 1_000)).toBe(true);
    expect(clock.now()).toBe(30);
    expect(await clock.runUntil(() => ticks === 100, 50)).toBe(false);
    expect(clock.now()).toBe(80);
  });

  it("drops a disposed view's timers (a crashed node's), and ignores its later ones", async () => {
    const clock = new VirtualClock();
    const view = clock.child();
    const fired: string[] = [];
    view.setTimer(() => fired.push('view'), 5);
    clock.setTimer(() => fired.push('root'), 5);
    view.dispose();
    view.setTimer(() => fired.push('after dispose'), 1);
    await clock.advance(10);
    expect(fired).toEqual(['root']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a slowed view reads time slower and waits longer, from where it was', async () => {
    const clock = new VirtualClock();
    const view = clock.child();
    await clock.advance(100);
    view.slowdown = 4;
    let at = -1;
    view.setTimer(() => (at = clock.now()), 10);
    await clock.advance(40);
    expect(at).toBe(140);
    expect(view.now()).toBe(110);
  });

  it('a stepped wall clock jumps while the monotonic clock and the timers go on', async () => {
    const clock = new VirtualClock({ epochMs: 1_000_000 });
    const view = clock.child();
    let at = -1;
    view.setTimer(() => (at = view.now()), 50);
    await clock.advance(10);
    view.stepWallTime(7_200_000);
    expect(view.wallTime()).toBe(1_000_010 + 7_200_000);
    expect(view.now()).toBe(10);
    view.stepWallTime(-2 * 7_200_000);
    expect(view.wallTime()).toBe(1_000_010 - 7_200_000);
    expect(view.wallStep).toBe(-7_200_000);
    await clock.advance(40);
    expect(at).toBe(50);
    expect(clock.child().wallTime(), 'other views keep the shared wall clock').toBe(1_000_050);
    expect(() => view.stepWallTime(Number.NaN)).toThrow(/finite/);
  });
});
