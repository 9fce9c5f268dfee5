/**
 * The sequential specification of one key of a get/put/append store (the key-value
 * service of Porcupine's and MIT 6.824's tests): a string, empty at first.
 */
import { unreachable } from '../../core/assert.js';
import type { Model, ModelStep } from './model.js';

/** Read the string, replace it with `value`, or append `value` to it. */
export type AppendKvInput = { readonly op: 'get' } | { readonly op: 'put'; readonly value: string } | { readonly op: 'append'; readonly value: string };

/** What a get read; `done` for a put or an append. */
export type AppendKvOutput = { readonly type: 'value'; readonly value: string } | { readonly type: 'done' };

function step(state: string, input: AppendKvInput, observed: AppendKvOutput | undefined): ModelStep<string, AppendKvOutput> {
  switch (input.op) {
    case 'get':
      return { ok: observed === undefined || (observed.type === 'value' && observed.value === state), state, output: { type: 'value', value: state } };
    case 'put':
      return { ok: observed === undefined || observed.type === 'done', state: input.value, output: { type: 'done' } };
    case 'append':
      return { ok: observed === undefined || observed.type === 'done', state: state + input.value, output: { type: 'done' } };
    default:
      return unreachable(input);
  }
}

/**
 * The model of one key of a get/put/append store, for {@link checkLinearizability}:
 * every key its own string, `''` until written.
 *
 * @example
 * ```ts
 * checkLinearizability(history, appendKvModel); // history: Operation<AppendKvInput, AppendKvOutput>[]
 * ```
 */
export const appendKvModel: Model<string, AppendKvInput, AppendKvOutput> = {
  name: 'append-kv',
  init: () => '',
  step,
  hash: (state: string) => state,
  readOnly: (input: AppendKvInput) => input.op === 'get',
};
