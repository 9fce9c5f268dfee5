/**
 * A fast-check arbitrary of small versioned-KV histories, linearizable or not.
 */
import { fc } from '../fast-check.js';
import type { Operation, Outcome } from './history.js';
import { type KvPlannedOperation, simulateKvHistory } from './kv-history-simulation.js';
import type { KvInput, KvOutput } from './versioned-kv-model.js';

/** Options of {@link kvHistoryArbitrary}. */
export interface KvHistoryArbitraryOptions {
  /** Most operations in a history. Default 8. */
  readonly operationsMax?: number;
  /** Number of keys. Default 2. */
  readonly keys?: number;
  /** Number of clients. Default 3. */
  readonly clients?: number;
  /** Latest invocation time; durations are up to half of it. Default 20. */
  readonly timeMax?: number;
  /** Most faults injected into one history (0 for only linearizable histories). Default 2. */
  readonly faultsMax?: number;
}

/**
 * A fault of the store behind a generated history.
 *
 * - `corrupt-output`: an `ok` operation returns something else than what the store computed;
 * - `lost-effect`: an `ok` operation returns its output but the store forgets its effect;
 * - `failed-but-applied`: a `fail` operation takes effect.
 */
export type KvHistoryFault = 'corrupt-output' | 'lost-effect' | 'failed-but-applied';

/** A generated history and the faults injected into it (a faulty history may still be linearizable). */
export interface KvHistorySample {
  readonly history: Operation<KvInput, KvOutput>[];
  readonly faults: readonly { readonly kind: KvHistoryFault; readonly index: number }[];
  /**
   * What the store did, faults included: when each operation took effect, or that it did
   * not (one entry per operation of `history`, in the same order). `simulateKvHistory(plan)`
   * gives `history` back, except the corrupted outputs.
   */
  readonly plan: readonly KvPlannedOperation[];
}

const values = ['a', 'b', 'c'] as const;

function corrupt(output: KvOutput, variant: number): KvOutput {
  switch (output.type) {
    case 'value':
      if (variant % 3 === 0) return { type: 'absent' };
      if (variant % 3 === 1) return { ...output, version: output.version > 1 && variant % 2 === 0 ? output.version - 1 : output.version + 1 };
      return { ...output, value: output.value === 'a' ? 'b' : 'a' };
    case 'absent':
      return { type: 'value', value: values[variant % values.length]!, version: 1 + (variant % 2) };
    case 'written':
      return variant % 2 === 0 ? { type: 'written', version: output.version + 1 } : { type: 'conflict', version: output.version - 1 };
    case 'conflict':
      return variant % 2 === 0 ? { type: 'written', version: output.version + 1 } : { type: 'conflict', version: output.version + 1 };
    case 'deleted':
      return { type: 'absent' };
  }
}

/**
 * Small versioned-KV histories made the way real ones are: clients issue gets, puts,
 * compare-and-sets and deletes with random overlapping intervals; one store applies
 * each at an instant inside its interval (an `info` one maybe not at all, or later);
 * then up to `faultsMax` faults are injected, so both verdicts are common.
 *
 * @example
 * ```ts
 * fc.assert(fc.property(kvHistoryArbitrary({ faultsMax: 0 }), ({ history }) =>
 *   checkLinearizability(history, versionedKvModel).result === 'linearizable'));
 * ```
 */
export function kvHistoryArbitrary(options: KvHistoryArbitraryOptions = {}): fc.Arbitrary<KvHistorySample> {
  const timeMax = options.timeMax ?? 20;
  const keys = options.keys ?? 2;
  const clients = options.clients ?? 3;
  const input: fc.Arbitrary<KvInput> = fc.oneof(
    fc.constant<KvInput>({ op: 'get' }),
    fc.constantFrom(...values).map((value): KvInput => ({ op: 'put', value })),
    fc
      .record({ value: fc.constantFrom(...values), expectedVersion: fc.nat(3) })
      .map(({ value, expectedVersion }): KvInput => ({ op: 'put', value, expectedVersion })),
    fc
      .option(fc.integer({ min: 1, max: 3 }), { nil: undefined })
      .map((expectedVersion): KvInput => (expectedVersion === undefined ? { op: 'delete' } : { op: 'delete', expectedVersion })),
  );
  const planned = fc
    .record({
      client: fc.nat(clients - 1),
      key: fc.nat(keys - 1),
      input,
      invokedAt: fc.nat(timeMax),
      duration: fc.nat(Math.max(1, Math.floor(timeMax / 2))),
      effect: fc.double({ min: 0, max: 1, noNaN: true }),
      outcome: fc.constantFrom<Outcome>('ok', 'ok', 'ok', 'info', 'fail'),
      infoEffect: fc.constantFrom('never', 'inside', 'late'),
    })
    .map(({ client, key, input, invokedAt, duration, effect, outcome, infoEffect }): KvPlannedOperation => {
      const completedAt = invokedAt + duration;
      const inside = invokedAt + effect * duration;
      const late = outcome === 'info' && infoEffect === 'late';
      return {
        client: `c${client}`,
        key: `k${key}`,
        input,
        invokedAt,
        completedAt,
        effectAt: late ? completedAt + 1 + effect * timeMax : inside,
        outcome,
        takesEffect: outcome === 'ok' || (outcome === 'info' && infoEffect !== 'never'),
      };
    });
  const fault = fc.record({
    kind: fc.constantFrom<KvHistoryFault>('corrupt-output', 'corrupt-output', 'lost-effect', 'failed-but-applied'),
    at: fc.nat(),
    variant: fc.nat(5),
  });
  return fc
    .record({
      plan: fc.array(planned, { minLength: 1, maxLength: options.operationsMax ?? 8 }),
      faults: fc.array(fault, { maxLength: options.faultsMax ?? 2 }),
    })
    .map(({ plan, faults }): KvHistorySample => {
      const applied: { kind: KvHistoryFault; index: number }[] = [];
      const corruptions = new Map<number, number>();
      const faultyPlan = [...plan];
      for (const { kind, at, variant } of faults) {
        const candidates = plan
          .map((p, index) => ({ p, index }))
          .filter(({ p }) => (kind === 'failed-but-applied' ? p.outcome === 'fail' : p.outcome === 'ok'));
        const chosen = candidates[at % Math.max(1, candidates.length)];
        if (chosen === undefined) continue;
        applied.push({ kind, index: chosen.index });
        if (kind === 'corrupt-output') corruptions.set(chosen.index, variant);
        else faultyPlan[chosen.index] = { ...chosen.p, takesEffect: kind === 'failed-but-applied' };
      }
      const history = simulateKvHistory(faultyPlan).map((operation, index) => {
        const variant = corruptions.get(index);
        return variant === undefined || operation.output === undefined ? operation : { ...operation, output: corrupt(operation.output, variant) };
      });
      return { history, faults: applied, plan: faultyPlan };
    });
}
