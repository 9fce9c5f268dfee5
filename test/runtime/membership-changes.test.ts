/**
 * Membership changes on their own, through a fake host: a change resolves only once
 * its configuration is chosen, whole (not the joint step), and every slot before the
 * one it governs is applied here; one another change replaced is refused.
 */
import { describe, expect, it } from 'vitest';
import type { ChangeMembersResult, Configuration, MembershipChange } from '../../src/core/index.js';
import { ClosedError, MembershipError, NotLeaderError, TimeoutError } from '../../src/runtime/errors.js';
import { MembershipChanges } from '../../src/runtime/membership-changes.js';
import { VirtualClock, settlePromises } from '../../src/testing/index.js';

const config = (id: number, voters: string[], leaving?: string[]): Configuration => ({
  id,
  voters,
  quorum: 'majority',
  ...(leaving !== undefined ? { leaving: { voters: leaving, quorum: 'majority' as const } } : {}),
  observers: [],
  addresses: {},
  windowSlots: 4,
});

function harness(answer: ChangeMembersResult) {
  const clock = new VirtualClock();
  const state = { applied: 0, drains: 0, asked: [] as MembershipChange[] };
  const changes = new MembershipChanges(clock, {
    core: () => ({
      changeMembers: (change: MembershipChange) => {
        state.asked.push(change);
        return answer;
      },
    }),
    appliedIndex: () => state.applied,
    drainSoon: () => state.drains++,
  });
  return { clock, state, changes };
}

function watch<T>(promise: Promise<T>): { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } {
  const w: { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } = { state: 'pending' };
  promise.then(
    (value) => Object.assign(w, { state: 'resolved', value }),
    (error: unknown) => Object.assign(w, { state: 'rejected', error }),
  );
  return w;
}

describe('MembershipChanges', () => {
  it('resolves once the configuration governs and the slots before it are applied here', async () => {
    const target = config(1, ['a', 'b', 'c', 'd']);
    const h = harness({ ok: true, config: target });
    const change = watch(h.changes.change({ type: 'promote', id: 'd' }, {}, 1_000));
    expect(h.state.drains).toBe(1);
    h.changes.observe(config(0, ['a', 'b', 'c']), 0);
    h.changes.observe(target, 10);
    await settlePromises();
    expect(change.state).toBe('pending');
    h.state.applied = 9;
    h.changes.observe(target, 10);
    await settlePromises();
    expect(change).toMatchObject({ state: 'resolved', value: target });
  });

  it('waits through the joint step of a two-step change, and resolves on the second', async () => {
    const joint = config(1, ['a', 'b', 'd'], ['a', 'b', 'c']);
    const h = harness({ ok: true, config: joint });
    h.state.applied = 100;
    const change = watch(h.changes.change({ type: 'replace', remove: 'c', add: 'd' }, {}, 1_000));
    h.changes.observe(joint, 5);
    await settlePromises();
    expect(change.state).toBe('pending');
    h.changes.observe(config(2, ['a', 'b', 'd']), 9);
    await settlePromises();
    expect(change.state).toBe('resolved');
  });

  it('refuses a change another configuration replaced as superseded', async () => {
    const h = harness({ ok: true, config: config(1, ['a', 'b', 'c', 'd']) });
    const change = watch(h.changes.change({ type: 'promote', id: 'd' }, {}, 1_000));
    h.changes.observe(config(1, ['a', 'b']), 3);
    await settlePromises();
    expect(change.error).toBeInstanceOf(MembershipError);
  });

  it('throws the core’s refusals at once, and times out or closes what waits', async () => {
    expect(() => harness({ ok: false, reason: 'not-leader', leaderHint: 'b' }).changes.change({ type: 'promote', id: 'd' }, {}, 1_000)).toThrow(NotLeaderError);
    expect(() => harness({ ok: false, reason: 'in-progress', config: config(3, ['a']) }).changes.change({ type: 'promote', id: 'd' }, {}, 1_000)).toThrow(
      /configuration 3 is still being put in place/,
    );
    const h = harness({ ok: true, config: config(1, ['a', 'b', 'c', 'd']) });
    const late = watch(h.changes.change({ type: 'promote', id: 'd' }, {}, 50));
    const closed = watch(h.changes.change({ type: 'promote', id: 'd' }, {}, 1_000));
    await h.clock.advance(50);
    expect(late.error).toBeInstanceOf(TimeoutError);
    h.changes.close(() => new ClosedError());
    await settlePromises();
    expect(closed.error).toBeInstanceOf(ClosedError);
  });
});
