/**
 * Failures a person can read: the window where every linearization dies, the states
 * possible just before it, and why no pending operation can go next.
 */
import { describe, expect, it } from 'vitest';
import { checkLinearizability, type KvInput, type KvOutput, type KvState, type LinearizabilityVerdict, versionedKvModel } from '../../../src/testing/index.js';
import { describeValue, explainFailure } from '../../../src/testing/linearizability/explanation.js';
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

  it("pends, in order of invocation, every operation not linearized that was invoked by the stuck one's completion", () => {
    const history = [
      ok('a', put('1'), 0, 1, written(1)),
      ok('r', get, 2, 6, value('z', 1)),
      info('w', put('x'), 6),
      ok('c', put('2'), 3, 9, written(3)),
      ok('d', get, 7, 8, absent),
    ];
    const explanation = explainFailure('k', history, versionedKvModel, { stuck: 1, path: [0], states: [{ value: '1', version: 1 }] });
    // Invoked at 6 (the stuck one's completion) still pends; invoked at 7 does not.
    expect(explanation.window).toEqual([history[1], history[3], history[2]]);
    expect(explanation.candidates.map((c) => c.attempts[0]!.fits)).toEqual([false, false, true]);
    expect(explanation.text).toBe(
      [
        'key k: no linearization gets past the completion of r {"op":"get"} [2, 6] -> {"type":"value","value":"z","version":1}',
        'linearized before it (1 operations, the last ones shown):',
        '  a {"op":"put","value":"1"} [0, 1] -> {"type":"written","version":1}',
        'possible states then: {"value":"1","version":1}',
        'pending then (3), and why none can go next:',
        '  r {"op":"get"} [2, 6] -> {"type":"value","value":"z","version":1}: from {"value":"1","version":1} the model returns {"type":"value","value":"1","version":1}',
        '  c {"op":"put","value":"2"} [3, 9] -> {"type":"written","version":3}: from {"value":"1","version":1} the model returns {"type":"written","version":2}',
        '  w {"op":"put","value":"x"} [6, ∞) (info: outcome unknown): from {"value":"1","version":1} it fits, but no order after it gets past that completion',
      ].join('\n'),
    );
  });

  it('describes what JSON cannot show', () => {
    expect(describeValue(10n)).toBe('10');
    expect(describeValue(undefined)).toBe('undefined');
    const loop: { self?: unknown } = {};
    loop.self = loop;
    expect(describeValue(loop)).toBe('[object Object]');
  });
});
