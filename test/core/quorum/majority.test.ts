import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../../src/core/node-id.js';
import { ConfigError, InvariantError } from '../../../src/core/errors.js';
import { majority } from '../../../src/core/quorum/majority.js';

/** A lookup from a record; ids missing from it have not answered. */
const votes = (answers: Record<NodeId, boolean>) => (v: NodeId) => answers[v];
const acks = (slots: Record<NodeId, number>) => (v: NodeId) => slots[v] ?? 0;

describe('majority', () => {
  it('needs floor(n / 2) + 1 voters', () => {
    expect(majority(['a']).describe()).toBe('majority(1 of 1)');
    expect(majority(['a', 'b']).describe()).toBe('majority(2 of 2)');
    expect(majority(['a', 'b', 'c']).describe()).toBe('majority(2 of 3)');
    expect(majority(['a', 'b', 'c', 'd']).describe()).toBe('majority(3 of 4)');
    expect(majority(['a', 'b', 'c', 'd', 'e']).describe()).toBe('majority(3 of 5)');
  });

  it('decides a single voter alone (n = 1)', () => {
    const q = majority(['a']);
    expect(q.phase1(votes({}))).toBe('pending');
    expect(q.phase1(votes({ a: true }))).toBe('won');
    expect(q.phase2(votes({ a: false }))).toBe('lost');
    expect(q.committedSlot(acks({ a: 7 }))).toBe(7);
  });

  it('needs both of two voters, so one no loses (n = 2)', () => {
    const q = majority(['a', 'b']);
    expect(q.phase2(votes({ a: true }))).toBe('pending');
    expect(q.phase2(votes({ a: true, b: true }))).toBe('won');
    expect(q.phase2(votes({ a: true, b: false }))).toBe('lost');
    expect(q.committedSlot(acks({ a: 9, b: 4 }))).toBe(4);
  });

  it('decides 3 of 5 and loses at 3 noes', () => {
    const q = majority(['a', 'b', 'c', 'd', 'e']);
    expect(q.phase1(votes({ a: true, b: true, c: false, d: false }))).toBe('pending');
    expect(q.phase1(votes({ a: true, b: true, c: true }))).toBe('won');
    expect(q.phase1(votes({ a: false, b: false, c: false, d: true, e: true }))).toBe('lost');
    expect(q.phase2(votes({ a: false, b: false }))).toBe('pending');
    expect(q.phase2(votes({ a: false, b: false, c: false }))).toBe('lost');
  });

  it('loses an even cluster at half noes (n = 4 needs 3)', () => {
    const q = majority(['a', 'b', 'c', 'd']);
    expect(q.phase2(votes({ a: true, b: true }))).toBe('pending');
    expect(q.phase2(votes({ a: true, b: true, c: false, d: false }))).toBe('lost');
    expect(q.phase2(votes({ a: false }))).toBe('pending');
    expect(q.phase2(votes({ a: false, b: false }))).toBe('lost');
    expect(q.phase2(votes({ a: true, b: true, c: true }))).toBe('won');
  });

  it('commits the slot a majority acknowledged: the q-th largest', () => {
    expect(majority(['a', 'b', 'c']).committedSlot(acks({ a: 9, b: 4, c: 2 }))).toBe(4);
    expect(majority(['a', 'b', 'c', 'd']).committedSlot(acks({ a: 9, b: 7, c: 5 }))).toBe(5);
    expect(majority(['a', 'b', 'c', 'd', 'e']).committedSlot(acks({ e: 3, d: 3, a: 1 }))).toBe(1);
    expect(majority(['a', 'b', 'c']).committedSlot(acks({ a: 8 }))).toBe(0);
  });

  it('reuses its scratch space without leaking between calls', () => {
    const q = majority(['a', 'b', 'c']);
    expect(q.committedSlot(acks({ a: 9, b: 9, c: 9 }))).toBe(9);
    expect(q.committedSlot(acks({ a: 1 }))).toBe(0);
  });

  it('asks only its voters, each once, and ignores everyone else', () => {
    const q = majority(['a', 'b', 'c']);
    const asked: NodeId[] = [];
    const result = q.phase2((v) => (asked.push(v), v === 'a' || v === 'x' || v === 'y'));
    expect(result).toBe('lost');
    expect(asked).toEqual(['a', 'b', 'c']);
    expect(q.committedSlot((v) => (v === 'a' ? 5 : v === 'b' ? 5 : 0))).toBe(5);
  });

  it('keeps its own frozen copy of the voters', () => {
    const voters = ['a', 'b', 'c'];
    const q = majority(voters);
    voters.push('d');
    expect(q.voters).toEqual(['a', 'b', 'c']);
    expect(Object.isFrozen(q.voters)).toBe(true);
    expect(q.isVoter('c')).toBe(true);
    expect(q.isVoter('d')).toBe(false);
  });

  it.each([
    ['no voters', []],
    ['a duplicate', ['a', 'b', 'a']],
    ['an empty id', ['a', '']],
  ])('rejects %s', (_, voters) => {
    let error: unknown;
    try {
      majority(voters);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('voters');
    expect((error as ConfigError).message).toMatch(/^majority: `voters` /);
  });

  it('treats an acknowledged slot that is not a slot number as a bug', () => {
    const q = majority(['a', 'b', 'c']);
    expect(() => q.committedSlot(() => -1)).toThrow(InvariantError);
    expect(() => q.committedSlot(() => 1.5)).toThrow(/voter a acknowledged slot 1.5/);
    expect(() => q.committedSlot(() => Number.NaN)).toThrow(InvariantError);
  });
});
