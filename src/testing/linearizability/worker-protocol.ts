/**
 * What the checker and its worker threads tell each other. Operations travel as
 * indexes into their key's operations, so that a failure found on a worker names the
 * caller's own operation objects, as a check in the caller's thread does.
 */
import { assert } from '../../core/assert.js';
import type { BudgetReason, UnknownReason } from './budget.js';
import type { WindowAttempt } from './explanation.js';
import type { Operation } from './history.js';
import type { ModelDescriptor } from './model-origin.js';
import type { PartitionFailure } from './partition-turns.js';

/**
 * A worker's orders, in its `workerData`. The keys' operations are in one
 * SharedArrayBuffer, each key serialized on its own (`node:v8`), so that a worker
 * copies only the keys it takes. @internal
 */
export interface WorkerInput {
  readonly model: ModelDescriptor;
  /** The serialized keys, one after another: each a `[key, operations]` pair. */
  readonly partitions: SharedArrayBuffer;
  /** Where each key's bytes start in `partitions`, and (last) where the last one ends. */
  readonly offsets: readonly number[];
  /**
   * Int32 counters every worker shares: [0] the next key to take, [1] blocks of
   * `stepsPerClockRead` steps taken by all (the check's step budget).
   */
  readonly control: SharedArrayBuffer;
  readonly timeBudgetMs: number;
  readonly stepsMax: number;
  readonly partitionStepsMax: number;
  /** This worker's share of the check's memory bound, in bytes. */
  readonly memoryBytesMax: number;
  readonly shrink: boolean;
}

/** A failure with each operation as its index in its key's operations. @internal */
export interface EncodedFailure {
  readonly minimal: readonly number[];
  readonly shrinkComplete: boolean;
  readonly stuck: number;
  readonly linearized: readonly number[];
  readonly window: readonly number[];
  readonly states: readonly unknown[];
  readonly candidates: readonly { readonly operation: number; readonly attempts: readonly WindowAttempt<unknown, unknown>[] }[];
  readonly text: string;
}

/** What a worker tells the checker, in order: what it took, how each key ended, and its end. @internal */
export type WorkerMessage =
  /** The model could not be loaded; the worker does nothing else. */
  | { readonly type: 'unloadable'; readonly message: string }
  /** It took key `index` from the queue. */
  | { readonly type: 'took'; readonly index: number }
  /** Key `index` ended without failing (`unknown` if not finished); `steps` the worker has taken in all. */
  | { readonly type: 'ended'; readonly index: number; readonly unknown?: UnknownReason; readonly steps: number }
  /**
   * Key `index` is not linearizable; the worker is done. `statesLost`: structured clone
   * could not copy the model's states or outputs, so `failure` comes without `states`
   * and `candidates`, and the checker finds the failure again in its own thread.
   */
  | { readonly type: 'failed'; readonly index: number; readonly failure: EncodedFailure; readonly statesLost?: true }
  /** No key left to take, or the check's time or step budget is spent (`spentOn`). */
  | { readonly type: 'finished'; readonly steps: number; readonly spentOn?: BudgetReason };

/** `failure` with its operations replaced by their indexes in `operations`. @internal */
export function encodeFailure<S, I, O>(failure: PartitionFailure<S, I, O>, operations: readonly Operation<I, O>[]): EncodedFailure {
  const indexes = new Map(operations.map((operation, index) => [operation, index]));
  const at = (operation: Operation<I, O>): number => {
    const index = indexes.get(operation);
    assert(index !== undefined, `key ${failure.key}: the failure names an operation not of the key`);
    return index;
  };
  const { explanation } = failure;
  return {
    minimal: failure.minimal.map(at),
    shrinkComplete: failure.shrinkComplete,
    stuck: at(explanation.stuck),
    linearized: explanation.linearized.map(at),
    window: explanation.window.map(at),
    states: explanation.states,
    candidates: explanation.candidates.map((candidate) => ({ operation: at(candidate.operation), attempts: candidate.attempts })),
    text: explanation.text,
  };
}

/** The failure `encoded` describes, naming the operations of `operations` (key `key`'s). @internal */
export function decodeFailure<S, I, O>(key: string, encoded: EncodedFailure, operations: readonly Operation<I, O>[]): PartitionFailure<S, I, O> {
  const of = (index: number): Operation<I, O> => {
    const operation = operations[index];
    assert(operation !== undefined, `key ${key}: a worker named operation ${index} of ${operations.length}`);
    return operation;
  };
  return {
    key,
    minimal: encoded.minimal.map(of),
    shrinkComplete: encoded.shrinkComplete,
    explanation: {
      stuck: of(encoded.stuck),
      linearized: encoded.linearized.map(of),
      window: encoded.window.map(of),
      states: encoded.states as S[],
      candidates: encoded.candidates.map((candidate) => ({ operation: of(candidate.operation), attempts: candidate.attempts as WindowAttempt<S, O>[] })),
      text: encoded.text,
    },
  };
}
