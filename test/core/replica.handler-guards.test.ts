import { describe, expect, it } from 'vitest';
import { type Message, Replica, majority } from '../../src/core/index.js';

// Each handler starts with a guard for what the protocol says to ignore in this node's
// state (an answer to a ballot it no longer holds, a probe reply when it does not
// rejoin, ...), then asserts its preconditions. A message a handler's guard ignores is
// well-formed, so it is not counted as dropped (the input guard counts those), and it
// changes nothing: no state, no output.
const quorum = majority(['a', 'b', 'c']);
const promised = { round: 3, node: 'b' };

/** A follower of a running cluster that promised `b`'s ballot 3, its output drained. */
function follower(): Replica {
  const r = new Replica({ id: 'a', quorum, random: () => 0, state: { promised, accepted: [], chosen: [], commitIndex: 0 } });
  r.takeOutput();
  return r;
}

const ignored: ReadonlyArray<readonly [string, Message]> = [
  ['a promise while neither campaigning nor leading', { type: 'promise', from: 'b', to: 'a', ballot: { round: 4, node: 'a' }, accepted: [], chosen: [] }],
  ['an accepted while not leading', { type: 'accepted', from: 'b', to: 'a', ballot: { round: 4, node: 'a' }, firstSlot: 1, count: 1 }],
  [
    'a reject while neither campaigning nor leading',
    { type: 'reject', from: 'b', to: 'a', ballot: { round: 4, node: 'a' }, promised: { round: 5, node: 'c' } },
  ],
  ['a heartbeat reply while not leading', { type: 'heartbeatReply', from: 'b', to: 'a', ballot: { round: 4, node: 'a' }, commitIndex: 0, seq: 1 }],
  ['a precheck reply while not prechecking', { type: 'precheckReply', from: 'b', to: 'a', granted: true, promised }],
  ['a commit below its promise', { type: 'commit', from: 'c', to: 'a', ballot: { round: 2, node: 'c' }, commitIndex: 5 }],
  ['a timeoutNow from a leader it does not follow', { type: 'timeoutNow', from: 'c', to: 'a', ballot: { round: 3, node: 'c' } }],
  ['a probe reply while not rejoining', { type: 'probeReply', from: 'b', to: 'a', fence: { round: 4, node: 'a' }, promised, commitIndex: 0, accepted: [] }],
  ['a probe whose fence is not its sender’s', { type: 'probe', from: 'b', to: 'a', fence: { round: 9, node: 'c' } }],
];

describe('Replica handler guards', () => {
  it.each(ignored)('ignore %s: not counted as dropped, nothing changes', (_, message) => {
    const r = follower();
    const before = r.status;
    r.step(message);
    expect(r.status).toEqual(before);
    const out = r.takeOutput();
    expect(out.persist).toBeUndefined();
    expect(out.messages).toEqual([]);
  });

  it('take a timeoutNow from the leader it follows: it campaigns at once, above that ballot', () => {
    const r = follower();
    r.step({ type: 'heartbeat', from: 'b', to: 'a', ballot: promised, commitIndex: 0, seq: 1 });
    r.takeOutput();
    r.step({ type: 'timeoutNow', from: 'b', to: 'a', ballot: promised });
    expect(r.role).toBe('candidate');
    expect(r.status.promised).toEqual({ round: 4, node: 'a' });
  });

  it('ignore a timeoutNow from the leader it follows once it promised a higher ballot', () => {
    const r = follower();
    r.step({ type: 'heartbeat', from: 'b', to: 'a', ballot: promised, commitIndex: 0, seq: 1 });
    r.step({ type: 'prepare', from: 'c', to: 'a', ballot: { round: 4, node: 'c' }, firstSlot: 1 });
    r.takeOutput();
    r.step({ type: 'timeoutNow', from: 'b', to: 'a', ballot: promised });
    expect(r.role).toBe('follower');
    expect(r.status.promised).toEqual({ round: 4, node: 'c' });
    expect(r.takeOutput().messages).toEqual([]);
  });

  it('ignore a timeoutNow while rejoining, even from the leader it follows', () => {
    const r = new Replica({ id: 'a', quorum, random: () => 0 });
    r.takeOutput();
    r.step({ type: 'heartbeat', from: 'b', to: 'a', ballot: promised, commitIndex: 0, seq: 1 });
    expect(r.status).toMatchObject({ rejoining: 'probing', leader: 'b' });
    r.takeOutput();
    r.step({ type: 'timeoutNow', from: 'b', to: 'a', ballot: promised });
    expect(r.role).toBe('follower');
    expect(r.takeOutput().messages).toEqual([]);
  });

  it('ignore a prepare while rejoining (its storage may have lost a higher promise)', () => {
    const r = new Replica({ id: 'a', quorum, random: () => 0 });
    expect(r.status.rejoining).toBe('probing');
    r.takeOutput();
    r.step({ type: 'prepare', from: 'b', to: 'a', ballot: { round: 7, node: 'b' }, firstSlot: 1 });
    expect(r.status.droppedMessages).toBe(0);
    expect(r.status.promised.round).toBe(0);
    const out = r.takeOutput();
    expect(out.persist).toBeUndefined();
    expect(out.messages).toEqual([]);
  });

  it('take a probe whose fence is its sender’s: the promise rises to the fence', () => {
    const r = follower();
    r.step({ type: 'probe', from: 'b', to: 'a', fence: { round: 9, node: 'b' } });
    expect(r.status.promised).toEqual({ round: 9, node: 'b' });
    expect(r.takeOutput().messages).toMatchObject([{ type: 'probeReply', to: 'b', promised: { round: 9, node: 'b' } }]);
  });
});
