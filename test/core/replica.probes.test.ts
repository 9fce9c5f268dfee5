import { describe, expect, it } from 'vitest';
import { type Ballot, type DurableState, type Message, Replica, majority } from '../../src/core/index.js';
import { ManualCluster } from '../../src/testing/index.js';

// The answers a voter gives, built by hand: to a rejoining voter's probe (what it holds
// above its commit index, and the fence it must now honour), the chosen values a promise
// carries (bounded by messageBytesMax), and what a `chosen` message teaches it.

const quorum = majority(['a', 'b', 'c']);
const b1 = { round: 1, node: 'b' };
const noop = { kind: 'noop' } as const;
const batch = (...bytes: number[]) => ({ kind: 'batch' as const, commands: [new Uint8Array(bytes)] });

/** Voter a: promised 1.b, accepted slots 1..4 in it, slots 1..2 committed. */
function holder(limits = {}): Replica {
  const accepted = [1, 2, 3, 4].map((slot) => ({ slot, ballot: b1, value: batch(slot) }));
  const state: DurableState = { promised: b1, accepted, chosen: [], commitIndex: 2 };
  const r = new Replica({ id: 'a', quorum, random: () => 0, state, limits });
  r.takeOutput();
  return r;
}
const only = (r: Replica): Message[] => [...r.takeOutput().messages];

/** Voter a holding only `promised` answers c's probe with `fence`: it keeps its promise (nothing to persist) and says so. */
function expectKept(promised: Ballot, fence: Ballot): void {
  const r = new Replica({ id: 'a', quorum, random: () => 0, state: { promised, accepted: [], chosen: [], commitIndex: 0 } });
  r.takeOutput();
  r.step({ type: 'probe', from: 'c', to: 'a', fence });
  expect(r.status.promised).toEqual(promised);
  const out = r.takeOutput();
  expect(out.persist).toBeUndefined();
  expect(out.messages).toEqual([{ type: 'probeReply', from: 'a', to: 'c', fence, promised, commitIndex: 0, accepted: [] }]);
}

describe('Replica answers a probe', () => {
  it('with its promise, its commit index and what it accepted above it', () => {
    const r = holder();
    r.step({ type: 'probe', from: 'c', to: 'a', fence: { round: 0, node: '' } });
    expect(only(r)).toEqual([
      {
        type: 'probeReply',
        from: 'a',
        to: 'c',
        fence: { round: 0, node: '' },
        promised: b1,
        commitIndex: 2,
        accepted: [
          { slot: 3, ballot: b1, value: batch(3) },
          { slot: 4, ballot: b1, value: batch(4) },
        ],
      },
    ]);
  });

  it('above what it compacted too', () => {
    const r = holder();
    r.step({ type: 'commit', from: 'b', to: 'a', ballot: b1, commitIndex: 3 });
    const out = r.takeOutput();
    r.persisted(out.persistSeq);
    r.applied(3);
    r.compact(3);
    r.step({ type: 'probe', from: 'c', to: 'a', fence: { round: 0, node: '' } });
    const reply = only(r)[0];
    expect(reply?.type === 'probeReply' && reply.accepted.map((e) => e.slot)).toEqual([4]);
  });

  it('takes a fence above its promise as its promise, and then answers with it', () => {
    const r = holder();
    const fence = { round: 5, node: 'c' };
    r.step({ type: 'probe', from: 'c', to: 'a', fence });
    expect(r.status.promised).toEqual(fence);
    const out = r.takeOutput();
    expect(out.persist?.promised).toEqual(fence);
    expect(out.messages).toMatchObject([{ type: 'probeReply', to: 'c', fence, promised: fence }]);
  });

  it("a fence of its promise's round from a higher node is above it too", () => {
    const r = holder();
    r.step({ type: 'probe', from: 'c', to: 'a', fence: { round: 1, node: 'c' } });
    expect(r.status.promised).toEqual({ round: 1, node: 'c' });
  });

  it('takes no promise from a first-round probe (a fence of round 0), whatever node it names', () => {
    // A voter that joined holds the joined mark, a promise of round 0; a round-0 fence
    // naming a higher node compares above it, but only a fenced round may bind.
    expectKept({ round: 0, node: 'a' }, { round: 0, node: 'c' });
  });

  it('a leader fenced off by a probe above its ballot steps down', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('a');
    c.deliver();
    const round = c.status('a').promised.round;
    c.replica('a').step({ type: 'probe', from: 'c', to: 'a', fence: { round: round + 1, node: 'c' } });
    expect(c.status('a').role).toBe('follower');
    expect(c.status('a').promised).toEqual({ round: round + 1, node: 'c' });
  });

  it('keeps its promise over a lower fence, and ignores a fence its sender does not own', () => {
    expectKept({ round: 3, node: 'b' }, { round: 2, node: 'c' });
    const s = holder();
    s.step({ type: 'probe', from: 'c', to: 'a', fence: { round: 7, node: 'a' } }); // not c's ballot
    expect(s.takeOutput().messages).toEqual([]);
    expect(s.status.promised).toEqual(b1);
  });

  it('with only the slots it accepted: a gap above its commit index is left out', () => {
    const accepted = [1, 2, 3, 5].map((slot) => ({ slot, ballot: b1, value: batch(slot) }));
    const r = new Replica({ id: 'a', quorum, random: () => 0, state: { promised: b1, accepted, chosen: [], commitIndex: 2 } });
    r.takeOutput();
    r.step({ type: 'probe', from: 'c', to: 'a', fence: { round: 0, node: '' } });
    const reply = only(r)[0];
    expect(reply?.type === 'probeReply' && reply.accepted.map((e) => e.slot)).toEqual([3, 5]);
  });

  it('a leader keeps leading over a fence below its ballot', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('c');
    c.deliver();
    const { round } = c.status('c').promised;
    c.replica('c').step({ type: 'probe', from: 'a', to: 'c', fence: { round, node: 'a' } });
    expect(c.status('c').role).toBe('leader');
    expect(c.status('c').promised).toEqual({ round, node: 'c' });
  });

  it('a follower fenced off keeps the leader it follows', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('c');
    c.deliver();
    const { round } = c.status('b').promised;
    c.replica('b').step({ type: 'probe', from: 'a', to: 'b', fence: { round: round + 1, node: 'a' } });
    expect(c.status('b').promised).toEqual({ round: round + 1, node: 'a' });
    expect(c.status('b').leader).toBe('c');
  });

  it('a rejoining voter answers a fence above its promise, but takes no promise', () => {
    const r = new Replica({ id: 'a', quorum, random: () => 0, state: { promised: { round: 0, node: '' }, accepted: [], chosen: [], commitIndex: 0 } });
    r.takeOutput();
    expect(r.status.rejoining).toBe('probing');
    const fence = { round: 5, node: 'c' };
    r.step({ type: 'probe', from: 'c', to: 'a', fence });
    expect(r.status.promised).toEqual({ round: 0, node: '' });
    const out = r.takeOutput();
    expect(out.persist).toBeUndefined();
    expect(out.messages).toMatchObject([{ type: 'probeReply', to: 'c', fence, promised: { round: 0, node: '' } }]);
  });
});

describe('Replica started as never having voted (neverVoted)', () => {
  const empty: DurableState = { promised: { round: 0, node: '' }, accepted: [], chosen: [], commitIndex: 0 };

  it('records that it joined, in its first output, and grants a promise without probing anyone', () => {
    const r = new Replica({ id: 'a', quorum, random: () => 0, state: empty, neverVoted: true });
    expect(r.status.rejoining).toBeUndefined();
    const out = r.takeOutput();
    expect(out.persist?.promised).toEqual({ round: 0, node: 'a' });
    expect(out.messages.filter((m) => m.type === 'probe')).toEqual([]);
    r.persisted(out.persistSeq);
    r.step({ type: 'prepare', from: 'b', to: 'a', ballot: b1, firstSlot: 1 });
    expect(only(r)).toMatchObject([{ type: 'promise', to: 'b', ballot: b1 }]);
  });

  it('is the amnesia guard without it: the same voter probes every other voter and promises nothing', () => {
    const r = new Replica({ id: 'a', quorum, random: () => 0, state: empty });
    expect(r.status.rejoining).toBe('probing');
    expect(only(r).map((m) => [m.type, m.to])).toEqual([
      ['probe', 'b'],
      ['probe', 'c'],
    ]);
    r.step({ type: 'prepare', from: 'b', to: 'a', ballot: b1, firstSlot: 1 });
    expect(only(r).filter((m) => m.type === 'promise')).toEqual([]);
  });

  it('changes nothing for a voter with a promise on record', () => {
    const r = new Replica({ id: 'a', quorum, random: () => 0, state: { ...empty, promised: b1 }, neverVoted: true });
    expect(r.status.promised).toEqual(b1);
    expect(r.takeOutput().persist).toBeUndefined();
  });
});

describe('Replica remembers the highest round it heard of', () => {
  /** The round of the ballot `r` campaigns with, once its prechecks are granted. */
  function campaignRound(r: Replica): number | undefined {
    for (let i = 0; i < 30; i++) {
      r.tick();
      for (const m of r.takeOutput().messages) {
        if (m.type === 'prepare') return m.ballot.round;
        if (m.type === 'precheck') r.step({ type: 'precheckReply', from: m.to, to: 'a', granted: true, promised: b1 });
      }
    }
    return undefined;
  }
  /** Voter a, promised 1.b, that heard of round 9 in a refused precheck. */
  function heardOf9(): Replica {
    const r = new Replica({ id: 'a', quorum, random: () => 0, state: { promised: b1, accepted: [], chosen: [], commitIndex: 0 } });
    r.takeOutput();
    r.step({ type: 'precheckReply', from: 'c', to: 'a', granted: false, promised: { round: 9, node: 'c' } });
    return r;
  }

  it('past a probe with a lower fence', () => {
    const r = heardOf9();
    r.step({ type: 'probe', from: 'c', to: 'a', fence: { round: 2, node: 'c' } });
    expect(r.status.promised).toEqual({ round: 2, node: 'c' });
    expect(campaignRound(r)).toBe(10);
  });

  it('past a probe reply with a lower promise', () => {
    const r = heardOf9();
    r.step({ type: 'probeReply', from: 'c', to: 'a', fence: { round: 0, node: '' }, promised: b1, commitIndex: 0, accepted: [] });
    expect(campaignRound(r)).toBe(10);
  });
});

describe('Replica promises', () => {
  it('carry the chosen values from the first slot asked, up to messageBytesMax, and always one', () => {
    const chosen = [1, 2, 3, 4].map((slot) => ({ slot, value: batch(slot, slot, slot) }));
    const state: DurableState = { promised: b1, accepted: [], chosen, commitIndex: 4 };
    const r = new Replica({ id: 'a', quorum, random: () => 0, state, limits: { batchBytesMax: 6, messageBytesMax: 6 } });
    r.takeOutput();
    r.step({ type: 'prepare', from: 'b', to: 'a', ballot: { round: 2, node: 'b' }, firstSlot: 2 });
    const promise = only(r).find((m) => m.type === 'promise');
    expect(promise?.type === 'promise' && promise.chosen.map((e) => e.slot)).toEqual([2, 3]);
    const big = new Replica({
      id: 'a',
      quorum,
      random: () => 0,
      state: {
        promised: b1,
        accepted: [],
        chosen: [
          { slot: 1, value: batch(1, 2, 3, 4, 5, 6, 7) },
          { slot: 2, value: noop },
        ],
        commitIndex: 2,
      },
      limits: { batchBytesMax: 6, messageBytesMax: 6 },
    });
    big.takeOutput();
    big.step({ type: 'prepare', from: 'b', to: 'a', ballot: { round: 2, node: 'b' }, firstSlot: 1 });
    const p = only(big).find((m) => m.type === 'promise');
    expect(p?.type === 'promise' && p.chosen.map((e) => e.slot)).toEqual([1]);
  });
});

describe('Replica learns from a chosen message', () => {
  it('the values it carries, and asks its sender for the rest when it follows no leader', () => {
    const r = new Replica({ id: 'a', quorum, random: () => 0, state: { promised: b1, accepted: [], chosen: [], commitIndex: 0 } });
    r.takeOutput();
    r.step({ type: 'chosen', from: 'x', to: 'a', firstSlot: 1, values: [noop, batch(1)], commitIndex: 5 });
    const out = r.takeOutput();
    expect(r.status.commitIndex).toBe(2);
    expect(out.persist?.chosen).toEqual([
      { slot: 1, value: noop },
      { slot: 2, value: batch(1) },
    ]);
    expect(out.messages).toEqual([{ type: 'catchUp', from: 'a', to: 'x', firstSlot: 3, lastSlot: 5 }]);
    // All of it: nothing more to ask.
    const s = new Replica({ id: 'a', quorum, random: () => 0, state: { promised: b1, accepted: [], chosen: [], commitIndex: 0 } });
    s.takeOutput();
    s.step({ type: 'chosen', from: 'x', to: 'a', firstSlot: 1, values: [noop], commitIndex: 1 });
    expect(s.takeOutput().messages).toEqual([]);
  });

  it('following a leader, it asks the leader for what the leader announced', () => {
    const r = new Replica({ id: 'a', quorum, random: () => 0, state: { promised: b1, accepted: [], chosen: [], commitIndex: 0 } });
    r.takeOutput();
    r.step({ type: 'heartbeat', from: 'b', to: 'a', ballot: { round: 2, node: 'b' }, commitIndex: 4, seq: 1 });
    expect(r.takeOutput().messages).toContainEqual({ type: 'catchUp', from: 'a', to: 'b', firstSlot: 1, lastSlot: 4 });
    r.step({ type: 'chosen', from: 'b', to: 'a', firstSlot: 1, values: [noop, noop], commitIndex: 4 });
    expect(r.status.commitIndex).toBe(2);
    expect(r.takeOutput().messages).toEqual([{ type: 'catchUp', from: 'a', to: 'b', firstSlot: 3, lastSlot: 4 }]);
  });

  it('the commit index only of the leader it follows: an older leader announcing more is not asked for', () => {
    const r = new Replica({ id: 'a', quorum, random: () => 0, state: { promised: { round: 0, node: '' }, accepted: [], chosen: [], commitIndex: 0 } });
    r.takeOutput(); // rejoining: it learns from any leader's accept
    r.step({ type: 'heartbeat', from: 'c', to: 'a', ballot: { round: 2, node: 'c' }, commitIndex: 3, seq: 1 });
    expect(r.takeOutput().messages).toEqual([{ type: 'catchUp', from: 'a', to: 'c', firstSlot: 1, lastSlot: 3 }]);
    r.step({ type: 'accept', from: 'b', to: 'a', ballot: b1, firstSlot: 1, values: [noop], commitIndex: 5 });
    r.step({ type: 'chosen', from: 'c', to: 'a', firstSlot: 1, values: [noop, noop, noop], commitIndex: 3 });
    expect(r.status.commitIndex).toBe(3);
    expect(r.takeOutput().messages).toEqual([]);
  });
});
