import { describe, expect, it } from 'vitest';
import { type DurableState, type Message, Replica, majority } from '../../src/core/index.js';
import { ManualCluster } from '../../src/testing/index.js';

// A voter's answers in phase 1 and the precheck, built by hand: whether it grants a
// precheck (not while it hears a leader, not to a candidate behind it), what it promises
// (and when it must send a snapshot instead), and when it campaigns at a leader's word.

const quorum = majority(['a', 'b', 'c']);
const limits = { electionTicksMin: 10, electionTicksMax: 10, heartbeatTicks: 2 };
const noop = { kind: 'noop' } as const;
const b1 = { round: 1, node: 'b' };

function voter(commitIndex = 0, extra: Partial<DurableState> = {}): Replica {
  const chosen = Array.from({ length: commitIndex }, (_, i) => ({ slot: i + 1, value: noop }));
  const r = new Replica({ id: 'a', quorum, random: () => 0, limits, state: { promised: b1, accepted: [], chosen, commitIndex, ...extra } });
  r.takeOutput();
  return r;
}
const only = (r: Replica): Message[] => [...r.takeOutput().messages];

describe('Replica prechecks', () => {
  it('refused while it heard from a leader within electionTicksMin, granted after', () => {
    const r = voter();
    for (let i = 1; i < 10; i++) r.tick();
    r.takeOutput();
    r.step({ type: 'precheck', from: 'c', to: 'a', commitIndex: 0 });
    expect(only(r)).toEqual([{ type: 'precheckReply', from: 'a', to: 'c', granted: false, promised: b1 }]);
    r.tick();
    r.takeOutput();
    r.step({ type: 'precheck', from: 'c', to: 'a', commitIndex: 0 });
    expect(only(r)).toEqual([{ type: 'precheckReply', from: 'a', to: 'c', granted: true, promised: b1 }]);
  });

  it('refused to a candidate whose commit index is behind, which is sent what it lacks', () => {
    const r = voter(2);
    for (let i = 0; i < 10; i++) r.tick();
    r.takeOutput();
    r.step({ type: 'precheck', from: 'c', to: 'a', commitIndex: 1 });
    expect(only(r)).toEqual([
      { type: 'precheckReply', from: 'a', to: 'c', granted: false, promised: b1 },
      { type: 'chosen', from: 'a', to: 'c', firstSlot: 2, values: [noop], commitIndex: 2 },
    ]);
    r.step({ type: 'precheck', from: 'c', to: 'a', commitIndex: 2 });
    expect(only(r)).toEqual([{ type: 'precheckReply', from: 'a', to: 'c', granted: true, promised: b1 }]);
  });

  it('refused by a leader, even after electionTicksMin', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('a');
    c.deliver();
    c.tick(['a'], 12);
    c.take(() => true);
    const a = c.replica('a');
    a.step({ type: 'precheck', from: 'c', to: 'a', commitIndex: 5 });
    expect(a.takeOutput().messages).toEqual([{ type: 'precheckReply', from: 'a', to: 'c', granted: false, promised: a.status.promised }]);
  });
});

describe('Replica prepares', () => {
  it('promises a higher ballot with what it accepted and knows chosen from the first slot asked', () => {
    const accepted = [{ slot: 2, ballot: b1, value: noop }];
    const r = voter(1, { accepted });
    const ballot = { round: 2, node: 'c' };
    r.step({ type: 'prepare', from: 'c', to: 'a', ballot, firstSlot: 1 });
    expect(r.status.promised).toEqual(ballot);
    expect(only(r)).toEqual([{ type: 'promise', from: 'a', to: 'c', ballot, accepted, chosen: [{ slot: 1, value: noop }] }]);
  });

  it('rejects a lower ballot, naming its promise', () => {
    const r = voter(0, { promised: { round: 3, node: 'b' } });
    r.step({ type: 'prepare', from: 'c', to: 'a', ballot: { round: 2, node: 'c' }, firstSlot: 1 });
    expect(only(r)).toEqual([{ type: 'reject', from: 'a', to: 'c', ballot: { round: 2, node: 'c' }, promised: { round: 3, node: 'b' } }]);
  });

  it('asked from a slot it compacted, it sends a snapshot instead of a promise', () => {
    const r = voter(3);
    r.applied(3);
    r.compact(2);
    r.step({ type: 'prepare', from: 'c', to: 'a', ballot: { round: 2, node: 'c' }, firstSlot: 2 });
    const after = r.takeOutput();
    expect(after.messages).toEqual([]);
    expect(after.snapshotsTo).toEqual(['c']);
    expect(r.status.promised).toEqual(b1);
    r.step({ type: 'prepare', from: 'c', to: 'a', ballot: { round: 2, node: 'c' }, firstSlot: 3 });
    expect(only(r).map((m) => m.type)).toEqual(['promise']);
  });
});

describe('Replica timeoutNow', () => {
  it('campaigns at once when its leader tells it to, skipping the precheck', () => {
    const r = voter(0, { promised: { round: 2, node: 'b' } });
    const ballot = { round: 2, node: 'b' };
    r.step({ type: 'heartbeat', from: 'b', to: 'a', ballot, commitIndex: 0, seq: 1 });
    r.takeOutput();
    r.step({ type: 'timeoutNow', from: 'b', to: 'a', ballot });
    expect(r.role).toBe('candidate');
    expect(r.status.promised).toEqual({ round: 3, node: 'a' });
    expect(
      only(r)
        .map((m) => `${m.type}>${m.to}`)
        .sort(),
    ).toEqual(['prepare>b', 'prepare>c']);
  });

  it("outbids its leader's ballot even when it never promised it (not in the leader's phase-1 quorum)", () => {
    // b leads with c's promise alone; a only heard b's heartbeats and holds a lower
    // promise. Told to campaign, a must pick a round above b's, or b and c reject it and
    // the transfer fails until it times out.
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('b', ['b', 'c']);
    c.take(() => true);
    c.tick(['b'], 2);
    c.deliver();
    const leaderBallot = c.status('b').promised;
    expect(c.status('a').promised.round).toBeLessThan(leaderBallot.round + 1);
    expect(c.replica('b').transferLeadership('a')).toEqual({ ok: true });
    c.tick(['b']);
    c.deliver();
    expect(c.status('a').role).toBe('leader');
    expect(c.status('a').promised.round).toBe(leaderBallot.round + 1);
  });

  it('ignores it from a leader it does not follow, or of another ballot', () => {
    const r = voter();
    r.step({ type: 'timeoutNow', from: 'b', to: 'a', ballot: { round: 2, node: 'b' } });
    expect(r.role).toBe('follower');
    r.step({ type: 'heartbeat', from: 'b', to: 'a', ballot: { round: 2, node: 'b' }, commitIndex: 0, seq: 1 });
    r.step({ type: 'timeoutNow', from: 'c', to: 'a', ballot: { round: 2, node: 'c' } });
    expect(r.role).toBe('follower');
  });
});

describe('Replica candidacies', () => {
  /** Voter a campaigning for ballot round 2 after b granted its precheck; its prepare is taken. */
  function candidate(commitIndex = 0): { r: Replica; ballot: { round: number; node: string } } {
    const r = voter(commitIndex);
    for (let i = 0; i < 10; i++) r.tick();
    r.takeOutput();
    r.step({ type: 'precheckReply', from: 'b', to: 'a', granted: true, promised: b1 });
    const prepare = r.takeOutput().messages.find((m) => m.type === 'prepare');
    if (prepare?.type !== 'prepare') throw new Error('a did not campaign');
    return { r, ballot: prepare.ballot };
  }

  it('learns, and persists, what a promise says is chosen beyond its own commit index, and only that', () => {
    const { r, ballot } = candidate(1);
    // From the prepare's first slot, 2, on.
    const chosen = [2, 3].map((slot) => ({ slot, value: noop }));
    r.step({ type: 'promise', from: 'b', to: 'a', ballot, accepted: [], chosen });
    const out = r.takeOutput();
    expect(out.persist?.chosen).toEqual(chosen);
    expect(out.persist?.commitIndex).toBe(3);
    expect(r.status.commitIndex).toBe(3);
    // The same again from c: nothing new to learn or write.
    r.step({ type: 'promise', from: 'c', to: 'a', ballot, accepted: [], chosen });
    expect(r.takeOutput().persist?.chosen ?? []).toEqual([]);
    expect(r.status.commitIndex).toBe(3);
  });

  it('writes nothing for slots a later promise reports chosen that it committed and compacted meanwhile', () => {
    const { r, ballot } = candidate(1);
    const chosen = [2, 3].map((slot) => ({ slot, value: noop }));
    r.step({ type: 'promise', from: 'b', to: 'a', ballot, accepted: [], chosen });
    expect(r.takeOutput().committed.map((e) => e.slot)).toEqual([2, 3]);
    r.applied(3);
    r.compact(3);
    r.step({ type: 'promise', from: 'c', to: 'a', ballot, accepted: [], chosen });
    expect(r.takeOutput().persist?.chosen ?? []).toEqual([]);
    expect(r.status.commitIndex).toBe(3);
  });
});

describe('Replica prechecks, at the edges', () => {
  /** `a`, demoted to observer of {b, c, d} after it voted once (its promise to b is on record). */
  function demotedVoter(): Replica {
    const r = new Replica({
      id: 'a',
      quorum: majority(['b', 'c', 'd']),
      observers: ['a'],
      random: () => 0,
      limits,
      state: { promised: b1, accepted: [], chosen: [], commitIndex: 0 },
    });
    r.takeOutput();
    return r;
  }

  it('a demoted voter (it voted once) answers a precheck, and asks a voter ahead of it for what it lacks', () => {
    // An observer that never voted drops prechecks; one that voted still answers. A
    // voter asking with a higher commit index learned a configuration this node lacks.
    const r = demotedVoter();
    expect(r.role).toBe('observer');
    r.step({ type: 'precheck', from: 'b', to: 'a', commitIndex: 3 });
    expect(only(r)).toEqual([
      { type: 'precheckReply', from: 'a', to: 'b', granted: false, promised: b1 },
      { type: 'catchUp', from: 'a', to: 'b', firstSlot: 1, lastSlot: 3 },
    ]);
  });

  it('a voter not ahead of it gets the answer alone', () => {
    const r = demotedVoter();
    r.step({ type: 'precheck', from: 'b', to: 'a', commitIndex: 0 });
    expect(only(r).map((m) => m.type)).toEqual(['precheckReply']);
  });

  it('to a candidate behind what it compacted, it sends the snapshot', () => {
    const r = voter(3);
    r.applied(3);
    r.compact(2);
    r.step({ type: 'precheck', from: 'c', to: 'a', commitIndex: 1 });
    const out = r.takeOutput();
    expect(out.messages).toEqual([{ type: 'precheckReply', from: 'a', to: 'c', granted: false, promised: b1 }]);
    expect(out.snapshotsTo).toEqual(['c']);
  });

  it('to a removed member whose precheck carries no commit index, it sends nothing at all', () => {
    // d campaigns in a configuration that is gone: it is sent what it lacks, but only
    // if its message says what that is (a malformed one is only dropped, rule 7).
    const r = voter(3);
    r.applied(3);
    r.compact(3);
    r.step({ type: 'precheck', from: 'd', to: 'a', commitIndex: -1 } as Message);
    const out = r.takeOutput();
    expect(r.status.droppedMessages).toBe(1);
    expect(out.messages).toEqual([]);
    expect(out.snapshotsTo).toEqual([]);
    r.step({ type: 'precheck', from: 'd', to: 'a', commitIndex: 1 });
    expect(r.takeOutput().snapshotsTo).toEqual(['d']);
  });

  it('an answer reaching an observer is dropped, whatever it grants', () => {
    const r = demotedVoter();
    expect(() => r.step({ type: 'precheckReply', from: 'b', to: 'a', granted: true, promised: b1 })).not.toThrow();
    expect(r.role).toBe('observer');
    expect(r.takeOutput().messages).toEqual([]);
  });
});

describe('Replica ballots seen', () => {
  /** `r` times out and b grants its precheck: the round of the prepare it then sends. */
  function nextRound(r: Replica): number {
    for (let i = 0; i < 10; i++) r.tick();
    r.takeOutput();
    r.step({ type: 'precheckReply', from: 'b', to: 'a', granted: true, promised: b1 });
    const prepare = r.takeOutput().messages.find((m) => m.type === 'prepare');
    if (prepare?.type !== 'prepare') throw new Error('a did not campaign');
    return prepare.ballot.round;
  }

  it('a prepare answered with a snapshot instead of a promise still raises the round it campaigns in', () => {
    const r = voter(3);
    r.applied(3);
    r.compact(2);
    r.step({ type: 'prepare', from: 'c', to: 'a', ballot: { round: 7, node: 'c' }, firstSlot: 1 });
    expect(r.takeOutput().snapshotsTo).toEqual(['c']);
    expect(r.status.promised).toEqual(b1);
    expect(nextRound(r)).toBe(8);
  });

  it('a reject it ignores (it campaigns no more) still raises the round it campaigns in', () => {
    const r = voter();
    r.step({ type: 'reject', from: 'c', to: 'a', ballot: { round: 1, node: 'a' }, promised: { round: 5, node: 'c' } });
    expect(r.role).toBe('follower');
    expect(nextRound(r)).toBe(6);
  });

  it('a follower that promises a candidate names the leader it heard until another one speaks', () => {
    const r = voter();
    r.step({ type: 'heartbeat', from: 'b', to: 'a', ballot: b1, commitIndex: 0, seq: 1 });
    r.takeOutput();
    r.step({ type: 'prepare', from: 'c', to: 'a', ballot: { round: 2, node: 'c' }, firstSlot: 1 });
    expect(only(r).map((m) => m.type)).toEqual(['promise']);
    expect(r.role).toBe('follower');
    expect(r.status.leader).toBe('b');
  });
});

describe('Replica candidacies: which answers count, and what a win starts from', () => {
  /** Voter a campaigning in round 2, its own promise durable: one more promise elects it. */
  function candidate(commitIndex = 0): { r: Replica; ballot: { round: number; node: string } } {
    const r = voter(commitIndex);
    for (let i = 0; i < 10; i++) r.tick();
    r.takeOutput();
    r.step({ type: 'precheckReply', from: 'b', to: 'a', granted: true, promised: b1 });
    const out = r.takeOutput();
    r.persisted(out.persistSeq);
    const prepare = out.messages.find((m) => m.type === 'prepare');
    if (prepare?.type !== 'prepare') throw new Error('a did not campaign');
    expect(r.role).toBe('candidate');
    return { r, ballot: prepare.ballot };
  }

  it('a promise for an earlier ballot of its own', () => {
    const { r, ballot } = candidate();
    r.step({ type: 'promise', from: 'b', to: 'a', ballot: { round: ballot.round - 1, node: 'a' }, accepted: [], chosen: [] });
    expect(r.role).toBe('candidate');
    r.step({ type: 'promise', from: 'b', to: 'a', ballot, accepted: [], chosen: [] });
    expect(r.role).toBe('leader');
  });

  it('a reject for an earlier ballot of its own, or naming no higher promise', () => {
    const { r, ballot } = candidate();
    r.step({ type: 'reject', from: 'b', to: 'a', ballot: { round: ballot.round - 1, node: 'a' }, promised: { round: ballot.round + 1, node: 'c' } });
    expect(r.role).toBe('candidate');
    // Only a buggy or hostile acceptor refuses a ballot naming that very ballot.
    r.step({ type: 'reject', from: 'b', to: 'a', ballot, promised: ballot });
    expect(r.role).toBe('candidate');
    r.step({ type: 'reject', from: 'b', to: 'a', ballot, promised: { round: ballot.round + 1, node: 'c' } });
    expect(r.role).toBe('follower');
    expect(r.status.leader).toBe('c');
  });

  it('refused in favour of a higher ballot of its own, it names no leader: not itself', () => {
    // A prepare it sent before its disk was wiped, delivered late: the acceptor promised
    // that ballot, above the one this node leads or campaigns in since it rejoined.
    const { r, ballot } = candidate();
    r.step({ type: 'reject', from: 'b', to: 'a', ballot, promised: { round: ballot.round + 3, node: 'a' } });
    expect(r.role).toBe('follower');
    expect(r.status.leader).toBeUndefined();
  });

  it('a promise that completes its quorum and reports slots chosen beyond its commit index: it leads at once, from the slot after them', () => {
    const { r, ballot } = candidate(1);
    const chosen = [2, 3].map((slot) => ({ slot, value: noop }));
    r.step({ type: 'promise', from: 'b', to: 'a', ballot, accepted: [], chosen });
    expect(r.role).toBe('leader');
    expect(r.status.commitIndex).toBe(3);
    // Slots 2 and 3 are chosen: proposing them again is no leader's business.
    expect(r.takeOutput().messages.map((m) => m.type)).toEqual(['heartbeat', 'heartbeat']);
    expect(r.propose([new Uint8Array([1])])).toEqual({ ok: true });
    const accepts = r.takeOutput().messages.filter((m) => m.type === 'accept');
    expect(accepts.map((m) => m.type === 'accept' && m.firstSlot)).toEqual([4, 4]);
  });
});
