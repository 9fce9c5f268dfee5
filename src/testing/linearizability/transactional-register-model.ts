/**
 * The sequential specification of many registers changed together by transactions
 * (Jepsen's read/write register transactions), checked as one partition.
 */
import type { Model, ModelStep } from './model.js';

/** One step of a transaction: read a register, or write one. */
export type TxnStep = { readonly f: 'read'; readonly register: string } | { readonly f: 'write'; readonly register: string; readonly value: string | number };

/** A transaction: its steps, run in order, atomically. */
export interface TxnInput {
  readonly steps: readonly TxnStep[];
}

/** What each step returned, in order: the value read (`null` if never written), or `null` for a write. */
export interface TxnOutput {
  readonly results: readonly (string | number | null)[];
}

/** The registers written so far, as [register, value] pairs sorted by register. */
export type TxnState = readonly (readonly [string, string | number])[];

function step(state: TxnState, input: TxnInput, observed: TxnOutput | undefined): ModelStep<TxnState, TxnOutput> {
  const registers = new Map(state);
  const results = input.steps.map((s) => {
    if (s.f === 'read') return registers.get(s.register) ?? null;
    registers.set(s.register, s.value);
    return null;
  });
  const ok = observed === undefined || (observed.results.length === results.length && observed.results.every((r, i) => r === results[i]));
  const next = [...registers].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { ok, state: next, output: { results } };
}

/**
 * The model of registers changed by transactions, for {@link checkLinearizability}
 * (strict serializability of the transactions). Registers are not independent, so
 * every operation of a history must share one `key` (one partition).
 *
 * @example
 * ```ts
 * const transfer: Operation<TxnInput, TxnOutput> = {
 *   client: 'a', key: 'txn', invokedAt: 0, completedAt: 2, outcome: 'ok',
 *   input: { steps: [{ f: 'read', register: 'x' }, { f: 'write', register: 'y', value: 1 }] },
 *   output: { results: [null, null] },
 * };
 * ```
 */
export const transactionalRegisterModel: Model<TxnState, TxnInput, TxnOutput> = {
  name: 'transactional-register',
  init: () => [],
  step,
  hash: (state: TxnState) => JSON.stringify(state),
  readOnly: (input: TxnInput) => input.steps.every((s) => s.f === 'read'),
};
