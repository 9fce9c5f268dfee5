import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../../src/core/node-id.js';
import { flexible } from '../../../src/core/quorum/flexible.js';
import { joint } from '../../../src/core/quorum/joint.js';
import { majority } from '../../../src/core/quorum/majority.js';

const votes = (answers: Record<NodeId, boolean>) => (v: NodeId) => answers[v];
const acks = (slots: Record<NodeId, number>) => (v: NodeId) => slots[v] ?? 0;

describe('joint', () => {
  // Replace a, b with d, e: only c is in both.
  const q = joint(majority(['a', 'b', 'c']), majority(['c', 'd', 'e']));

  it("lists old's voters, then the new ones", () => {
    expect(q.voters).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(q.describe()).toBe('joint(majority(2 of 3), majority(2 of 3))');
    expect(q.isVoter('a')).toBe(true);
    expect(q.isVoter('e')).toBe(true);
    expect(q.isVoter('f')).toBe(false);
  });

  it('wins only when both configurations win', () => {
    expect(q.phase1(votes({ a: true, b: true }))).toBe('pending');
    expect(q.phase1(votes({ d: true, e: true }))).toBe('pending');
    expect(q.phase1(votes({ a: true, c: true, d: true }))).toBe('won');
    expect(q.phase2(votes({ a: true, b: true, d: true, e: true }))).toBe('won');
  });

  it('loses when either configuration loses', () => {
    expect(q.phase2(votes({ a: true, b: true, d: false, e: false }))).toBe('lost');
    expect(q.phase2(votes({ a: false, b: false, d: true, e: true }))).toBe('lost');
    expect(q.phase1(votes({ c: false }))).toBe('pending');
    expect(q.phase1(votes({ c: false, a: false }))).toBe('lost');
  });

  it('commits the smaller of the two committed slots', () => {
    // old commits 9 (a, b), next commits 4 (c, d).
    expect(q.committedSlot(acks({ a: 9, b: 9, c: 4, d: 6, e: 1 }))).toBe(4);
    // old commits 2 (a, b), next commits 9 (d, e).
    expect(q.committedSlot(acks({ a: 3, b: 2, d: 9, e: 9 }))).toBe(2);
    expect(q.committedSlot(acks({ c: 5 }))).toBe(0);
  });

  it('combines different quorum systems and identical voter sets', () => {
    const mixed = joint(flexible(['a', 'b', 'c', 'd'], { phase1: 3, phase2: 2 }), majority(['a', 'b', 'c']));
    expect(mixed.voters).toEqual(['a', 'b', 'c', 'd']);
    expect(mixed.phase2(votes({ a: true, d: true }))).toBe('pending');
    expect(mixed.phase2(votes({ a: true, b: true }))).toBe('won');
    expect(mixed.committedSlot(acks({ a: 8, d: 8, b: 2 }))).toBe(2);

    const same = joint(majority(['a', 'b']), majority(['b', 'a']));
    expect(same.voters).toEqual(['a', 'b']);
    expect(same.phase1(votes({ a: true, b: true }))).toBe('won');
  });
});
