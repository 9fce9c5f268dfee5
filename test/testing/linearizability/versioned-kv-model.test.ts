/**
 * The versioned-KV model: ZooKeeper's versions (1 after create, +1 per write, gone
 * with the key on delete), compare-and-set by version (0 = create if absent).
 */
import { describe, expect, it } from 'vitest';
import { type KvInput, type KvOutput, type KvState, kvOutputEquals, versionedKvModel } from '../../../src/testing/index.js';
import { absent, conflict, del, deleted, get, put, value, written } from './fixtures.js';

/** Runs `inputs` in order from the initial state; the outputs. */
function run(inputs: readonly KvInput[]): KvOutput[] {
  let state: KvState = versionedKvModel.init();
  return inputs.map((input) => {
    const step = versionedKvModel.step(state, input, undefined);
    expect(step.ok).toBe(true);
    state = step.state;
    return step.output;
  });
}

describe('versionedKvModel', () => {
  it('counts writes since creation', () => {
    expect(run([get, put('a'), get, put('b'), get])).toEqual([absent, written(1), value('a', 1), written(2), value('b', 2)]);
  });

  it('compare-and-set: 0 creates only if absent, n writes only at version n', () => {
    expect(run([put('a', 1), put('a', 0), put('b', 0), put('b', 2), put('b', 1), get])).toEqual([
      conflict(0),
      written(1),
      conflict(1),
      conflict(1),
      written(2),
      value('b', 2),
    ]);
  });

  it('delete removes the key; a re-create starts at version 1', () => {
    expect(run([del(), put('a'), put('b'), del(1), del(2), get, del(), put('c', 0), get])).toEqual([
      absent,
      written(1),
      written(2),
      conflict(2),
      deleted,
      absent,
      absent,
      written(1),
      value('c', 1),
    ]);
  });

  it('accepts any observed output of an unknown operation, and only the right one of a known one', () => {
    const state: KvState = { value: 'a', version: 3 };
    expect(versionedKvModel.step(state, get, undefined).ok).toBe(true);
    expect(versionedKvModel.step(state, get, value('a', 3)).ok).toBe(true);
    expect(versionedKvModel.step(state, get, value('a', 2)).ok).toBe(false);
    expect(versionedKvModel.step(state, get, value('b', 3)).ok).toBe(false);
    expect(versionedKvModel.step(state, put('b', 3), written(4)).state).toEqual({ value: 'b', version: 4 });
  });

  it('hashes states apart exactly when they differ', () => {
    const states: KvState[] = [null, { value: 'a', version: 1 }, { value: 'a', version: 2 }, { value: 'b', version: 1 }];
    expect(new Set(states.map((s) => versionedKvModel.hash(s))).size).toBe(states.length);
    expect(versionedKvModel.hash({ value: 'a', version: 1 })).toBe(versionedKvModel.hash({ value: 'a', version: 1 }));
  });

  it('compares outputs field by field', () => {
    const outputs: KvOutput[] = [absent, deleted, written(1), written(2), conflict(1), value('a', 1), value('a', 2), value('b', 1)];
    outputs.forEach((a, i) => outputs.forEach((b, j) => expect(kvOutputEquals(a, b)).toBe(i === j)));
  });
});
