/**
 * The loop that searches keys in turns: partitions by key in order of first
 * appearance, one key taken per round or all at once, every key that ends passed on
 * with how it ended, memory given back, and a failing key explained and shrunk.
 */
import { describe, expect, it } from 'vitest';
import { linearizabilityLimits, versionedKvModel } from '../../../src/testing/index.js';
import { Budget } from '../../../src/testing/linearizability/budget.js';
import type { KvInput, KvOutput } from '../../../src/testing/index.js';
import { failure, type Partition, partitionByKey, searchInTurns } from '../../../src/testing/linearizability/partition-turns.js';
import { absent, fail, get, info, type KvOperation, ok, put, value, written } from './fixtures.js';

type KvPartition = Partition<unknown, KvInput, KvOutput>;

const budgetOf = (stepsMax = 1e9) => new Budget(10_000, stepsMax, () => 0, 64 * 1024 * 1024);

/** `writers` info puts and a read of a value none of them wrote: every subset tried, a hard failure. */
const hardHistory = (writers: number, key: string): KvOperation[] => {
  const history: KvOperation[] = [];
  for (let i = 0; i < writers; i++) history.push(info(`c${i}`, put(`v${i}`), i, key));
  history.push(ok('r', get, 0, 2000, value('never', 1), key));
  return history;
};
const linearizable = (key: string): KvOperation[] => [ok('a', put('1'), 0, 1, written(1), key), ok('b', get, 2, 3, value('1', 1), key)];
const lostWrite = (key: string): KvOperation[] => [ok('a', put('1'), 0, 1, written(1), key), ok('b', get, 2, 3, absent, key)];

/** Runs `searchInTurns` over `partitions`, taken one by one or all at once; the failed partition and the ended ones in order. */
function turns(partitions: KvPartition[], takeAll: boolean, budget: Budget, partitionStepsMax = 1e9) {
  let next = 0;
  let takes = 0;
  const ended: { key: string; unknown: string | undefined; done: boolean; searching: boolean }[] = [];
  const failed = searchInTurns(
    () => {
      takes++;
      return partitions[next++];
    },
    takeAll,
    versionedKvModel as never,
    budget,
    partitionStepsMax,
    (partition) => ended.push({ key: partition.key, unknown: partition.unknown, done: partition.done, searching: partition.search !== undefined }),
  );
  return { failed, ended, takes };
}

describe('partitionByKey', () => {
  it('keeps the ok and info operations by key, keys in order of first appearance, operations in order', () => {
    const history = [
      ok('a', put('1'), 0, 1, written(1), 'y'),
      fail('b', put('2'), 0, 1, 'x'),
      info('c', put('3'), 2, 'x'),
      ok('d', get, 3, 4, value('1', 1), 'y'),
      fail('e', put('4'), 5, 6, 'z'),
      ok('f', get, 5, 6, absent, 'w'),
    ];
    const partitions = partitionByKey(history);
    expect(partitions.map((p) => [p.index, p.key, p.operations, p.done, p.search, p.unknown])).toEqual([
      [0, 'y', [history[0], history[3]], false, undefined, undefined],
      [1, 'x', [history[2]], false, undefined, undefined],
      [2, 'w', [history[5]], false, undefined, undefined],
    ]);
  });
});

describe('searchInTurns', () => {
  it('ends every key, each passed on once, done and searchless, and gives all memory back', () => {
    const budget = budgetOf();
    const partitions = partitionByKey<unknown, KvInput, KvOutput>([...linearizable('a'), ...linearizable('b'), ...linearizable('c')]);
    const { failed, ended } = turns(partitions, true, budget);
    expect(failed).toBeUndefined();
    expect(ended).toEqual(['a', 'b', 'c'].map((key) => ({ key, unknown: undefined, done: true, searching: false })));
    expect(budget.bytesHeld).toBe(0);
  });

  it('takes every key before the first turn with takeAll, and one more key per round without', () => {
    // The hard key h needs three turns (then its partitionStepsMax is spent). With
    // takeAll, a and b end in the first round, before it; taken one by one, a is taken
    // in the second round and ends there, b only in the third, after h.
    const history = [...hardHistory(20, 'h'), ...linearizable('a'), ...linearizable('b')];
    const stepsMax = 3 * linearizabilityLimits.partitionTurnSteps;
    const all = turns(partitionByKey(history), true, budgetOf(), stepsMax);
    expect(all.ended.map((e) => [e.key, e.unknown])).toEqual([
      ['a', undefined],
      ['b', undefined],
      ['h', 'step budget'],
    ]);
    const one = turns(partitionByKey(history), false, budgetOf(), stepsMax);
    expect(one.ended.map((e) => [e.key, e.unknown])).toEqual([
      ['a', undefined],
      ['h', 'step budget'],
      ['b', undefined],
    ]);
    // \`take\` is asked until it runs dry, then never again.
    expect(one.takes).toBe(4);
    expect(all.takes).toBe(4);
  });

  it('returns the failing key with its search, and releases every search still going', () => {
    const budget = budgetOf();
    const partitions = partitionByKey<unknown, KvInput, KvOutput>([...hardHistory(20, 'h'), ...linearizable('a'), ...lostWrite('f')]);
    const { failed, ended } = turns(partitions, true, budget);
    expect(failed?.key).toBe('f');
    expect(failed?.search).toBeDefined();
    expect(failed?.done).toBe(false);
    expect(ended.map((e) => e.key)).toEqual(['a']);
    expect(budget.bytesHeld).toBe(0);
  });

  it('ends a key that spends partitionStepsMax unknown (step budget), in turns of at most that many steps', () => {
    const budget = budgetOf();
    const partitions = partitionByKey<unknown, KvInput, KvOutput>([...hardHistory(20, 'h'), ...linearizable('a')]);
    const { ended } = turns(partitions, true, budget, 1_000);
    // The hard key's one turn is its 1,000 steps, and it ends before the next key's.
    expect(ended).toEqual([
      { key: 'h', unknown: 'step budget', done: true, searching: false },
      { key: 'a', unknown: undefined, done: true, searching: false },
    ]);
    // The hard key got exactly its partitionStepsMax, the other key what it needed.
    expect(budget.taken).toBeGreaterThanOrEqual(1_000);
    expect(budget.taken).toBeLessThan(1_000 + 20);
    expect(budget.bytesHeld).toBe(0);
  });

  it('gives a key the rest of its partitionStepsMax in its last turn, not a whole turn', () => {
    const budget = budgetOf();
    const stepsMax = linearizabilityLimits.partitionTurnSteps + 1_000;
    const { ended } = turns(partitionByKey<unknown, KvInput, KvOutput>(hardHistory(20, 'h')), true, budget, stepsMax);
    expect(ended).toEqual([{ key: 'h', unknown: 'step budget', done: true, searching: false }]);
    expect(budget.taken).toBe(stepsMax);
  });

  it('ends every key left unknown with the reason the budget was spent on, when the whole budget runs out', () => {
    const budget = budgetOf(2 * linearizabilityLimits.partitionTurnSteps);
    const partitions = partitionByKey<unknown, KvInput, KvOutput>([...hardHistory(20, 'h'), ...hardHistory(20, 'g'), ...hardHistory(20, 'k')]);
    const { failed, ended } = turns(partitions, true, budget);
    expect(failed).toBeUndefined();
    expect(budget.spentOn).toBe('step budget');
    expect(ended).toEqual(['h', 'g', 'k'].map((key) => ({ key, unknown: 'step budget', done: true, searching: false })));
    expect(budget.bytesHeld).toBe(0);
    // A key after the one that spent the budget gets no turn in that round: not even
    // one of info operations only, which any turn would find linearizable at once.
    const behind = partitionByKey<unknown, KvInput, KvOutput>([...hardHistory(20, 'h'), info('c', put('1'), 0, 'z')]);
    const cut = turns(behind, true, budgetOf(1_000));
    expect(cut.ended).toEqual(['h', 'z'].map((key) => ({ key, unknown: 'step budget', done: true, searching: false })));
    // Spent before any turn: the keys taken end unknown without a search.
    const spent = budgetOf(0);
    spent.spend();
    const none = turns(partitionByKey<unknown, KvInput, KvOutput>(linearizable('a')), true, spent);
    expect(none.ended).toEqual([{ key: 'a', unknown: 'step budget', done: true, searching: false }]);
  });

  it('ends a key whose memo would pass the memory bound unknown (memory bound), and the others go on', () => {
    const budget = new Budget(10_000, 1e9, () => 0, 1024 * 1024);
    const partitions = partitionByKey<unknown, KvInput, KvOutput>([...hardHistory(24, 'h'), ...linearizable('a')]);
    const { ended } = turns(partitions, true, budget);
    expect(ended).toEqual([
      { key: 'a', unknown: undefined, done: true, searching: false },
      { key: 'h', unknown: 'memory bound', done: true, searching: false },
    ]);
    expect(budget.bytesHeld).toBe(0);
  });
});

describe('failure', () => {
  it('names only the stuck operation when the budget runs out while it explains', () => {
    // The explaining search costs as much as the first: a budget with room for one
    // search and a little more ends it before it gets back to where the first died.
    const history = [...hardHistory(10, 'f'), ok('w', put('1'), 0, 1, written(1), 'f')];
    const probe = budgetOf();
    turns(partitionByKey(history), true, probe);
    const first = probe.taken;
    const budget = budgetOf(first + 10);
    const { failed } = turns(partitionByKey(history), true, budget);
    expect(failed?.key).toBe('f');
    const { explanation, minimal, shrinkComplete } = failure(failed!, versionedKvModel as never, budget, false);
    expect(budget.spentOn).toBe('step budget');
    expect(explanation.stuck).toBe(history[10]);
    expect(explanation.linearized).toEqual([]);
    expect(explanation.states).toEqual([]);
    expect([minimal, shrinkComplete]).toEqual([history, false]);
    // With the budget to explain, the path and states are there.
    const { failed: again } = turns(partitionByKey(history), true, budgetOf());
    expect(failure(again!, versionedKvModel as never, budgetOf(), false).explanation.states).not.toEqual([]);
  });

  it('gives the whole key as minimal, shrinking incomplete, when asked not to shrink', () => {
    const history = [...lostWrite('f'), ok('c', get, 4, 5, absent, 'f')];
    const budget = budgetOf();
    const { failed } = turns(partitionByKey(history), true, budget);
    const unshrunk = failure(failed!, versionedKvModel as never, budget, false);
    expect(unshrunk).toMatchObject({ key: 'f', minimal: history, shrinkComplete: false });
    expect(unshrunk.explanation.stuck).toBe(history[1]);
  });

  it('shrinks from the operations invoked by the time the stuck one completed', () => {
    // The get at 2-3 is stuck; the put at 10 cannot matter and is cut before shrinking.
    const history = [...lostWrite('f'), ok('c', put('2'), 10, 11, written(2), 'f')];
    const budget = budgetOf();
    const { failed } = turns(partitionByKey(history), true, budget);
    expect(failure(failed!, versionedKvModel as never, budget, true)).toMatchObject({ key: 'f', minimal: history.slice(0, 2), shrinkComplete: true });
  });
});
