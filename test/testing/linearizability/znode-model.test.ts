/**
 * The znode model: ZooKeeper's answers (version 0 after create, +1 per setData, a
 * re-create starting over; noNode, nodeExists, badVersion changing nothing), hand-made
 * histories both ways, and the checker against the brute-force oracle on random small
 * histories, many of their writes `info`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkLinearizability, type Operation, type ZnodeInput, type ZnodeOutput, type ZnodeState, znodeModel } from '../../../src/testing/index.js';
import { bruteForceLinearizable } from './brute-force.js';

type ZnodeOperation = Operation<ZnodeInput, ZnodeOutput>;

/** Runs `inputs` in order from the absent node; the outputs. */
function run(inputs: readonly ZnodeInput[]): ZnodeOutput[] {
  let state: ZnodeState = znodeModel.init();
  return inputs.map((input) => {
    const step = znodeModel.step(state, input, undefined);
    expect(step.ok).toBe(true);
    state = step.state;
    return step.output;
  });
}

const get: ZnodeInput = { op: 'getData' };
const create = (data: string): ZnodeInput => ({ op: 'create', data });
const set = (data: string, version: number): ZnodeInput => ({ op: 'setData', data, version });
const del = (version: number): ZnodeInput => ({ op: 'delete', version });

describe('znodeModel', () => {
  it('answers as ZooKeeper: version 0 after create, +1 per setData, errors change nothing', () => {
    expect(
      run([get, set('a', -1), del(-1), create('a'), create('b'), get, set('b', 1), set('b', 0), set('c', -1), get, del(0), del(2), get, create('d'), get]),
    ).toEqual([
      { type: 'noNode' },
      { type: 'noNode' },
      { type: 'noNode' },
      { type: 'created' },
      { type: 'nodeExists' },
      { type: 'data', data: 'a', version: 0 },
      { type: 'badVersion' },
      { type: 'set', version: 1 },
      { type: 'set', version: 2 },
      { type: 'data', data: 'c', version: 2 },
      { type: 'badVersion' },
      { type: 'deleted' },
      { type: 'noNode' },
      { type: 'created' },
      { type: 'data', data: 'd', version: 0 },
    ]);
  });

  it('a set refused for its version is read-only; one that took effect is not', () => {
    expect(znodeModel.readOnly!(set('x', 3), { type: 'badVersion' })).toBe(true);
    expect(znodeModel.readOnly!(get, { type: 'data', data: 'x', version: 0 })).toBe(true);
    expect(znodeModel.readOnly!(set('x', 3), { type: 'set', version: 4 })).toBe(false);
    expect(znodeModel.readOnly!(create('x'), { type: 'created' })).toBe(false);
    expect(znodeModel.readOnly!(del(0), { type: 'deleted' })).toBe(false);
  });
});

const ok = (client: string, at: number, end: number, input: ZnodeInput, output: ZnodeOutput): ZnodeOperation => ({
  client,
  key: '/x',
  input,
  invokedAt: at,
  completedAt: end,
  outcome: 'ok',
  output,
});
const unknown = (client: string, at: number, input: ZnodeInput): ZnodeOperation => ({ client, key: '/x', input, invokedAt: at, outcome: 'info' });

const cases: { name: string; linearizable: boolean; history: ZnodeOperation[] }[] = [
  {
    name: 'a read of a created node',
    linearizable: true,
    history: [ok('a', 0, 1, create('one'), { type: 'created' }), ok('b', 2, 3, get, { type: 'data', data: 'one', version: 0 })],
  },
  { name: 'a lost create', linearizable: false, history: [ok('a', 0, 1, create('one'), { type: 'created' }), ok('b', 2, 3, get, { type: 'noNode' })] },
  {
    name: 'two versioned sets from the same version both taking effect',
    linearizable: false,
    history: [
      ok('a', 0, 1, create(''), { type: 'created' }),
      ok('b', 2, 5, set('b', 0), { type: 'set', version: 1 }),
      ok('c', 2, 5, set('c', 0), { type: 'set', version: 1 }),
    ],
  },
  {
    name: 'one versioned set wins, the concurrent one is refused',
    linearizable: true,
    history: [
      ok('a', 0, 1, create(''), { type: 'created' }),
      ok('b', 2, 5, set('b', 0), { type: 'set', version: 1 }),
      ok('c', 2, 5, set('c', 0), { type: 'badVersion' }),
      ok('a', 6, 7, get, { type: 'data', data: 'b', version: 1 }),
    ],
  },
  {
    name: 'a refused set that should have taken effect',
    linearizable: false,
    history: [ok('a', 0, 1, create(''), { type: 'created' }), ok('b', 2, 3, set('b', 0), { type: 'badVersion' })],
  },
  {
    name: 'an unknown set seen later',
    linearizable: true,
    history: [ok('a', 0, 1, create(''), { type: 'created' }), unknown('b', 2, set('b', 0)), ok('c', 9, 10, get, { type: 'data', data: 'b', version: 1 })],
  },
  {
    name: 'an unknown set seen, then unseen',
    linearizable: false,
    history: [
      ok('a', 0, 1, create(''), { type: 'created' }),
      unknown('b', 2, set('b', 0)),
      ok('c', 9, 10, get, { type: 'data', data: 'b', version: 1 }),
      ok('c', 11, 12, get, { type: 'data', data: '', version: 0 }),
    ],
  },
  {
    name: 'a re-created node read at version 0 after a delete',
    linearizable: true,
    history: [
      ok('a', 0, 1, create('one'), { type: 'created' }),
      ok('a', 2, 3, set('two', 0), { type: 'set', version: 1 }),
      ok('b', 4, 5, del(1), { type: 'deleted' }),
      ok('b', 6, 7, create('three'), { type: 'created' }),
      ok('c', 8, 9, get, { type: 'data', data: 'three', version: 0 }),
    ],
  },
];

describe('znodeModel on hand-made histories', () => {
  for (const { name, linearizable, history } of cases) {
    it(`${linearizable ? 'linearizable' : 'not linearizable'}: ${name}`, () => {
      expect(checkLinearizability(history, znodeModel).result).toBe(linearizable ? 'linearizable' : 'not-linearizable');
      expect(bruteForceLinearizable(history, znodeModel)).toBe(linearizable);
    });
  }
});

const data = fc.constantFrom('', 'a', 'b');
const version = fc.integer({ min: -1, max: 2 });
const input = fc.oneof(
  fc.constant<ZnodeInput>(get),
  fc.record({ op: fc.constant('create' as const), data }),
  fc.record({ op: fc.constant('setData' as const), data, version }),
  fc.record({ op: fc.constant('delete' as const), version }),
);
const output = fc.oneof(
  fc.record({ type: fc.constant('data' as const), data, version: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ type: fc.constant('set' as const), version: fc.integer({ min: 1, max: 3 }) }),
  fc.constantFrom<ZnodeOutput>({ type: 'created' }, { type: 'deleted' }, { type: 'noNode' }, { type: 'nodeExists' }, { type: 'badVersion' }),
);
const operation = fc
  .record({
    client: fc.constantFrom('a', 'b', 'c', 'd'),
    input,
    invokedAt: fc.integer({ min: 0, max: 20 }),
    duration: fc.integer({ min: 0, max: 8 }),
    info: fc.boolean(),
    output,
  })
  .map(
    ({ client, input, invokedAt, duration, info, output }): ZnodeOperation =>
      info && input.op !== 'getData'
        ? { client, key: '/x', input, invokedAt, outcome: 'info' }
        : { client, key: '/x', input, invokedAt, completedAt: invokedAt + duration, outcome: 'ok', output },
  );

it('agrees with the brute-force oracle on random znode histories of up to 7 operations, half the writes unknown', () => {
  const verdicts = { linearizable: 0, 'not-linearizable': 0 };
  fc.assert(
    fc.property(fc.array(operation, { maxLength: 7 }), (history) => {
      const expected = bruteForceLinearizable(history, znodeModel);
      const verdict = checkLinearizability(history, znodeModel);
      expect(verdict.result).toBe(expected ? 'linearizable' : 'not-linearizable');
      if (verdict.result !== 'unknown') verdicts[verdict.result]++;
    }),
    { numRuns: Number(process.env['SYNOD_LINEARIZABILITY_RUNS'] ?? 600) },
  );
  expect(verdicts.linearizable).toBeGreaterThan(50);
  expect(verdicts['not-linearizable']).toBeGreaterThan(50);
});
