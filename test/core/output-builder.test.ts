import { describe, expect, it } from 'vitest';
import type { Ballot } from '../../src/core/ballot.js';
import type { AcceptedEntry } from '../../src/core/entries.js';
import type { Message } from '../../src/core/messages.js';
import { OutputBuilder } from '../../src/core/output-builder.js';
import { batch, noop, type Value } from '../../src/core/value.js';

// One output at a time: what each call adds, the persist batch in slot order with only
// the fields set, the persist sequence numbers, and the builder empty again after take().

const b = (round: number, node = 'a'): Ballot => ({ round, node });
const cmd = (byte: number): Value => batch([new Uint8Array([byte])]);
const acc = (slot: number, byte = slot): AcceptedEntry => ({ slot, ballot: b(1), value: cmd(byte) });
const heartbeat = (to: string): Message => ({ type: 'heartbeat', from: 'a', to, ballot: b(1), commitIndex: 0, seq: 1 }) as Message;

describe('OutputBuilder', () => {
  it('hands out one shared, frozen empty output while nothing happened', () => {
    const out = new OutputBuilder();
    expect(out.isEmpty).toBe(true);
    const first = out.take();
    expect(first).toEqual({ persist: undefined, persistSeq: 0, messages: [], committed: [], dropped: [], reads: [], snapshotsTo: [] });
    expect(out.take()).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    for (const list of [first.messages, first.committed, first.dropped, first.reads, first.snapshotsTo]) expect(Object.isFrozen(list)).toBe(true);
    expect(out.lastPersistSeq).toBe(0);
  });

  it('numbers persists from 1, only outputs that persist', () => {
    const out = new OutputBuilder();
    expect(out.nextPersistSeq).toBe(1);
    expect(out.recordedPersistSeq).toBe(0);
    out.persistCommitIndex(3);
    expect(out.recordedPersistSeq).toBe(1);
    expect(out.take()).toMatchObject({ persist: { accepted: [], chosen: [], commitIndex: 3 }, persistSeq: 1 });
    expect(out.lastPersistSeq).toBe(1);
    expect(out.nextPersistSeq).toBe(2);
    expect(out.recordedPersistSeq).toBe(1);
    out.send(heartbeat('b'));
    expect(out.recordedPersistSeq).toBe(1);
    expect(out.take()).toMatchObject({ persist: undefined, persistSeq: 0 });
    expect(out.lastPersistSeq).toBe(1);
    out.persistPromised(b(2));
    expect(out.take()).toMatchObject({ persistSeq: 2 });
  });

  it('counts each part of a persist as work, alone', () => {
    const parts: ((out: OutputBuilder) => void)[] = [
      (out) => out.persistPromised(b(2)),
      (out) => out.persistAccepted(acc(1)),
      (out) => out.persistChosen({ slot: 1, value: noop }),
      (out) => out.persistCommitIndex(0),
    ];
    for (const part of parts) {
      const out = new OutputBuilder();
      part(out);
      expect(out.isEmpty).toBe(false);
      expect(out.recordedPersistSeq).toBe(1);
      const taken = out.take();
      expect(taken.persistSeq).toBe(1);
      expect([taken.messages, taken.committed, taken.dropped, taken.reads, taken.snapshotsTo]).toEqual([[], [], [], [], []]);
    }
  });

  it('counts each kind of output as work, alone, with nothing to persist', () => {
    const kinds: ((out: OutputBuilder) => void)[] = [
      (out) => out.send(heartbeat('b')),
      (out) => out.commit({ slot: 1, value: noop }),
      (out) => out.drop([new Uint8Array([1])]),
      (out) => out.read({ id: 1, ok: true, index: 0 }),
      (out) => out.sendSnapshot('b'),
    ];
    for (const kind of kinds) {
      const out = new OutputBuilder();
      kind(out);
      expect(out.isEmpty).toBe(false);
      const taken = out.take();
      expect(taken.persist).toBeUndefined();
      expect(taken.persistSeq).toBe(0);
      expect(out.isEmpty).toBe(true);
    }
  });

  it('hands over every list in the order recorded, then starts empty again', () => {
    const out = new OutputBuilder();
    out.send(heartbeat('b'));
    out.send(heartbeat('c'));
    out.commit({ slot: 1, value: noop });
    out.commit({ slot: 2, value: cmd(2) });
    out.drop([new Uint8Array([1]), new Uint8Array([2])]);
    out.drop([new Uint8Array([3])]);
    out.read({ id: 1, ok: true, index: 0 });
    out.read({ id: 2, ok: false, leaderHint: 'c' });
    out.sendSnapshot('b');
    out.sendSnapshot('c');
    expect(out.take()).toEqual({
      persist: undefined,
      persistSeq: 0,
      messages: [heartbeat('b'), heartbeat('c')],
      committed: [
        { slot: 1, value: noop },
        { slot: 2, value: cmd(2) },
      ],
      dropped: [new Uint8Array([1]), new Uint8Array([2]), new Uint8Array([3])],
      reads: [
        { id: 1, ok: true, index: 0 },
        { id: 2, ok: false, leaderHint: 'c' },
      ],
      snapshotsTo: ['b', 'c'],
    });
    expect(out.isEmpty).toBe(true);
    out.send(heartbeat('d'));
    expect(out.take()).toMatchObject({ messages: [heartbeat('d')], committed: [], dropped: [], reads: [], snapshotsTo: [] });
  });

  it('names a peer that needs a snapshot once per output', () => {
    const out = new OutputBuilder();
    out.sendSnapshot('b');
    out.sendSnapshot('b');
    expect(out.take().snapshotsTo).toEqual(['b']);
    out.sendSnapshot('b');
    expect(out.take().snapshotsTo).toEqual(['b']);
  });

  it('drops nothing for an empty list of commands', () => {
    const out = new OutputBuilder();
    out.drop([]);
    expect(out.isEmpty).toBe(true);
  });

  describe('the persist batch', () => {
    it('holds only the fields set, in a fixed key order', () => {
      const keys = (record: (out: OutputBuilder) => void): string[] => {
        const out = new OutputBuilder();
        record(out);
        return Object.keys(out.take().persist ?? {});
      };
      expect(keys((o) => o.persistAccepted(acc(1)))).toEqual(['accepted', 'chosen']);
      expect(keys((o) => o.persistCommitIndex(2))).toEqual(['accepted', 'chosen', 'commitIndex']);
      expect(keys((o) => o.persistPromised(b(1)))).toEqual(['promised', 'accepted', 'chosen']);
      expect(
        keys((o) => {
          o.persistCommitIndex(2);
          o.persistPromised(b(1));
        }),
      ).toEqual(['promised', 'accepted', 'chosen', 'commitIndex']);
    });

    it('keeps the last promise and commit index recorded', () => {
      const out = new OutputBuilder();
      out.persistPromised(b(1));
      out.persistPromised(b(2));
      out.persistCommitIndex(1);
      out.persistCommitIndex(4);
      expect(out.take().persist).toEqual({ promised: b(2), accepted: [], chosen: [], commitIndex: 4 });
    });

    it('puts entries recorded out of order in slot order, the last of a slot winning', () => {
      const out = new OutputBuilder();
      out.persistAccepted(acc(3));
      out.persistAccepted(acc(4));
      out.persistAccepted(acc(1));
      out.persistAccepted(acc(3, 30));
      out.persistChosen({ slot: 2, value: cmd(2) });
      out.persistChosen({ slot: 2, value: cmd(20) });
      expect(out.take().persist).toEqual({ accepted: [acc(1), acc(3, 30), acc(4)], chosen: [{ slot: 2, value: cmd(20) }] });
    });

    it('hands over entries already in order as recorded', () => {
      const out = new OutputBuilder();
      out.persistAccepted(acc(1));
      out.persistAccepted(acc(2));
      out.persistChosen({ slot: 5, value: noop });
      expect(out.take().persist).toEqual({ accepted: [acc(1), acc(2)], chosen: [{ slot: 5, value: noop }] });
    });

    it('starts empty again after take()', () => {
      const out = new OutputBuilder();
      out.persistPromised(b(1));
      out.persistAccepted(acc(1));
      out.persistChosen({ slot: 1, value: noop });
      out.persistCommitIndex(1);
      out.take();
      expect(out.isEmpty).toBe(true);
      out.persistAccepted(acc(2));
      expect(out.take().persist).toEqual({ accepted: [acc(2)], chosen: [] });
    });
  });
});
