/**
 * What the linearizability checker knows of an object: a sequential specification.
 */

/** The result of applying one operation to a model state. */
export interface ModelStep<S, O> {
  /** Whether the observed output (if any) is what the model returns from this state. */
  readonly ok: boolean;
  /** The state after the operation (meaningful only when `ok`). */
  readonly state: S;
  /** What the model says the operation returns from this state. */
  readonly output: O;
}

/**
 * A sequential specification of one partition (one key) of an object. Operations on
 * different keys must be independent (an operation on one key never reads or changes
 * another), so each key can be checked alone: linearizability is local (Herlihy &
 * Wing, 1990).
 *
 * States are values, never mutated: `step` returns a new state. `hash` must give
 * equal strings exactly for equal states; the search memoizes on it.
 *
 * @example
 * ```ts
 * // A register holding a number, with reads and writes.
 * type In = { op: 'read' } | { op: 'write'; value: number };
 * const register: Model<number, In, number | null> = {
 *   name: 'register',
 *   init: () => 0,
 *   step: (state, input, output) =>
 *     input.op === 'read'
 *       ? { ok: output === undefined || output === state, state, output: state }
 *       : { ok: true, state: input.value, output: null },
 *   hash: (state) => String(state),
 * };
 * ```
 */
export interface Model<S, I, O> {
  /** A name for messages. */
  readonly name: string;
  /** The state of a key nobody has touched. */
  init(): S;
  /**
   * Applies `input` to `state`. `observed` is the output the client saw, or
   * `undefined` when it is unknown (an `info` operation): then `ok` is true whenever
   * the operation can take effect at all.
   */
  step(state: S, input: I, observed: O | undefined): ModelStep<S, O>;
  /** A string that is equal for two states exactly when the states are equal. */
  hash(state: S): string;
  /**
   * Optional, to speed the search up: true only if an operation with this input that
   * returned this output leaves the state unchanged in every state where it can
   * return it (a read, a refused compare-and-set). Such an operation is linearized
   * as soon as it can be, without backtracking over it. Leave it out, or answer
   * false, when unsure: a wrong true can turn a linearizable history into a failure.
   */
  readOnly?(input: I, output: O): boolean;
  /**
   * Where a worker thread can load this model from, so that
   * `checkLinearizabilityInParallel` can check keys on worker threads (functions
   * cannot be sent to one). The built-in models need none. Leave it out of a copy
   * that changes any function: a worker would load the original.
   */
  readonly origin?: ModelOrigin;
}

/**
 * The module and export a worker thread loads a user's {@link Model} from.
 *
 * @example
 * ```ts
 * // counter-model.ts: the export names itself, so workers can load it.
 * export const counterModel: Model<number, CounterInput, number | null> = {
 *   name: 'counter',
 *   init: () => 0,
 *   step: (state, input, observed) => ...,
 *   hash: (state) => String(state),
 *   origin: { module: import.meta.url, export: 'counterModel' }, // CommonJS: module: __filename
 * };
 * ```
 */
export interface ModelOrigin {
  /** The module: an absolute file path, or a `file:` URL (`import.meta.url`). */
  readonly module: string;
  /**
   * The name of its export: the model itself, or a function that returns it, called
   * with `args`. The model a worker loads must have the same `name`.
   */
  readonly export: string;
  /** Arguments of that function: values structured clone can copy. Default none. */
  readonly args?: readonly unknown[];
}
