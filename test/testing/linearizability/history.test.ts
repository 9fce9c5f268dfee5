/**
 * Building histories from client events.
 */
import { describe, expect, it } from 'vitest';
import {
  type HistoryEvent,
  HistoryError,
  type KvInput,
  type KvOutput,
  type Operation,
  historyFromEvents,
  validateHistory,
} from '../../../src/testing/index.js';
import { absent, get, put, written } from './fixtures.js';

describe('historyFromEvents', () => {
  it('pairs completions with invocations; an invocation never completed is info', () => {
    const history = historyFromEvents<KvInput, KvOutput>([
      { type: 'invoke', id: 1, client: 'a', key: 'x', input: put('1'), at: 0 },
      { type: 'invoke', id: 2, client: 'b', key: 'x', input: get, at: 1 },
      { type: 'invoke', id: 3, client: 'c', key: 'x', input: put('2'), at: 1 },
      { type: 'invoke', id: 4, client: 'd', key: 'x', input: put('3'), at: 2 },
      { type: 'ok', id: 1, output: written(1), at: 2 },
      { type: 'fail', id: 3, at: 3 },
      { type: 'info', id: 4 },
    ]);
    expect(history).toEqual([
      { client: 'a', key: 'x', input: put('1'), invokedAt: 0, completedAt: 2, outcome: 'ok', output: written(1) },
      { client: 'b', key: 'x', input: get, invokedAt: 1, outcome: 'info' },
      { client: 'c', key: 'x', input: put('2'), invokedAt: 1, completedAt: 3, outcome: 'fail' },
      { client: 'd', key: 'x', input: put('3'), invokedAt: 2, outcome: 'info' },
    ]);
  });

  it('rejects a reused id, an unknown completion, a double completion and a completion before its invocation', () => {
    const invoke = (id: number, at = 0): HistoryEvent<KvInput, KvOutput> => ({ type: 'invoke', id, client: 'a', key: 'x', input: get, at });
    const bad: [HistoryEvent<KvInput, KvOutput>[], number][] = [
      [[invoke(1), invoke(1)], 1],
      [[{ type: 'ok', id: 9, output: absent, at: 1 }], 0],
      [[invoke(1), { type: 'ok', id: 1, output: absent, at: 1 }, { type: 'fail', id: 1, at: 2 }], 2],
      [[invoke(1), { type: 'ok', id: 1, output: absent, at: 1 }, invoke(1, 3)], 2],
      [[invoke(1, 5), { type: 'ok', id: 1, output: absent, at: 4 }], 1],
    ];
    const why = [
      'invocation id 1 is used twice',
      'completion of id 9, which is not an open invocation',
      'completion of id 1, which is not an open invocation',
      'invocation id 1 is used twice',
      'completion of id 1 at 4 is before its invocation at 5',
    ];
    bad.forEach(([events, index], i) => {
      expect(() => historyFromEvents(events)).toThrow(HistoryError);
      expect(() => historyFromEvents(events)).toThrow(`entry ${index}: ${why[i]}`);
    });
  });
});

describe('validateHistory', () => {
  const op = (fields: { readonly [F in keyof Operation<KvInput, KvOutput>]?: Operation<KvInput, KvOutput>[F] | undefined }): Operation<KvInput, KvOutput> =>
    ({ client: 'a', key: 'x', input: get, invokedAt: 0, completedAt: 1, outcome: 'ok', output: absent, ...fields }) as Operation<KvInput, KvOutput>;

  it('takes finite times, an info operation without a completion, and an ok one with its output', () => {
    expect(() =>
      validateHistory([op({}), op({ outcome: 'info', completedAt: undefined, output: undefined }), op({ outcome: 'fail', output: undefined })]),
    ).not.toThrow();
  });

  it('refuses what no search can place, naming the entry and why', () => {
    const bad: [Operation<KvInput, KvOutput>, string][] = [
      [op({ invokedAt: Number.NaN }), 'invokedAt must be a finite number, got NaN'],
      [op({ invokedAt: Number.POSITIVE_INFINITY, outcome: 'info' }), 'invokedAt must be a finite number, got Infinity'],
      [op({ completedAt: undefined }), "an 'ok' operation needs a finite completedAt, got undefined"],
      [op({ outcome: 'fail', completedAt: Number.POSITIVE_INFINITY }), "an 'fail' operation needs a finite completedAt, got Infinity"],
      [op({ invokedAt: 2, completedAt: 1 }), 'completedAt 1 is before invokedAt 2'],
      [op({ output: undefined }), "an 'ok' operation needs an output"],
    ];
    for (const [operation, why] of bad) {
      expect(() => validateHistory([op({}), operation])).toThrow(HistoryError);
      expect(() => validateHistory([op({}), operation])).toThrow(`entry 1: ${why}`);
    }
  });
});
