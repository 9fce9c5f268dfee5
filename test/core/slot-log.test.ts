import { describe, expect, it } from 'vitest';
import { InvariantError } from '../../src/core/errors.js';
import { SlotLog } from '../../src/core/slot-log.js';

// The slot map under compaction, one call at a time: what it holds, what it forgets,
// and that a forgotten slot stays forgotten.

function logOf(...slots: number[]): SlotLog<string> {
  const log = new SlotLog<string>();
  for (const s of slots) log.set(s, `v${s}`);
  return log;
}

describe('SlotLog', () => {
  it('holds nothing at first', () => {
    const log = new SlotLog<string>();
    expect(log.get(1)).toBeUndefined();
    expect(log.has(1)).toBe(false);
    expect(log.lastSlot).toBe(0);
    expect(log.forgotten).toBe(0);
  });

  it('holds what is set, slot by slot, with holes between', () => {
    const log = logOf(1, 3);
    expect(log.get(1)).toBe('v1');
    expect(log.has(1)).toBe(true);
    expect(log.get(2)).toBeUndefined();
    expect(log.has(2)).toBe(false);
    expect(log.get(3)).toBe('v3');
    expect(log.has(4)).toBe(false);
  });

  it('replaces the item of a slot set again', () => {
    const log = logOf(2);
    log.set(2, 'w');
    expect(log.get(2)).toBe('w');
  });

  it('keeps the highest slot ever set, whatever the order', () => {
    const log = logOf(5, 2);
    expect(log.lastSlot).toBe(5);
    log.set(5, 'w');
    expect(log.lastSlot).toBe(5);
    log.set(6, 'x');
    expect(log.lastSlot).toBe(6);
  });

  it('refuses a slot that is not a positive integer, naming it', () => {
    const log = new SlotLog<string>();
    for (const slot of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
      expect(() => log.set(slot, 'x')).toThrow(new InvariantError(`slot ${slot} is not a positive integer`));
    }
    log.set(1, 'x');
    expect(log.get(1)).toBe('x');
  });

  describe('forgetting', () => {
    it('forgets every slot up to and including the one given, and keeps the rest', () => {
      const log = logOf(1, 2, 3, 4);
      log.forgetThrough(2);
      expect(log.forgotten).toBe(2);
      expect(log.get(1)).toBeUndefined();
      expect(log.get(2)).toBeUndefined();
      expect(log.has(2)).toBe(false);
      expect(log.get(3)).toBe('v3');
      expect(log.has(3)).toBe(true);
      expect(log.get(4)).toBe('v4');
      expect(log.lastSlot).toBe(4);
    });

    it('ignores a set of a forgotten slot, and keeps the last slot', () => {
      const log = logOf(1, 2, 3);
      log.forgetThrough(3);
      log.set(3, 'w');
      log.set(1, 'w');
      expect(log.get(3)).toBeUndefined();
      expect(log.get(1)).toBeUndefined();
      expect(log.lastSlot).toBe(3);
      expect(log.get(4)).toBeUndefined();
    });

    it('takes slots after the forgotten ones at their place', () => {
      const log = logOf(1, 2);
      log.forgetThrough(2);
      log.set(3, 'v3');
      log.set(5, 'v5');
      expect(log.get(3)).toBe('v3');
      expect(log.get(4)).toBeUndefined();
      expect(log.get(5)).toBe('v5');
      expect(log.lastSlot).toBe(5);
    });

    it('forgets beyond every slot held (a snapshot ahead of the log)', () => {
      const log = logOf(1, 2);
      log.forgetThrough(6);
      expect(log.forgotten).toBe(6);
      expect(log.get(6)).toBeUndefined();
      log.set(7, 'v7');
      expect(log.get(7)).toBe('v7');
      expect(log.get(8)).toBeUndefined();
    });

    it('never moves back: a lower or equal forget changes nothing', () => {
      const log = logOf(1, 2, 3, 4);
      log.forgetThrough(2);
      log.forgetThrough(1);
      log.forgetThrough(2);
      expect(log.forgotten).toBe(2);
      expect(log.get(3)).toBe('v3');
      expect(log.get(4)).toBe('v4');
    });

    it('forgets in steps as in one', () => {
      const log = logOf(1, 2, 3, 4, 5);
      log.forgetThrough(1);
      log.forgetThrough(3);
      expect(log.forgotten).toBe(3);
      expect(log.get(3)).toBeUndefined();
      expect(log.get(4)).toBe('v4');
      expect(log.get(5)).toBe('v5');
    });
  });
});
