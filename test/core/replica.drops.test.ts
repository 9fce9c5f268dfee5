import { describe, expect, it } from 'vitest';
import { type DurableState, type Message, Replica, majority } from '../../src/core/index.js';

// What a replica does besides counting when it drops a message: a sender it does not
// know as a member or voter may be one in a configuration it has not learned yet, so it
// learns the chosen log from a leader's heartbeat or commit, and it sends a removed
// member that campaigns what it lacks. Any other drop sends nothing.

const quorum = majority(['a', 'b', 'c']);
const noop = { kind: 'noop' } as const;
/** A voter with a promise on record (it votes at once) that chose `commitIndex` no-ops. */
function voter(commitIndex = 0, id = 'a'): Replica {
  const chosen = Array.from({ length: commitIndex }, (_, i) => ({ slot: i + 1, value: noop }));
  const state: DurableState = { promised: { round: 1, node: 'b' }, accepted: [], chosen, commitIndex };
  const r = new Replica({ id, quorum, observers: ['o'], random: () => 0, state });
  r.takeOutput();
  return r;
}
const sent = (r: Replica): readonly Message[] => r.takeOutput().messages;

describe('Replica drops', () => {
  it('a heartbeat or commit from a sender it does not know as a leader, announcing more than it knows: it asks for the chosen log', () => {
    for (const [from, type] of [
      ['x', 'heartbeat'],
      ['x', 'commit'],
      ['o', 'heartbeat'],
      ['o', 'commit'],
    ] as const) {
      const r = voter();
      const m =
        type === 'heartbeat'
          ? { type, from, to: 'a', ballot: { round: 2, node: from }, commitIndex: 5, seq: 1 }
          : { type, from, to: 'a', ballot: { round: 2, node: from }, commitIndex: 5 };
      r.step(m);
      expect(r.status.droppedMessages).toBe(1);
      expect(sent(r)).toEqual([{ type: 'catchUp', from: 'a', to: from, firstSlot: 1, lastSlot: 5 }]);
    }
  });

  it('asks from the slot after its commit index, and not when the sender announces no more than it knows', () => {
    const r = voter(2);
    r.step({ type: 'heartbeat', from: 'x', to: 'a', ballot: { round: 2, node: 'x' }, commitIndex: 2, seq: 1 });
    expect(sent(r)).toEqual([]);
    r.step({ type: 'heartbeat', from: 'x', to: 'a', ballot: { round: 2, node: 'x' }, commitIndex: 3, seq: 1 });
    expect(sent(r)).toEqual([{ type: 'catchUp', from: 'a', to: 'x', firstSlot: 3, lastSlot: 3 }]);
  });

  it('asks nothing for a drop of another kind, or a commit index that is not a count', () => {
    const cases: Message[] = [
      { type: 'heartbeat', from: 'x', to: 'z', ballot: { round: 2, node: 'x' }, commitIndex: 5, seq: 1 }, // misaddressed
      { type: 'heartbeat', from: 'a', to: 'a', ballot: { round: 2, node: 'a' }, commitIndex: 5, seq: 1 }, // from itself
      { type: 'heartbeat', from: 'b', to: 'a', ballot: { round: 2, node: 'c' }, commitIndex: 5, seq: 1 }, // ballot not its own
      { type: 'heartbeat', from: 'x', to: 'a', ballot: { round: 2, node: 'x' }, commitIndex: -1, seq: 1 },
      { type: 'heartbeat', from: 'x', to: 'a', ballot: { round: 2, node: 'x' }, commitIndex: 1.5, seq: 1 },
      { type: 'accept', from: 'x', to: 'a', ballot: { round: 2, node: 'x' }, firstSlot: 1, values: [noop], commitIndex: 5 },
      { type: 'precheckReply', from: 'x', to: 'a', granted: true, promised: { round: 2, node: 'x' } },
    ];
    for (const m of cases) {
      const r = voter();
      r.step(m);
      expect(r.status.droppedMessages).toBe(1);
      expect([m, sent(r)]).toEqual([m, []]);
    }
  });

  it('an observer asked for a precheck by a voter that knows more: it learns the log from it', () => {
    const o = new Replica({ id: 'o', quorum, observers: ['o'], random: () => 0 });
    o.takeOutput();
    o.step({ type: 'precheck', from: 'b', to: 'o', commitIndex: 4 });
    expect(o.status.droppedMessages).toBe(1);
    expect(sent(o)).toEqual([{ type: 'catchUp', from: 'o', to: 'b', firstSlot: 1, lastSlot: 4 }]);
    const p = new Replica({ id: 'o', quorum, observers: ['o'], random: () => 0 });
    p.takeOutput();
    p.step({ type: 'precheck', from: 'b', to: 'o', commitIndex: 0 });
    expect(sent(p)).toEqual([]);
  });

  it('a precheck from a non-member or a non-voter that lags: it is sent the chosen values it lacks', () => {
    for (const from of ['x', 'o']) {
      const r = voter(2);
      r.step({ type: 'precheck', from, to: 'a', commitIndex: 1 });
      expect(r.status.droppedMessages).toBe(1);
      expect(sent(r)).toEqual([{ type: 'chosen', from: 'a', to: from, firstSlot: 2, values: [noop], commitIndex: 2 }]);
    }
    // Not lagging: nothing to send.
    const r = voter(2);
    r.step({ type: 'precheck', from: 'x', to: 'a', commitIndex: 2 });
    expect(sent(r)).toEqual([]);
  });
});

describe('Replica drops, what it does not do', () => {
  it('asks nothing of a non-member precheck ahead of it, nor of an accept to an observer', () => {
    const r = voter(0);
    r.step({ type: 'precheck', from: 'x', to: 'a', commitIndex: 5 });
    expect(sent(r)).toEqual([]);
    const o = new Replica({ id: 'o', quorum, observers: ['o'], random: () => 0 });
    o.takeOutput();
    o.step({ type: 'accept', from: 'b', to: 'o', ballot: { round: 2, node: 'b' }, firstSlot: 1, values: [noop], commitIndex: 5 });
    expect(o.status.droppedMessages).toBe(1);
    expect(sent(o)).toEqual([]);
  });

  it('sends an observer that is asked to vote nothing, even when the asker lags', () => {
    const chosen = [1, 2].map((slot) => ({ slot, value: noop }));
    const o = new Replica({
      id: 'o',
      quorum,
      observers: ['o'],
      random: () => 0,
      state: { promised: { round: 0, node: 'o' }, accepted: [], chosen, commitIndex: 2 },
    });
    o.takeOutput();
    o.step({ type: 'precheck', from: 'b', to: 'o', commitIndex: 1 });
    expect(o.status.droppedMessages).toBe(1);
    expect(sent(o)).toEqual([]);
  });

  it('sends a lagging non-member nothing for a heartbeat, and itself nothing for a precheck in its name', () => {
    const r = voter(2);
    r.step({ type: 'heartbeat', from: 'x', to: 'a', ballot: { round: 2, node: 'x' }, commitIndex: 1, seq: 1 });
    expect(sent(r)).toEqual([]);
    r.step({ type: 'precheck', from: 'a', to: 'a', commitIndex: 1 });
    expect(r.status.droppedMessages).toBe(2);
    expect(sent(r)).toEqual([]);
  });

  it('a chosen message naming slots it committed and compacted: nothing of them is written again, and the new ones are', () => {
    const r = voter(10);
    r.applied(10);
    r.compact(8);
    r.takeOutput();
    r.step({ type: 'chosen', from: 'b', to: 'a', firstSlot: 1, values: new Array(12).fill(noop), commitIndex: 12 });
    const out = r.takeOutput();
    expect(out.persist?.chosen.map((e) => e.slot)).toEqual([11, 12]);
    expect(out.committed.map((e) => e.slot)).toEqual([11, 12]);
    expect(r.status.commitIndex).toBe(12);
  });
});
