/**
 * The resumable search: an explaining search stops in front of the return where the
 * first search died, and records the configuration there once per arrival, however
 * its steps are cut into turns.
 */
import { describe, expect, it } from 'vitest';
import { InvariantError } from '../../../src/core/errors.js';
import {
  linearizabilityLimits,
  type Model,
  type Operation,
  type RegisterInput,
  type RegisterOutput,
  type RegisterValue,
  registerModel,
  versionedKvModel,
} from '../../../src/testing/index.js';
import { Budget } from '../../../src/testing/linearizability/budget.js';
import { type DeathPoint, PartitionSearch, searchPartition } from '../../../src/testing/linearizability/search.js';
import { absent, fail, get, info, type KvOperation, ok, put, value, written } from './fixtures.js';

const budget = () => new Budget(10_000, 1e9, () => performance.now(), 64 * 1024 * 1024);

/** Searches `operations` to its failure, then explains it with turns of `turnSteps`. */
function deathPoint<S, I, O>(operations: Operation<I, O>[], model: Model<S, I, O>, turnSteps: number): { point: DeathPoint<S>; turns: number } {
  const b = budget();
  const failed = new PartitionSearch<S, I, O>(operations, model, b);
  expect(failed.run(Number.POSITIVE_INFINITY)).toBe('not-linearizable');
  failed.release();
  const again = new PartitionSearch<S, I, O>(operations, model, b, failed.furthestPosition);
  let turns = 0;
  let result = 'paused';
  while (result === 'paused' && !again.explained) {
    result = again.run(turnSteps);
    turns++;
  }
  again.release();
  return { point: again.deathPoint(), turns };
}

describe('an explaining search', () => {
  it('records the same death point, path and states in turns of one step as in one run', () => {
    // Four concurrent unknown writes, then a read of a value none wrote: many
    // configurations reach the read's return, each with its own state.
    const history: KvOperation[] = [
      ok('a', put('0'), 0, 1, written(1)),
      ...Array.from({ length: 4 }, (_, i) => info(`w${i}`, put(`v${i}`), 2 + i)),
      ok('r', get, 10, 20, value('never', 9)),
    ];
    const whole = deathPoint(history, versionedKvModel, Number.POSITIVE_INFINITY);
    const stepwise = deathPoint(history, versionedKvModel, 1);
    expect(stepwise.point).toEqual(whole.point);
    expect(stepwise.turns).toBeGreaterThan(10);
    expect(whole.point.states.length).toBeGreaterThan(1);
    expect(history[whole.point.stuck]!.client).toBe('r');
  });

  it('with a register whose last read is corrupted: the stuck read and every state before it', () => {
    const write = (client: string, v: number, at: number): Operation<RegisterInput, RegisterOutput> => ({
      client,
      key: 'k',
      input: { op: 'write', value: v },
      invokedAt: at,
      completedAt: at + 5,
      outcome: 'ok',
      output: { type: 'written' },
    });
    const history: Operation<RegisterInput, RegisterOutput>[] = [
      write('a', 1, 0),
      write('b', 2, 1),
      write('c', 3, 2),
      { client: 'r', key: 'k', input: { op: 'read' }, invokedAt: 10, completedAt: 11, outcome: 'ok', output: { type: 'value', value: -1 } },
    ];
    for (const turnSteps of [1, 2, 3, Number.POSITIVE_INFINITY]) {
      const { point } = deathPoint(history, registerModel, turnSteps);
      expect(point.stuck).toBe(3);
      expect([...point.states].sort()).toEqual([1, 2, 3]);
    }
  });
  it('pauses as soon as it holds explainStatesMax states, without searching on', () => {
    // Ten concurrent unknown writes: eleven states reach the stuck read, more than it keeps.
    const history: KvOperation[] = [...Array.from({ length: 10 }, (_, i) => info(`w${i}`, put(`v${i}`), i)), ok('r', get, 20, 30, value('never', 99))];
    const b = budget();
    const failed = new PartitionSearch(history, versionedKvModel, b);
    expect(failed.run(Number.POSITIVE_INFINITY)).toBe('not-linearizable');
    failed.release();
    const again = new PartitionSearch(history, versionedKvModel, b, failed.furthestPosition);
    expect(again.run(Number.POSITIVE_INFINITY)).toBe('paused');
    expect(again.explained).toBe(true);
    expect(again.deathPoint().states).toHaveLength(linearizabilityLimits.explainStatesMax);
    expect(again.steps).toBeLessThan(failed.steps);
    again.release();
  });
});

describe('the entry list and the operations it is read from', () => {
  it('orders returns by completion, not by index: a read that completed before another began binds them', () => {
    // The put is listed first but completes last. b's read saw it, so it took effect by
    // time 2, and c's read, invoked at 3, cannot miss it; with returns in index order
    // the put's return would come first and every read would look concurrent with c.
    const history: KvOperation[] = [ok('a', put('1'), 0, 10, written(1)), ok('b', get, 1, 2, value('1', 1)), ok('c', get, 3, 4, absent)];
    const search = new PartitionSearch(history, versionedKvModel, budget());
    expect(search.run(Number.POSITIVE_INFINITY)).toBe('not-linearizable');
    search.release();
  });

  it('breaks ties in time by the order of the history, also when the history comes far out of order', () => {
    // Forty reads listed in the reverse of their completion (the insertion sort gives
    // up for the general sort), then two impossible reads completing together: the
    // search dies at the return listed first.
    const history: KvOperation[] = Array.from({ length: 40 }, (_, i) => ok(`r${i}`, get, 0, 1000 - i, absent));
    history.push(ok('first', get, 1500, 2000, value('never', 1)), ok('second', get, 1500, 2000, value('nope', 1)));
    const search = new PartitionSearch(history, versionedKvModel, budget());
    expect(search.run(Number.POSITIVE_INFINITY)).toBe('not-linearizable');
    expect(history[search.stuckOperation]!.client).toBe('first');
    search.release();
  });

  it('refuses a fail operation, naming it: the checker drops them before it searches', () => {
    const history: KvOperation[] = [ok('a', put('1'), 0, 1, written(1)), fail('b', put('2'), 2, 3)];
    expect(() => new PartitionSearch(history, versionedKvModel, budget())).toThrow(InvariantError);
    expect(() => new PartitionSearch(history, versionedKvModel, budget())).toThrow(/operation 1 failed/);
  });

  it('passes over completed reads when it backtracks, when the model says they change nothing (fewer steps, same verdict)', () => {
    // Reads concurrent with a write, then a read of a value nobody wrote: the search
    // must exhaust the orders, and without `readOnly` it also tries each read later.
    const history: KvOperation[] = [
      ok('w', put('a'), 0, 100, written(1)),
      ...Array.from({ length: 6 }, (_, i) => ok(`r${i}`, get, 1 + i, 50, i % 2 === 0 ? absent : value('a', 1))),
      ok('z', get, 101, 102, value('never', 1)),
    ];
    const steps = (model: typeof versionedKvModel): number => {
      const search = new PartitionSearch(history, model, budget());
      expect(search.run(Number.POSITIVE_INFINITY)).toBe('not-linearizable');
      search.release();
      return search.steps;
    };
    const { readOnly: _, ...withoutReadOnly } = versionedKvModel;
    expect(steps(versionedKvModel)).toBeLessThan(steps(withoutReadOnly));
  });
});

describe('a search as it is built', () => {
  it('runs exactly the steps it is given when they span several of its turns, and pauses there', () => {
    // Twenty writes that timed out and a read of a value none wrote: every subset is tried.
    const history: KvOperation[] = [...Array.from({ length: 20 }, (_, i) => info(`c${i}`, put(`v${i}`), i)), ok('r', get, 0, 2000, value('never', 1))];
    const search = new PartitionSearch(history, versionedKvModel, budget());
    const turn = linearizabilityLimits.partitionTurnSteps;
    expect(search.run(turn / 2)).toBe('paused');
    expect(search.run(2 * turn + 7)).toBe('paused');
    expect(search.steps).toBe(turn / 2 + 2 * turn + 7);
    search.release();
  });

  it('answers at once, without a step: linearizable with no ok operation, memory bound when the first state does not fit', () => {
    const infoOnly = new PartitionSearch([info('a', put('1'), 0)], versionedKvModel, budget());
    expect(infoOnly.run(1)).toBe('linearizable');
    expect(infoOnly.steps).toBe(0);
    infoOnly.release();
    const tight = new Budget(10_000, 1e9, () => 0, 0);
    const starved = new PartitionSearch([ok('a', put('1'), 0, 1, written(1))], versionedKvModel, tight);
    expect(starved.run(Number.POSITIVE_INFINITY)).toBe('memory bound');
    expect([starved.steps, tight.taken, tight.bytesHeld]).toEqual([0, 0, 0]);
    starved.release();
  });

  it('holds its memo and interned states reserved from the budget, and gives them all back', () => {
    const b = budget();
    const search = new PartitionSearch([ok('a', put('1'), 0, 1, written(1)), ok('b', get, 2, 3, value('1', 1))], versionedKvModel, b);
    expect(search.run(Number.POSITIVE_INFINITY)).toBe('linearizable');
    expect(search.steps).toBe(2);
    expect(search.bytesHeld).toBeGreaterThan(0);
    expect(search.bytesHeld).toBe(b.bytesHeld);
    search.release();
    expect(b.bytesHeld).toBe(0);
  });

  it('searches a key of hundreds of operations, bitsets of many words: linearizable, and a stale read at the end', () => {
    // 300 writes one after another, each read back at once: 600 operations, and a
    // write that timed out early on, read by nobody.
    const history: KvOperation[] = [info('t', put('lost'), 0.5)];
    for (let i = 0; i < 300; i++) {
      history.push(ok('w', put(`v${i}`), 10 * i, 10 * i + 2, written(i + 1)));
      history.push(ok('r', get, 10 * i + 3, 10 * i + 4, value(`v${i}`, i + 1)));
    }
    for (const [operations, verdict] of [
      [history, 'linearizable'],
      [[...history, ok('r', get, 5_000, 5_001, value('v298', 299))], 'not-linearizable'],
    ] as const) {
      const b = budget();
      const search = new PartitionSearch(operations, versionedKvModel, b);
      expect(search.run(Number.POSITIVE_INFINITY)).toBe(verdict);
      // Little backtracking: a few steps per operation (the timed-out write is tried again as the walk goes).
      expect(search.steps).toBeLessThan(5 * operations.length);
      // The memo, the transitions and the interned states, all reserved from the budget.
      expect(search.bytesHeld).toBe(b.bytesHeld);
      search.release();
      expect(b.bytesHeld).toBe(0);
    }
  });
});

describe('the transitions a search caches, and the states it interns', () => {
  /** Ten concurrent writes that never completed, then a read of a value none wrote: every subset of the writes is tried. */
  const history: Operation<RegisterInput, RegisterOutput>[] = [
    ...Array.from(
      { length: 10 },
      (_, i): Operation<RegisterInput, RegisterOutput> => ({ client: `w${i}`, key: 'k', input: { op: 'write', value: i }, invokedAt: i, outcome: 'info' }),
    ),
    { client: 'r', key: 'k', input: { op: 'read' }, invokedAt: 20, completedAt: 21, outcome: 'ok', output: { type: 'value', value: -1 } },
  ];

  it('asks the model once per state and operation once it caches, however often the search comes back to them', () => {
    let calls = 0;
    const pairs = new Set<string>();
    const counting: Model<RegisterValue, RegisterInput, RegisterOutput> = {
      ...registerModel,
      step: (state, input, observed) => {
        calls++;
        pairs.add(`${registerModel.hash(state)} ${JSON.stringify(input)}`);
        return registerModel.step(state, input, observed);
      },
    };
    const search = new PartitionSearch(history, counting, budget());
    expect(search.run(Number.POSITIVE_INFINITY)).toBe('not-linearizable');
    search.release();
    // Before caching (two steps per operation) a step asks at most twice; after, each pair once.
    expect(calls).toBeLessThanOrEqual(4 * history.length + pairs.size);
    // And the search went back to them far more often than that.
    expect(search.steps).toBeGreaterThan(10 * calls);
  });

  it('stops with memory bound when a new state does not fit, holding only what it reserved; a partition search says unknown', () => {
    // The first step makes the memo's table and interns state 0; the second would intern state 1.
    const roomy = budget();
    const probe = new PartitionSearch(history, registerModel, roomy);
    expect(probe.run(1)).toBe('paused');
    const afterFirst = roomy.bytesHeld;
    expect(probe.run(1)).toBe('paused');
    expect(roomy.bytesHeld - afterFirst).toBe(linearizabilityLimits.internedStateBytes + 2 * 2);
    probe.release();
    // One byte short of the second state.
    const tight = () => new Budget(10_000, 1e9, () => 0, afterFirst + linearizabilityLimits.internedStateBytes + 2 * 2 - 1);
    const b = tight();
    const search = new PartitionSearch(history, registerModel, b);
    expect(search.run(Number.POSITIVE_INFINITY)).toBe('memory bound');
    expect(search.steps).toBe(2);
    expect(search.bytesHeld).toBe(afterFirst);
    expect(b.bytesHeld).toBe(afterFirst);
    search.release();
    expect(b.bytesHeld).toBe(0);
    expect(searchPartition(history, registerModel, tight())).toBe('unknown');
    // With room for the states, the same search ends.
    expect(searchPartition(history, registerModel, budget())).toBe('not-linearizable');
  });

  it('stops with memory bound, too, when a new state does not fit once transitions are cached', () => {
    /** A budget that refuses the small reservations (a state's; a memo or transitions table takes 192 bytes or more) once told to. */
    class StatesRefused extends Budget {
      refusing = false;
      override reserveBytes(bytes: number): boolean {
        return !(this.refusing && bytes < 160) && super.reserveBytes(bytes);
      }
    }
    // Every put a new version: new states keep coming, long after caching began (two steps per operation).
    const puts: KvOperation[] = [...Array.from({ length: 10 }, (_, i) => info(`w${i}`, put(`v${i % 3}`), i)), ok('r', get, 20, 30, value('never', 99))];
    const b = new StatesRefused(10_000, 1e9, () => 0, 64 * 1024 * 1024);
    const search = new PartitionSearch(puts, versionedKvModel, b);
    expect(search.run(4 * puts.length)).toBe('paused');
    b.refusing = true;
    expect(search.run(Number.POSITIVE_INFINITY)).toBe('memory bound');
    expect(search.steps).toBeLessThan(4 * puts.length + 50);
    expect(search.bytesHeld).toBe(b.bytesHeld);
    search.release();
    expect(b.bytesHeld).toBe(0);
  });

  it('charges each state interned two bytes per character of its hash, besides its fixed bytes', () => {
    /** The register with its hashes padded to `length` characters: the same states, longer keys. */
    const padded = (length: number): Model<RegisterValue, RegisterInput, RegisterOutput> => ({
      ...registerModel,
      hash: (state) => registerModel.hash(state).padEnd(length, '.'),
    });
    const held = (length: number): number => {
      const search = new PartitionSearch(history, padded(length), budget());
      expect(search.run(Number.POSITIVE_INFINITY)).toBe('not-linearizable');
      const bytes = search.bytesHeld;
      search.release();
      return bytes;
    };
    // Eleven states (null and 0 to 9), each hash 38 characters longer.
    expect(held(40) - held(2)).toBe(11 * 2 * 38);
  });
});

describe('what a search prunes, and what it answers out of budget', () => {
  const reg = (
    client: string,
    input: RegisterInput,
    invokedAt: number,
    completedAt: number,
    output: RegisterOutput,
  ): Operation<RegisterInput, RegisterOutput> => ({
    client,
    key: 'k',
    input,
    invokedAt,
    completedAt,
    outcome: 'ok',
    output,
  });

  it('never prunes a completed operation as dominated: two concurrent writes whose order a later read fixes', () => {
    // 2 then 1 leaves the same state as 1 alone, but only 1 then 2 explains the read.
    const history = [
      reg('x', { op: 'write', value: 1 }, 0, 3, { type: 'written' }),
      reg('e', { op: 'write', value: 2 }, 1, 4, { type: 'written' }),
      reg('r', { op: 'read' }, 5, 6, { type: 'value', value: 2 }),
    ];
    expect(searchPartition(history, registerModel, budget())).toBe('linearizable');
    const otherOrder = [history[0]!, history[1]!, reg('r', { op: 'read' }, 5, 6, { type: 'value', value: 1 })];
    expect(searchPartition(otherOrder, registerModel, budget())).toBe('linearizable');
  });

  it('records each state once at the death point, however many configurations reach it in that state', () => {
    // Two writes of the same value that never completed: four configurations reach the
    // stuck read ({}, {a}, {b}, {a, b}), in two states (null, 1).
    const unknownWrite = (client: string, invokedAt: number): Operation<RegisterInput, RegisterOutput> => ({
      client,
      key: 'k',
      input: { op: 'write', value: 1 },
      invokedAt,
      outcome: 'info',
    });
    const history = [unknownWrite('a', 0), unknownWrite('b', 1), reg('r', { op: 'read' }, 5, 6, { type: 'value', value: -1 })];
    const { point } = deathPoint(history, registerModel, Number.POSITIVE_INFINITY);
    expect(point.stuck).toBe(2);
    expect(point.states).toHaveLength(2);
    expect(new Set(point.states)).toEqual(new Set([null, 1]));
  });

  it('answers unknown when the step budget runs out before a verdict', () => {
    const history: KvOperation[] = [...Array.from({ length: 10 }, (_, i) => info(`w${i}`, put(`v${i}`), i)), ok('r', get, 20, 30, value('never', 99))];
    expect(searchPartition(history, versionedKvModel, new Budget(10_000, 5, () => 0, 64 * 1024 * 1024))).toBe('unknown');
    expect(searchPartition(history, versionedKvModel, budget())).toBe('not-linearizable');
  });
});

describe('a death point asked of the wrong search', () => {
  it('is refused: of a search not told where to explain, and of one not finished', () => {
    const history: KvOperation[] = [ok('a', put('1'), 0, 1, written(1)), ok('r', get, 2, 3, value('never', 9))];
    const plain = new PartitionSearch(history, versionedKvModel, budget());
    expect(plain.run(Number.POSITIVE_INFINITY)).toBe('not-linearizable');
    expect(() => plain.deathPoint()).toThrow(/no death point: explainAt -1, search not-linearizable/);
    const at = plain.furthestPosition;
    plain.release();
    const unfinished = new PartitionSearch(history, versionedKvModel, budget(), at);
    expect(() => unfinished.deathPoint()).toThrow(/no death point: explainAt \d+, search unfinished/);
    unfinished.release();
  });

  it('names no stuck operation and no furthest position before it reached a return', () => {
    const search = new PartitionSearch([ok('a', put('1'), 0, 1, written(1)), ok('r', get, 2, 3, value('never', 9))], versionedKvModel, budget());
    expect([search.stuckOperation, search.furthestPosition]).toEqual([-1, -1]);
    expect(search.run(1)).toBe('paused');
    expect([search.stuckOperation, search.furthestPosition]).toEqual([-1, -1]);
    search.release();
  });
});
