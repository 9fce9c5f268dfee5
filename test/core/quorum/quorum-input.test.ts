/**
 * What the quorum constructors say about bad input, word for word where an operator
 * reads it, and what they record about themselves (`rule`, `describe()`): the survivors
 * of a mutation run over src/core/quorum (messages emptied, the string check of an id
 * dropped, a majority recorded as fixed sizes) each fail one of these.
 */
import { describe, expect, it } from 'vitest';
import { ThresholdQuorum, flexible } from '../../../src/core/quorum/flexible.js';
import { joint } from '../../../src/core/quorum/joint.js';
import { majority } from '../../../src/core/quorum/majority.js';
import type { NodeId } from '../../../src/core/node-id.js';
import { InvariantError } from '../../../src/core/errors.js';
import { configError } from '../../config-error.js';

describe('the voter list', () => {
  it('names the constructor, the field and the fault', () => {
    expect(configError(() => majority([])).message).toMatch(/majority.*voters.*must list at least one voter/);
    expect(configError(() => flexible([], { phase1: 1, phase2: 1 })).message).toMatch(/flexible.*voters.*must list at least one voter/);
    expect(configError(() => majority(['a', ''])).message).toMatch(/must hold non-empty string ids; entry 1 is ''/);
    expect(configError(() => majority(['a', 'b', 'a'])).message).toMatch(/lists "a" twice/);
  });

  it('refuses an id that is not a string, even one that reads like an id', () => {
    const numeric = [1, 2, 3] as unknown as NodeId[];
    expect(configError(() => majority(numeric)).message).toMatch(/must hold non-empty string ids; entry 0 is 1/);
    const mixed = ['a', null] as unknown as NodeId[];
    expect(configError(() => majority(mixed)).message).toMatch(/entry 1 is null/);
  });
});

describe('flexible sizes', () => {
  it('names the size at fault and the range it must be in', () => {
    expect(configError(() => flexible(['a', 'b', 'c'], null as unknown as { phase1: number; phase2: number })).message).toMatch(
      /^flexible: `sizes` must be an object \{ phase1, phase2 \}/,
    );
    expect(configError(() => flexible(['a', 'b', 'c'], 3 as unknown as { phase1: number; phase2: number })).message).toMatch(/must be an object/);
    expect(configError(() => flexible(['a', 'b', 'c'], { phase1: 4, phase2: 3 })).message).toMatch(
      /sizes\.phase1.*must be an integer from 1 to 3 \(the number of voters\); got 4/,
    );
    expect(configError(() => flexible(['a', 'b', 'c'], { phase1: 3, phase2: 0 })).message).toMatch(/sizes\.phase2.*got 0/);
    expect(configError(() => flexible(['a', 'b', 'c', 'd'], { phase1: 2, phase2: 2 })).message).toMatch(/phase1 \+ phase2 must exceed 4 .* got 2 \+ 2/);
  });
});

describe('what a quorum records about itself', () => {
  it('a majority is recorded as the majority rule (it follows the voters), flexible sizes as the sizes', () => {
    const rule = (q: unknown) => (q instanceof ThresholdQuorum ? q.rule : undefined);
    expect(rule(majority(['a', 'b', 'c']))).toBe('majority');
    expect(rule(flexible(['a', 'b', 'c'], { phase1: 2, phase2: 2 }))).toEqual({ phase1: 2, phase2: 2 });
  });

  it('describes itself, a joint quorum by its two halves', () => {
    const old = majority(['a', 'b', 'c']);
    const next = flexible(['a', 'b', 'd'], { phase1: 3, phase2: 1 });
    expect(old.describe()).toBe('majority(2 of 3)');
    expect(next.describe()).toBe('flexible(phase1 3, phase2 1 of 3)');
    expect(joint(old, next).describe()).toBe('joint(majority(2 of 3), flexible(phase1 3, phase2 1 of 3))');
  });
});

describe('ThresholdQuorum, built directly', () => {
  // majority() and flexible() refuse bad sizes before they construct; an internal caller
  // that did not would meet these assertions, each naming the numbers involved.
  it('asserts sizes within 1..n, quorums that intersect and no voter twice', () => {
    const build = (voters: NodeId[], phase1: number, phase2: number) => () => new ThresholdQuorum(voters, phase1, phase2, 'q', false);
    expect(build(['a', 'b'], 0, 2)).toThrow(new InvariantError('q: phase-1 size 0 outside 1..2'));
    expect(build(['a', 'b'], 3, 2)).toThrow(new InvariantError('q: phase-1 size 3 outside 1..2'));
    expect(build(['a', 'b'], 1.5, 2)).toThrow(new InvariantError('q: phase-1 size 1.5 outside 1..2'));
    expect(build(['a', 'b'], 2, 0)).toThrow(new InvariantError('q: phase-2 size 0 outside 1..2'));
    expect(build(['a', 'b'], 2, 3)).toThrow(new InvariantError('q: phase-2 size 3 outside 1..2'));
    expect(build(['a', 'b'], 2, 1.5)).toThrow(new InvariantError('q: phase-2 size 1.5 outside 1..2'));
    expect(build(['a', 'b', 'c', 'd'], 2, 2)).toThrow(new InvariantError('q: quorums 2 + 2 need not intersect among 4 voters'));
    expect(build(['a', 'b', 'a'], 2, 2)).toThrow(new InvariantError('q: 1 duplicate voters'));
    // Each at its boundary is taken.
    expect(build(['a', 'b'], 1, 2)).not.toThrow();
    expect(build(['a', 'b'], 2, 1)).not.toThrow();
    expect(build(['a', 'b', 'c'], 2, 2)).not.toThrow();
    expect(build(['a', 'b', 'c'], 3, 3)).not.toThrow();
  });

  it('asserts every acknowledged slot is a count', () => {
    const q = majority(['a', 'b', 'c']);
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) {
      expect(() => q.committedSlot((v) => (v === 'b' ? bad : 3))).toThrow(new InvariantError(`committedSlot: voter b acknowledged slot ${String(bad)}`));
    }
    expect(q.committedSlot((v) => (v === 'b' ? 0 : 3))).toBe(3);
  });
});
