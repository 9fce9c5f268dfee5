/**
 * The leader's countdowns of session silence: on the monotonic clock only, restarted
 * by every renewal it sees, never due before a whole TTL since it saw the session's
 * last renewal, forgotten with the session. Then a property against a naive model.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SessionCountdown } from '../../src/kv/session-countdown.js';
/** What the countdown reads of a session; changed in place here to stand for a renewal (the table replaces the session instead). */
interface Observed {
  readonly id: number;
  readonly ttlMs: number;
  renewedSlot: number;
}

const session = (id: number, ttlMs: number, renewedSlot: number): Observed => ({ id, ttlMs, renewedSlot });

describe('SessionCountdown', () => {
  it('counts from when it first sees a session, and again from each renewal it sees', () => {
    const c = new SessionCountdown();
    const a = session(1, 1_000, 5);
    const b = session(2, 3_000, 5);
    expect(c.observe([a, b], 10_000, 10)).toEqual([]);
    expect(c.observe([a, b], 10_999, 10)).toEqual([]);
    expect(c.observe([a, b], 11_000, 10)).toEqual([1]);
    a.renewedSlot = 8; // a keepalive got in
    expect(c.observe([a, b], 11_050, 10)).toEqual([]);
    expect(c.observe([a, b], 12_049, 10)).toEqual([]);
    expect(c.observe([a, b], 13_000, 10)).toEqual([1, 2]);
    // What `dump` reads: when each countdown started; none for a session not seen.
    expect([c.sinceMs(1), c.sinceMs(2), c.sinceMs(3)]).toEqual([11_050, 10_000, undefined]);
    c.clear();
    expect(c.sinceMs(1)).toBeUndefined();
  });

  it('forgets sessions that are gone, and everything on clear (a new leadership starts afresh)', () => {
    const c = new SessionCountdown();
    c.observe([session(1, 1_000, 1), session(2, 1_000, 1)], 0, 10);
    expect(c.observe([session(2, 1_000, 1)], 500, 10)).toEqual([]);
    expect(c.size).toBe(1);
    c.clear();
    expect(c.observe([session(2, 1_000, 1)], 1_200, 10), 'counted from the new leadership, not from 0').toEqual([]);
    expect(c.observe([session(2, 1_000, 1)], 2_200, 10)).toEqual([2]);
  });

  it('names at most `max` sessions, lowest ids first', () => {
    const c = new SessionCountdown();
    const all = [5, 3, 9, 1].map((id) => session(id, 100, 1));
    c.observe(all, 0, 2);
    expect(c.observe(all, 100, 2)).toEqual([1, 3]);
  });

  it('never finds a session due before a TTL of silence it saw, and always once it saw one (model)', () => {
    const step = fc.record({
      advanceMs: fc.integer({ min: 0, max: 400 }),
      renew: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 2 }),
      end: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined, freq: 8 }),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const c = new SessionCountdown();
        const live = new Map([1, 2, 3, 4].map((id) => [id, session(id, 250 * id, 0)]));
        /** The model: when the countdown last saw each session renewed (or first saw it), and that renewal's slot. */
        const since = new Map<number, number>();
        const seenSlot = new Map<number, number>();
        let now = 0;
        let slot = 0;
        for (const s of steps) {
          now += s.advanceMs;
          for (const id of s.renew) {
            const renewed = live.get(id);
            if (renewed !== undefined) renewed.renewedSlot = ++slot;
          }
          if (s.end !== undefined) live.delete(s.end);
          const due = c.observe(live.values(), now, 10);
          for (const x of live.values()) {
            if (seenSlot.get(x.id) !== x.renewedSlot) since.set(x.id, now);
            seenSlot.set(x.id, x.renewedSlot);
          }
          const expected = [...live.values()]
            .filter((x) => now - since.get(x.id)! >= x.ttlMs)
            .map((x) => x.id)
            .sort((a, b) => a - b);
          expect(due).toEqual(expected);
        }
      }),
      { numRuns: 300 },
    );
  });
});
