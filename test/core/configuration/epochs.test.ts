import { describe, expect, it } from 'vitest';
import type { Configuration } from '../../../src/core/configuration/configuration.js';
import { type ConfigurationState, Epochs } from '../../../src/core/configuration/epochs.js';
import { InvariantError } from '../../../src/core/errors.js';

// Which configuration governs each slot, one committed slot at a time (Lamport's
// α-window: one chosen at slot i governs from i + windowSlots, and only if it is built
// on the latest), and what a snapshot at a slot must carry about them.

const config = (id: number, voters: string[] = ['a', 'b', 'c'], windowSlots = 4): Configuration => ({
  id,
  voters,
  quorum: 'majority',
  observers: [],
  addresses: {},
  windowSlots,
});
const start: ConfigurationState = [{ from: 1, source: 0, config: config(0) }];

/** Epochs from the initial configuration, with `changes` chosen at their slots, folded through `through`. */
function folded(through: number, changes: Record<number, Configuration> = {}): Epochs {
  const e = new Epochs(start, 0);
  for (let slot = 1; slot <= through; slot++) e.fold(slot, changes[slot]);
  return e;
}

const ids = (list: readonly { config: Configuration }[]): number[] => list.map((e) => e.config.id);

describe('Epochs', () => {
  describe('from a configuration state', () => {
    it('takes its epochs, the window of the first, and the slot folded through', () => {
      const e = new Epochs(
        [
          { from: 3, source: 0, config: config(2) },
          { from: 9, source: 5, config: config(3, ['a', 'b']) },
        ],
        6,
      );
      expect(e.windowSlots).toBe(4);
      expect(e.folded).toBe(6);
      expect(e.knownThrough).toBe(10);
      expect(e.latest).toMatchObject({ from: 9, source: 5, voters: ['a', 'b'] });
      expect(e.latest.quorum.describe()).toBe('majority(2 of 2)');
      expect(e.version).toBe(0);
    });

    it('freezes each epoch', () => {
      expect(Object.isFrozen(new Epochs(start, 0).latest)).toBe(true);
    });

    it('refuses an empty state', () => {
      expect(() => new Epochs([], 0)).toThrow(new InvariantError('a configuration state holds at least one configuration'));
    });

    it('refuses epochs out of order, or not counting one by one', () => {
      const bad = (from: number, id: number): ConfigurationState => [
        { from: 3, source: 0, config: config(2) },
        { from, source: 5, config: config(id) },
      ];
      expect(() => new Epochs(bad(3, 3), 5)).toThrow(new InvariantError('configuration 3 from slot 3 does not follow 2 from slot 3'));
      expect(() => new Epochs(bad(9, 4), 5)).toThrow(new InvariantError('configuration 4 from slot 9 does not follow 2 from slot 3'));
      expect(() => new Epochs(bad(9, 2), 5)).toThrow(new InvariantError('configuration 2 from slot 9 does not follow 2 from slot 3'));
      expect(new Epochs(bad(4, 3), 5).latest.from).toBe(4);
    });
  });

  describe('folding committed slots', () => {
    it('takes a configuration chosen at slot i from slot i + windowSlots', () => {
      const e = new Epochs(start, 0);
      expect(e.fold(1, undefined)).toBe(false);
      expect(e.fold(2, config(1, ['a', 'b']))).toBe(true);
      expect(e.latest).toMatchObject({ from: 6, source: 2 });
      expect(e.version).toBe(1);
      expect(e.folded).toBe(2);
      expect(e.at(5).config.id).toBe(0);
      expect(e.at(6).config.id).toBe(1);
    });

    it('ignores a configuration not built on the latest, or with another window', () => {
      const e = new Epochs(start, 0);
      expect(e.fold(1, config(2))).toBe(false);
      expect(e.fold(2, config(0))).toBe(false);
      expect(e.fold(3, config(1, ['a'], 5))).toBe(false);
      expect(e.latest.config.id).toBe(0);
      expect(e.version).toBe(0);
      expect(e.folded).toBe(3);
    });

    it('ignores a slot folded already', () => {
      const e = folded(3);
      expect(e.fold(3, config(1))).toBe(false);
      expect(e.fold(2, config(1))).toBe(false);
      expect(e.latest.config.id).toBe(0);
      expect(e.folded).toBe(3);
    });

    it('refuses a gap', () => {
      const e = folded(3);
      expect(() => e.fold(5, undefined)).toThrow(new InvariantError('configurations folded through 3, then slot 5'));
    });

    it('takes changes one after another', () => {
      const e = folded(9, { 1: config(1), 6: config(2) });
      expect(ids(e.between(1, 20))).toEqual([0, 1, 2]);
      expect(e.latest).toMatchObject({ from: 10, source: 6 });
      expect(e.version).toBe(2);
    });
  });

  describe('looking up slots', () => {
    const e = folded(7, { 2: config(1), 7: config(2) });
    // Configuration 0 governs 1..5, 1 governs 6..10, 2 from 11; known through 11.

    it('gives the configuration governing each known slot', () => {
      expect(e.knownThrough).toBe(11);
      expect(e.at(1).config.id).toBe(0);
      expect(e.at(5).config.id).toBe(0);
      expect(e.at(6).config.id).toBe(1);
      expect(e.at(10).config.id).toBe(1);
      expect(e.at(11).config.id).toBe(2);
    });

    it('refuses a slot beyond what is known', () => {
      expect(() => e.at(12)).toThrow(new InvariantError('the configuration of slot 12 is unknown: slots are folded through 7'));
    });

    it('gives the configurations governing a range, in order', () => {
      expect(ids(e.between(1, 5))).toEqual([0]);
      expect(ids(e.between(5, 6))).toEqual([0, 1]);
      expect(ids(e.between(6, 10))).toEqual([1]);
      expect(ids(e.between(10, 11))).toEqual([1, 2]);
      expect(ids(e.between(11, 11))).toEqual([2]);
      expect(ids(e.between(1, 11))).toEqual([0, 1, 2]);
    });

    it('gives the last slot each configuration governs, Infinity for the latest', () => {
      const [a, b, c] = e.between(1, 11);
      expect(e.lastSlotOf(a!)).toBe(5);
      expect(e.lastSlotOf(b!)).toBe(10);
      expect(e.lastSlotOf(c!)).toBe(Infinity);
    });

    it('refuses an epoch that is not in the log', () => {
      const other = new Epochs(start, 0).latest;
      expect(() => e.lastSlotOf(other)).toThrow(new InvariantError('epoch of configuration 0 is not in the log'));
    });
  });

  describe('snapshots', () => {
    it('carry the configuration governing the next slot and those chosen up to the slot that govern later', () => {
      const e = folded(7, { 2: config(1), 7: config(2) });
      expect(ids(e.stateAt(4))).toEqual([0, 1]);
      expect(ids(e.stateAt(5))).toEqual([1]);
      expect(ids(e.stateAt(6))).toEqual([1]);
      expect(ids(e.stateAt(7))).toEqual([1, 2]);
      expect(e.stateAt(7)).toEqual([
        { from: 6, source: 2, config: config(1) },
        { from: 11, source: 7, config: config(2) },
      ]);
      expect(ids(e.stateAt(1))).toEqual([0]);
    });

    it('do not carry a configuration chosen after their slot', () => {
      const e = folded(7, { 2: config(1) });
      expect(ids(e.stateAt(1))).toEqual([0]);
      expect(ids(e.stateAt(2))).toEqual([0, 1]);
    });

    it('refuse a slot not folded yet', () => {
      expect(() => folded(3).stateAt(4)).toThrow(new InvariantError('configuration state at slot 4, but only 3 are folded'));
    });

    it('restore a view from a state: the log jumps to its slot', () => {
      const e = folded(3);
      e.restore(
        [
          { from: 6, source: 2, config: config(1) },
          { from: 11, source: 7, config: config(2) },
        ],
        8,
      );
      expect(e.folded).toBe(8);
      expect(e.knownThrough).toBe(12);
      expect(e.version).toBe(1);
      expect(e.at(8).config.id).toBe(1);
      expect(e.at(11).config.id).toBe(2);
      expect(e.fold(9, undefined)).toBe(false);
    });

    it("restore through the constructor's checks", () => {
      expect(() => folded(3).restore([], 8)).toThrow(new InvariantError('a configuration state holds at least one configuration'));
    });

    it('forget the configurations replaced before the slot after them', () => {
      const e = folded(7, { 2: config(1), 7: config(2) });
      e.forgetThrough(3);
      expect(e.version).toBe(2);
      expect(ids(e.between(1, 11))).toEqual([0, 1, 2]);
      e.forgetThrough(5);
      expect(e.version).toBe(3);
      expect(ids(e.between(1, 11))).toEqual([1, 2]);
      e.forgetThrough(6);
      expect(e.version).toBe(3);
      e.forgetThrough(10);
      expect(e.version).toBe(4);
      expect(ids(e.between(1, 11))).toEqual([2]);
      expect(e.windowSlots).toBe(4);
    });
  });
});
