/**
 * A model written by a user, as docs/testing.md shows it: a counter, checked both ways.
 */
import { expect, it } from 'vitest';
import { checkLinearizability, type Model, type Operation } from '../../../src/testing/index.js';
import { bruteForceLinearizable } from './brute-force.js';

type CounterInput = { op: 'add'; by: number } | { op: 'read' };
const counter: Model<number, CounterInput, number | null> = {
  name: 'counter',
  init: () => 0,
  step: (state, input, observed) =>
    input.op === 'add' ? { ok: true, state: state + input.by, output: null } : { ok: observed === undefined || observed === state, state, output: state },
  hash: (state) => String(state),
  readOnly: (input) => input.op === 'read',
};

const add = (client: string, at: number, end: number | undefined, by: number): Operation<CounterInput, number | null> =>
  end === undefined
    ? { client, key: 'c', input: { op: 'add', by }, invokedAt: at, outcome: 'info' }
    : { client, key: 'c', input: { op: 'add', by }, invokedAt: at, completedAt: end, outcome: 'ok', output: null };
const read = (client: string, at: number, end: number, value: number): Operation<CounterInput, number | null> => ({
  client,
  key: 'c',
  input: { op: 'read' },
  invokedAt: at,
  completedAt: end,
  outcome: 'ok',
  output: value,
});

it('checks a counter both ways, as the brute-force oracle does', () => {
  const good = [add('a', 0, 5, 1), add('b', 1, 6, 2), read('c', 2, 3, 2), read('c', 7, 8, 3), add('d', 9, undefined, 10), read('c', 20, 21, 13)];
  const bad = [add('a', 0, 5, 1), add('b', 1, 6, 2), read('c', 2, 3, 2), read('c', 4, 4.5, 1)];
  expect(checkLinearizability(good, counter).result).toBe('linearizable');
  expect(bruteForceLinearizable(good, counter)).toBe(true);
  const verdict = checkLinearizability(bad, counter);
  expect(verdict.result).toBe('not-linearizable');
  expect(bruteForceLinearizable(bad, counter)).toBe(false);
  if (verdict.result === 'not-linearizable') expect(verdict.explanation.stuck).toBe(bad[3]);
});
