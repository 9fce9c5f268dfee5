/**
 * Each shipped model, one step at a time, against its specification written out by
 * hand: from a state, an input and what the client saw, whether that fits, the state
 * after, and what the model says the operation returns. The checker's other tests
 * judge histories against a brute-force search over the same model, so a model that is
 * wrong the same way in both passes them: these tables are the independent check. Also
 * each model's `hash` (equal exactly for equal states) and `readOnly` (what the search
 * may linearize without backtracking).
 */
import { describe, expect, it } from 'vitest';
import {
  type AppendKvInput,
  type AppendKvOutput,
  appendKvModel,
  type KvInput,
  type KvOutput,
  type KvState,
  type Model,
  type MutexInput,
  type MutexOutput,
  type MutexState,
  mutexModel,
  type QueueInput,
  type QueueOutput,
  type QueueState,
  queueModel,
  type RegisterInput,
  type RegisterOutput,
  type RegisterValue,
  registerModel,
  type SetInput,
  type SetOutput,
  type SetState,
  setModel,
  type TxnInput,
  type TxnOutput,
  type TxnState,
  transactionalRegisterModel,
  versionedKvModel,
  type ZnodeInput,
  type ZnodeOutput,
  type ZnodeState,
  znodeModel,
} from '../../../src/testing/index.js';

/**
 * One step: from `state`, `input` returns `output` and leaves `next`; each of `fits`
 * (and an unknown output) is accepted, each of `misfits` refused.
 */
interface Case<S, I, O> {
  readonly state: S;
  readonly input: I;
  readonly output: O;
  readonly next: S;
  readonly misfits: readonly O[];
}

function checkCases<S, I, O>(model: Model<S, I, O>, cases: readonly Case<S, I, O>[]): void {
  for (const c of cases) {
    const what = `${JSON.stringify(c.input)} from ${JSON.stringify(c.state)}`;
    const unknown = model.step(c.state, c.input, undefined);
    expect(unknown, `${what}, output unknown`).toEqual({ ok: true, state: c.next, output: c.output });
    const seen = model.step(c.state, c.input, c.output);
    expect(seen, `${what}, seen ${JSON.stringify(c.output)}`).toEqual({ ok: true, state: c.next, output: c.output });
    for (const misfit of c.misfits) expect(model.step(c.state, c.input, misfit).ok, `${what}, seen ${JSON.stringify(misfit)}`).toBe(false);
  }
}

/** `hash` is equal exactly for equal states, over `states` (all distinct). */
function checkHash<S>(model: Model<S, unknown, unknown>, states: readonly S[]): void {
  const hashes = states.map((s) => model.hash(s));
  expect(new Set(hashes).size, `hashes ${JSON.stringify(hashes)}`).toBe(states.length);
  for (const s of states) expect(model.hash(structuredClone(s))).toBe(model.hash(s));
}

describe('registerModel', () => {
  const cases: Case<RegisterValue, RegisterInput, RegisterOutput>[] = [
    { state: null, input: { op: 'read' }, output: { type: 'value', value: null }, next: null, misfits: [{ type: 'value', value: 0 }, { type: 'written' }] },
    {
      state: 3,
      input: { op: 'read' },
      output: { type: 'value', value: 3 },
      next: 3,
      misfits: [
        { type: 'value', value: '3' },
        { type: 'cas', ok: true },
      ],
    },
    {
      state: 3,
      input: { op: 'write', value: 'x' },
      output: { type: 'written' },
      next: 'x',
      misfits: [
        { type: 'value', value: 'x' },
        { type: 'cas', ok: true },
      ],
    },
    {
      state: 3,
      input: { op: 'cas', expected: 3, value: 4 },
      output: { type: 'cas', ok: true },
      next: 4,
      misfits: [{ type: 'cas', ok: false }, { type: 'written' }],
    },
    {
      state: 3,
      input: { op: 'cas', expected: '3', value: 4 },
      output: { type: 'cas', ok: false },
      next: 3,
      misfits: [
        { type: 'cas', ok: true },
        { type: 'value', value: 3 },
      ],
    },
  ];
  it('steps as a register with compare-and-set', () => checkCases(registerModel, cases));
  it('hashes null, numbers and strings apart', () => checkHash(registerModel, [null, 1, '1', 'a', 'b', '', 'null', 'n', '#1', 's']));
  it('linearizes a read and a refused compare-and-set at once, nothing else', () => {
    const readOnly = registerModel.readOnly!;
    expect(readOnly({ op: 'read' }, { type: 'value', value: 1 })).toBe(true);
    expect(readOnly({ op: 'cas', expected: 1, value: 2 }, { type: 'cas', ok: false })).toBe(true);
    expect(readOnly({ op: 'cas', expected: 1, value: 2 }, { type: 'cas', ok: true })).toBe(false);
    expect(readOnly({ op: 'write', value: 1 }, { type: 'written' })).toBe(false);
  });
});

describe('versionedKvModel', () => {
  const v1: KvState = { value: 'a', version: 1 };
  const cases: Case<KvState, KvInput, KvOutput>[] = [
    { state: null, input: { op: 'get' }, output: { type: 'absent' }, next: null, misfits: [{ type: 'value', value: '', version: 0 }] },
    {
      state: v1,
      input: { op: 'get' },
      output: { type: 'value', value: 'a', version: 1 },
      next: v1,
      misfits: [{ type: 'value', value: 'b', version: 1 }, { type: 'value', value: 'a', version: 2 }, { type: 'written', version: 1 }, { type: 'absent' }],
    },
    {
      state: v1,
      input: { op: 'put', value: 'b' },
      output: { type: 'written', version: 2 },
      next: { value: 'b', version: 2 },
      misfits: [{ type: 'written', version: 1 }],
    },
    {
      state: null,
      input: { op: 'put', value: 'b', expectedVersion: 0 },
      output: { type: 'written', version: 1 },
      next: { value: 'b', version: 1 },
      misfits: [],
    },
    {
      state: v1,
      input: { op: 'put', value: 'b', expectedVersion: 2 },
      output: { type: 'conflict', version: 1 },
      next: v1,
      misfits: [
        { type: 'conflict', version: 2 },
        { type: 'written', version: 2 },
      ],
    },
    { state: v1, input: { op: 'delete' }, output: { type: 'deleted' }, next: null, misfits: [{ type: 'absent' }, { type: 'conflict', version: 1 }] },
    { state: v1, input: { op: 'delete', expectedVersion: 1 }, output: { type: 'deleted' }, next: null, misfits: [] },
    { state: v1, input: { op: 'delete', expectedVersion: 3 }, output: { type: 'conflict', version: 1 }, next: v1, misfits: [{ type: 'deleted' }] },
    { state: null, input: { op: 'delete', expectedVersion: 3 }, output: { type: 'absent' }, next: null, misfits: [{ type: 'conflict', version: 0 }] },
  ];
  it('steps as a key with versions', () => checkCases(versionedKvModel, cases));
  it('hashes states apart', () =>
    checkHash<KvState>(versionedKvModel, [null, v1, { value: 'a', version: 2 }, { value: '1:a', version: 1 }, { value: '', version: 1 }]));
});

describe('znodeModel', () => {
  const at0: ZnodeState = { data: 'a', version: 0 };
  const cases: Case<ZnodeState, ZnodeInput, ZnodeOutput>[] = [
    { state: null, input: { op: 'getData' }, output: { type: 'noNode' }, next: null, misfits: [{ type: 'data', data: '', version: 0 }] },
    {
      state: at0,
      input: { op: 'getData' },
      output: { type: 'data', data: 'a', version: 0 },
      next: at0,
      misfits: [{ type: 'data', data: 'b', version: 0 }, { type: 'data', data: 'a', version: 1 }, { type: 'set', version: 0 }, { type: 'noNode' }],
    },
    { state: null, input: { op: 'create', data: 'a' }, output: { type: 'created' }, next: at0, misfits: [{ type: 'nodeExists' }] },
    { state: at0, input: { op: 'create', data: 'b' }, output: { type: 'nodeExists' }, next: at0, misfits: [{ type: 'created' }] },
    {
      state: at0,
      input: { op: 'setData', data: 'b', version: 0 },
      output: { type: 'set', version: 1 },
      next: { data: 'b', version: 1 },
      misfits: [{ type: 'set', version: 0 }, { type: 'data', data: 'b', version: 1 }, { type: 'badVersion' }],
    },
    {
      state: { data: 'a', version: 4 },
      input: { op: 'setData', data: 'b', version: -1 },
      output: { type: 'set', version: 5 },
      next: { data: 'b', version: 5 },
      misfits: [{ type: 'badVersion' }],
    },
    {
      state: { data: 'a', version: 4 },
      input: { op: 'setData', data: 'b', version: 1 },
      output: { type: 'badVersion' },
      next: { data: 'a', version: 4 },
      misfits: [{ type: 'set', version: 5 }],
    },
    { state: null, input: { op: 'setData', data: 'b', version: -1 }, output: { type: 'noNode' }, next: null, misfits: [{ type: 'set', version: 1 }] },
    { state: { data: 'a', version: 4 }, input: { op: 'delete', version: -1 }, output: { type: 'deleted' }, next: null, misfits: [{ type: 'badVersion' }] },
    { state: { data: 'a', version: 1 }, input: { op: 'delete', version: 1 }, output: { type: 'deleted' }, next: null, misfits: [] },
    { state: at0, input: { op: 'delete', version: 1 }, output: { type: 'badVersion' }, next: at0, misfits: [{ type: 'deleted' }] },
    { state: null, input: { op: 'delete', version: -1 }, output: { type: 'noNode' }, next: null, misfits: [{ type: 'deleted' }] },
  ];
  it("steps as ZooKeeper's getData, create, setData and delete", () => checkCases(znodeModel, cases));
  it('hashes states apart', () =>
    checkHash<ZnodeState>(znodeModel, [null, at0, { data: 'a', version: 1 }, { data: '-', version: 0 }, { data: '', version: 0 }]));
});

describe('appendKvModel', () => {
  const cases: Case<string, AppendKvInput, AppendKvOutput>[] = [
    { state: 'ab', input: { op: 'get' }, output: { type: 'value', value: 'ab' }, next: 'ab', misfits: [{ type: 'value', value: 'a' }, { type: 'done' }] },
    { state: 'ab', input: { op: 'put', value: 'c' }, output: { type: 'done' }, next: 'c', misfits: [{ type: 'value', value: 'c' }] },
    { state: 'ab', input: { op: 'append', value: 'c' }, output: { type: 'done' }, next: 'abc', misfits: [{ type: 'value', value: 'abc' }] },
  ];
  it('steps as a get/put/append key', () => checkCases(appendKvModel, cases));
  it('linearizes a get at once, nothing else', () => {
    expect(appendKvModel.readOnly!({ op: 'get' }, { type: 'value', value: '' })).toBe(true);
    expect(appendKvModel.readOnly!({ op: 'append', value: '' }, { type: 'done' })).toBe(false);
  });
});

describe('setModel', () => {
  const cases: Case<SetState, SetInput, SetOutput>[] = [
    {
      state: [1, 'a'],
      input: { op: 'read' },
      output: { type: 'elements', elements: [1, 'a'] },
      next: [1, 'a'],
      misfits: [
        { type: 'elements', elements: [1] },
        { type: 'elements', elements: [1, 'b'] },
        { type: 'elements', elements: ['1', 'a'] },
        { type: 'elements', elements: [] },
        { type: 'done' },
      ],
    },
    // Numbers before strings, each ascending, whatever the order added.
    {
      state: [2, 'b'],
      input: { op: 'add', element: 'a' },
      output: { type: 'done' },
      next: [2, 'a', 'b'],
      misfits: [{ type: 'elements', elements: [2, 'a', 'b'] }],
    },
    { state: [2, 'b'], input: { op: 'add', element: 1 }, output: { type: 'done' }, next: [1, 2, 'b'], misfits: [] },
    { state: [2, 'b'], input: { op: 'add', element: 10 }, output: { type: 'done' }, next: [2, 10, 'b'], misfits: [] },
    { state: [2, 'b'], input: { op: 'add', element: 2 }, output: { type: 'done' }, next: [2, 'b'], misfits: [] },
    { state: [1, 2, 'b'], input: { op: 'remove', element: 2 }, output: { type: 'done' }, next: [1, 'b'], misfits: [{ type: 'elements', elements: [1, 'b'] }] },
    { state: [1, 'b'], input: { op: 'remove', element: '1' }, output: { type: 'done' }, next: [1, 'b'], misfits: [] },
  ];
  it('steps as a set', () => checkCases(setModel, cases));
  it('takes a read in any order', () => {
    expect(setModel.step([1, 2, 'a', 'b'], { op: 'read' }, { type: 'elements', elements: ['b', 2, 'a', 1] }).ok).toBe(true);
  });
  it('hashes states apart', () => checkHash<SetState>(setModel, [[], [1], ['1'], [1, 2], [1, 'a']]));
  it('linearizes a read at once, nothing else', () => {
    expect(setModel.readOnly!({ op: 'read' }, { type: 'elements', elements: [] })).toBe(true);
    expect(setModel.readOnly!({ op: 'remove', element: 1 }, { type: 'done' })).toBe(false);
  });
});

describe('queueModel', () => {
  const cases: Case<QueueState, QueueInput, QueueOutput>[] = [
    { state: [1], input: { op: 'enqueue', value: 'a' }, output: { type: 'done' }, next: [1, 'a'], misfits: [{ type: 'empty' }, { type: 'value', value: 'a' }] },
    { state: [], input: { op: 'dequeue' }, output: { type: 'empty' }, next: [], misfits: [{ type: 'done' }, { type: 'value', value: 1 }] },
    {
      state: [1, 'a'],
      input: { op: 'dequeue' },
      output: { type: 'value', value: 1 },
      next: ['a'],
      misfits: [{ type: 'value', value: 'a' }, { type: 'value', value: '1' }, { type: 'empty' }, { type: 'done' }],
    },
  ];
  it('steps as a FIFO queue', () => checkCases(queueModel, cases));
  it('linearizes an empty dequeue at once, nothing else', () => {
    expect(queueModel.readOnly!({ op: 'dequeue' }, { type: 'empty' })).toBe(true);
    expect(queueModel.readOnly!({ op: 'dequeue' }, { type: 'value', value: 1 })).toBe(false);
    expect(queueModel.readOnly!({ op: 'enqueue', value: 1 }, { type: 'done' })).toBe(false);
  });
  it('hashes states apart', () => checkHash<QueueState>(queueModel, [[], [1], ['1'], [1, 2], [2, 1]]));
});

describe('mutexModel', () => {
  const free: MutexState = { holder: null, token: 3 };
  const held: MutexState = { holder: 'a', token: 3 };
  const cases: Case<MutexState, MutexInput, MutexOutput>[] = [
    { state: held, input: { op: 'acquire', owner: 'b' }, output: { type: 'busy' }, next: held, misfits: [{ type: 'acquired', token: 4 }, { type: 'refused' }] },
    { state: held, input: { op: 'release', owner: 'b' }, output: { type: 'refused' }, next: held, misfits: [{ type: 'released' }, { type: 'busy' }] },
    { state: held, input: { op: 'release', owner: 'a' }, output: { type: 'released' }, next: free, misfits: [{ type: 'refused' }] },
    { state: free, input: { op: 'release', owner: 'a' }, output: { type: 'refused' }, next: free, misfits: [{ type: 'released' }] },
  ];
  it('steps as a lock', () => checkCases(mutexModel, cases));
  it('grants a token above every one before it; an unknown grant raises no bound', () => {
    expect(mutexModel.step(free, { op: 'acquire', owner: 'b' }, { type: 'acquired', token: 7 })).toEqual({
      ok: true,
      state: { holder: 'b', token: 7 },
      output: { type: 'acquired', token: 7 },
    });
    expect(mutexModel.step(free, { op: 'acquire', owner: 'b' }, { type: 'acquired', token: 3 }).ok).toBe(false);
    expect(mutexModel.step(free, { op: 'acquire', owner: 'b' }, { type: 'busy' }).ok).toBe(false);
    expect(mutexModel.step(free, { op: 'acquire', owner: 'b' }, undefined)).toEqual({
      ok: true,
      state: { holder: 'b', token: 3 },
      output: { type: 'acquired', token: 4 },
    });
  });
  it('linearizes a busy acquire and a refused release at once, nothing else', () => {
    const readOnly = mutexModel.readOnly!;
    expect(readOnly({ op: 'acquire', owner: 'a' }, { type: 'busy' })).toBe(true);
    expect(readOnly({ op: 'release', owner: 'a' }, { type: 'refused' })).toBe(true);
    expect(readOnly({ op: 'acquire', owner: 'a' }, { type: 'acquired', token: 1 })).toBe(false);
    expect(readOnly({ op: 'release', owner: 'a' }, { type: 'released' })).toBe(false);
  });
  it('hashes states apart', () =>
    checkHash<MutexState>(mutexModel, [
      free,
      held,
      { holder: 'b', token: 3 },
      { holder: null, token: 4 },
      { holder: 'null', token: 3 },
      { holder: '-', token: 3 },
      { holder: '', token: 3 },
    ]));
});

describe('transactionalRegisterModel', () => {
  const state: TxnState = [
    ['x', 1],
    ['z', 'a'],
  ];
  const cases: Case<TxnState, TxnInput, TxnOutput>[] = [
    {
      state,
      input: {
        steps: [
          { f: 'read', register: 'x' },
          { f: 'write', register: 'y', value: 2 },
          { f: 'read', register: 'y' },
          { f: 'read', register: 'w' },
        ],
      },
      output: { results: [1, null, 2, null] },
      // Sorted by register, whatever the order written.
      next: [
        ['x', 1],
        ['y', 2],
        ['z', 'a'],
      ],
      misfits: [{ results: [1, null, 2] }, { results: [1, null, 2, null, null] }, { results: [1, null, null, null] }],
    },
    {
      state,
      input: {
        steps: [
          { f: 'write', register: 'a', value: 0 },
          { f: 'write', register: 'x', value: 5 },
        ],
      },
      output: { results: [null, null] },
      next: [
        ['a', 0],
        ['x', 5],
        ['z', 'a'],
      ],
      misfits: [],
    },
  ];
  it('steps as registers changed by transactions', () => checkCases(transactionalRegisterModel, cases));
  it('linearizes a transaction that only reads at once, nothing else', () => {
    const readOnly = transactionalRegisterModel.readOnly!;
    const output = { results: [] };
    expect(readOnly({ steps: [{ f: 'read', register: 'x' }] }, output)).toBe(true);
    expect(readOnly({ steps: [] }, output)).toBe(true);
    expect(
      readOnly(
        {
          steps: [
            { f: 'read', register: 'x' },
            { f: 'write', register: 'x', value: 1 },
          ],
        },
        output,
      ),
    ).toBe(false);
  });
});

describe('every switch-based model', () => {
  const models: [string, Model<unknown, unknown, unknown>][] = [
    ['register', registerModel as Model<unknown, unknown, unknown>],
    ['versioned-kv', versionedKvModel as Model<unknown, unknown, unknown>],
    ['znode', znodeModel as Model<unknown, unknown, unknown>],
    ['append-kv', appendKvModel as Model<unknown, unknown, unknown>],
    ['set', setModel as Model<unknown, unknown, unknown>],
    ['queue', queueModel as Model<unknown, unknown, unknown>],
    ['mutex', mutexModel as Model<unknown, unknown, unknown>],
  ];
  it.each(models)('%s throws on an operation it does not know, rather than answer nothing', (_name, model) => {
    expect(() => model.step(model.init(), { op: 'frobnicate' }, undefined)).toThrow('unreachable: {"op":"frobnicate"}');
  });
  it.each(models.filter(([name]) => name === 'versioned-kv' || name === 'znode'))('%s throws on an output it does not know', (name, model) => {
    const read = name === 'znode' ? { op: 'getData' } : { op: 'get' };
    expect(() => model.step(model.init(), read, { type: 'frobnicated' })).toThrow('unreachable: {"type":"frobnicated"}');
  });
});
