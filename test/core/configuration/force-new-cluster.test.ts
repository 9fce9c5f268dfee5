import { describe, expect, it } from 'vitest';
import { DurableStateBuilder, Replica, batch, forceNewCluster, majority } from '../../../src/core/index.js';

const cmd = (s: string) => batch([new TextEncoder().encode(s)]);
const b = (round: number, node: string) => ({ round, node });

describe('forceNewCluster', () => {
  it('keeps every value the survivor holds, no-ops its holes, and makes it the only voter from the next slot', () => {
    const state = new DurableStateBuilder();
    state.merge({ promised: b(4, 'a'), accepted: [1, 2, 3].map((slot) => ({ slot, ballot: b(2, 'a'), value: cmd(`x${slot}`) })), chosen: [], commitIndex: 3 });
    // Above the commit index: slot 4 in two ballots (the higher one wins), nothing at 5, slot 6.
    state.merge({ accepted: [{ slot: 4, ballot: b(3, 'b'), value: cmd('old') }], chosen: [] });
    state.merge({ accepted: [{ slot: 4, ballot: b(4, 'a'), value: cmd('new') }, { slot: 6, ballot: b(4, 'a'), value: cmd('x6') }], chosen: [] });
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
