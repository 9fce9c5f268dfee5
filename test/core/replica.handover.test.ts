import { expect, it } from 'vitest';
import { type Message, Replica, isEmptyOutput, majority } from '../../src/core/index.js';

// The handover gate of a configuration chosen at slot 1 with a window of one slot: the
// commit index at the leader's first check is 1, and it asks for a heartbeat round at
// once (the round that carries the new voters' commit reports) instead of waiting for
// the next regular one.
it('asks for a heartbeat round at once when the first handover check comes at commit index 1', () => {
  const r = new Replica({ id: 'a', quorum: majority(['a']), observers: ['b'], windowSlots: 1, random: () => 0 });
  const drain = (): Message[] => {
    const messages: Message[] = [];
    for (let out = r.takeOutput(); !isEmptyOutput(out); out = r.takeOutput()) {
      if (out.persist !== undefined) r.persisted(out.persistSeq);
      messages.push(...out.messages);
      const last = out.committed[out.committed.length - 1];
      if (last !== undefined) r.applied(last.slot);
    }
    return messages;
  };
  for (let i = 0; i < 40 && r.role !== 'leader'; i++) {
    r.tick();
    drain();
  }
  expect(r.role).toBe('leader');
  const ballot = r.status.promised;
  r.step({ type: 'heartbeatReply', from: 'b', to: 'a', ballot, commitIndex: 0, seq: 1 });
  drain();
  expect(r.changeMembers({ type: 'promote', id: 'b' })).toMatchObject({ ok: true });
  const sent = drain();
  expect(r.status.commitIndex).toBe(1);
  expect(sent.filter((m) => m.type === 'prepare').map((m) => m.to)).toEqual(['b']);
  r.step({ type: 'promise', from: 'b', to: 'a', ballot, accepted: [], chosen: [] });
  const after = drain();
  expect(after.filter((m) => m.type === 'heartbeat').map((m) => m.to)).toEqual(['b']);
});
