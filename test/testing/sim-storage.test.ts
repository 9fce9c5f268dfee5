import { describe, expect, it } from 'vitest';
import type { PersistBatch } from '../../src/core/index.js';
import { Prng, SimStorage, VirtualClock } from '../../src/testing/index.js';

const promise = (round: number): PersistBatch => ({ promised: { round, node: 'a' }, accepted: [], chosen: [] });

function storage(clock: VirtualClock, onDurable?: (round: number) => void): SimStorage {
  const random = new Prng(3);
  return new SimStorage({
    node: 'a',
    clock,
    random: () => random.next(),
    persistDelayMsMax: 10,
    ...(onDurable !== undefined ? { onDurable: (_node, _batch, state) => onDurable(state.promised.round) } : {}),
  });
}

describe('SimStorage', () => {
  it('makes writes durable after a delay, in call order, before their promises resolve', async () => {
    const clock = new VirtualClock();
    const durable: number[] = [];
    const resolved: number[] = [];
    const s = storage(clock, (round) => durable.push(round));
    for (let round = 1; round <= 20; round++) void s.persist(promise(round)).then(() => resolved.push(round));
    expect(s.durable.promised.round).toBe(0);
    await clock.advance(200);
    const all = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(durable).toEqual(all);
    expect(resolved).toEqual(all);
    expect((await s.load()).promised.round).toBe(20);
  });

  it('a crash loses what was not durable, and those promises never settle', async () => {
    const clock = new VirtualClock();
    const s = storage(clock);
    let first = false;
    void s.persist(promise(2)).then(() => (first = true));
    await clock.runUntil(() => first, 100);
    let settled = false;
    const lost = s.persist(promise(3));
    void lost.then(() => (settled = true));
    s.crash();
    await clock.advance(100);
    expect(settled).toBe(false);
    expect(s.counts.lost).toBe(1);
    const again = s.reopen();
    expect((await again.load()).promised.round).toBe(2);
    expect(() => again.reopen()).toThrow(/crashed or closed/);
  });

  it('a learner-only batch resolves once written but is durable only with the next synced write; a crash before that loses it', async () => {
    const clock = new VirtualClock();
    const s = storage(clock);
    let done = false;
    void s.persist(promise(2));
    void s.persist({ accepted: [], chosen: [], commitIndex: 4 }).then(() => (done = true));
    await clock.runUntil(() => done, 100);
    expect(s.durable.commitIndex).toBe(0);
    s.crash();
    expect(s.counts.lost).toBe(1);
    const again = s.reopen();
    expect(await again.load()).toMatchObject({ promised: { round: 2 }, commitIndex: 0 });
    let synced = false;
    void again.persist({ accepted: [], chosen: [], commitIndex: 4 });
    void again.persist(promise(3)).then(() => (synced = true));
    await clock.runUntil(() => synced, 100);
    again.crash();
    expect(await again.reopen().load()).toMatchObject({ promised: { round: 3 }, commitIndex: 4 });
  });

  it('keeps snapshots, and compaction forgets log entries below a slot', async () => {
    const clock = new VirtualClock();
    const s = storage(clock);
    const value = { kind: 'noop' } as const;
    const ballot = { round: 1, node: 'a' };
    void s.persist({ accepted: [1, 2, 3].map((slot) => ({ slot, ballot, value })), chosen: [] });
    void s.saveSnapshot({ slot: 2, data: new Uint8Array([7]) });
    void s.compact(3);
    await clock.advance(100);
    expect((await s.loadSnapshot())?.data).toEqual(new Uint8Array([7]));
    expect((await s.load()).accepted.map((e) => e.slot)).toEqual([3]);
  });
});
