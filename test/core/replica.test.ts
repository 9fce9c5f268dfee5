import { describe, expect, it } from 'vitest';
import { InvariantError, Replica, SynodError, majority } from '../../src/core/index.js';
import { configError } from '../config-error.js';

const quorum = majority(['a', 'b', 'c']);

describe('Replica', () => {
  it('validates its options up front, naming the field', () => {
    expect(configError(() => new Replica({ id: 'z', quorum, random: () => 0 })).field).toBe('id');
    expect(configError(() => new Replica({ id: 'a', quorum, observers: ['b'], random: () => 0 })).field).toBe('observers');
    expect(configError(() => new Replica({ id: 'a', quorum, observers: ['o', 'o'], random: () => 0 })).field).toBe('observers');
    expect(configError(() => new Replica({ id: 'a', quorum, random: undefined as unknown as () => number })).field).toBe('random');
  });

  it('starts as a follower (voter) or an observer', () => {
    expect(new Replica({ id: 'a', quorum, random: () => 0 }).role).toBe('follower');
    expect(new Replica({ id: 'o', quorum, observers: ['o'], random: () => 0 }).role).toBe('observer');
  });

  it('a single voter elects itself and commits alone', () => {
    const r = new Replica({ id: 'a', quorum: majority(['a']), random: () => 0 });
    const applied: number[] = [];
    const drive = (): void => {
      for (let out = r.takeOutput(); out.persist !== undefined || out.committed.length > 0; out = r.takeOutput()) {
        if (out.persist !== undefined) r.persisted(out.persistSeq);
        for (const e of out.committed) applied.push(e.slot);
        if (out.committed.length > 0) r.applied(out.committed[out.committed.length - 1]!.slot);
      }
    };
    for (let i = 0; i < 20 && r.role !== 'leader'; i++) {
      r.tick();
      drive();
    }
    expect(r.role).toBe('leader');
    expect(r.propose([new Uint8Array([1])])).toEqual({ ok: true });
    drive();
    expect(applied).toEqual([1]);
    expect(r.status.commitIndex).toBe(1);
  });

  it('drops malformed, misaddressed and unknown-sender messages, and counts them', () => {
    const r = new Replica({ id: 'a', quorum, random: () => 0 });
    r.takeOutput(); // the rejoin probes of a voter with no promise on record
    const ballot = { round: 1, node: 'b' };
    r.step({ type: 'heartbeat', from: 'b', to: 'c', ballot, commitIndex: 0, seq: 1 });
    r.step({ type: 'heartbeat', from: 'x', to: 'a', ballot, commitIndex: 0, seq: 1 });
    r.step({ type: 'heartbeat', from: 'c', to: 'a', ballot, commitIndex: 0, seq: 1 }); // ballot not owned by its sender
    r.step({ type: 'accept', from: 'b', to: 'a', ballot, firstSlot: 0, values: [{ kind: 'noop' }], commitIndex: 0 });
    r.step({ type: 'accept', from: 'b', to: 'a', ballot, firstSlot: 1, values: [], commitIndex: 0 });
    r.step({ type: 'accept', from: 'b', to: 'a', ballot, firstSlot: 1, values: [{ kind: 'batch', commands: ['x'] } as never], commitIndex: 0 });
    r.step({ type: 'catchUp', from: 'b', to: 'a', firstSlot: 5, lastSlot: 2 });
    expect(r.status.droppedMessages).toBe(7);
    expect(r.status.promised.round).toBe(0);
    expect(r.takeOutput().messages).toEqual([]);
  });

  it('rejects a driver that breaks the contract with an InvariantError', () => {
    const r = new Replica({ id: 'a', quorum, random: () => 0 });
    expect(() => r.persisted(5)).toThrow(InvariantError);
    expect(() => r.applied(1)).toThrow(InvariantError);
    // An injected generator outside [0, 1) is a broken contract too.
    expect(() => new Replica({ id: 'a', quorum, random: () => 1 }).tick()).toThrow(InvariantError);
  });

  it('errors are SynodErrors with codes', () => {
    const e = configError(() => new Replica({ id: '', quorum, random: () => 0 }));
    expect(e).toBeInstanceOf(SynodError);
    expect(e.code).toBe('CONFIG');
    expect(e.message).toBe('Replica: `id` must be a non-empty string');
  });
});
