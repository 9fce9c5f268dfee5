/**
 * The register model (read, write, compare-and-set): hand-made histories both ways,
 * and the checker against the brute-force oracle on random small histories, many of
 * their operations `info` (the optional operations the memo's covering prunes).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkLinearizability, type Operation, type RegisterInput, type RegisterOutput, registerModel } from '../../../src/testing/index.js';
import { bruteForceLinearizable } from './brute-force.js';

type RegisterOperation = Operation<RegisterInput, RegisterOutput>;

const read = (client: string, at: number, end: number, value: number | null): RegisterOperation => ({
  client,
  key: 'r',
  input: { op: 'read' },
  invokedAt: at,
  completedAt: end,
  outcome: 'ok',
  output: { type: 'value', value },
});
const write = (client: string, at: number, end: number | undefined, value: number): RegisterOperation =>
  end === undefined
    ? { client, key: 'r', input: { op: 'write', value }, invokedAt: at, outcome: 'info' }
    : { client, key: 'r', input: { op: 'write', value }, invokedAt: at, completedAt: end, outcome: 'ok', output: { type: 'written' } };
const cas = (client: string, at: number, end: number, expected: number | null, value: number, ok: boolean): RegisterOperation => ({
  client,
  key: 'r',
  input: { op: 'cas', expected, value },
  invokedAt: at,
  completedAt: end,
  outcome: 'ok',
  output: { type: 'cas', ok },
});

const cases: { name: string; linearizable: boolean; history: RegisterOperation[] }[] = [
  { name: 'a read of the initial null', linearizable: true, history: [read('a', 0, 1, null)] },
  { name: 'a read after a write sees it', linearizable: true, history: [write('a', 0, 1, 1), read('b', 2, 3, 1)] },
  { name: 'a stale read', linearizable: false, history: [write('a', 0, 1, 1), write('a', 2, 3, 2), read('b', 4, 5, 1)] },
  {
    name: 'a read concurrent with a write may see either',
    linearizable: true,
    history: [write('a', 0, 1, 1), write('a', 2, 6, 2), read('b', 3, 4, 1), read('c', 3, 5, 2)],
  },
  {
    name: 'two reads concurrent with a write cannot go back',
    linearizable: false,
    history: [write('a', 0, 1, 1), write('a', 2, 9, 2), read('b', 3, 4, 2), read('c', 5, 6, 1)],
  },
  {
    name: 'one CAS wins, the concurrent one fails',
    linearizable: true,
    history: [write('a', 0, 1, 0), cas('b', 2, 5, 0, 1, true), cas('c', 2, 5, 0, 2, false), read('a', 6, 7, 1)],
  },
  { name: 'two CAS on the same value both win', linearizable: false, history: [write('a', 0, 1, 0), cas('b', 2, 5, 0, 1, true), cas('c', 2, 5, 0, 2, true)] },
  { name: 'a failed CAS that should have won', linearizable: false, history: [write('a', 0, 1, 0), cas('b', 2, 3, 0, 1, false)] },
  { name: 'a timed-out write seen much later', linearizable: true, history: [write('a', 0, undefined, 7), read('b', 100, 101, 7)] },
  {
    name: 'a timed-out write seen, then unseen',
    linearizable: false,
    history: [write('a', 0, undefined, 7), read('b', 100, 101, 7), read('b', 102, 103, null)],
  },
  { name: 'a timed-out write that never happened', linearizable: true, history: [write('a', 0, undefined, 7), read('b', 100, 101, null)] },
  // The prune of overwritten info operations (search.ts): each case below would flip if
  // the rule skipped a call without comparing states, or after an ok operation.
  {
    name: 'a timed-out write overwritten by an ok write invoked before it',
    linearizable: true,
    history: [write('a', 5, undefined, 1), write('b', 0, 10, 2), read('c', 11, 12, 2)],
  },
  { name: 'a timed-out write read by a read invoked before it', linearizable: true, history: [write('a', 5, undefined, 7), read('b', 0, 10, 7)] },
  {
    name: 'a timed-out write a CAS invoked before it swaps',
    linearizable: true,
    history: [write('a', 5, undefined, 7), cas('b', 0, 10, 7, 8, true), read('c', 11, 12, 8)],
  },
  {
    name: 'an ok write overwritten by a write invoked before it',
    linearizable: true,
    history: [write('a', 5, 20, 1), write('b', 0, 30, 2), read('c', 31, 32, 2)],
  },
  {
    name: 'timed-out writes each seen once, one of them twice',
    linearizable: false,
    history: [
      write('a', 0, undefined, 0),
      write('b', 1, undefined, 1),
      write('c', 2, undefined, 2),
      read('d', 10, 11, 1),
      read('d', 12, 13, 2),
      read('d', 14, 15, 1),
    ],
  },
  {
    name: 'numbers and strings are different values',
    linearizable: false,
    history: [
      { client: 'a', key: 'r', input: { op: 'write', value: '1' }, invokedAt: 0, completedAt: 1, outcome: 'ok', output: { type: 'written' } },
      read('b', 2, 3, 1),
    ],
  },
];

describe('registerModel on hand-made histories', () => {
  for (const { name, linearizable, history } of cases) {
    it(`${linearizable ? 'linearizable' : 'not linearizable'}: ${name}`, () => {
      expect(checkLinearizability(history, registerModel).result).toBe(linearizable ? 'linearizable' : 'not-linearizable');
      expect(bruteForceLinearizable(history, registerModel)).toBe(linearizable);
    });
  }
});

const value = fc.constantFrom<number | null>(null, 0, 1, 2);
const input = fc.oneof(
  fc.constant<RegisterInput>({ op: 'read' }),
  fc.record({ op: fc.constant('write' as const), value }),
  fc.record({ op: fc.constant('cas' as const), expected: value, value }),
);
const operation = fc
  .record({
    client: fc.constantFrom('a', 'b', 'c', 'd'),
    input,
    invokedAt: fc.integer({ min: 0, max: 20 }),
    duration: fc.integer({ min: 0, max: 8 }),
    info: fc.boolean(),
    read: value,
    casOk: fc.boolean(),
  })
  .map(({ client, input, invokedAt, duration, info, read, casOk }): RegisterOperation => {
    if (info && input.op !== 'read') return { client, key: 'r', input, invokedAt, outcome: 'info' };
    const output: RegisterOutput =
      input.op === 'read' ? { type: 'value', value: read } : input.op === 'write' ? { type: 'written' } : { type: 'cas', ok: casOk };
    return { client, key: 'r', input, invokedAt, completedAt: invokedAt + duration, outcome: 'ok', output };
  });

it('agrees with the brute-force oracle on random register histories of up to 8 operations, half the writes unknown', () => {
  const verdicts = { linearizable: 0, 'not-linearizable': 0 };
  fc.assert(
    fc.property(fc.array(operation, { maxLength: 8 }), (history) => {
      const expected = bruteForceLinearizable(history, registerModel);
      const verdict = checkLinearizability(history, registerModel);
      expect(verdict.result).toBe(expected ? 'linearizable' : 'not-linearizable');
      if (verdict.result !== 'unknown') verdicts[verdict.result]++;
    }),
    { numRuns: Number(process.env['SYNOD_LINEARIZABILITY_RUNS'] ?? 600) },
  );
  expect(verdicts.linearizable).toBeGreaterThan(50);
  expect(verdicts['not-linearizable']).toBeGreaterThan(50);
});

// Mostly timed-out writes and compare-and-sets, overlapping, and a few reads: where the
// prune of overwritten info operations (search.ts) skips the most.
const mostlyUnknown = fc
  .record({
    client: fc.constantFrom('a', 'b', 'c', 'd'),
    input,
    invokedAt: fc.integer({ min: 0, max: 12 }),
    duration: fc.integer({ min: 0, max: 12 }),
    info: fc.integer({ min: 0, max: 3 }),
    read: value,
    casOk: fc.boolean(),
  })
  .map(({ client, input, invokedAt, duration, info, read, casOk }): RegisterOperation => {
    if (info > 0 && input.op !== 'read') return { client, key: 'r', input, invokedAt, outcome: 'info' };
    const output: RegisterOutput =
      input.op === 'read' ? { type: 'value', value: read } : input.op === 'write' ? { type: 'written' } : { type: 'cas', ok: casOk };
    return { client, key: 'r', input, invokedAt, completedAt: invokedAt + duration, outcome: 'ok', output };
  });

it('agrees with the brute-force oracle on random register histories of up to 9 operations, three quarters of the writes unknown', () => {
  const verdicts = { linearizable: 0, 'not-linearizable': 0 };
  fc.assert(
    fc.property(fc.array(mostlyUnknown, { maxLength: 9 }), (history) => {
      const expected = bruteForceLinearizable(history, registerModel);
      const verdict = checkLinearizability(history, registerModel);
      expect(verdict.result).toBe(expected ? 'linearizable' : 'not-linearizable');
      if (verdict.result !== 'unknown') verdicts[verdict.result]++;
    }),
    { numRuns: Number(process.env['SYNOD_LINEARIZABILITY_RUNS'] ?? 600) },
  );
  expect(verdicts.linearizable).toBeGreaterThan(50);
  expect(verdicts['not-linearizable']).toBeGreaterThan(50);
});

it('does not try every subset of timed-out writes before each read: 14 of them and reads that alternate between two values fail within 400,000 steps', () => {
  // Without the prune of overwritten info operations the search needs 1,675,280 steps here.
  const history: RegisterOperation[] = [];
  for (let i = 0; i < 14; i++) history.push(write(`w${i}`, i, undefined, i));
  for (let i = 0; i < 40; i++) history.push(read(`r${i % 4}`, 24 + 10 * i, 29 + 10 * i, i % 2 === 0 ? 3 : 5));
  const verdict = checkLinearizability(history, registerModel, { partitionStepsMax: 400_000, shrink: false });
  expect(verdict.result).toBe('not-linearizable');
  // And with the reads all of the last write, it is linearizable.
  const seen = history.map((operation) =>
    operation.input.op === 'read' ? read(operation.client, operation.invokedAt, operation.completedAt!, 13) : operation,
  );
  expect(checkLinearizability(seen, registerModel, { partitionStepsMax: 400_000 }).result).toBe('linearizable');
});

it('answers the same whatever order the history lists its operations in (far from time order: the general sort)', () => {
  fc.assert(
    fc.property(fc.array(operation, { minLength: 16, maxLength: 24 }), (history) => {
      const sorted = [...history].sort((a, b) => a.invokedAt - b.invokedAt);
      const expected = checkLinearizability(sorted, registerModel).result;
      expect(checkLinearizability([...sorted].reverse(), registerModel).result).toBe(expected);
      expect(checkLinearizability(history, registerModel).result).toBe(expected);
    }),
    { numRuns: 200 },
  );
});
