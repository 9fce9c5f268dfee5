import { describe, expect, it } from 'vitest';
import { type DurableState, type Message, Replica, majority } from '../../src/core/index.js';

// One voter's election tick by tick, driven by hand: when it prechecks, when it
// campaigns, whom it asks again and when, when it gives up, and when it becomes leader.

const quorum = majority(['a', 'b', 'c']);
const state: DurableState = { promised: { round: 1, node: 'b' }, accepted: [], chosen: [], commitIndex: 0 };
const limits = { electionTicksMin: 10, electionTicksMax: 10, heartbeatTicks: 2 };

/** Voter a (a promise on record), its output taken and made durable at once. */
function voter(): { r: Replica; drain: () => Message[] } {
  const r = new Replica({ id: 'a', quorum, random: () => 0, state, limits });
  const drain = (): Message[] => {
    const out = r.takeOutput();
    if (out.persist !== undefined) r.persisted(out.persistSeq);
    return [...out.messages];
  };
  drain();
  return { r, drain };
}
const sent = (messages: Message[]): string[] => messages.map((m) => `${m.type}>${m.to}`).sort();

describe('Replica election', () => {
  it('prechecks after the election timeout, then campaigns in the round after every one it saw', () => {
    const { r, drain } = voter();
    for (let i = 1; i < 10; i++) {
      r.tick();
      expect(drain()).toEqual([]);
    }
    r.tick();
    expect(drain()).toEqual([
      { type: 'precheck', from: 'a', to: 'b', commitIndex: 0 },
      { type: 'precheck', from: 'a', to: 'c', commitIndex: 0 },
    ]);
    expect(r.role).toBe('follower');
    // A reply names a round above its own promise: the candidacy outbids it.
    r.step({ type: 'precheckReply', from: 'c', to: 'a', granted: false, promised: { round: 7, node: 'c' } });
    expect(r.role).toBe('follower');
    r.step({ type: 'precheckReply', from: 'b', to: 'a', granted: true, promised: { round: 1, node: 'b' } });
    expect(r.role).toBe('candidate');
    expect(r.status.promised).toEqual({ round: 8, node: 'a' });
    expect(r.status.leader).toBeUndefined();
    expect(drain()).toEqual([
      { type: 'prepare', from: 'a', to: 'b', ballot: { round: 8, node: 'a' }, firstSlot: 1 },
      { type: 'prepare', from: 'a', to: 'c', ballot: { round: 8, node: 'a' }, firstSlot: 1 },
    ]);
  });

  it('a precheck refused by a quorum does not campaign', () => {
    const { r, drain } = voter();
    for (let i = 0; i < 10; i++) r.tick();
    drain();
    r.step({ type: 'precheckReply', from: 'b', to: 'a', granted: false, promised: { round: 1, node: 'b' } });
    r.step({ type: 'precheckReply', from: 'c', to: 'a', granted: false, promised: { round: 1, node: 'b' } });
    expect(r.role).toBe('follower');
    expect(drain()).toEqual([]);
  });

  it('a candidate asks again, every heartbeatTicks, only the voters that have not answered; it wins with a quorum', () => {
    const { r, drain } = voter();
    for (let i = 0; i < 10; i++) r.tick();
    drain();
    r.step({ type: 'precheckReply', from: 'b', to: 'a', granted: true, promised: { round: 1, node: 'b' } });
    drain();
    const ballot = r.status.promised;
    r.tick();
    expect(drain()).toEqual([]);
    r.tick();
    expect(sent(drain())).toEqual(['prepare>b', 'prepare>c']);
    r.step({ type: 'reject', from: 'c', to: 'a', ballot, promised: { round: 1, node: 'b' } }); // an older promise: not a refusal
    expect(r.role).toBe('candidate');
    r.tick();
    r.tick();
    expect(sent(drain())).toEqual(['prepare>b', 'prepare>c']);
    r.step({ type: 'promise', from: 'b', to: 'a', ballot, accepted: [], chosen: [] });
    expect(r.role).toBe('leader');
    expect(r.status.leader).toBe('a');
    expect(sent(drain())).toEqual(['heartbeat>b', 'heartbeat>c']);
  });

  it('a candidate that hears one promise still asks the others', () => {
    const r5 = new Replica({ id: 'a', quorum: majority(['a', 'b', 'c', 'd', 'e']), random: () => 0, state, limits });
    r5.takeOutput();
    for (let i = 0; i < 10; i++) r5.tick();
    r5.takeOutput();
    r5.step({ type: 'precheckReply', from: 'b', to: 'a', granted: true, promised: { round: 1, node: 'b' } });
    r5.step({ type: 'precheckReply', from: 'c', to: 'a', granted: true, promised: { round: 1, node: 'b' } });
    const out = r5.takeOutput();
    r5.persisted(out.persistSeq);
    const ballot = r5.status.promised;
    r5.step({ type: 'promise', from: 'b', to: 'a', ballot, accepted: [], chosen: [] });
    expect(r5.role).toBe('candidate');
    r5.tick();
    r5.tick();
    expect(sent([...r5.takeOutput().messages])).toEqual(['prepare>c', 'prepare>d', 'prepare>e']);
  });

  it('a candidate that hears no quorum before the timeout prechecks again, as a follower', () => {
    const { r, drain } = voter();
    for (let i = 0; i < 10; i++) r.tick();
    drain();
    r.step({ type: 'precheckReply', from: 'b', to: 'a', granted: true, promised: { round: 1, node: 'b' } });
    drain();
    for (let i = 1; i < 10; i++) r.tick();
    expect(r.role).toBe('candidate');
    drain();
    r.tick();
    expect(r.role).toBe('follower');
    expect(sent(drain())).toEqual(['precheck>b', 'precheck>c']);
  });

  it('a candidate rejected by a higher promise steps down and names its holder', () => {
    const { r, drain } = voter();
    for (let i = 0; i < 10; i++) r.tick();
    drain();
    r.step({ type: 'precheckReply', from: 'b', to: 'a', granted: true, promised: { round: 1, node: 'b' } });
    drain();
    const ballot = r.status.promised;
    r.step({ type: 'reject', from: 'c', to: 'a', ballot, promised: { round: ballot.round, node: 'c' } });
    expect(r.role).toBe('follower');
    expect(r.status.leader).toBe('c');
  });
});

describe('Replica leadership ticks', () => {
  /** Voter a elected by b's promise; its output drained. */
  function leader(): { r: Replica; drain: () => Message[] } {
    const v = voter();
    for (let i = 0; i < 10; i++) v.r.tick();
    v.drain();
    v.r.step({ type: 'precheckReply', from: 'b', to: 'a', granted: true, promised: { round: 1, node: 'b' } });
    v.drain();
    v.r.step({ type: 'promise', from: 'b', to: 'a', ballot: v.r.status.promised, accepted: [], chosen: [] });
    expect(v.r.role).toBe('leader');
    v.drain();
    return v;
  }

  it('heartbeats every heartbeatTicks, each round with the next seq and the commit index', () => {
    const { r, drain } = leader();
    const ballot = r.status.promised;
    r.tick();
    expect(drain()).toEqual([]);
    r.tick();
    expect(drain()).toEqual([
      { type: 'heartbeat', from: 'a', to: 'b', ballot, commitIndex: 0, seq: 2 },
      { type: 'heartbeat', from: 'a', to: 'c', ballot, commitIndex: 0, seq: 2 },
    ]);
    r.tick();
    r.tick();
    expect(drain().map((m) => (m.type === 'heartbeat' ? m.seq : -1))).toEqual([3, 3]);
  });

  it('steps down after electionTicksMin ticks without a quorum answering, not while one does', () => {
    const kept = leader();
    const ballot = kept.r.status.promised;
    for (let i = 0; i < 30; i++) {
      kept.r.tick();
      kept.drain();
      kept.r.step({ type: 'heartbeatReply', from: 'b', to: 'a', ballot, commitIndex: 0, seq: 1 });
    }
    expect(kept.r.role).toBe('leader');
    const { r, drain } = leader();
    for (let i = 1; i < 10; i++) r.tick();
    expect(r.role).toBe('leader');
    r.tick();
    expect(r.role).toBe('follower');
    expect(r.status.leader).toBeUndefined();
    drain();
  });

  it('gives a transfer up after electionTicksMax ticks', () => {
    const { r, drain } = leader();
    const ballot = r.status.promised;
    expect(r.transferLeadership('c')).toEqual({ ok: true });
    for (let i = 1; i < 10; i++) {
      r.tick();
      drain();
      r.step({ type: 'heartbeatReply', from: 'b', to: 'a', ballot, commitIndex: 0, seq: 1 });
    }
    expect(r.status.transferTarget).toBe('c');
    r.tick();
    expect(r.status.transferTarget).toBeUndefined();
    expect(r.role).toBe('leader');
  });
});

describe('Replica rejoin ticks', () => {
  it('a voter with no promise on record asks again, every heartbeatTicks, only the voters that have not answered, and never campaigns meanwhile', () => {
    const r = new Replica({ id: 'a', quorum, random: () => 0, limits });
    const first = r.takeOutput().messages;
    expect(sent([...first])).toEqual(['probe>b', 'probe>c']);
    const fence = first[0]!.type === 'probe' ? first[0]!.fence : undefined;
    r.step({ type: 'probeReply', from: 'b', to: 'a', fence: fence!, promised: { round: 1, node: 'b' }, commitIndex: 0, accepted: [] });
    r.takeOutput();
    r.tick();
    expect(r.takeOutput().messages).toEqual([]);
    r.tick();
    expect(sent([...r.takeOutput().messages])).toEqual(['probe>c']);
    r.tick();
    expect(r.takeOutput().messages).toEqual([]);
    for (let i = 0; i < 30; i++) r.tick();
    expect(r.role).toBe('follower');
    expect(r.status.rejoining).toBe('probing');
    expect(sent([...r.takeOutput().messages]).every((m) => m === 'probe>c')).toBe(true);
  });
});
