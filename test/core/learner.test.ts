import { describe, expect, it } from 'vitest';
import { Acceptor } from '../../src/core/acceptor.js';
import type { Ballot } from '../../src/core/ballot.js';
import type { Configuration } from '../../src/core/configuration/configuration.js';
import type { ConfigurationState } from '../../src/core/configuration/epochs.js';
import type { DurableState } from '../../src/core/durable-state.js';
import { InvariantError } from '../../src/core/errors.js';
import { Learner } from '../../src/core/learner.js';
import type { AcceptedEntry } from '../../src/core/entries.js';
import { OutputBuilder } from '../../src/core/output-builder.js';
import { batch, type Value } from '../../src/core/value.js';

// The learner's bookkeeping, one input at a time: which slots are chosen, the commit
// index over the contiguous chosen prefix (persisted only when it moves), the
// configurations folded from that prefix, and every committed slot handed out once, in order.

const b = (round: number, node = 'a'): Ballot => ({ round, node });
const cmd = (byte: number): Value => batch([new Uint8Array([byte])]);
const config = (id: number, voters: string[] = ['a', 'b', 'c']): Configuration => ({
  id,
  voters,
  quorum: 'majority',
  observers: [],
  addresses: {},
  windowSlots: 4,
});
const first: ConfigurationState = [{ from: 1, source: 0, config: config(0) }];

function durable(fields: Partial<DurableState> = {}): DurableState {
  return { promised: b(1), accepted: [], chosen: [], commitIndex: 0, ...fields };
}

function learner(fields: Partial<DurableState> = {}, snapshotSlot = 0): { learner: Learner; acceptor: Acceptor } {
  const state = durable(fields);
  const acceptor = new Acceptor(state, snapshotSlot);
  return { learner: new Learner(state, acceptor, snapshotSlot, first), acceptor };
}

const committedSlots = (out: OutputBuilder): number[] => out.take().committed.map((e) => e.slot);

describe('Learner', () => {
  describe('restart', () => {
    it('takes chosen values, and accepted ones up to the commit index', () => {
      const accepted: AcceptedEntry[] = [
        { slot: 2, ballot: b(1), value: cmd(2) },
        { slot: 3, ballot: b(1), value: cmd(3) },
      ];
      const { learner: l } = learner({ accepted, chosen: [{ slot: 1, value: cmd(1) }], commitIndex: 2 });
      expect(l.value(1)).toEqual(cmd(1));
      expect(l.value(2)).toEqual(cmd(2));
      // Accepted, but beyond the commit index: not known chosen.
      expect(l.value(3)).toBeUndefined();
      expect(l.commitIndex).toBe(2);
      expect(l.appliedIndex).toBe(0);
      expect(l.lastChosenSlot).toBe(2);
      const out = new OutputBuilder();
      l.takeCommitted(out);
      expect(committedSlots(out)).toEqual([1, 2]);
    });

    it('keeps a chosen value over the accepted one of its slot', () => {
      const { learner: l } = learner({ accepted: [{ slot: 1, ballot: b(1), value: cmd(9) }], chosen: [{ slot: 1, value: cmd(1) }], commitIndex: 1 });
      expect(l.value(1)).toEqual(cmd(1));
    });

    it('refuses a commit index over a slot with no value', () => {
      expect(() => learner({ chosen: [{ slot: 1, value: cmd(1) }], commitIndex: 2 })).toThrow(
        new InvariantError('commit index 2 covers slot 2, which has no value'),
      );
    });

    it('starts after the snapshot: its slots are applied and never handed out', () => {
      const { learner: l } = learner({ chosen: [{ slot: 4, value: cmd(4) }], commitIndex: 4 }, 3);
      expect(l.commitIndex).toBe(4);
      expect(l.appliedIndex).toBe(3);
      expect(l.compactedThrough).toBe(3);
      const out = new OutputBuilder();
      l.takeCommitted(out);
      expect(committedSlots(out)).toEqual([4]);
    });

    it('counts a snapshot ahead of the stored commit index as committed', () => {
      const { learner: l } = learner({ commitIndex: 1, chosen: [{ slot: 1, value: cmd(1) }] }, 5);
      expect(l.commitIndex).toBe(5);
      expect(l.epochs.folded).toBe(5);
    });

    it('folds a configuration chosen in the committed prefix', () => {
      const { learner: l } = learner({
        chosen: [
          { slot: 1, value: cmd(1) },
          { slot: 2, value: { kind: 'config', config: config(1, ['a', 'b']) } },
        ],
        commitIndex: 2,
      });
      expect(l.epochs.folded).toBe(2);
      expect(l.epochs.latest).toMatchObject({ from: 6, source: 2 });
      expect(l.epochs.at(6).voters).toEqual(['a', 'b']);
    });
  });

  describe('learn and advance', () => {
    it('learns a value once; the same value again is old news', () => {
      const { learner: l } = learner();
      expect(l.learn(1, cmd(1))).toBe(true);
      expect(l.learn(1, cmd(1))).toBe(false);
      expect(l.value(1)).toEqual(cmd(1));
    });

    it('refuses a second chosen value for a slot', () => {
      const { learner: l } = learner();
      l.learn(1, cmd(1));
      expect(() => l.learn(1, cmd(2))).toThrow(new InvariantError('slot 1 learned two different chosen values'));
    });

    it('moves the commit index over the contiguous chosen prefix only, and persists it', () => {
      const { learner: l } = learner();
      l.learn(1, cmd(1));
      l.learn(2, cmd(2));
      l.learn(4, cmd(4));
      const out = new OutputBuilder();
      l.advance(out);
      expect(l.commitIndex).toBe(2);
      expect(l.lastChosenSlot).toBe(4);
      expect(out.take().persist).toEqual({ accepted: [], chosen: [], commitIndex: 2 });
    });

    it('persists nothing when the commit index does not move', () => {
      const { learner: l } = learner();
      l.learn(2, cmd(2));
      const out = new OutputBuilder();
      l.advance(out);
      expect(l.commitIndex).toBe(0);
      expect(out.isEmpty).toBe(true);
    });

    it('folds configurations as the commit index passes them', () => {
      const { learner: l } = learner();
      l.learn(1, { kind: 'config', config: config(1, ['a', 'b']) });
      const before = l.epochs.version;
      l.advance(new OutputBuilder());
      expect(l.epochs.folded).toBe(1);
      expect(l.epochs.version).toBe(before + 1);
      expect(l.epochs.latest).toMatchObject({ from: 5, source: 1 });
    });
  });

  describe('followLeader', () => {
    it('marks chosen the slots accepted in the leader’s ballot, up to its commit index', () => {
      const accepted: AcceptedEntry[] = [
        { slot: 1, ballot: b(2), value: cmd(1) },
        { slot: 2, ballot: b(2), value: cmd(2) },
        { slot: 3, ballot: b(2), value: cmd(3) },
      ];
      const { learner: l, acceptor } = learner({ promised: b(2), accepted });
      const out = new OutputBuilder();
      expect(l.followLeader(b(2), 2, acceptor, out)).toBeUndefined();
      expect(l.commitIndex).toBe(2);
      expect(l.value(3)).toBeUndefined();
      expect(out.take().persist).toEqual({ accepted: [], chosen: [], commitIndex: 2 });
    });

    it('stops at a slot accepted in another ballot, and asks for it', () => {
      const accepted: AcceptedEntry[] = [
        { slot: 1, ballot: b(2), value: cmd(1) },
        { slot: 2, ballot: b(1), value: cmd(2) },
        { slot: 3, ballot: b(2), value: cmd(3) },
      ];
      const { learner: l, acceptor } = learner({ promised: b(2), accepted });
      const out = new OutputBuilder();
      expect(l.followLeader(b(2), 3, acceptor, out)).toBe(2);
      expect(l.commitIndex).toBe(1);
      expect(l.value(2)).toBeUndefined();
      expect(l.value(3)).toBeUndefined();
      expect(out.take().persist).toEqual({ accepted: [], chosen: [], commitIndex: 1 });
    });

    it('asks for a slot it never accepted, and skips those it already knows', () => {
      const { learner: l, acceptor } = learner({ promised: b(2), accepted: [{ slot: 3, ballot: b(2), value: cmd(3) }] });
      l.learn(1, cmd(1));
      expect(l.followLeader(b(2), 3, acceptor, new OutputBuilder())).toBe(2);
      expect(l.commitIndex).toBe(1);
    });
  });

  describe('handing out and applying', () => {
    it('hands every committed slot out once, in order', () => {
      const { learner: l } = learner();
      l.learn(1, cmd(1));
      l.learn(2, cmd(2));
      l.advance(new OutputBuilder());
      let out = new OutputBuilder();
      l.takeCommitted(out);
      expect(out.take().committed).toEqual([
        { slot: 1, value: cmd(1) },
        { slot: 2, value: cmd(2) },
      ]);
      out = new OutputBuilder();
      l.takeCommitted(out);
      expect(out.isEmpty).toBe(true);
      l.learn(3, cmd(3));
      l.advance(new OutputBuilder());
      l.takeCommitted(out);
      expect(committedSlots(out)).toEqual([3]);
    });

    it('refuses an apply beyond the slots handed out, or going back', () => {
      const { learner: l } = learner();
      l.learn(1, cmd(1));
      l.learn(2, cmd(2));
      l.advance(new OutputBuilder());
      expect(() => l.applied(1)).toThrow(new InvariantError('applied(1) beyond the last slot handed out, 0'));
      l.takeCommitted(new OutputBuilder());
      l.applied(2);
      expect(l.appliedIndex).toBe(2);
      expect(() => l.applied(1)).toThrow(new InvariantError('applied(1) goes back from 2'));
      l.applied(2);
      expect(l.appliedIndex).toBe(2);
    });

    it('compacts applied slots only', () => {
      const { learner: l } = learner();
      for (const s of [1, 2, 3]) l.learn(s, cmd(s));
      l.advance(new OutputBuilder());
      l.takeCommitted(new OutputBuilder());
      l.applied(2);
      expect(() => l.compact(3)).toThrow(new InvariantError('compact(3) beyond the applied slot 2'));
      l.compact(2);
      expect(l.compactedThrough).toBe(2);
      expect(l.value(2)).toBeUndefined();
      expect(l.value(3)).toEqual(cmd(3));
    });

    it('compacting forgets the configurations no later snapshot needs', () => {
      const { learner: l } = learner();
      l.learn(1, { kind: 'config', config: config(1, ['a', 'b']) });
      for (const s of [2, 3, 4, 5]) l.learn(s, cmd(s));
      l.advance(new OutputBuilder());
      l.takeCommitted(new OutputBuilder());
      l.applied(5);
      l.compact(4);
      expect(l.epochs.stateAt(4)).toEqual([{ from: 5, source: 1, config: config(1, ['a', 'b']) }]);
    });
  });

  describe('installSnapshot', () => {
    it('jumps the commit, handed-out and applied slots to the snapshot, persisting the commit index', () => {
      const { learner: l } = learner();
      const out = new OutputBuilder();
      const restored: ConfigurationState = [{ from: 3, source: 2, config: config(1, ['a', 'b']) }];
      l.installSnapshot(5, restored, out);
      expect(l.commitIndex).toBe(5);
      expect(l.appliedIndex).toBe(5);
      expect(l.compactedThrough).toBe(5);
      expect(l.epochs.folded).toBe(5);
      expect(l.epochs.latest.config.id).toBe(1);
      const taken = out.take();
      expect(taken.persist).toEqual({ accepted: [], chosen: [], commitIndex: 5 });
      expect(taken.committed).toEqual([]);
      l.applied(5);
    });

    it('then commits the chosen slots that follow it', () => {
      const { learner: l } = learner();
      l.learn(6, cmd(6));
      const out = new OutputBuilder();
      l.installSnapshot(5, first, out);
      expect(l.commitIndex).toBe(6);
      expect(out.take().persist).toEqual({ accepted: [], chosen: [], commitIndex: 6 });
      l.takeCommitted(out);
      expect(committedSlots(out)).toEqual([6]);
    });

    it('behind the commit index, keeps it and hands out only the slots after the snapshot', () => {
      const { learner: l } = learner();
      for (const s of [1, 2, 3]) l.learn(s, cmd(s));
      l.advance(new OutputBuilder());
      const version = l.epochs.version;
      const out = new OutputBuilder();
      l.installSnapshot(2, [{ from: 1, source: 0, config: config(0, ['x']) }], out);
      expect(l.commitIndex).toBe(3);
      expect(out.isEmpty).toBe(true);
      // Folded through 3 already: the snapshot's configurations are no news.
      expect(l.epochs.version).toBe(version);
      expect(l.epochs.latest.voters).toEqual(['a', 'b', 'c']);
      l.takeCommitted(out);
      expect(committedSlots(out)).toEqual([3]);
    });

    it('at the commit index, persists nothing and keeps the configurations it folded', () => {
      const { learner: l } = learner();
      for (const s of [1, 2, 3]) l.learn(s, cmd(s));
      l.advance(new OutputBuilder());
      const version = l.epochs.version;
      const out = new OutputBuilder();
      l.installSnapshot(3, [{ from: 1, source: 0, config: config(0, ['x']) }], out);
      expect(l.commitIndex).toBe(3);
      expect(l.appliedIndex).toBe(3);
      expect(out.isEmpty).toBe(true);
      expect(l.epochs.version).toBe(version);
      expect(l.epochs.latest.voters).toEqual(['a', 'b', 'c']);
    });

    it('keeps slots handed out beyond the snapshot handed out', () => {
      const { learner: l } = learner();
      for (const s of [1, 2, 3]) l.learn(s, cmd(s));
      l.advance(new OutputBuilder());
      l.takeCommitted(new OutputBuilder());
      l.installSnapshot(2, first, new OutputBuilder());
      const out = new OutputBuilder();
      l.takeCommitted(out);
      expect(out.isEmpty).toBe(true);
      l.applied(3);
    });

    it('refuses a snapshot not ahead of the applied slot', () => {
      const { learner: l } = learner();
      l.installSnapshot(2, first, new OutputBuilder());
      expect(() => l.installSnapshot(2, first, new OutputBuilder())).toThrow(new InvariantError('snapshot of slot 2 is not ahead of the applied slot 2'));
    });
  });

  it('a leader must know every slot below the first it proposes', () => {
    const { learner: l } = learner();
    l.learn(1, cmd(1));
    l.advance(new OutputBuilder());
    l.assertKnownBelow(2, b(3));
    expect(() => l.assertKnownBelow(3, b(3))).toThrow(new InvariantError('leader 3.a starts at slot 3 but its commit index is 1'));
  });
});
