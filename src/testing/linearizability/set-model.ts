/**
 * The sequential specification of a set (Jepsen's `set` workload, with removal).
 */
import { unreachable } from '../../core/assert.js';
import type { Model, ModelStep } from './model.js';

/** What a set holds. */
export type SetElement = string | number;

/** Add an element, remove one, or read them all. */
export type SetInput = { readonly op: 'add'; readonly element: SetElement } | { readonly op: 'remove'; readonly element: SetElement } | { readonly op: 'read' };

/**
 * `done` for an add or a remove (adding a present element or removing an absent one
 * is allowed and changes nothing); the elements read, in any order.
 */
export type SetOutput = { readonly type: 'done' } | { readonly type: 'elements'; readonly elements: readonly SetElement[] };

/** A set as its elements in a canonical order (numbers before strings, each ascending). */
export type SetState = readonly SetElement[];

function compare(a: SetElement, b: SetElement): number {
  if (typeof a !== typeof b) return typeof a === 'number' ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function sameElements(read: readonly SetElement[], state: SetState): boolean {
  if (read.length !== state.length) return false;
  const sorted = [...read].sort(compare);
  return sorted.every((element, i) => element === state[i]);
}

function step(state: SetState, input: SetInput, observed: SetOutput | undefined): ModelStep<SetState, SetOutput> {
  switch (input.op) {
    case 'read':
      return {
        ok: observed === undefined || (observed.type === 'elements' && sameElements(observed.elements, state)),
        state,
        output: { type: 'elements', elements: state },
      };
    case 'add': {
      const next = state.includes(input.element) ? state : [...state, input.element].sort(compare);
      return { ok: observed === undefined || observed.type === 'done', state: next, output: { type: 'done' } };
    }
    case 'remove':
      return { ok: observed === undefined || observed.type === 'done', state: state.filter((e) => e !== input.element), output: { type: 'done' } };
    default:
      return unreachable(input);
  }
}

/**
 * The model of a set, for {@link checkLinearizability}: empty at first; a read must
 * see exactly the elements present (in any order).
 *
 * @example
 * ```ts
 * checkLinearizability(history, setModel); // history: Operation<SetInput, SetOutput>[]
 * ```
 */
export const setModel: Model<SetState, SetInput, SetOutput> = {
  name: 'set',
  init: () => [],
  step,
  hash: (state: SetState) => JSON.stringify(state),
  readOnly: (input: SetInput) => input.op === 'read',
};
