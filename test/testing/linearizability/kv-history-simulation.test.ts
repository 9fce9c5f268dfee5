/**
 * Simulated versioned-KV histories: what a store (correct or faulty) returns.
 */
import { describe, expect, it } from 'vitest';
import { InvariantError } from '../../../src/index.js';
import { checkLinearizability, type KvPlannedOperation, simulateKvHistory, versionedKvModel } from '../../../src/testing/index.js';
import { absent, get, put, value, written } from './fixtures.js';

const at = (client: string, input: KvPlannedOperation['input'], effectAt: number, rest: Partial<KvPlannedOperation> = {}): KvPlannedOperation => ({
  client,
  key: 'x',
  input,
  invokedAt: 0,
  completedAt: 10,
  effectAt,
  outcome: 'ok',
  takesEffect: true,
  ...rest,
});

describe('simulateKvHistory', () => {
  it('records what a correct store returns, applying operations at their effect instants', () => {
    const history = simulateKvHistory([
      { client: 'a', key: 'x', input: put('1'), invokedAt: 0, completedAt: 4, effectAt: 2, outcome: 'ok', takesEffect: true },
      { client: 'b', key: 'x', input: get, invokedAt: 1, completedAt: 3, effectAt: 1, outcome: 'ok', takesEffect: true },
      { client: 'c', key: 'x', input: put('2'), invokedAt: 1, completedAt: 3, effectAt: 1.5, outcome: 'fail', takesEffect: false },
      { client: 'd', key: 'y', input: get, invokedAt: 5, completedAt: 6, effectAt: 5, outcome: 'ok', takesEffect: true },
    ]);
    expect(history.map((o) => o.output)).toEqual([written(1), absent, undefined, absent]);
    expect(checkLinearizability(history, versionedKvModel).result).toBe('linearizable');
  });

  it('makes a non-linearizable history from a faulty plan (a fail operation that took effect)', () => {
    const history = simulateKvHistory([
      { client: 'a', key: 'x', input: put('1'), invokedAt: 0, completedAt: 1, effectAt: 0.5, outcome: 'fail', takesEffect: true },
      { client: 'b', key: 'x', input: get, invokedAt: 2, completedAt: 3, effectAt: 2, outcome: 'ok', takesEffect: true },
    ]);
    expect(history[1]?.output).toEqual(value('1', 1));
    expect(checkLinearizability(history, versionedKvModel).result).toBe('not-linearizable');
  });

  it('applies operations that take effect at the same instant in plan order', () => {
    const history = simulateKvHistory([at('a', put('1'), 5), at('b', put('2'), 5), at('c', get, 6)]);
    expect(history.map((o) => o.output)).toEqual([written(1), written(2), value('2', 2)]);
  });

  it('gives an operation that does not take effect the answer it would have had, and keeps the store as it was', () => {
    // A lost write: ok, answered, forgotten. An info operation records no answer, a failed one its completion.
    const history = simulateKvHistory([
      at('a', put('1'), 1, { takesEffect: false }),
      at('b', put('2'), 2, { outcome: 'info' }),
      at('c', put('3'), 3, { outcome: 'fail', takesEffect: false }),
      at('d', get, 4),
    ]);
    expect(history).toEqual([
      { client: 'a', key: 'x', input: put('1'), invokedAt: 0, completedAt: 10, outcome: 'ok', output: written(1) },
      { client: 'b', key: 'x', input: put('2'), invokedAt: 0, outcome: 'info' },
      { client: 'c', key: 'x', input: put('3'), invokedAt: 0, completedAt: 10, outcome: 'fail' },
      { client: 'd', key: 'x', input: get, invokedAt: 0, completedAt: 10, outcome: 'ok', output: value('2', 1) },
    ]);
  });

  it('keeps each key its own store', () => {
    const history = simulateKvHistory([at('a', put('1'), 1), at('b', get, 2, { key: 'y' }), at('c', put('2'), 3, { key: 'y' })]);
    expect(history.map((o) => o.output)).toEqual([written(1), absent, written(1)]);
  });

  it('refuses a plan whose operation takes effect before it is invoked, naming it', () => {
    expect(() => simulateKvHistory([at('a', get, 1), at('b', get, 2, { invokedAt: 3 })])).toThrow(
      new InvariantError('planned operation 1 takes effect at 2, before its invocation at 3'),
    );
    expect(() => simulateKvHistory([at('a', get, 3, { invokedAt: 3 })])).not.toThrow();
  });
});
