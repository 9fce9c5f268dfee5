/**
 * Hand-made versioned-KV histories with known verdicts, both ways, and the budget.
 */
import { describe, expect, it } from 'vitest';
import { checkLinearizability, HistoryError, versionedKvModel } from '../../../src/testing/index.js';
import { Budget } from '../../../src/testing/linearizability/budget.js';
import { unknownVerdict } from '../../../src/testing/linearizability/check-linearizability.js';
import { PartitionSearch } from '../../../src/testing/linearizability/search.js';
import { bruteForceLinearizable } from './brute-force.js';
import { type KvOperation, absent, conflict, del, deleted, fail, get, info, ok, put, value, written } from './fixtures.js';

const check = (history: readonly KvOperation[]) => checkLinearizability(history, versionedKvModel);

/** Each case: a history, its verdict, and (checked too) the brute-force oracle's agreement. */
const cases: { name: string; linearizable: boolean; history: KvOperation[] }[] = [
  {
    name: 'stale read: a get after a completed overwrite returns the old value',
    linearizable: false,
    history: [ok('a', put('1'), 0, 1, written(1)), ok('a', put('2'), 2, 3, written(2)), ok('b', get, 4, 5, value('1', 1))],
  },
  {
    name: 'lost write: an acknowledged put is not seen by a later get',
    linearizable: false,
    history: [ok('a', put('1'), 0, 1, written(1)), ok('b', get, 2, 3, absent)],
  },
  {
    name: 'CAS double success: two CAS on version 1 both succeed',
    linearizable: false,
    history: [ok('a', put('1'), 0, 1, written(1)), ok('b', put('b', 1), 2, 5, written(2)), ok('c', put('c', 1), 2, 5, written(2))],
  },
  {
    name: 'CAS one success, one conflict: linearizable',
    linearizable: true,
    history: [
      ok('a', put('1'), 0, 1, written(1)),
      ok('b', put('b', 1), 2, 5, written(2)),
      ok('c', put('c', 1), 2, 5, conflict(2)),
      ok('a', get, 6, 7, value('b', 2)),
    ],
  },
  {
    name: 'read of a value never written',
    linearizable: false,
    history: [ok('a', put('1'), 0, 1, written(1)), ok('b', get, 2, 3, value('zzz', 1))],
  },
  {
    name: 'concurrent puts, one order',
    linearizable: true,
    history: [ok('a', put('a'), 0, 10, written(1)), ok('b', put('b'), 1, 9, written(2)), ok('c', get, 11, 12, value('b', 2))],
  },
  {
    name: 'concurrent puts, the other order',
    linearizable: true,
    history: [ok('a', put('a'), 0, 10, written(2)), ok('b', put('b'), 1, 9, written(1)), ok('c', get, 11, 12, value('a', 2))],
  },
  {
    name: 'concurrent get may see the write or not',
    linearizable: true,
    history: [ok('a', put('a'), 0, 10, written(1)), ok('b', get, 1, 2, value('a', 1)), ok('c', get, 3, 4, value('a', 1))],
  },
  {
    name: 'read from the future: a get completes before the put it reads was invoked',
    linearizable: false,
    history: [ok('b', get, 0, 1, value('a', 1)), ok('a', put('a'), 2, 3, written(1))],
  },
  {
    name: 'a read cannot go back after a later read saw the write',
    linearizable: false,
    history: [ok('a', put('a'), 0, 10, written(1)), ok('b', get, 1, 2, value('a', 1)), ok('c', get, 3, 4, absent)],
  },
  {
    name: 'an info put that did take effect',
    linearizable: true,
    history: [info('a', put('a'), 0), ok('b', get, 5, 6, value('a', 1))],
  },
  {
    name: 'an info put that took effect long after its client gave up',
    linearizable: true,
    history: [info('a', put('a'), 0), ok('b', get, 5, 6, absent), ok('b', get, 100, 101, value('a', 1))],
  },
  {
    name: 'an info put that did not take effect',
    linearizable: true,
    history: [info('a', put('a'), 0), ok('b', put('b'), 5, 6, written(1)), ok('b', get, 7, 8, value('b', 1))],
  },
  {
    name: 'an info put cannot take effect before its invocation',
    linearizable: false,
    history: [ok('b', get, 0, 1, value('a', 1)), info('a', put('a'), 5)],
  },
  {
    name: 'a fail put must not take effect',
    linearizable: false,
    history: [fail('a', put('a'), 0, 1), ok('b', get, 2, 3, value('a', 1))],
  },
  {
    name: 'a fail put leaves the key absent',
    linearizable: true,
    history: [fail('a', put('a'), 0, 1), ok('b', get, 2, 3, absent)],
  },
  {
    name: 'create-if-absent conflicts on a present key and reports its version',
    linearizable: true,
    history: [ok('a', put('a'), 0, 1, written(1)), ok('a', put('b'), 2, 3, written(2)), ok('b', put('c', 0), 4, 5, conflict(2))],
  },
  {
    name: 'delete resets the version: a re-create is version 1',
    linearizable: true,
    history: [
      ok('a', put('a'), 0, 1, written(1)),
      ok('a', put('b'), 2, 3, written(2)),
      ok('a', del(2), 4, 5, deleted),
      ok('b', put('c', 0), 6, 7, written(1)),
      ok('b', get, 8, 9, value('c', 1)),
    ],
  },
  {
    name: 'a version that skips a write',
    linearizable: false,
    history: [ok('a', put('a'), 0, 1, written(1)), ok('a', put('b'), 2, 3, written(3))],
  },
  {
    name: 'equal times are concurrent: a get invoked as the put completes may miss it',
    linearizable: true,
    history: [ok('a', put('a'), 0, 5, written(1)), ok('b', get, 5, 6, absent)],
  },
];

describe('checkLinearizability on hand-made versioned-KV histories', () => {
  it('has cases both ways', () => {
    expect(cases.filter((c) => c.linearizable).length).toBeGreaterThanOrEqual(4);
    expect(cases.filter((c) => !c.linearizable).length).toBeGreaterThanOrEqual(4);
  });
  for (const c of cases) {
    it(`${c.linearizable ? 'linearizable' : 'not linearizable'}: ${c.name}`, () => {
      const verdict = check(c.history);
      expect(verdict.result).toBe(c.linearizable ? 'linearizable' : 'not-linearizable');
      expect(bruteForceLinearizable(c.history, versionedKvModel)).toBe(c.linearizable);
      if (verdict.result === 'not-linearizable') {
        expect(verdict.shrinkComplete).toBe(true);
        expect(check(verdict.minimal).result).toBe('not-linearizable');
      }
    });
  }

  it('shrinks a lost write among noise to the write and the read that missed it', () => {
    const verdict = check([
      ok('c', get, 0.2, 0.5, absent),
      ok('a', put('a'), 0, 1, written(1)),
      ok('d', get, 0.5, 1.5, absent),
      fail('f', put('z'), 0, 4),
      ok('b', get, 2, 3, absent),
      info('e', del(), 10),
    ]);
    expect(verdict.result).toBe('not-linearizable');
    if (verdict.result !== 'not-linearizable') return;
    expect(verdict.minimal.map((o) => [o.client, o.input])).toEqual([
      ['a', put('a')],
      ['b', get],
    ]);
  });

  it('shrinks a stale read to a read of a version never written (a 1-minimal answer)', () => {
    const verdict = check([ok('a', put('1'), 0, 1, written(1)), ok('a', put('2'), 2, 3, written(2)), ok('b', get, 4, 5, value('1', 1))]);
    // Removing both puts leaves the read alone, which no history explains.
    expect(verdict).toMatchObject({ result: 'not-linearizable', minimal: [{ client: 'b', input: get }], shrinkComplete: true });
  });

  it('shrinks in passes until no single operation can go: a drop late in a pass can free an earlier one', () => {
    // One pass keeps the first get (without it, the put explains the read of 'a'), then
    // drops the put; only a second pass sees the first get is no longer needed.
    const verdict = check([ok('c', get, 4, 5, absent), ok('a', put('a'), 0, 1, written(1)), ok('b', get, 2, 3, value('a', 1))]);
    expect(verdict).toMatchObject({ result: 'not-linearizable', minimal: [{ client: 'b', input: get }], shrinkComplete: true });
  });

  it('checks keys independently and names the failing key, with only its operations', () => {
    const history = [
      ok('a', put('1'), 0, 1, written(1), 'k1'),
      ok('b', get, 2, 3, value('1', 1), 'k1'),
      ok('a', put('1'), 0, 1, written(1), 'k2'),
      ok('b', get, 2, 3, absent, 'k2'),
      ok('c', get, 2, 3, absent, 'k3'),
    ];
    const verdict = check(history);
    expect(verdict).toMatchObject({ result: 'not-linearizable', key: 'k2' });
    if (verdict.result === 'not-linearizable') expect(verdict.minimal.every((o) => o.key === 'k2')).toBe(true);
    // The same operations on one key would be a different history: keys are not mixed.
    expect(check(history.filter((o) => o.key !== 'k2')).result).toBe('linearizable');
  });

  it('accepts an empty history and one of only info and fail operations', () => {
    expect(check([]).result).toBe('linearizable');
    expect(check([info('a', put('a'), 0), fail('b', del(), 1, 2)]).result).toBe('linearizable');
  });

  it('rejects malformed histories with HistoryError naming the operation', () => {
    const noCompletion: KvOperation = { client: 'a', key: 'x', input: get, invokedAt: 0, outcome: 'ok', output: absent };
    const backwards = ok('a', get, 5, 4, absent);
    const noOutput: KvOperation = { client: 'a', key: 'x', input: get, invokedAt: 0, completedAt: 1, outcome: 'ok' };
    for (const [history, index] of [
      [[noCompletion], 0],
      [[ok('a', get, 0, 1, absent), backwards], 1],
      [[noOutput], 0],
    ] as const) {
      const attempt = () => check(history);
      expect(attempt).toThrow(HistoryError);
      try {
        attempt();
      } catch (e) {
        expect((e as HistoryError).index).toBe(index);
        expect((e as HistoryError).code).toBe('HISTORY');
      }
    }
  });
});

/**
 * A hard history: `writers` concurrent `info` puts of distinct values (each may or may
 * not have taken effect, in any order) and a concurrent get of a value nobody wrote.
 * Every subset of the puts, with the last one, is a distinct configuration, so the
 * search visits about 2^writers of them before it can answer.
 */
function hardHistory(writers: number, key = 'x'): KvOperation[] {
  const history: KvOperation[] = [];
  for (let i = 0; i < writers; i++) history.push(info(`c${i}`, put(`v${i}`), i, key));
  history.push(ok('r', get, 0, 2000, value('never', 1), key));
  return history;
}

/** A lost write on `key`: an acknowledged put that a later get does not see. */
const lostWrite = (key: string): KvOperation[] => [ok('a', put('1'), 0, 1, written(1), key), ok('b', get, 2, 3, absent, key)];

describe('keys searched in turns, each with its own budget', () => {
  it('finds a failing key behind a hard one, within a budget the hard key alone would spend', () => {
    // Before keys were searched in turns, the hard key x spent the whole budget and the check answered unknown.
    const verdict = checkLinearizability([...hardHistory(22, 'x'), ...lostWrite('y')], versionedKvModel, { stepsMax: 200_000 });
    expect(verdict.result).toBe('not-linearizable');
    if (verdict.result === 'not-linearizable') expect(verdict.key).toBe('y');
  });

  it('still finds the failing key when it comes first, and when every key is hard', () => {
    expect(checkLinearizability([...lostWrite('y'), ...hardHistory(22, 'x')], versionedKvModel, { stepsMax: 200_000 })).toMatchObject({ key: 'y' });
    const manyHard = [...hardHistory(20, 'a'), ...hardHistory(20, 'b'), ...hardHistory(20, 'c'), ...lostWrite('d')];
    expect(checkLinearizability(manyHard, versionedKvModel, { stepsMax: 1_000_000 })).toMatchObject({ result: 'not-linearizable', key: 'd' });
  });

  it('ends a key that spends partitionStepsMax unknown, and finishes the others', () => {
    const linearizableKey = [ok('a', put('1'), 0, 1, written(1), 'y'), ok('b', get, 2, 3, value('1', 1), 'y')];
    const verdict = checkLinearizability([...hardHistory(22, 'x'), ...linearizableKey], versionedKvModel, { partitionStepsMax: 10_000 });
    expect(verdict).toMatchObject({ result: 'unknown', reason: 'step budget', keys: ['x'] });
    if (verdict.result === 'unknown') expect(verdict.detail).toContain('partitionStepsMax 10000');
    // With a failing key instead, the failure wins over the unknown key.
    expect(checkLinearizability([...hardHistory(22, 'x'), ...lostWrite('y')], versionedKvModel, { partitionStepsMax: 10_000 })).toMatchObject({ key: 'y' });
  });
});

describe('the memory bound', () => {
  it('ends a search that would exhaust the heap unknown, saying why, instead of aborting', () => {
    // 2^30 configurations of 30 unknown writes: gigabytes of memo with no bound. Only the memory bound can stop it here.
    const verdict = checkLinearizability(hardHistory(30), versionedKvModel, { memoryBytesMax: 4 * 1024 * 1024, timeBudgetMs: 10_000 });
    expect(verdict).toMatchObject({ result: 'unknown', reason: 'memory bound', keys: ['x'] });
    if (verdict.result === 'unknown') expect(verdict.detail).toContain('memoryBytesMax 4194304');
  });

  it("gives a key's memory back when it ends, so the keys after it can use it", () => {
    const budget = new Budget(10_000, 1e9, () => performance.now(), 4 * 1024 * 1024);
    const x = new PartitionSearch(hardHistory(30, 'x'), versionedKvModel, budget);
    expect(x.run(Number.POSITIVE_INFINITY)).toBe('memory bound');
    expect(budget.bytesHeld).toBeGreaterThan(1024 * 1024);
    x.release();
    expect(budget.bytesHeld).toBe(0);
    const y = new PartitionSearch(hardHistory(10, 'y'), versionedKvModel, budget);
    expect(y.run(Number.POSITIVE_INFINITY)).toBe('not-linearizable');
    y.release();
    expect(budget.bytesHeld).toBe(0);
    // And through the checker: the first key's bound does not starve the second.
    expect(checkLinearizability([...hardHistory(30, 'x'), ...hardHistory(8, 'y')], versionedKvModel, { memoryBytesMax: 4 * 1024 * 1024 })).toMatchObject({
      key: 'y',
    });
  });
});

describe('the budget', () => {
  it('answers unknown, never linearizable, when the step budget runs out', () => {
    const verdict = checkLinearizability(hardHistory(22), versionedKvModel, { stepsMax: 5_000 });
    expect(verdict).toMatchObject({ result: 'unknown', reason: 'step budget', keys: ['x'] });
  });

  it('answers unknown when the time budget runs out (a clock that jumps 1 ms per read)', () => {
    let t = 0;
    const verdict = checkLinearizability(hardHistory(22), versionedKvModel, { timeBudgetMs: 3, now: () => t++ });
    expect(verdict).toMatchObject({ result: 'unknown', reason: 'time budget', keys: ['x'] });
  });

  it('answers unknown on a linearizable history too, when the budget is too small to finish', () => {
    const history = [...hardHistory(12).slice(0, -1), ok('r', get, 0, 2000, value('v3', 1))];
    expect(checkLinearizability(history, versionedKvModel, { stepsMax: 3 }).result).toBe('unknown');
    expect(checkLinearizability(history, versionedKvModel).result).toBe('linearizable');
  });

  it('finishes the hard history with enough budget', () => {
    expect(checkLinearizability(hardHistory(10), versionedKvModel).result).toBe('not-linearizable');
  });
});

describe("the unknown verdict's detail", () => {
  it('names the step budget of the check, its stepsMax, the keys and the steps taken', () => {
    expect(checkLinearizability(hardHistory(22), versionedKvModel, { stepsMax: 5_000 })).toEqual({
      result: 'unknown',
      reason: 'step budget',
      keys: ['x'],
      detail: 'the step budget of the check (stepsMax 5000) ran out before 1 of 1 keys were finished (x) after 5001 steps; no key failed',
    });
  });

  it("names a key's step budget and its partitionStepsMax when only keys spent theirs", () => {
    const verdict = checkLinearizability([...hardHistory(22, 'x'), ...lostWrite('y').slice(0, 1)], versionedKvModel, { partitionStepsMax: 10_000 });
    expect(verdict).toMatchObject({ result: 'unknown', reason: 'step budget', keys: ['x'] });
    if (verdict.result === 'unknown')
      expect(verdict.detail).toMatch(/^the step budget of a key \(partitionStepsMax 10000\) ran out before 1 of 2 keys were finished \(x\)/);
  });

  it('names the time budget, given or by default, in ms', () => {
    let t = 0;
    const given = checkLinearizability(hardHistory(22), versionedKvModel, { timeBudgetMs: 3, now: () => t++ });
    expect(given).toMatchObject({ result: 'unknown', reason: 'time budget' });
    if (given.result === 'unknown')
      expect(given.detail).toMatch(/^the time budget \(3 ms\) ran out before 1 of 1 keys were finished \(x\) after \d+ steps; no key failed$/);
    // A clock that jumps a second per read: the default budget of 10,000 ms runs out too.
    const byDefault = checkLinearizability(hardHistory(22), versionedKvModel, { now: () => (t += 1_000) });
    expect(byDefault).toMatchObject({ result: 'unknown', reason: 'time budget' });
    if (byDefault.result === 'unknown') expect(byDefault.detail).toMatch(/^the time budget \(10000 ms\) ran out/);
  });

  it('reads performance.now when no clock is given', () => {
    // No time passes before the clock's first read past 0 ms, on any clock that moves.
    const verdict = checkLinearizability(hardHistory(22), versionedKvModel, { timeBudgetMs: 0 });
    expect(verdict).toMatchObject({ result: 'unknown', reason: 'time budget', keys: ['x'] });
  });

  it('names every key the whole budget left unfinished, taken or not, the first five by name', () => {
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const history = keys.flatMap((key) => hardHistory(20, key));
    const verdict = checkLinearizability(history, versionedKvModel, { stepsMax: 1_000 });
    expect(verdict).toMatchObject({ result: 'unknown', reason: 'step budget', keys });
    if (verdict.result === 'unknown') {
      expect(verdict.detail).toBe(
        'the step budget of the check (stepsMax 1000) ran out before 7 of 7 keys were finished (a, b, c, d, e, and 2 more) after 1001 steps; no key failed',
      );
    }
    const six = checkLinearizability(
      history.filter((o) => o.key !== 'g'),
      versionedKvModel,
      { stepsMax: 1_000 },
    );
    if (six.result === 'unknown') expect(six.detail).toContain('(a, b, c, d, e, and 1 more)');
    const five = checkLinearizability(
      history.filter((o) => o.key < 'f'),
      versionedKvModel,
      { stepsMax: 1_000 },
    );
    if (five.result === 'unknown') expect(five.detail).toContain('5 of 5 keys were finished (a, b, c, d, e) after');
    expect([six.result, five.result]).toEqual(['unknown', 'unknown']);
  });

  it('says what a failed worker said, or that it said nothing, and a worker failure besides a budget', () => {
    const cause = { checkWide: true, memoryBytesMax: '100 bytes' };
    const keys = [{ key: 'k' }];
    expect(unknownVerdict('worker failed', { ...cause, workerFailure: 'boom' }, keys, 3, 7, {})).toEqual({
      result: 'unknown',
      reason: 'worker failed',
      keys: ['k'],
      detail: 'a worker thread failed (boom) before 1 of 3 keys were finished (k) after 7 steps; no key failed',
    });
    expect(unknownVerdict('worker failed', cause, keys, 3, 7, {})).toMatchObject({
      detail: 'a worker thread failed (no error given) before 1 of 3 keys were finished (k) after 7 steps; no key failed',
    });
    expect(unknownVerdict('memory bound', { ...cause, workerFailure: 'boom' }, keys, 1, 7, {})).toMatchObject({
      detail:
        'the memory bound (memoryBytesMax 100 bytes) ran out before 1 of 1 keys were finished (k) after 7 steps; a worker thread failed too (boom); no key failed',
    });
    expect(unknownVerdict('memory bound', cause, keys, 1, 7, {})).toMatchObject({
      detail: 'the memory bound (memoryBytesMax 100 bytes) ran out before 1 of 1 keys were finished (k) after 7 steps; no key failed',
    });
  });
});

describe('checkLinearizability without shrinking', () => {
  it('gives the whole failing key as minimal, shrinking incomplete, with shrink: false', () => {
    const history = [ok('c', get, 0.2, 0.5, absent), ...lostWrite('x'), ok('d', put('2'), 10, 11, written(2))];
    expect(checkLinearizability(history, versionedKvModel, { shrink: false })).toMatchObject({
      result: 'not-linearizable',
      key: 'x',
      minimal: history,
      shrinkComplete: false,
    });
    expect(checkLinearizability(history, versionedKvModel, { shrink: true })).toMatchObject({ minimal: lostWrite('x'), shrinkComplete: true });
  });
});
