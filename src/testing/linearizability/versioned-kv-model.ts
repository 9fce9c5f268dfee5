/**
 * The sequential specification of one key of a versioned key-value store, with
 * ZooKeeper's versions.
 */
import { unreachable } from '../../core/assert.js';
import type { Model, ModelStep } from './model.js';

/**
 * An operation on one key.
 *
 * - `get`: read the value and its version.
 * - `put`: write `value`. Without `expectedVersion`, unconditionally. With it, a
 *   compare-and-set: `0` creates only if the key is absent, `n > 0` writes only if the
 *   current version is `n`.
 * - `delete`: remove the key; with `expectedVersion`, only if the current version is it.
 */
export type KvInput =
  | { readonly op: 'get' }
  | { readonly op: 'put'; readonly value: string; readonly expectedVersion?: number }
  | { readonly op: 'delete'; readonly expectedVersion?: number };

/**
 * What an operation returns.
 *
 * - `value` (get of a present key), `absent` (get, or delete, of an absent key);
 * - `written` (a put took effect; the new version);
 * - `deleted` (a delete took effect);
 * - `conflict` (a put or delete whose `expectedVersion` did not match; nothing
 *   changed; `version` is the current one, 0 when the key is absent).
 */
export type KvOutput =
  | { readonly type: 'value'; readonly value: string; readonly version: number }
  | { readonly type: 'absent' }
  | { readonly type: 'written'; readonly version: number }
  | { readonly type: 'deleted' }
  | { readonly type: 'conflict'; readonly version: number };

/**
 * One key's state: absent, or a value with its version. The version counts the writes
 * since the key was created: 1 after the create, +1 per put; a delete makes the key
 * absent again, and a later create starts over at 1 (ZooKeeper's `dataVersion`).
 */
export type KvState = { readonly value: string; readonly version: number } | null;

/** Whether two outputs are the same. */
export function kvOutputEquals(a: KvOutput, b: KvOutput): boolean {
  switch (a.type) {
    case 'value':
      return b.type === 'value' && a.value === b.value && a.version === b.version;
    case 'written':
    case 'conflict':
      return b.type === a.type && a.version === b.version;
    case 'absent':
    case 'deleted':
      return b.type === a.type;
    default:
      return unreachable(a);
  }
}

function apply(state: KvState, input: KvInput): { state: KvState; output: KvOutput } {
  const version = state === null ? 0 : state.version;
  switch (input.op) {
    case 'get':
      return { state, output: state === null ? { type: 'absent' } : { type: 'value', value: state.value, version: state.version } };
    case 'put': {
      if (input.expectedVersion !== undefined && input.expectedVersion !== version) return { state, output: { type: 'conflict', version } };
      const next = { value: input.value, version: version + 1 };
      return { state: next, output: { type: 'written', version: next.version } };
    }
    case 'delete':
      if (state === null) return { state, output: { type: 'absent' } };
      if (input.expectedVersion !== undefined && input.expectedVersion !== version) return { state, output: { type: 'conflict', version } };
      return { state: null, output: { type: 'deleted' } };
    default:
      return unreachable(input);
  }
}

/**
 * The model of one key of the versioned KV, for {@link checkLinearizability}.
 *
 * @example
 * ```ts
 * const verdict = checkLinearizability<KvState, KvInput, KvOutput>(history, versionedKvModel);
 * ```
 */
export const versionedKvModel: Model<KvState, KvInput, KvOutput> = {
  name: 'versioned-kv',
  init: () => null,
  step(state: KvState, input: KvInput, observed: KvOutput | undefined): ModelStep<KvState, KvOutput> {
    const next = apply(state, input);
    return { ok: observed === undefined || kvOutputEquals(observed, next.output), state: next.state, output: next.output };
  },
  hash: (state: KvState) => (state === null ? '-' : `${state.version}:${state.value}`),
  // Only 'written' and 'deleted' change a key; a get, a refused CAS and a delete of an absent key do not.
  readOnly: (_input: KvInput, output: KvOutput) => output.type !== 'written' && output.type !== 'deleted',
};
