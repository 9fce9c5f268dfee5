import { describe, expect, it } from 'vitest';
import type { Ballot } from '../../src/core/ballot.js';
import {
  DurableStateBuilder,
  emptyDurableState,
  mergePersistBatches,
  type PersistBatch,
  persistBatchProblem,
  persistNeedsSync,
} from '../../src/core/durable-state.js';
import type { AcceptedEntry, ChosenEntry } from '../../src/core/entries.js';
import { batch, type Value } from '../../src/core/value.js';

// The persist contract every storage shares, one batch at a time: which batches need a
// sync, how batches merge (later ones win field by field, entries by slot), and which
// batches break the contract.

const b = (round: number, node = 'a'): Ballot => ({ round, node });
const cmd = (byte: number): Value => batch([new Uint8Array([byte])]);
const acc = (slot: number, round = 1, byte = slot): AcceptedEntry => ({ slot, ballot: b(round), value: cmd(byte) });
const ch = (slot: number, byte = slot): ChosenEntry => ({ slot, value: cmd(byte) });

describe('persistNeedsSync', () => {
  it('is false for a batch that holds only a commit index, or nothing', () => {
    expect(persistNeedsSync({ accepted: [], chosen: [], commitIndex: 7 })).toBe(false);
    expect(persistNeedsSync({ accepted: [], chosen: [] })).toBe(false);
  });

  it('is true for a promise, an accepted entry or a chosen value, each alone', () => {
    expect(persistNeedsSync({ promised: b(1), accepted: [], chosen: [] })).toBe(true);
    expect(persistNeedsSync({ accepted: [acc(1)], chosen: [] })).toBe(true);
    expect(persistNeedsSync({ accepted: [], chosen: [ch(1)] })).toBe(true);
  });
});

describe('emptyDurableState', () => {
  it('holds nothing, and cannot be changed', () => {
    expect(emptyDurableState).toEqual({ promised: { round: 0, node: '' }, accepted: [], chosen: [], commitIndex: 0 });
    expect(Object.isFrozen(emptyDurableState)).toBe(true);
  });
});

describe('DurableStateBuilder', () => {
  it('starts empty', () => {
    expect(new DurableStateBuilder().build()).toEqual(emptyDurableState);
  });

  it('round-trips a state', () => {
    const state = { promised: b(3), accepted: [acc(2), acc(4)], chosen: [ch(1)], commitIndex: 1 };
    expect(DurableStateBuilder.from(state).build()).toEqual(state);
  });

  it('merges a batch field by field, entries replacing those of their slot, and builds in slot order', () => {
    const s = DurableStateBuilder.from({ promised: b(3), accepted: [acc(2), acc(4)], chosen: [ch(1)], commitIndex: 1 });
    s.merge({ promised: b(5), accepted: [acc(4, 5, 40), acc(3)], chosen: [ch(2)], commitIndex: 2 });
    expect(s.build()).toEqual({ promised: b(5), accepted: [acc(2), acc(3), acc(4, 5, 40)], chosen: [ch(1), ch(2)], commitIndex: 2 });
  });

  it('keeps the promise and the commit index a batch leaves out', () => {
    const s = DurableStateBuilder.from({ promised: b(3), accepted: [], chosen: [], commitIndex: 4 });
    s.merge({ accepted: [], chosen: [] });
    expect(s.build()).toEqual({ promised: b(3), accepted: [], chosen: [], commitIndex: 4 });
  });
});

describe('persistBatchProblem', () => {
  const ok: PersistBatch = { accepted: [acc(1), acc(3)], chosen: [ch(2)], commitIndex: 2 };

  it('finds nothing wrong in a well-formed batch', () => {
    expect(persistBatchProblem(ok, 2)).toBeUndefined();
    expect(persistBatchProblem({ accepted: [], chosen: [] }, 9)).toBeUndefined();
    expect(persistBatchProblem({ accepted: [], chosen: [], commitIndex: 0 }, 0)).toBeUndefined();
  });

  it('refuses a list that is not an array', () => {
    expect(persistBatchProblem({ ...ok, accepted: undefined } as unknown as PersistBatch, 0)).toBe('batch.accepted must be an array');
    expect(persistBatchProblem({ ...ok, chosen: {} } as unknown as PersistBatch, 0)).toBe('batch.chosen must be an array');
  });

  it('refuses a slot that is not a positive integer, in either list', () => {
    expect(persistBatchProblem({ accepted: [acc(0)], chosen: [] }, 0)).toBe('accepted slot 0 is not a positive integer');
    expect(persistBatchProblem({ accepted: [], chosen: [ch(1.5)] }, 0)).toBe('chosen slot 1.5 is not a positive integer');
    expect(persistBatchProblem({ accepted: [acc(-2)], chosen: [] }, 0)).toBe('accepted slot -2 is not a positive integer');
  });

  it('refuses slots that do not increase, starting over for each list', () => {
    expect(persistBatchProblem({ accepted: [acc(2), acc(2)], chosen: [] }, 0)).toBe('accepted slot 2 follows slot 2; slots must increase');
    expect(persistBatchProblem({ accepted: [], chosen: [ch(3), ch(1)] }, 0)).toBe('chosen slot 1 follows slot 3; slots must increase');
    expect(persistBatchProblem({ accepted: [acc(5)], chosen: [ch(1)] }, 0)).toBeUndefined();
  });

  it('refuses a commit index that is not a non-negative integer', () => {
    expect(persistBatchProblem({ accepted: [], chosen: [], commitIndex: -1 }, 0)).toBe('commitIndex must be a non-negative integer, got -1');
    expect(persistBatchProblem({ accepted: [], chosen: [], commitIndex: 2.5 }, 0)).toBe('commitIndex must be a non-negative integer, got 2.5');
  });

  it('refuses a commit index below the stored one, and takes an equal one', () => {
    expect(persistBatchProblem({ accepted: [], chosen: [], commitIndex: 3 }, 4)).toBe('commitIndex 3 is below the stored 4');
    expect(persistBatchProblem({ accepted: [], chosen: [], commitIndex: 4 }, 4)).toBeUndefined();
  });
});

describe('mergePersistBatches', () => {
  it('gives back a lone batch as it is', () => {
    const one: PersistBatch = { accepted: [acc(2), acc(1)], chosen: [] };
    expect(mergePersistBatches([one])).toBe(one);
  });

  it('takes the last promise and commit index, and entries by slot, the later winning', () => {
    expect(
      mergePersistBatches([
        { promised: b(2), accepted: [acc(1), acc(2)], chosen: [ch(5)], commitIndex: 1 },
        { accepted: [acc(2, 3, 20)], chosen: [ch(4)] },
        { promised: b(3), accepted: [], chosen: [], commitIndex: 2 },
      ]),
    ).toEqual({ promised: b(3), accepted: [acc(1), acc(2, 3, 20)], chosen: [ch(4), ch(5)], commitIndex: 2 });
  });

  it('leaves out a promise and a commit index no batch carries', () => {
    const merged = mergePersistBatches([
      { accepted: [acc(1)], chosen: [] },
      { accepted: [], chosen: [ch(2)] },
    ]);
    expect(merged).toEqual({ accepted: [acc(1)], chosen: [ch(2)] });
    expect('promised' in merged).toBe(false);
    expect('commitIndex' in merged).toBe(false);
  });

  it('keeps a promise and a commit index a later batch leaves out', () => {
    expect(
      mergePersistBatches([
        { promised: b(2), accepted: [], chosen: [], commitIndex: 3 },
        { accepted: [acc(4)], chosen: [] },
      ]),
    ).toEqual({ promised: b(2), accepted: [acc(4)], chosen: [], commitIndex: 3 });
  });
});
