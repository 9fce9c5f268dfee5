/**
 * Versioned-KV histories made by running a store (correct, or with planned faults)
 * over planned operations with real-time intervals.
 */
import { assert } from '../../core/assert.js';
import type { Operation, Outcome } from './history.js';
import { type KvInput, type KvOutput, type KvState, versionedKvModel } from './versioned-kv-model.js';

/**
 * One operation of a plan: who issues what, when, and when the store applies it.
 * A correct store applies every `ok` operation (`takesEffect: true`), no `fail` one,
 * and an `info` one or not; a plan that breaks this describes a faulty store.
 */
export interface KvPlannedOperation {
  readonly client: string;
  readonly key: string;
  readonly input: KvInput;
  /** Invocation time. */
  readonly invokedAt: number;
  /** Completion time (`ok` and `fail`); ignored for `info`. */
  readonly completedAt: number;
  /** The instant the store applies it, at or after `invokedAt` (and, for a correct `ok`, at or before `completedAt`). */
  readonly effectAt: number;
  readonly outcome: Outcome;
  /** Whether the store applies it at `effectAt`. */
  readonly takesEffect: boolean;
}

/**
 * Runs one versioned-KV store over `plan`: applies the operations that take effect in
 * `effectAt` order (ties in plan order) and records what each `ok` operation returned.
 * Returns the history in plan order. With a correct plan, the history is linearizable
 * by construction (the `effectAt` instants are a linearization).
 *
 * @example
 * ```ts
 * const history = simulateKvHistory([
 *   { client: 'a', key: 'x', input: { op: 'put', value: '1' }, invokedAt: 0, completedAt: 4, effectAt: 2, outcome: 'ok', takesEffect: true },
 *   { client: 'b', key: 'x', input: { op: 'get' }, invokedAt: 1, completedAt: 3, effectAt: 1, outcome: 'ok', takesEffect: true },
 * ]); // the get returns { type: 'absent' }: it took effect before the put
 * ```
 */
export function simulateKvHistory(plan: readonly KvPlannedOperation[]): Operation<KvInput, KvOutput>[] {
  // The sort is stable: operations that take effect at one instant stay in plan order.
  const order = plan.map((_, index) => index).sort((a, b) => plan[a]!.effectAt - plan[b]!.effectAt);
  const states = new Map<string, KvState>();
  const outputs = new Map<number, KvOutput>();
  for (const index of order) {
    const planned = plan[index]!;
    assert(
      planned.effectAt >= planned.invokedAt,
      () => `planned operation ${index} takes effect at ${planned.effectAt}, before its invocation at ${planned.invokedAt}`,
    );
    const step = versionedKvModel.step(states.get(planned.key) ?? versionedKvModel.init(), planned.input, undefined);
    assert(step.ok, () => `the versioned KV model refused planned operation ${index}`);
    if (planned.takesEffect) states.set(planned.key, step.state);
    outputs.set(index, step.output);
  }
  return plan.map((planned, index): Operation<KvInput, KvOutput> => {
    const base = { client: planned.client, key: planned.key, input: planned.input, invokedAt: planned.invokedAt };
    if (planned.outcome === 'info') return { ...base, outcome: 'info' };
    if (planned.outcome === 'fail') return { ...base, completedAt: planned.completedAt, outcome: 'fail' };
    return { ...base, completedAt: planned.completedAt, outcome: 'ok', output: outputs.get(index)! };
  });
}
