import { describe, expect, it } from 'vitest';
import { type AcceptedEntry, type DurableState, type Message, Replica, majority } from '../../src/core/index.js';

// Phase 2 message by message: what a leader sends for the commands it takes (accepts
// bounded by acceptSlotsMax, commits to voters that lack the commit index) and when a
// slot is chosen; what a follower answers to an accept or a heartbeat below its promise.

const quorum = majority(['a', 'b', 'c']);
const state: DurableState = { promised: { round: 1, node: 'b' }, accepted: [], chosen: [], commitIndex: 0 };
const limits = { electionTicksMin: 10, electionTicksMax: 10, heartbeatTicks: 2 };
const bytes = (n: number): Uint8Array => new Uint8Array([n]);

/** Voter a elected by b's promise (reporting `accepted`), every output made durable at once. */
function leader(extra = {}, accepted: readonly AcceptedEntry[] = []): { r: Replica; drain: () => Message[] } {
  const r = new Replica({ id: 'a', quorum, random: () => 0, state, limits: { ...limits, ...extra } });
  const drain = (): Message[] => {
    const out = r.takeOutput();
    if (out.persist !== undefined) r.persisted(out.persistSeq);
    const last = out.committed[out.committed.length - 1];
    if (last !== undefined) r.applied(last.slot);
    return [...out.messages];
  };
  drain();
  for (let i = 0; i < 10; i++) r.tick();
  drain();
  r.step({ type: 'precheckReply', from: 'b', to: 'a', granted: true, promised: { round: 1, node: 'b' } });
  drain();
  r.step({ type: 'promise', from: 'b', to: 'a', ballot: r.status.promised, accepted, chosen: [] });
  expect(r.role).toBe('leader');
  drain();
  return { r, drain };
}

describe('Replica phase 2, the leader', () => {
  it('sends each voter one accept of the slots it assigned, then commits once a quorum accepted', () => {
    const { r, drain } = leader();
    const ballot = r.status.promised;
    r.propose([bytes(1), bytes(2)]);
    const accepts = drain();
    const values = [{ kind: 'batch', commands: [bytes(1), bytes(2)] }];
    expect(accepts).toEqual([
      { type: 'accept', from: 'a', to: 'b', ballot, firstSlot: 1, values, commitIndex: 0 },
      { type: 'accept', from: 'a', to: 'c', ballot, firstSlot: 1, values, commitIndex: 0 },
    ]);
    expect(r.status.lastAcceptedSlot).toBe(1);
    r.step({ type: 'accepted', from: 'b', to: 'a', ballot, firstSlot: 1, count: 1 });
    expect(r.status.commitIndex).toBe(1);
    // The next flush tells the voters that lack it.
    expect(drain()).toEqual([
      { type: 'commit', from: 'a', to: 'b', ballot, commitIndex: 1 },
      { type: 'commit', from: 'a', to: 'c', ballot, commitIndex: 1 },
    ]);
    expect(drain()).toEqual([]);
  });

  it('ignores an acknowledgement of another ballot', () => {
    const { r, drain } = leader();
    r.propose([bytes(1)]);
    drain();
    r.step({ type: 'accepted', from: 'b', to: 'a', ballot: { round: 1, node: 'a' }, firstSlot: 1, count: 1 });
    expect(r.status.commitIndex).toBe(0);
  });

  it('splits what it sends into accepts of at most acceptSlotsMax slots', () => {
    const { r, drain } = leader({ acceptSlotsMax: 2, batchCommandsMax: 1 });
    for (let i = 1; i <= 5; i++) r.propose([bytes(i)]);
    const toB = drain().filter((m) => m.to === 'b');
    expect(toB.map((m) => (m.type === 'accept' ? [m.firstSlot, m.values.length] : m.type))).toEqual([
      [1, 2],
      [3, 2],
      [5, 1],
    ]);
  });

  it('assigns at most inflightSlotsMax slots past the commit index; queued commands take the room a commit opens, no more', () => {
    const { r, drain } = leader({ inflightSlotsMax: 2, batchCommandsMax: 1 });
    const ballot = r.status.promised;
    for (let i = 1; i <= 5; i++) r.propose([bytes(i)]);
    drain();
    expect(r.status.lastAcceptedSlot).toBe(2);
    expect(r.status.queuedCommands).toBe(3);
    r.step({ type: 'accepted', from: 'b', to: 'a', ballot, firstSlot: 1, count: 1 });
    expect(r.status.commitIndex).toBe(1);
    const toB = drain().filter((m) => m.type === 'accept' && m.to === 'b');
    expect(toB.map((m) => (m.type === 'accept' ? [m.firstSlot, m.values.length] : m.type))).toEqual([[3, 1]]);
    expect(r.status.lastAcceptedSlot).toBe(3);
    expect(r.status.queuedCommands).toBe(2);
  });

  it('proposes a change and commands queued while adopted values fill the window after them, never past inflightSlotsMax', () => {
    // b reports slots 1..3 accepted in its ballot 1: a adopts them, one slot at a time.
    const accepted = [1, 2, 3].map((slot) => ({ slot, ballot: { round: 1, node: 'b' }, value: { kind: 'batch' as const, commands: [bytes(slot)] } }));
    const { r, drain } = leader({ inflightSlotsMax: 1 }, accepted);
    const ballot = r.status.promised;
    expect(r.changeMembers({ type: 'remove', id: 'c' })).toMatchObject({ ok: true, config: { voters: ['a', 'b'] } });
    r.propose([bytes(9)]);
    // Slot 1 went out with the election; then one slot per commit: the adopted values,
    // the change, the command.
    const sent: [number, string][] = [];
    for (let slot = 1; slot <= 5; slot++) {
      for (const m of drain()) if (m.type === 'accept' && m.to === 'b') for (const [i, v] of m.values.entries()) sent.push([m.firstSlot + i, v.kind]);
      expect(r.status.lastAcceptedSlot).toBe(slot);
      r.step({ type: 'accepted', from: 'b', to: 'a', ballot, firstSlot: slot, count: 1 });
      expect(r.status.commitIndex).toBe(slot);
    }
    expect(sent).toEqual([
      [2, 'batch'],
      [3, 'batch'],
      [4, 'config'],
      [5, 'batch'],
    ]);
    expect(r.status.queuedCommands).toBe(0);
    expect(r.status.configuration.voters).toEqual(['a', 'b']);
  });

  it('commits slot by slot as acknowledgements arrive, each range at its own end', () => {
    const { r, drain } = leader({ batchCommandsMax: 1 });
    const ballot = r.status.promised;
    for (let i = 1; i <= 3; i++) r.propose([bytes(i)]);
    drain();
    r.step({ type: 'accepted', from: 'c', to: 'a', ballot, firstSlot: 1, count: 2 });
    expect(r.status.commitIndex).toBe(2);
    r.step({ type: 'accepted', from: 'b', to: 'a', ballot, firstSlot: 3, count: 1 });
    expect(r.status.commitIndex).toBe(2); // b's slots 1-2 are not acknowledged: slot 3 waits for c
    r.step({ type: 'accepted', from: 'c', to: 'a', ballot, firstSlot: 3, count: 1 });
    expect(r.status.commitIndex).toBe(3);
  });
});

describe('Replica phase 2, a follower', () => {
  function follower(): Replica {
    const r = new Replica({ id: 'b', quorum, random: () => 0, state: { ...state, promised: { round: 3, node: 'c' } }, limits });
    r.takeOutput();
    return r;
  }

  it('accepts in a ballot at least its promise, answers with the slots it took, and follows its leader', () => {
    const r = follower();
    const ballot = { round: 3, node: 'c' };
    r.step({ type: 'accept', from: 'c', to: 'b', ballot, firstSlot: 1, values: [{ kind: 'noop' }, { kind: 'noop' }], commitIndex: 0 });
    expect(r.status.leader).toBe('c');
    expect(r.status.lastAcceptedSlot).toBe(2);
    expect(r.takeOutput().messages).toEqual([{ type: 'accepted', from: 'b', to: 'c', ballot, firstSlot: 1, count: 2 }]);
  });

  it('rejects an accept or a heartbeat below its promise, naming the promise', () => {
    const r = follower();
    const low = { round: 2, node: 'a' };
    r.step({ type: 'accept', from: 'a', to: 'b', ballot: low, firstSlot: 1, values: [{ kind: 'noop' }], commitIndex: 0 });
    r.step({ type: 'heartbeat', from: 'a', to: 'b', ballot: low, commitIndex: 0, seq: 1 });
    expect(r.status.lastAcceptedSlot).toBe(0);
    expect(r.status.leader).toBeUndefined();
    expect(r.takeOutput().messages).toEqual([
      { type: 'reject', from: 'b', to: 'a', ballot: low, promised: { round: 3, node: 'c' } },
      { type: 'reject', from: 'b', to: 'a', ballot: low, promised: { round: 3, node: 'c' } },
    ]);
  });

  it('answers a heartbeat at its promise with its commit index and the seq', () => {
    const r = follower();
    const ballot = { round: 3, node: 'c' };
    r.step({ type: 'heartbeat', from: 'c', to: 'b', ballot, commitIndex: 0, seq: 7 });
    expect(r.takeOutput().messages).toEqual([{ type: 'heartbeatReply', from: 'b', to: 'c', ballot, commitIndex: 0, seq: 7 }]);
  });

  it('ignores a commit below its promise', () => {
    const r = follower();
    r.step({ type: 'commit', from: 'a', to: 'b', ballot: { round: 2, node: 'a' }, commitIndex: 3 });
    expect(r.status.leader).toBeUndefined();
    expect(r.takeOutput().messages).toEqual([]);
  });
});
