import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../../src/core/node-id.js';
import { flexible } from '../../../src/core/quorum/flexible.js';
import { configError } from '../../config-error.js';

const votes = (answers: Record<NodeId, boolean>) => (v: NodeId) => answers[v];
const acks = (slots: Record<NodeId, number>) => (v: NodeId) => slots[v] ?? 0;
const five = ['a', 'b', 'c', 'd', 'e'];

describe('flexible', () => {
  it('uses the phase-1 size for phase 1 and the phase-2 size for phase 2', () => {
    const q = flexible(five, { phase1: 4, phase2: 2 });
    expect(q.describe()).toBe('flexible(phase1 4, phase2 2 of 5)');
    const twoYes = votes({ a: true, b: true });
    expect(q.phase2(twoYes)).toBe('won');
    expect(q.phase1(twoYes)).toBe('pending');
    expect(q.phase1(votes({ a: true, b: true, c: true, d: true }))).toBe('won');
  });

  it('loses a phase once its size is out of reach', () => {
    const q = flexible(five, { phase1: 4, phase2: 2 });
    expect(q.phase1(votes({ a: false }))).toBe('pending');
    expect(q.phase1(votes({ a: false, b: false }))).toBe('lost');
    expect(q.phase2(votes({ a: false, b: false, c: false }))).toBe('pending');
    expect(q.phase2(votes({ a: false, b: false, c: false, d: false }))).toBe('lost');
  });

  it('commits the phase2-th largest acknowledged slot', () => {
    expect(flexible(five, { phase1: 4, phase2: 2 }).committedSlot(acks({ a: 7, b: 5, c: 3 }))).toBe(5);
    expect(flexible(five, { phase1: 2, phase2: 4 }).committedSlot(acks({ a: 7, b: 5, c: 3, d: 1 }))).toBe(1);
  });

  it('allows the extremes: everyone in phase 1, anyone alone in phase 2', () => {
    const q = flexible(['a', 'b', 'c', 'd'], { phase1: 4, phase2: 1 });
    expect(q.phase2(votes({ c: true }))).toBe('won');
    expect(q.phase1(votes({ a: true, b: true, c: true, d: false }))).toBe('lost');
    expect(q.committedSlot(acks({ b: 11, c: 2 }))).toBe(11);
    expect(flexible(['a'], { phase1: 1, phase2: 1 }).phase1(votes({ a: true }))).toBe('won');
  });

  it('ignores answers from non-voters', () => {
    const q = flexible(['a', 'b', 'c'], { phase1: 2, phase2: 2 });
    expect(q.phase2((v) => v !== 'a' && v !== 'b')).toBe('lost');
  });

  it.each([
    [{ phase1: 0, phase2: 5 }, 'sizes.phase1'],
    [{ phase1: 6, phase2: 2 }, 'sizes.phase1'],
    [{ phase1: 2.5, phase2: 4 }, 'sizes.phase1'],
    [{ phase1: Number.NaN, phase2: 4 }, 'sizes.phase1'],
    [{ phase1: 4, phase2: 0 }, 'sizes.phase2'],
    [{ phase1: 4, phase2: 6 }, 'sizes.phase2'],
    [{ phase1: 3, phase2: 2 }, 'sizes'],
    [{ phase1: 1, phase2: 1 }, 'sizes'],
  ])('rejects %o (field %s)', (sizes, field) => {
    const error = configError(() => flexible(five, sizes));
    expect(error.field).toBe(field);
    expect(error.message).toMatch(/^flexible: /);
  });

  it('rejects bad voters like every quorum system', () => {
    expect(configError(() => flexible([], { phase1: 1, phase2: 1 })).field).toBe('voters');
    expect(configError(() => flexible(['a', 'a'], { phase1: 1, phase2: 2 })).field).toBe('voters');
    expect(configError(() => flexible([''], { phase1: 1, phase2: 1 })).field).toBe('voters');
  });
});
