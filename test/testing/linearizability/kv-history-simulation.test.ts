/**
 * Simulated versioned-KV histories: what a store (correct or faulty) returns.
 */
import { describe, expect, it } from 'vitest';
import { checkLinearizability, simulateKvHistory, versionedKvModel } from '../../../src/testing/index.js';
import { absent, get, put, value, written } from './fixtures.js';

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
});
