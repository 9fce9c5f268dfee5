/**
 * Building histories from client events.
 */
import { describe, expect, it } from 'vitest';
import { type HistoryEvent, HistoryError, type KvInput, type KvOutput, historyFromEvents } from '../../../src/testing/index.js';
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
    for (const [events, index] of bad) {
      expect(() => historyFromEvents(events)).toThrow(HistoryError);
      expect(() => historyFromEvents(events)).toThrow(`entry ${index}:`);
    }
  });
});
