/**
 * The sequential specification of a register with compare-and-set (Jepsen's
 * `cas-register`, etcd's and Porcupine's register tests).
 */
import { unreachable } from '../../core/assert.js';
import type { Model, ModelStep } from './model.js';

/** What a register holds: a string, a number, or `null` before the first write. */
export type RegisterValue = string | number | null;

/**
 * An operation on one register: read it, write `value`, or compare-and-set: write
 * `value` only if it holds `expected`.
 */
export type RegisterInput =
  | { readonly op: 'read' }
  | { readonly op: 'write'; readonly value: RegisterValue }
  | { readonly op: 'cas'; readonly expected: RegisterValue; readonly value: RegisterValue };

/**
 * What it returns: the value read, `written`, or whether a compare-and-set
 * succeeded (`cas` with `ok: false` changed nothing).
 */
export type RegisterOutput =
  | { readonly type: 'value'; readonly value: RegisterValue }
  | { readonly type: 'written' }
  | { readonly type: 'cas'; readonly ok: boolean };

function step(state: RegisterValue, input: RegisterInput, observed: RegisterOutput | undefined): ModelStep<RegisterValue, RegisterOutput> {
  switch (input.op) {
    case 'read':
      return { ok: observed === undefined || (observed.type === 'value' && observed.value === state), state, output: { type: 'value', value: state } };
    case 'write':
      return { ok: observed === undefined || observed.type === 'written', state: input.value, output: { type: 'written' } };
    case 'cas': {
      const swapped = state === input.expected;
      const output: RegisterOutput = { type: 'cas', ok: swapped };
      return { ok: observed === undefined || (observed.type === 'cas' && observed.ok === swapped), state: swapped ? input.value : state, output };
    }
    default:
      return unreachable(input);
  }
}

/**
 * The model of one register with compare-and-set, for
 * {@link checkLinearizability}; every key of a history is its own register, `null`
 * at first. A plain register is the same model without `cas` operations.
 *
 * @example
 * ```ts
 * const history: Operation<RegisterInput, RegisterOutput>[] = [
 *   { client: 'a', key: 'r', input: { op: 'write', value: 1 }, invokedAt: 0, completedAt: 2, outcome: 'ok', output: { type: 'written' } },
 *   { client: 'b', key: 'r', input: { op: 'cas', expected: 1, value: 2 }, invokedAt: 3, completedAt: 4, outcome: 'ok', output: { type: 'cas', ok: true } },
 * ];
 * checkLinearizability(history, registerModel); // { result: 'linearizable' }
 * ```
 */
export const registerModel: Model<RegisterValue, RegisterInput, RegisterOutput> = {
  name: 'register',
  init: () => null,
  step,
  // A type tag keeps 1 and '1' apart.
  hash: (state: RegisterValue) => (state === null ? 'n' : typeof state === 'number' ? `#${state}` : `s${state}`),
  // A read and a failed compare-and-set change nothing, whatever the state.
  readOnly: (input: RegisterInput, output: RegisterOutput) => input.op === 'read' || (output.type === 'cas' && !output.ok),
};
