/**
 * Log time and wall clock steps (architecture rule 9). First the LogClock alone: a leader's
 * stamps follow a sane wall clock, and a stepped one pulls them by at most
 * `logTimeSlewRate` of the elapsed time, however many rounds of stamp and apply go
 * by (no ratchet); the log's own later time wins. Then real runtime nodes in the
 * simulator: the leader's wall clock stepped 2 h forward, then back, moves the
 * timestamps the state machine sees by no more than that, and the exactly-once table
 * forgets no client for it (before, every client but one was refused for a minute
 * with ResultExpiredError: the log's time had jumped past their idle limit).
 */
import { describe, expect, it } from 'vitest';
import type { ApplyMeta, StateMachine } from '../../src/runtime/index.js';
import { LogClock, logTimeSlewRate } from '../../src/runtime/log-clock.js';
import { RuntimeSimulation } from '../../src/testing/index.js';

const hourMs = 3_600_000;
const epoch = 1_700_000_000_000;

describe('LogClock', () => {
  it('takes the wall clock as it is until it has stamped or seen a time, never below the log', () => {
    const c = new LogClock();
    expect(c.anchored).toBe(false);
    expect(c.stamp(epoch, 0, epoch - 10)).toBe(epoch);
    expect(new LogClock().stamp(epoch - 5, 0, epoch)).toBe(epoch);
  });

  it('follows a sane wall clock, and holds a stepped one to the slew rate, both ways', () => {
    const c = new LogClock();
    let last = c.stamp(epoch, 0, 0);
    for (let t = 10; t <= 1_000; t += 10) last = c.stamp(epoch + t, t, last);
    expect(last).toBe(epoch + 1_000);
    // 2 h forward at t = 1 s: for the next 10 s, log time runs at most 5% fast.
    for (let t = 1_010; t <= 11_000; t += 10) last = c.stamp(epoch + t + 2 * hourMs, t, last);
    expect(Number.isInteger(last), 'whole milliseconds').toBe(true);
    expect(last).toBe(Math.floor(epoch + 1_000 + 10_000 * (1 + logTimeSlewRate)));
    // Now 2 h behind: log time runs at least 5% slow, never back.
    const before = last;
    for (let t = 11_010; t <= 21_000; t += 10) last = c.stamp(epoch + t - 2 * hourMs, t, last);
    expect(last).toBe(Math.floor(before + 10_000 * (1 - logTimeSlewRate)));
  });

  it('cannot be ratcheted: own stamps seen again when applied move nothing, over many rounds', () => {
    const c = new LogClock();
    let last = c.stamp(epoch, 0, 0);
    // Each round: stamp at t, applied (observed) 3 ms later; the wall clock is 2 h ahead throughout.
    let t = 0;
    for (let round = 0; round < 10_000; round++) {
      t += 1;
      last = c.stamp(epoch + t + 2 * hourMs, t, last);
      c.observe(last, t + 3);
    }
    expect(last - epoch).toBeLessThanOrEqual(t * (1 + logTimeSlewRate) + 1); // 1 ms: float rounding at 1.7e12 over 10,000 stamps
  });

  it("moves to a later time the log shows (another leader's), then goes on from it", () => {
    const c = new LogClock();
    c.observe(epoch, 0);
    c.observe(epoch + 50_000, 100); // ahead of the projection (epoch + 100): the log wins
    expect(c.stamp(epoch + 100 + 2 * hourMs, 100, epoch + 50_000)).toBe(epoch + 50_000);
    c.observe(epoch + 50_050, 200); // behind the projection: nothing moves
    expect(c.stamp(epoch + 50_200, 200, epoch + 50_050)).toBe(epoch + 50_000 + 100 * (1 + logTimeSlewRate));
  });
});

/** Records the log timestamp of every command applied; a command's result is its timestamp. */
class Stamps implements StateMachine<number, number> {
  readonly timestamps: number[] = [];
  apply(_command: number, meta: ApplyMeta): number {
    this.timestamps.push(meta.timestamp);
    return meta.timestamp;
  }
}

describe('log time in a cluster whose leader steps its wall clock', () => {
  it.each([1, 2, 3])('2 h forward, then back: timestamps move with elapsed time, and no client is forgotten for it (seed %i)', async (seed) => {
    const sim = new RuntimeSimulation<number, number>({ seed, voters: 3, stateMachine: () => new Stamps() });
    await sim.start();
    expect(await sim.runUntil(() => sim.leader() !== undefined, 5_000)).toBe(true);
    const leader = sim.leader()!;
    /** Every 100 ms, one command from each node's client; what they answered. */
    const rounds: { at: number; results: PromiseSettledResult<number>[] }[] = [];
    const round = async (): Promise<void> => {
      const at = sim.now;
      const settled = Promise.allSettled(sim.ids.map((id, i) => sim.propose(id, i)));
      let done: PromiseSettledResult<number>[] | undefined;
      void settled.then((r) => (done = r));
      expect(await sim.runUntil(() => done !== undefined, 5_000)).toBe(true);
      rounds.push({ at, results: done! });
      await sim.runUntil(() => false, Math.max(0, at + 100 - sim.now));
    };
    for (let i = 0; i < 10; i++) await round();
    const stamp = (r: (typeof rounds)[number]): number => Math.max(...r.results.map((x) => (x.status === 'fulfilled' ? x.value : -1)));

    sim.stepWallClock(leader, 2 * hourMs);
    const stepped = rounds.length;
    for (let i = 0; i < 50; i++) await round();
    sim.stepWallClock(leader, -4 * hourMs);
    const steppedBack = rounds.length;
    for (let i = 0; i < 50; i++) await round();
    expect(sim.leader(), 'the same leader throughout').toBe(leader);

    const failures = rounds.flatMap((r) =>
      r.results.filter((x) => x.status === 'rejected').map((x) => `${r.at}: ${String((x as PromiseRejectedResult).reason)}`),
    );
    expect(failures, 'every request applied, none refused as a forgotten client').toEqual([]);
    // Forward: log time ran at most 5% fast (plus a round's latency); back: it still went on, at least 5% slow.
    const ahead = (stamp(rounds[steppedBack - 1]!) - stamp(rounds[stepped - 1]!)) / (rounds[steppedBack - 1]!.at - rounds[stepped - 1]!.at);
    const behind = (stamp(rounds[rounds.length - 1]!) - stamp(rounds[steppedBack - 1]!)) / (rounds[rounds.length - 1]!.at - rounds[steppedBack - 1]!.at);
    expect(ahead).toBeLessThanOrEqual(1 + logTimeSlewRate + 0.01);
    expect(behind).toBeGreaterThanOrEqual(1 - logTimeSlewRate - 0.01);
    expect(behind).toBeLessThanOrEqual(1 + logTimeSlewRate + 0.01);
    sim.finish();
  });
});
