/**
 * Failures a person can read: the window where every linearization dies, the states
 * possible just before it, and why no pending operation can go next.
 */
import { describe, expect, it } from 'vitest';
import { checkLinearizability, type KvInput, type KvOutput, type KvState, type LinearizabilityVerdict, versionedKvModel } from '../../../src/testing/index.js';
import { type KvOperation, absent, conflict, get, info, ok, put, value, written } from './fixtures.js';

function explanationOf(history: readonly KvOperation[]) {
  const verdict: LinearizabilityVerdict<KvInput, KvOutput, KvState> = checkLinearizability(history, versionedKvModel);
  if (verdict.result !== 'not-linearizable') throw new Error(`expected a failure, got ${verdict.result}`);
  return verdict.explanation;
}

describe('the explanation of a failure', () => {
  it('a lost write: the read that misses it, the write before it, the state it should have seen', () => {
    const history = [ok('a', put('1'), 0, 1, written(1)), ok('b', get, 2, 3, absent)];
    const explanation = explanationOf(history);
    expect(explanation.stuck).toBe(history[1]);
    expect(explanation.linearized).toEqual([history[0]]);
    expect(explanation.window).toEqual([history[1]]);
    expect(explanation.states).toEqual([{ value: '1', version: 1 }]);
    expect(explanation.candidates).toEqual([{ operation: history[1], attempts: [{ state: { value: '1', version: 1 }, fits: false, output: value('1', 1) }] }]);
    expect(explanation.text).toContain('the model returns {"type":"value","value":"1","version":1}');
  });

  it('a stale read keeps the writes that explain it, where the shrunk history is one read', () => {
    const history = [ok('a', put('1'), 0, 1, written(1)), ok('a', put('2'), 2, 3, written(2)), ok('b', get, 4, 5, value('1', 1))];
    const verdict = checkLinearizability(history, versionedKvModel);
    expect(verdict).toMatchObject({ result: 'not-linearizable', minimal: [history[2]] });
    const explanation = explanationOf(history);
    expect(explanation.linearized).toEqual([history[0], history[1]]);
    expect(explanation.states).toEqual([{ value: '2', version: 2 }]);
    expect(explanation.candidates[0]?.attempts[0]).toMatchObject({ fits: false, output: value('2', 2) });
  });

  it('two compare-and-sets on one version that both succeed: the second is stuck after the first', () => {
    const history = [ok('a', put('1'), 0, 1, written(1)), ok('b', put('b', 1), 2, 5, written(2)), ok('c', put('c', 1), 2, 5, written(2))];
    const explanation = explanationOf(history);
    expect(explanation.stuck).toBe(history[2]);
    expect(explanation.linearized).toEqual([history[0], history[1]]);
    expect(explanation.window).toEqual([history[2]]);
    expect(explanation.candidates[0]?.attempts).toEqual([{ state: { value: 'b', version: 2 }, fits: false, output: conflict(2) }]);
  });

  it('lists every state possible just before the window', () => {
    // Either unknown put may have happened, in either order, or neither; the read at 10 sees a value nobody wrote.
    const history = [info('w1', put('a'), 0), info('w2', put('b'), 0), ok('r', get, 10, 11, value('z', 1))];
    const explanation = explanationOf(history);
    expect(explanation.stuck).toBe(history[2]);
    expect(explanation.window).toEqual([history[2]]);
    expect(new Set(explanation.states.map((s) => versionedKvModel.hash(s)))).toEqual(new Set(['-', '1:a', '1:b', '2:a', '2:b']));
    expect(explanation.candidates[0]!.attempts.every((a) => !a.fits)).toBe(true);
  });

  it('reports the furthest death, not the first: a wrong guess dies early, the right order gets further', () => {
    // Taking the unknown put of 'x' first kills the first read; without it, the second read still fails.
    const history = [info('w', put('x'), 0), ok('a', put('1'), 0, 1, written(1)), ok('b', get, 2, 3, value('1', 1)), ok('b', get, 4, 5, value('z', 1))];
    const explanation = explanationOf(history);
    expect(explanation.stuck).toBe(history[3]);
    expect(explanation.linearized).toEqual([history[1], history[2], history[0]]);
    expect(new Set(explanation.states.map((s) => versionedKvModel.hash(s)))).toEqual(new Set(['2:x', '1:1']));
  });

  it('shows where a long history dies, not just which operation is left', () => {
    const history: KvOperation[] = [];
    for (let i = 0; i < 20; i++) history.push(ok('a', put(`v${i}`), i * 10, i * 10 + 5, written(i + 1)));
    history.push(ok('b', get, 203, 204, value('v3', 4)));
    for (let i = 0; i < 5; i++) history.push(ok('a', get, 300 + i * 10, 305 + i * 10, value('v19', 20)));
    const explanation = explanationOf(history);
    expect(explanation.stuck).toBe(history[20]);
    expect(explanation.linearized).toHaveLength(20);
    expect(explanation.states).toEqual([{ value: 'v19', version: 20 }]);
  });
});
