/**
 * The beat a group host's groups tick on: a timer of a beat or more fires on the first
 * beat at or after its time (never early, at most a beat late), every timer due on a
 * beat fires from one timer of the clock below, nothing runs below once nothing waits,
 * and a shorter timer passes through untouched.
 */
import { describe, expect, it } from 'vitest';
import type { Clock, TimerHandle } from '../../src/index.js';
import { BeatClock } from '../../src/groups/beat-clock.js';
import { VirtualClock } from '../../src/testing/index.js';

/** The virtual clock, counting the timers set on it and those waiting. */
function countingClock(): { clock: Clock; virtual: VirtualClock; set: () => number } {
  const virtual = new VirtualClock();
  let set = 0;
  const clock: Clock = {
    now: () => virtual.now(),
    wallTime: () => virtual.wallTime(),
    setTimer: (callback: () => void, ms: number): TimerHandle => {
      set++;
      return virtual.setTimer(callback, ms);
    },
    clearTimer: (handle: TimerHandle) => virtual.clearTimer(handle),
  };
  return { clock, virtual, set: () => set };
}

describe('BeatClock', () => {
  it('fires a timer on the first beat at or after its time: never early, at most a beat late', async () => {
    const { clock, virtual } = countingClock();
    await virtual.advance(7); // the beat counts from its making, not from 0
    const beat = new BeatClock(clock, 50);
    const fired: [number, number][] = [];
    await virtual.advance(13); // 20 ms after the making: beats fall at 57, 107, 157, ... on the clock below
    for (const ms of [50, 80, 87, 100, 250]) beat.setTimer(() => fired.push([ms, virtual.now()]), ms);
    await virtual.advance(1_000);
    // Set at 20 ms past the making (clock time 20): due at 70, 100, 107, 120, 270.
    expect(fired).toEqual([
      [50, 107],
      [80, 107],
      [87, 107],
      [100, 157],
      [250, 307],
    ]);
    for (const [ms, at] of fired) {
      expect(at - 20).toBeGreaterThanOrEqual(ms);
      expect(at - 20).toBeLessThan(ms + 50);
    }
  });

  it('runs every timer due on a beat from one timer below; ticks re-armed on a beat keep to it', async () => {
    const { clock, virtual, set } = countingClock();
    const beat = new BeatClock(clock, 50);
    const ticks = new Map<number, number[]>();
    for (let g = 0; g < 100; g++) {
      ticks.set(g, []);
      await virtual.advance(1 + (g % 7)); // groups start at scattered times
      const tick = (): void => {
        ticks.get(g)!.push(virtual.now());
        beat.setTimer(tick, 50);
      };
      beat.setTimer(tick, 50);
    }
    const before = set();
    await virtual.advance(1_000);
    // Twenty beats, each one timer below, however many groups tick on it.
    expect(set() - before).toBeLessThanOrEqual(21);
    const firstBeat = Math.min(...[...ticks.values()].map((t) => t[0]!));
    for (const t of ticks.values()) {
      expect(t.length).toBeGreaterThanOrEqual(18);
      for (const at of t) expect((at - firstBeat) % 50).toBe(0);
    }
  });

  it('clears a timer; with none left waiting, no timer runs below', async () => {
    const { clock, virtual } = countingClock();
    const beat = new BeatClock(clock, 50);
    let fired = 0;
    const a = beat.setTimer(() => fired++, 50);
    const b = beat.setTimer(() => fired++, 500);
    expect(beat.pending).toBe(2);
    beat.clearTimer(a);
    await virtual.advance(100);
    expect(fired).toBe(0);
    beat.clearTimer(b);
    beat.clearTimer(b); // harmless twice
    beat.clearTimer(undefined);
    expect(beat.pending).toBe(0);
    expect(virtual.pendingTimers).toBe(0);
    await virtual.advance(1_000);
    expect(fired).toBe(0);
  });

  it('passes a timer shorter than a beat to the clock below as it is, and clears it there', async () => {
    const { clock, virtual } = countingClock();
    const beat = new BeatClock(clock, 50);
    const fired: number[] = [];
    beat.setTimer(() => fired.push(virtual.now()), 3);
    beat.setTimer(() => fired.push(virtual.now()), 0);
    const cleared = beat.setTimer(() => fired.push(-1), 10);
    beat.clearTimer(cleared);
    expect(beat.pending).toBe(0);
    await virtual.advance(100);
    expect(fired).toEqual([0, 3]);
  });

  it("runs the rest of a beat's timers when one throws, then throws its error", async () => {
    const { clock, virtual } = countingClock();
    const beat = new BeatClock(clock, 50);
    const order: string[] = [];
    beat.setTimer(() => order.push('first'), 50);
    beat.setTimer(() => {
      throw new Error('boom');
    }, 50);
    beat.setTimer(() => order.push('third'), 50);
    beat.setTimer(() => order.push('next beat'), 100);
    await expect(virtual.advance(60)).rejects.toThrow('boom');
    expect(order).toEqual(['first', 'third']);
    await virtual.advance(100);
    expect(order).toEqual(['first', 'third', 'next beat']);
  });
});
