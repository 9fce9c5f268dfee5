/**
 * The sequential specification of a lock with fencing tokens: at most one holder at a
 * time, and every grant carries a token greater than every token granted before it,
 * so a store can refuse writes from a holder whose lease has passed.
 */
import { unreachable } from '../../core/assert.js';
import type { Model, ModelStep } from './model.js';

/**
 * `acquire` tries to take the lock for `owner` (it does not wait); `release` gives it
 * back if `owner` holds it.
 */
export type MutexInput = { readonly op: 'acquire'; readonly owner: string } | { readonly op: 'release'; readonly owner: string };

/**
 * `acquired` with the grant's fencing token; `busy` (another owner holds it, or
 * `owner` already does); `released`; `refused` (a release by an owner that does not hold it).
 */
export type MutexOutput =
  | { readonly type: 'acquired'; readonly token: number }
  | { readonly type: 'busy' }
  | { readonly type: 'released' }
  | { readonly type: 'refused' };

/** Who holds the lock (`null`: nobody), and the greatest token granted so far (0: none). */
export interface MutexState {
  readonly holder: string | null;
  readonly token: number;
}

function step(state: MutexState, input: MutexInput, observed: MutexOutput | undefined): ModelStep<MutexState, MutexOutput> {
  switch (input.op) {
    case 'acquire': {
      if (state.holder !== null) return { ok: observed === undefined || observed.type === 'busy', state, output: { type: 'busy' } };
      // Tokens need only grow: a granted token is any number above the last one. An
      // unknown grant's token is unknown, so it raises no bound.
      const token = observed?.type === 'acquired' ? observed.token : state.token;
      const ok = observed === undefined || (observed.type === 'acquired' && observed.token > state.token);
      return {
        ok,
        state: { holder: input.owner, token },
        output: { type: 'acquired', token: observed?.type === 'acquired' ? observed.token : state.token + 1 },
      };
    }
    case 'release':
      if (state.holder !== input.owner) return { ok: observed === undefined || observed.type === 'refused', state, output: { type: 'refused' } };
      return { ok: observed === undefined || observed.type === 'released', state: { holder: null, token: state.token }, output: { type: 'released' } };
    default:
      return unreachable(input);
  }
}

/**
 * The model of a lock with fencing tokens, for {@link checkLinearizability}: free at
 * first; a grant's token must exceed every token granted before it.
 *
 * @example
 * ```ts
 * checkLinearizability(history, mutexModel); // history: Operation<MutexInput, MutexOutput>[]
 * ```
 */
export const mutexModel: Model<MutexState, MutexInput, MutexOutput> = {
  name: 'mutex',
  init: () => ({ holder: null, token: 0 }),
  step,
  hash: (state: MutexState) => `${state.token}:${state.holder === null ? '-' : `+${state.holder}`}`,
  // A busy acquire and a refused release change nothing.
  readOnly: (_input: MutexInput, output: MutexOutput) => output.type === 'busy' || output.type === 'refused',
};
