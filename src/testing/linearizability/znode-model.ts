/**
 * The sequential specification of one ZooKeeper znode: its data and its data version,
 * read and written as ZooKeeper's `getData`, `create`, `setData` and `delete` answer.
 */
import { unreachable } from '../../core/assert.js';
import type { Model, ModelStep } from './model.js';

/**
 * An operation on one znode.
 *
 * - `getData`: read the data and the version (after a `sync`, for a linearizable read).
 * - `create`: create the node holding `data`, at version 0.
 * - `setData`: write `data` if the node is at `version` (`-1`: whatever its version).
 * - `delete`: delete the node if it is at `version` (`-1`: whatever its version).
 */
export type ZnodeInput =
  | { readonly op: 'getData' }
  | { readonly op: 'create'; readonly data: string }
  | { readonly op: 'setData'; readonly data: string; readonly version: number }
  | { readonly op: 'delete'; readonly version: number };

/**
 * What an operation returns, as ZooKeeper's answers: the data and version read; the
 * new version after a `setData`; `created`, `deleted`; or the error, which changed
 * nothing: `noNode` (the node is absent), `nodeExists` (a create of a present node),
 * `badVersion` (a versioned write or delete of a node at another version; ZooKeeper
 * does not say which).
 */
export type ZnodeOutput =
  | { readonly type: 'data'; readonly data: string; readonly version: number }
  | { readonly type: 'set'; readonly version: number }
  | { readonly type: 'created' }
  | { readonly type: 'deleted' }
  | { readonly type: 'noNode' }
  | { readonly type: 'nodeExists' }
  | { readonly type: 'badVersion' };

/** One znode: absent, or its data and data version (0 after the create, +1 per `setData`; a re-create starts over at 0). */
export type ZnodeState = { readonly data: string; readonly version: number } | null;

function sameOutput(a: ZnodeOutput, b: ZnodeOutput): boolean {
  switch (a.type) {
    case 'data':
      return b.type === 'data' && a.data === b.data && a.version === b.version;
    case 'set':
      return b.type === 'set' && a.version === b.version;
    case 'created':
    case 'deleted':
    case 'noNode':
    case 'nodeExists':
    case 'badVersion':
      return b.type === a.type;
    default:
      return unreachable(a);
  }
}

function apply(state: ZnodeState, input: ZnodeInput): { state: ZnodeState; output: ZnodeOutput } {
  switch (input.op) {
    case 'getData':
      return { state, output: state === null ? { type: 'noNode' } : { type: 'data', data: state.data, version: state.version } };
    case 'create':
      return state === null ? { state: { data: input.data, version: 0 }, output: { type: 'created' } } : { state, output: { type: 'nodeExists' } };
    case 'setData': {
      if (state === null) return { state, output: { type: 'noNode' } };
      if (input.version !== -1 && input.version !== state.version) return { state, output: { type: 'badVersion' } };
      const next = { data: input.data, version: state.version + 1 };
      return { state: next, output: { type: 'set', version: next.version } };
    }
    case 'delete':
      if (state === null) return { state, output: { type: 'noNode' } };
      if (input.version !== -1 && input.version !== state.version) return { state, output: { type: 'badVersion' } };
      return { state: null, output: { type: 'deleted' } };
    default:
      return unreachable(input);
  }
}

/**
 * The model of one znode, for {@link checkLinearizability}: every key of a history is
 * its own znode (name it by its path), absent at first. A history of `sync`-then-
 * `getData` reads and versioned writes through a ZooKeeper server must fit it.
 *
 * @example
 * ```ts
 * const history: Operation<ZnodeInput, ZnodeOutput>[] = [
 *   { client: 'a', key: '/x', input: { op: 'create', data: 'one' }, invokedAt: 0, completedAt: 1, outcome: 'ok', output: { type: 'created' } },
 *   { client: 'b', key: '/x', input: { op: 'setData', data: 'two', version: 0 }, invokedAt: 2, completedAt: 3, outcome: 'ok', output: { type: 'set', version: 1 } },
 * ];
 * checkLinearizability(history, znodeModel); // { result: 'linearizable' }
 * ```
 */
export const znodeModel: Model<ZnodeState, ZnodeInput, ZnodeOutput> = {
  name: 'znode',
  init: () => null,
  step(state: ZnodeState, input: ZnodeInput, observed: ZnodeOutput | undefined): ModelStep<ZnodeState, ZnodeOutput> {
    const next = apply(state, input);
    return { ok: observed === undefined || sameOutput(observed, next.output), state: next.state, output: next.output };
  },
  hash: (state: ZnodeState) => (state === null ? '-' : `${state.version}:${state.data}`),
  // Only a create, a set and a delete that took effect change the node; reads and errors do not.
  readOnly: (_input: ZnodeInput, output: ZnodeOutput) => output.type !== 'created' && output.type !== 'set' && output.type !== 'deleted',
};
