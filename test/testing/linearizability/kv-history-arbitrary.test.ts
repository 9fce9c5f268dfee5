/**
 * The generator of versioned-KV histories the checker's properties run on: it keeps to
 * its options, makes every kind of operation, outcome and fault, and each fault it
 * reports is one: a corrupted output differs from what the store returned, a lost effect
 * or a failed-but-applied operation changes the history it names. A generator that
 * quietly stopped making one of them would leave the properties proving less.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkLinearizability,
  kvHistoryArbitrary,
  kvOutputEquals,
  type KvHistorySample,
  type KvOutput,
  simulateKvHistory,
  versionedKvModel,
} from '../../../src/testing/index.js';
import type { KvOperation } from './fixtures.js';

function samples(options: Parameters<typeof kvHistoryArbitrary>[0], count: number, seed: number): KvHistorySample[] {
  return fc.sample(kvHistoryArbitrary(options), { numRuns: count, seed });
}

describe('kvHistoryArbitrary', () => {
  it('keeps to its options: operations, keys, clients, times and faults', () => {
    const options = { operationsMax: 5, keys: 3, clients: 2, timeMax: 40, faultsMax: 1 };
    for (const { history, faults } of samples(options, 500, 7)) {
      expect(history.length).toBeGreaterThanOrEqual(1);
      expect(history.length).toBeLessThanOrEqual(5);
      expect(faults.length).toBeLessThanOrEqual(1);
      for (const operation of history) {
        expect(['k0', 'k1', 'k2']).toContain(operation.key);
        expect(['c0', 'c1']).toContain(operation.client);
        expect(operation.invokedAt).toBeGreaterThanOrEqual(0);
        expect(operation.invokedAt).toBeLessThanOrEqual(40);
        if (operation.outcome !== 'info') {
          expect(operation.completedAt! - operation.invokedAt).toBeGreaterThanOrEqual(0);
          expect(operation.completedAt! - operation.invokedAt).toBeLessThanOrEqual(20);
        }
      }
      for (const fault of faults) expect(fault.index).toBeLessThan(history.length);
    }
  });

  it('makes every kind of input, outcome and fault, and every key and client', () => {
    const seen = new Set<string>();
    for (const { history, faults } of samples({}, 2_000, 11)) {
      for (const o of history) {
        const input = o.input;
        seen.add(`input ${input.op}${'expectedVersion' in input && input.expectedVersion !== undefined ? ' versioned' : ''}`);
        seen.add(`outcome ${o.outcome}`);
        seen.add(`key ${o.key}`);
        seen.add(`client ${o.client}`);
        if (o.outcome === 'ok') seen.add(`output ${o.output!.type}`);
      }
      for (const f of faults) seen.add(`fault ${f.kind}`);
    }
    expect([...seen].sort()).toEqual(
      [
        'input get',
        'input put',
        'input put versioned',
        'input delete',
        'input delete versioned',
        'outcome ok',
        'outcome info',
        'outcome fail',
        'key k0',
        'key k1',
        'client c0',
        'client c1',
        'client c2',
        'output value',
        'output absent',
        'output written',
        'output conflict',
        'output deleted',
        'fault corrupt-output',
        'fault lost-effect',
        'fault failed-but-applied',
      ].sort(),
    );
  });

  it('makes only linearizable histories with no faults, and reports each fault where it is', () => {
    let failing = 0;
    for (const { history, faults } of samples({ operationsMax: 8 }, 600, 13)) {
      const verdict = checkLinearizability(history, versionedKvModel).result;
      if (faults.length === 0) expect(verdict).toBe('linearizable');
      else if (verdict === 'not-linearizable') failing++;
      for (const { kind, index } of faults) {
        const operation = history[index]!;
        // A corrupted output and a lost effect are faults of ok operations; failed-but-applied, of failed ones.
        expect(operation.outcome).toBe(kind === 'failed-but-applied' ? 'fail' : 'ok');
      }
    }
    // Faults usually break linearizability: a generator whose faults did nothing would show none.
    expect(failing).toBeGreaterThan(100);
  });

  it('corrupts an output into one the store did not return', () => {
    // One operation on an empty store: the model says what the store returned, and a
    // corrupted output must be anything else.
    let corrupted = 0;
    for (const { history, faults } of samples({ operationsMax: 1, faultsMax: 1 }, 3_000, 17)) {
      if (faults[0]?.kind !== 'corrupt-output') continue;
      corrupted++;
      const operation = history[0]!;
      const truth = versionedKvModel.step(versionedKvModel.init(), operation.input, undefined).output;
      expect(kvOutputEquals(operation.output!, truth), JSON.stringify(operation)).toBe(false);
    }
    expect(corrupted).toBeGreaterThan(200);
  });
});

/** Histories whose operations are all ok and one after another in real time, with one corrupted output: the store's answer and the corruption. */
function corruptions(count: number, seed: number): { readonly truth: KvOutput; readonly output: KvOutput; readonly history: readonly KvOperation[] }[] {
  const found: { truth: KvOutput; output: KvOutput; history: readonly KvOperation[] }[] = [];
  for (const { history, faults } of samples({ operationsMax: 4, keys: 1, clients: 1, timeMax: 40, faultsMax: 1 }, count, seed)) {
    if (faults[0]?.kind !== 'corrupt-output') continue;
    const ordered = [...history].sort((a, b) => a.invokedAt - b.invokedAt);
    if (ordered.some((o, i) => o.outcome !== 'ok' || (i > 0 && ordered[i - 1]!.completedAt! >= o.invokedAt))) continue;
    // The store's answers are those of the model run in that order.
    let state = versionedKvModel.init();
    for (const operation of ordered) {
      const step = versionedKvModel.step(state, operation.input, undefined);
      state = step.state;
      if (operation === history[faults[0].index]) found.push({ truth: step.output, output: operation.output!, history: ordered });
    }
  }
  return found;
}

describe('kvHistoryArbitrary spreads', () => {
  it('durations up to half of timeMax, and faults over every operation that may take one', () => {
    let longest = 0;
    let notFirst = 0;
    for (const { history, faults } of samples({ operationsMax: 6, timeMax: 40 }, 2_000, 23)) {
      for (const o of history) if (o.outcome !== 'info') longest = Math.max(longest, o.completedAt! - o.invokedAt);
      for (const { kind, index } of faults) {
        const first = history.findIndex((o) => o.outcome === (kind === 'failed-but-applied' ? 'fail' : 'ok'));
        if (index !== first) notFirst++;
      }
    }
    expect(longest).toBeGreaterThanOrEqual(18);
    expect(longest).toBeLessThanOrEqual(20);
    expect(notFirst).toBeGreaterThan(200);
  });
});

// Each test samples its own histories: code run while a test runs counts as covered by it
// (mutation testing picks the tests to run by that).
describe('kvHistoryArbitrary, a corrupted output of any kind', () => {
  it('differs from what the store returned, whatever the store held', () => {
    for (const { truth, output, history } of corruptions(40_000, 19)) expect(kvOutputEquals(output, truth), JSON.stringify(history)).toBe(false);
  });

  it('takes every form a wrong answer can have', () => {
    // A wrong answer of each kind: absent for a value, a value for absent, a version off
    // by one, another value, a conflict for a write and a write for a conflict. (A version
    // one lower needs two writes before the read and variant 4: too rare to wait for here.)
    const version = (o: KvOutput): number | undefined => ('version' in o ? o.version : undefined);
    const forms = new Set<string>();
    for (const { truth, output } of corruptions(40_000, 19)) {
      const shift = version(output) !== undefined && version(truth) !== undefined ? ` ${version(output)! - version(truth)!}` : '';
      const value = output.type === 'value' ? (truth.type === 'value' && output.value !== truth.value ? ' other value' : '') : '';
      if (output.type === 'value') expect(['a', 'b', 'c']).toContain(output.value);
      forms.add(`${truth.type} -> ${output.type}${shift}${value}${truth.type === 'absent' && output.type === 'value' ? ` version ${output.version}` : ''}`);
    }
    expect([...forms].sort()).toEqual(
      [
        'absent -> value version 1',
        'absent -> value version 2',
        'conflict -> conflict 1',
        'conflict -> written 1',
        'deleted -> absent',
        'value -> absent',
        'value -> value 0 other value',
        'value -> value 1',
        'written -> conflict -1',
        'written -> written 1',
      ].sort(),
    );
  });
});

describe('kvHistoryArbitrary, the plan it reports', () => {
  it('is the one the history was made from, faults included', () => {
    for (const { history, faults, plan } of samples({ operationsMax: 6 }, 1_000, 29)) {
      expect(plan).toHaveLength(history.length);
      const corrupted = new Set(faults.filter((f) => f.kind === 'corrupt-output').map((f) => f.index));
      const simulated = simulateKvHistory(plan);
      for (const [index, operation] of history.entries()) {
        if (!corrupted.has(index)) expect(operation).toStrictEqual(simulated[index]);
        else expect({ ...operation, output: undefined }).toStrictEqual({ ...simulated[index], output: undefined });
      }
    }
  });

  it('applies each fault where it says: a lost effect and a failed-but-applied operation change the plan, a corruption does not', () => {
    const seen = new Set<string>();
    for (const { faults, plan } of samples({ operationsMax: 6, faultsMax: 1 }, 1_000, 31)) {
      const [fault] = faults;
      if (fault === undefined) continue;
      const planned = plan[fault.index]!;
      seen.add(fault.kind);
      expect(planned.outcome).toBe(fault.kind === 'failed-but-applied' ? 'fail' : 'ok');
      // One fault: every other operation is as a correct store plans it.
      expect(planned.takesEffect).toBe(fault.kind !== 'lost-effect');
      for (const [index, other] of plan.entries())
        if (index !== fault.index && other.outcome !== 'info') expect(other.takesEffect).toBe(other.outcome === 'ok');
    }
    expect([...seen].sort()).toEqual(['corrupt-output', 'failed-but-applied', 'lost-effect']);
  });

  it('places effects inside intervals, except info ones: never applied, inside, or after completion by up to timeMax', () => {
    const timeMax = 40;
    const info = { never: 0, inside: 0, late: 0 };
    let latest = 0;
    for (const { plan } of samples({ operationsMax: 6, timeMax, faultsMax: 0 }, 2_000, 37)) {
      for (const p of plan) {
        expect(p.effectAt).toBeGreaterThanOrEqual(p.invokedAt);
        if (p.outcome !== 'info') {
          expect(p.takesEffect).toBe(p.outcome === 'ok');
          expect(p.effectAt).toBeLessThanOrEqual(p.completedAt);
        } else if (!p.takesEffect) info.never++;
        else if (p.effectAt <= p.completedAt) info.inside++;
        else {
          info.late++;
          expect(p.effectAt - p.completedAt).toBeGreaterThanOrEqual(1);
          expect(p.effectAt - p.completedAt).toBeLessThanOrEqual(1 + timeMax);
          latest = Math.max(latest, p.effectAt - p.completedAt);
        }
      }
    }
    // Each kind of info operation is common (about a third each), and late ones reach far past their completion.
    for (const count of Object.values(info)) expect(count).toBeGreaterThan(200);
    expect(latest).toBeGreaterThan(timeMax / 2);
  });

  it('makes deletes with no expected version or one from 1 to 3, and inputs that JSON keeps as they are', () => {
    const versions = new Set<number | undefined>();
    for (const { history } of samples({}, 1_000, 41)) {
      for (const { input } of history) {
        expect(JSON.parse(JSON.stringify(input))).toStrictEqual(input);
        if (input.op === 'delete') versions.add(input.expectedVersion);
      }
    }
    expect([...versions].sort()).toEqual([1, 2, 3, undefined]);
  });
});
