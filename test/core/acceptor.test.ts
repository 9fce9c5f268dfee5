import { describe, expect, it } from 'vitest';
import { Acceptor } from '../../src/core/acceptor.js';
import type { Ballot } from '../../src/core/ballot.js';
import type { DurableState } from '../../src/core/durable-state.js';
import { InvariantError } from '../../src/core/errors.js';
import type { AcceptedEntry } from '../../src/core/entries.js';
import { OutputBuilder } from '../../src/core/output-builder.js';
import { batch, noop, type Value } from '../../src/core/value.js';

// The acceptor's two rules, one input at a time: what it answers and what it hands the
// output to persist (persist before you speak), including what it must not persist.

const b = (round: number, node = 'a'): Ballot => ({ round, node });
const cmd = (byte: number): Value => batch([new Uint8Array([byte])]);
const entry = (slot: number, ballot: Ballot, value: Value = noop): AcceptedEntry => ({ slot, ballot, value });

function state(promised: Ballot, accepted: AcceptedEntry[] = []): DurableState {
  return { promised, accepted, chosen: [], commitIndex: 0 };
}

describe('Acceptor', () => {
  describe('restart', () => {
    it('restores the promise and every accepted entry', () => {
      const acc = new Acceptor(state(b(3), [entry(1, b(2)), entry(2, b(3))]));
      expect(acc.promised).toEqual(b(3));
      expect(acc.accepted(1)).toEqual(entry(1, b(2)));
      expect(acc.accepted(2)).toEqual(entry(2, b(3)));
      expect(acc.lastSlot).toBe(2);
    });

    it('has no last slot before it accepts anything', () => {
      expect(new Acceptor(state(b(1))).lastSlot).toBe(0);
    });

    it('forgets the slots the snapshot covers', () => {
      const acc = new Acceptor(state(b(3), [entry(1, b(2)), entry(2, b(3)), entry(3, b(3))]), 2);
      expect(acc.accepted(1)).toBeUndefined();
      expect(acc.accepted(2)).toBeUndefined();
      expect(acc.accepted(3)).toEqual(entry(3, b(3)));
    });

    it('refuses a state holding an entry accepted above its promise', () => {
      expect(() => new Acceptor(state(b(2), [entry(4, b(3))]))).toThrow(new InvariantError('slot 4 accepted in ballot 3.a above the promise 2.a'));
    });
  });

  describe('rule 1: prepare', () => {
    it('refuses a ballot below the promise, persisting nothing', () => {
      const acc = new Acceptor(state(b(2), [entry(1, b(2))]));
      const out = new OutputBuilder();
      expect(acc.prepare(b(1), 1, out)).toBeUndefined();
      expect(acc.promised).toEqual(b(2));
      expect(out.isEmpty).toBe(true);
    });

    it('answers the promised ballot again without persisting it again', () => {
      const acc = new Acceptor(state(b(2), [entry(1, b(2))]));
      const out = new OutputBuilder();
      expect(acc.prepare(b(2), 1, out)).toEqual([entry(1, b(2))]);
      expect(out.isEmpty).toBe(true);
    });

    it('promises a higher ballot and persists it', () => {
      const acc = new Acceptor(state(b(2)));
      const out = new OutputBuilder();
      expect(acc.prepare(b(5, 'c'), 1, out)).toEqual([]);
      expect(acc.promised).toEqual(b(5, 'c'));
      expect(out.take().persist).toEqual({ promised: b(5, 'c'), accepted: [], chosen: [] });
    });

    it('reports every entry from the first slot on, skipping holes', () => {
      const acc = new Acceptor(state(b(3), [entry(1, b(1)), entry(2, b(2)), entry(4, b(3)), entry(5, b(3))]));
      expect(acc.prepare(b(4), 2, new OutputBuilder())).toEqual([entry(2, b(2)), entry(4, b(3)), entry(5, b(3))]);
      expect(acc.prepare(b(4), 5, new OutputBuilder())).toEqual([entry(5, b(3))]);
      expect(acc.prepare(b(4), 6, new OutputBuilder())).toEqual([]);
    });

    it('refuses a prepare that starts at a forgotten slot', () => {
      const acc = new Acceptor(state(b(1)), 3);
      expect(() => acc.prepare(b(2), 3, new OutputBuilder())).toThrow(new InvariantError('prepare from slot 3, but slots up to 3 are forgotten'));
      expect(acc.prepare(b(2), 4, new OutputBuilder())).toEqual([]);
    });

    it('does not report slots it forgot after the restart', () => {
      const acc = new Acceptor(state(b(3), [entry(1, b(3)), entry(2, b(3))]));
      acc.forgetThrough(1);
      expect(acc.accepted(1)).toBeUndefined();
      expect(acc.prepare(b(3), 2, new OutputBuilder())).toEqual([entry(2, b(3))]);
    });
  });

  describe('raisePromise', () => {
    it('raises to a higher ballot and persists it', () => {
      const acc = new Acceptor(state(b(2)));
      const out = new OutputBuilder();
      acc.raisePromise(b(3), out);
      expect(acc.promised).toEqual(b(3));
      expect(out.take().persist).toEqual({ promised: b(3), accepted: [], chosen: [] });
    });

    it('leaves an equal or lower ballot alone, persisting nothing', () => {
      const acc = new Acceptor(state(b(2)));
      const out = new OutputBuilder();
      acc.raisePromise(b(2), out);
      acc.raisePromise(b(1, 'z'), out);
      expect(acc.promised).toEqual(b(2));
      expect(out.isEmpty).toBe(true);
    });
  });

  describe('adopt', () => {
    it('takes entries at or below the promise and persists them', () => {
      const acc = new Acceptor(state(b(3)));
      const out = new OutputBuilder();
      acc.adopt([entry(1, b(2)), entry(2, b(3))], out);
      expect(acc.accepted(1)).toEqual(entry(1, b(2)));
      expect(acc.accepted(2)).toEqual(entry(2, b(3)));
      expect(out.take().persist).toEqual({ accepted: [entry(1, b(2)), entry(2, b(3))], chosen: [] });
    });

    it('keeps an entry held in a higher or the same ballot, persisting nothing', () => {
      const acc = new Acceptor(state(b(3), [entry(1, b(3), cmd(1)), entry(2, b(2), cmd(2))]));
      const out = new OutputBuilder();
      acc.adopt([entry(1, b(2), cmd(9)), entry(2, b(2), cmd(2))], out);
      expect(acc.accepted(1)).toEqual(entry(1, b(3), cmd(1)));
      expect(acc.accepted(2)).toEqual(entry(2, b(2), cmd(2)));
      expect(out.isEmpty).toBe(true);
    });

    it('replaces an entry held in a lower ballot', () => {
      const acc = new Acceptor(state(b(3), [entry(1, b(1), cmd(1))]));
      const out = new OutputBuilder();
      acc.adopt([entry(1, b(2), cmd(2))], out);
      expect(acc.accepted(1)).toEqual(entry(1, b(2), cmd(2)));
      expect(out.take().persist).toEqual({ accepted: [entry(1, b(2), cmd(2))], chosen: [] });
    });

    it('refuses an entry above the promise', () => {
      const acc = new Acceptor(state(b(2)));
      expect(() => acc.adopt([entry(1, b(3))], new OutputBuilder())).toThrow(new InvariantError('adopting slot 1 of ballot 3.a above the promise 2.a'));
    });
  });

  describe('rule 2: accept', () => {
    it('refuses a ballot below the promise, persisting nothing', () => {
      const acc = new Acceptor(state(b(2)));
      const out = new OutputBuilder();
      expect(acc.accept(b(1), 1, [noop], out)).toBe(false);
      expect(acc.accepted(1)).toBeUndefined();
      expect(out.isEmpty).toBe(true);
    });

    it('accepts in the promised ballot without persisting the promise again', () => {
      const acc = new Acceptor(state(b(2)));
      const out = new OutputBuilder();
      expect(acc.accept(b(2), 3, [cmd(1), cmd(2)], out)).toBe(true);
      expect(acc.accepted(3)).toEqual(entry(3, b(2), cmd(1)));
      expect(acc.accepted(4)).toEqual(entry(4, b(2), cmd(2)));
      expect(acc.lastSlot).toBe(4);
      expect(out.take().persist).toEqual({ accepted: [entry(3, b(2), cmd(1)), entry(4, b(2), cmd(2))], chosen: [] });
    });

    it('accepting a higher ballot promises it too', () => {
      const acc = new Acceptor(state(b(2)));
      const out = new OutputBuilder();
      expect(acc.accept(b(4), 1, [noop], out)).toBe(true);
      expect(acc.promised).toEqual(b(4));
      expect(out.take().persist).toEqual({ promised: b(4), accepted: [entry(1, b(4))], chosen: [] });
      expect(acc.prepare(b(3), 1, new OutputBuilder())).toBeUndefined();
    });

    it('skips a duplicate of the same ballot and value, persisting nothing', () => {
      const acc = new Acceptor(state(b(2), [entry(1, b(2), cmd(1))]));
      const out = new OutputBuilder();
      expect(acc.accept(b(2), 1, [cmd(1)], out)).toBe(true);
      expect(out.isEmpty).toBe(true);
    });

    it('replaces a value accepted in an earlier ballot', () => {
      const acc = new Acceptor(state(b(2), [entry(1, b(1), cmd(1))]));
      const out = new OutputBuilder();
      expect(acc.accept(b(2), 1, [cmd(2)], out)).toBe(true);
      expect(acc.accepted(1)).toEqual(entry(1, b(2), cmd(2)));
      expect(out.take().persist).toEqual({ accepted: [entry(1, b(2), cmd(2))], chosen: [] });
    });

    it('refuses a second value for a slot in one ballot', () => {
      const acc = new Acceptor(state(b(2), [entry(1, b(2), cmd(1))]));
      expect(() => acc.accept(b(2), 1, [cmd(2)], new OutputBuilder())).toThrow(new InvariantError('slot 1: ballot 2.a proposed two values'));
      expect(acc.accepted(1)).toEqual(entry(1, b(2), cmd(1)));
    });
  });
});
