import { describe, expect, it } from 'vitest';
import type { DurableState } from '../../../src/core/durable-state.js';
import { ConfigError, InvariantError } from '../../../src/core/errors.js';
import { DurableStateBuilder, Replica, batch, forceNewCluster, majority, noop } from '../../../src/core/index.js';

const cmd = (s: string) => batch([new TextEncoder().encode(s)]);
const b = (round: number, node: string) => ({ round, node });

describe('forceNewCluster', () => {
  it('keeps every value the survivor holds, no-ops its holes, and makes it the only voter from the next slot', () => {
    const state = new DurableStateBuilder();
    state.merge({ promised: b(4, 'a'), accepted: [1, 2, 3].map((slot) => ({ slot, ballot: b(2, 'a'), value: cmd(`x${slot}`) })), chosen: [], commitIndex: 3 });
    // Above the commit index: slot 4 in two ballots (the higher one wins), nothing at 5, slot 6.
    state.merge({ accepted: [{ slot: 4, ballot: b(3, 'b'), value: cmd('old') }], chosen: [] });
    state.merge({
      accepted: [
        { slot: 4, ballot: b(4, 'a'), value: cmd('new') },
        { slot: 6, ballot: b(4, 'a'), value: cmd('x6') },
      ],
      chosen: [],
    });
    const first = { id: 0, voters: ['a', 'b', 'c'], quorum: 'majority' as const, observers: [], addresses: {}, windowSlots: 4 };
    const forced = forceNewCluster(state.build(), { slot: 0, configuration: undefined }, first, 'c');
    expect(forced).toMatchObject({ commitIndexBefore: 3, adopted: 2, holes: 1, from: 11 });
    expect(forced.configuration).toMatchObject({ id: 1, voters: ['c'], windowSlots: 4 });
    state.merge(forced.batch);

    const replica = new Replica({ id: 'c', quorum: majority(['a', 'b', 'c']), windowSlots: 4, random: () => 0, state: state.build() });
    expect(replica.status).toMatchObject({ commitIndex: 10, configuration: { id: 1, voters: ['c'] }, configurationFrom: 11 });
    expect(replica.chosenValue(4)).toEqual(cmd('new'));
    expect(replica.chosenValue(5)).toEqual({ kind: 'noop' });
    expect(replica.chosenValue(6)).toEqual(cmd('x6'));
    // Alone, it elects itself and commits.
    for (let i = 0; i < 40 && replica.role !== 'leader'; i++) {
      replica.tick();
      const out = replica.takeOutput();
      if (out.persistSeq > 0) replica.persisted(out.persistSeq);
    }
    expect(replica.role).toBe('leader');
    expect(replica.propose([new TextEncoder().encode('y')]).ok).toBe(true);
    const out = replica.takeOutput();
    replica.persisted(out.persistSeq);
    expect(replica.status.commitIndex).toBe(11);
  });

  it('builds on the configuration a snapshot carried', () => {
    const state = new DurableStateBuilder();
    state.merge({ promised: b(9, 'e'), accepted: [], chosen: [], commitIndex: 50 });
    const carried = { id: 7, voters: ['d', 'e', 'f'], quorum: 'majority' as const, observers: ['o'], addresses: { e: 'h:1,h:2' }, windowSlots: 8 };
    const forced = forceNewCluster(state.build(), { slot: 50, configuration: [{ from: 40, source: 32, config: carried }] }, carried, 'e');
    expect(forced.configuration).toEqual({ id: 8, voters: ['e'], quorum: 'majority', observers: [], addresses: { e: 'h:1,h:2' }, windowSlots: 8 });
    expect(forced.from).toBe(59);
    expect(forced.batch.chosen[0]).toMatchObject({ slot: 51, value: { kind: 'config' } });
  });
});

// One input at a time: the exact batch for the smallest cases, each refusal, and the
// counts the operator is shown.
describe('forceNewCluster, one input at a time', () => {
  const first = { id: 0, voters: ['a', 'b', 'c'], quorum: 'majority' as const, observers: [], addresses: { a: 'h:1' }, windowSlots: 2 };
  const none = { slot: 0, configuration: undefined };
  const state = (fields: Partial<DurableState>): DurableState => ({ promised: b(3, 'a'), accepted: [], chosen: [], commitIndex: 0, ...fields });
  const acc = (slot: number, round: number, s: string) => ({ slot, ballot: b(round, 'a'), value: cmd(s) });

  it('refuses an empty or non-string id, and a malformed first configuration', () => {
    const idError = new ConfigError('forceNewCluster', 'id', 'must be a non-empty string');
    expect(() => forceNewCluster(state({}), none, first, '')).toThrow(idError);
    expect(() => forceNewCluster(state({}), none, first, 7 as unknown as string)).toThrow(idError);
    expect(() => forceNewCluster(state({}), none, { ...first, voters: [] }, 'a')).toThrow('forceNewCluster: `voters` must list 1 to 64 voters');
  });

  it('writes the holes as no-ops, the values it holds, then the configuration and a window of no-ops', () => {
    const forced = forceNewCluster(state({ chosen: [{ slot: 1, value: cmd('x1') }], accepted: [acc(3, 2, 'x3')], commitIndex: 1 }), none, first, 'a');
    const configuration = { id: 1, voters: ['a'], quorum: 'majority', observers: [], addresses: { a: 'h:1' }, windowSlots: 2 };
    expect(forced).toEqual({
      batch: {
        accepted: [],
        chosen: [
          { slot: 2, value: noop },
          { slot: 3, value: cmd('x3') },
          { slot: 4, value: { kind: 'config', config: configuration } },
          { slot: 5, value: noop },
        ],
        commitIndex: 5,
      },
      configuration,
      from: 6,
      commitIndexBefore: 1,
      adopted: 1,
      holes: 1,
    });
    expect(Object.isFrozen(forced.configuration)).toBe(true);
  });

  it('takes the value of the highest ballot, and a value learned chosen over any accepted one', () => {
    const forced = forceNewCluster(
      state({ accepted: [acc(1, 2, 'low'), acc(1, 3, 'high'), acc(1, 1, 'lower'), acc(2, 5, 'accepted')], chosen: [{ slot: 2, value: cmd('chosen') }] }),
      none,
      first,
      'a',
    );
    expect(forced.batch.chosen.slice(0, 2)).toEqual([
      { slot: 1, value: cmd('high') },
      { slot: 2, value: cmd('chosen') },
    ]);
    expect(forced).toMatchObject({ adopted: 2, holes: 0, commitIndexBefore: 0 });
  });

  it('reaches the last slot it holds a learned value for', () => {
    const forced = forceNewCluster(state({ chosen: [{ slot: 3, value: cmd('x3') }] }), none, first, 'b');
    expect(forced.batch.chosen.map((e) => e.slot)).toEqual([1, 2, 3, 4, 5]);
    expect(forced).toMatchObject({ adopted: 1, holes: 2, from: 6 });
    expect(forced.configuration.addresses).toEqual({});
  });

  it('rewrites nothing up to the commit index, and counts nothing there', () => {
    const forced = forceNewCluster(state({ accepted: [acc(1, 1, 'x1'), acc(2, 1, 'x2')], commitIndex: 2 }), none, first, 'a');
    expect(forced.batch.chosen.map((e) => e.slot)).toEqual([3, 4]);
    expect(forced).toMatchObject({ commitIndexBefore: 2, adopted: 0, holes: 0, from: 5 });
  });

  it('starts after the snapshot, even when the stored commit index is below it', () => {
    const forced = forceNewCluster(state({ accepted: [acc(6, 1, 'x6')] }), { slot: 5, configuration: undefined }, first, 'a');
    expect(forced.batch.chosen.map((e) => e.slot)).toEqual([6, 7, 8]);
    expect(forced).toMatchObject({ commitIndexBefore: 5, adopted: 1, holes: 0 });
  });

  it('refuses a state whose commit index covers a slot with no value', () => {
    expect(() => forceNewCluster(state({ accepted: [acc(1, 1, 'x1')], commitIndex: 2 }), none, first, 'a')).toThrow(
      new InvariantError('slot 2 is below the commit index 2 but holds no value'),
    );
  });

  it('builds on a configuration found among the slots it takes as chosen', () => {
    const next = { ...first, id: 1, voters: ['a', 'b'], addresses: { b: 'h:2' } };
    const forced = forceNewCluster(state({ accepted: [{ slot: 1, ballot: b(1, 'a'), value: { kind: 'config', config: next } }] }), none, first, 'b');
    expect(forced.configuration).toMatchObject({ id: 2, voters: ['b'], addresses: { b: 'h:2' } });
    // Slot 1's configuration governs from slot 3: the new one is chosen at 2, so governs from 4.
    expect(forced.batch.chosen.map((e) => e.slot)).toEqual([1, 2, 3]);
    expect(forced.from).toBe(4);
  });

  it('governs at once with a window of one slot', () => {
    const forced = forceNewCluster(state({}), none, { ...first, windowSlots: 1 }, 'a');
    expect(forced.batch.chosen).toHaveLength(1);
    expect(forced.batch.commitIndex).toBe(1);
    expect(forced.from).toBe(2);
  });
});
