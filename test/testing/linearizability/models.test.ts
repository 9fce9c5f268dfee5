/**
 * The shipped models beyond the KV and the register: get/put/append, set, FIFO queue,
 * lock with fencing tokens, registers with transactions. For each, hand-made histories
 * both ways, and the checker against the brute-force oracle on random small histories
 * (random inputs and outputs, a quarter of the operations `info`).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AppendKvInput,
  type AppendKvOutput,
  appendKvModel,
  checkLinearizability,
  type Model,
  type MutexInput,
  type MutexOutput,
  mutexModel,
  type Operation,
  type QueueInput,
  type QueueOutput,
  queueModel,
  type SetInput,
  type SetOutput,
  setModel,
  transactionalRegisterModel,
  type TxnInput,
  type TxnOutput,
} from '../../../src/testing/index.js';
import { bruteForceLinearizable } from './brute-force.js';

const runs = Number(process.env['SYNOD_LINEARIZABILITY_RUNS'] ?? 300);

/** An `ok` operation on key `k` by `client` over [at, end]. */
function ok<I, O>(client: string, input: I, at: number, end: number, output: O): Operation<I, O> {
  return { client, key: 'k', input, invokedAt: at, completedAt: end, outcome: 'ok', output };
}
function info<I, O>(client: string, input: I, at: number): Operation<I, O> {
  return { client, key: 'k', input, invokedAt: at, outcome: 'info' };
}

/** Checks each case both ways, and the brute-force oracle's agreement. */
function cases<S, I, O>(model: Model<S, I, O>, list: readonly { name: string; linearizable: boolean; history: Operation<I, O>[] }[]): void {
  for (const { name, linearizable, history } of list) {
    it(`${linearizable ? 'linearizable' : 'not linearizable'}: ${name}`, () => {
      expect(checkLinearizability(history, model).result).toBe(linearizable ? 'linearizable' : 'not-linearizable');
      expect(bruteForceLinearizable(history, model)).toBe(linearizable);
    });
  }
}

/** The differential property on histories of up to 7 operations drawn from `inputs` and `outputs`. */
function differential<S, I, O>(model: Model<S, I, O>, inputs: fc.Arbitrary<I>, outputs: (input: I) => fc.Arbitrary<O>): void {
  it('agrees with the brute-force oracle on random histories of up to 7 operations', () => {
    const operation = fc
      .record({
        client: fc.constantFrom('a', 'b', 'c'),
        input: inputs,
        at: fc.integer({ min: 0, max: 12 }),
        length: fc.integer({ min: 0, max: 6 }),
        unknown: fc.integer({ min: 0, max: 3 }),
      })
      .chain(({ client, input, at, length, unknown }) =>
        unknown === 0 ? fc.constant(info<I, O>(client, input, at)) : outputs(input).map((output) => ok(client, input, at, at + length, output)),
      );
    const seen = { linearizable: 0, 'not-linearizable': 0 };
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 7 }), (history) => {
        const verdict = checkLinearizability(history, model);
        expect(verdict.result).toBe(bruteForceLinearizable(history, model) ? 'linearizable' : 'not-linearizable');
        if (verdict.result !== 'unknown') seen[verdict.result]++;
      }),
      { numRuns: runs },
    );
    expect(seen.linearizable).toBeGreaterThan(runs / 10);
    expect(seen['not-linearizable']).toBeGreaterThan(runs / 10);
  });
}

describe('appendKvModel (get/put/append)', () => {
  const get: AppendKvInput = { op: 'get' };
  const append = (value: string): AppendKvInput => ({ op: 'append', value });
  const done: AppendKvOutput = { type: 'done' };
  const saw = (value: string): AppendKvOutput => ({ type: 'value', value });
  cases(appendKvModel, [
    {
      name: 'appends in real-time order',
      linearizable: true,
      history: [ok('a', append('x'), 0, 1, done), ok('b', append('y'), 2, 3, done), ok('c', get, 4, 5, saw('xy'))],
    },
    {
      name: 'concurrent appends in either order',
      linearizable: true,
      history: [ok('a', append('x'), 0, 5, done), ok('b', append('y'), 0, 5, done), ok('c', get, 6, 7, saw('yx'))],
    },
    {
      name: 'appends out of real-time order',
      linearizable: false,
      history: [ok('a', append('x'), 0, 1, done), ok('b', append('y'), 2, 3, done), ok('c', get, 4, 5, saw('yx'))],
    },
    {
      name: 'a put replaces, an unknown append may land after it',
      linearizable: true,
      history: [ok('a', { op: 'put', value: 'p' }, 0, 1, done), info('b', append('z'), 0), ok('c', get, 4, 5, saw('pz'))],
    },
    { name: 'a lost append', linearizable: false, history: [ok('a', append('x'), 0, 1, done), ok('c', get, 4, 5, saw(''))] },
  ]);
  differential(
    appendKvModel,
    fc.oneof(
      fc.constant<AppendKvInput>({ op: 'get' }),
      fc.constantFrom<AppendKvInput>({ op: 'put', value: 'a' }, { op: 'append', value: 'b' }, { op: 'append', value: 'c' }),
    ),
    (input) => (input.op === 'get' ? fc.constantFrom('', 'a', 'b', 'ab', 'bc', 'cb').map((value) => saw(value)) : fc.constant(done)),
  );
});

describe('setModel', () => {
  const add = (element: number): SetInput => ({ op: 'add', element });
  const read: SetInput = { op: 'read' };
  const done: SetOutput = { type: 'done' };
  const elements = (...e: number[]): SetOutput => ({ type: 'elements', elements: e });
  cases(setModel, [
    {
      name: 'a read sees every completed add, in any order',
      linearizable: true,
      history: [ok('a', add(2), 0, 1, done), ok('b', add(1), 0, 1, done), ok('c', read, 2, 3, elements(2, 1))],
    },
    { name: 'a lost add', linearizable: false, history: [ok('a', add(2), 0, 1, done), ok('b', add(1), 0, 1, done), ok('c', read, 2, 3, elements(1))] },
    {
      name: 'a removed element comes back',
      linearizable: false,
      history: [ok('a', add(1), 0, 1, done), ok('a', { op: 'remove', element: 1 }, 2, 3, done), ok('c', read, 4, 5, elements(1))],
    },
    {
      name: 'an unknown add may show up',
      linearizable: true,
      history: [info('a', add(7), 0), ok('c', read, 4, 5, elements(7)), ok('c', read, 6, 7, elements(7))],
    },
  ]);
  differential(
    setModel,
    fc.constantFrom<SetInput>({ op: 'add', element: 1 }, { op: 'add', element: 2 }, { op: 'remove', element: 1 }, { op: 'read' }),
    (input) => (input.op === 'read' ? fc.constantFrom(elements(), elements(1), elements(2), elements(2, 1)) : fc.constant(done)),
  );
});

describe('queueModel', () => {
  const enqueue = (value: number): QueueInput => ({ op: 'enqueue', value });
  const dequeue: QueueInput = { op: 'dequeue' };
  const done: QueueOutput = { type: 'done' };
  const got = (value: number): QueueOutput => ({ type: 'value', value });
  const empty: QueueOutput = { type: 'empty' };
  cases(queueModel, [
    {
      name: 'first in, first out',
      linearizable: true,
      history: [ok('a', enqueue(1), 0, 1, done), ok('a', enqueue(2), 2, 3, done), ok('b', dequeue, 4, 5, got(1)), ok('b', dequeue, 6, 7, got(2))],
    },
    {
      name: 'last in, first out',
      linearizable: false,
      history: [ok('a', enqueue(1), 0, 1, done), ok('a', enqueue(2), 2, 3, done), ok('b', dequeue, 4, 5, got(2))],
    },
    {
      name: 'a value dequeued twice',
      linearizable: false,
      history: [ok('a', enqueue(1), 0, 1, done), ok('b', dequeue, 2, 3, got(1)), ok('c', dequeue, 2, 3, got(1))],
    },
    {
      name: 'empty while an enqueue is pending',
      linearizable: true,
      history: [ok('a', enqueue(1), 0, 5, done), ok('b', dequeue, 1, 2, empty), ok('b', dequeue, 6, 7, got(1))],
    },
    { name: 'empty after a completed enqueue', linearizable: false, history: [ok('a', enqueue(1), 0, 1, done), ok('b', dequeue, 2, 3, empty)] },
  ]);
  differential(queueModel, fc.constantFrom<QueueInput>(enqueue(1), enqueue(2), dequeue), (input) =>
    input.op === 'dequeue' ? fc.constantFrom(empty, got(1), got(2)) : fc.constant(done),
  );
});

describe('mutexModel (fencing tokens)', () => {
  const acquire = (owner: string): MutexInput => ({ op: 'acquire', owner });
  const release = (owner: string): MutexInput => ({ op: 'release', owner });
  const acquired = (token: number): MutexOutput => ({ type: 'acquired', token });
  const busy: MutexOutput = { type: 'busy' };
  const released: MutexOutput = { type: 'released' };
  cases(mutexModel, [
    {
      name: 'acquire, release, acquire with a greater token',
      linearizable: true,
      history: [ok('a', acquire('a'), 0, 1, acquired(5)), ok('a', release('a'), 2, 3, released), ok('b', acquire('b'), 4, 5, acquired(9))],
    },
    { name: 'two holders at once', linearizable: false, history: [ok('a', acquire('a'), 0, 1, acquired(1)), ok('b', acquire('b'), 2, 3, acquired(2))] },
    {
      name: 'a token that goes back',
      linearizable: false,
      history: [ok('a', acquire('a'), 0, 1, acquired(5)), ok('a', release('a'), 2, 3, released), ok('b', acquire('b'), 4, 5, acquired(3))],
    },
    {
      name: 'busy while held, granted once released',
      linearizable: true,
      history: [
        ok('a', acquire('a'), 0, 1, acquired(1)),
        ok('b', acquire('b'), 2, 3, busy),
        ok('a', release('a'), 4, 5, released),
        ok('b', acquire('b'), 6, 7, acquired(2)),
      ],
    },
    { name: 'busy when nobody holds it', linearizable: false, history: [ok('b', acquire('b'), 2, 3, busy)] },
    {
      name: 'a release that timed out may free it',
      linearizable: true,
      history: [ok('a', acquire('a'), 0, 1, acquired(1)), info('a', release('a'), 2), ok('b', acquire('b'), 6, 7, acquired(2))],
    },
  ]);
  differential(mutexModel, fc.constantFrom<MutexInput>(acquire('a'), acquire('b'), release('a'), release('b')), (input) =>
    input.op === 'acquire'
      ? fc.oneof(fc.constant(busy), fc.integer({ min: 1, max: 3 }).map(acquired))
      : fc.constantFrom<MutexOutput>(released, { type: 'refused' }),
  );
});

describe('transactionalRegisterModel', () => {
  const txn = (...steps: TxnInput['steps']): TxnInput => ({ steps });
  const results = (...r: (number | null)[]): TxnOutput => ({ results: r });
  cases(transactionalRegisterModel, [
    {
      name: 'a transfer seen whole',
      linearizable: true,
      history: [
        ok('a', txn({ f: 'write', register: 'x', value: 1 }, { f: 'write', register: 'y', value: 1 }), 0, 1, results(null, null)),
        ok('b', txn({ f: 'read', register: 'x' }, { f: 'read', register: 'y' }), 2, 3, results(1, 1)),
      ],
    },
    {
      name: 'a transfer seen half done',
      linearizable: false,
      history: [
        ok('a', txn({ f: 'write', register: 'x', value: 1 }, { f: 'write', register: 'y', value: 1 }), 0, 5, results(null, null)),
        ok('b', txn({ f: 'read', register: 'x' }, { f: 'read', register: 'y' }), 1, 3, results(1, null)),
      ],
    },
    {
      name: 'a write then a read of it inside one transaction',
      linearizable: true,
      history: [ok('a', txn({ f: 'write', register: 'x', value: 2 }, { f: 'read', register: 'x' }), 0, 1, results(null, 2))],
    },
  ]);
  const step = fc.oneof(
    fc.constantFrom('x', 'y').map((register) => ({ f: 'read' as const, register })),
    fc.record({ f: fc.constant('write' as const), register: fc.constantFrom('x', 'y'), value: fc.constantFrom(1, 2) }),
  );
  differential(
    transactionalRegisterModel,
    fc.array(step, { minLength: 1, maxLength: 2 }).map((steps) => ({ steps })),
    (input) =>
      fc.tuple(...input.steps.map((s) => (s.f === 'read' ? fc.constantFrom<number | null>(null, 1, 2) : fc.constant(null)))).map((r) => ({ results: r })),
  );
});
