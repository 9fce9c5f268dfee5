/**
 * The sequential specification of a FIFO queue.
 */
import { unreachable } from '../../core/assert.js';
import type { Model, ModelStep } from './model.js';

/** What a queue holds. */
export type QueueValue = string | number;

/** Enqueue a value at the tail, or dequeue the head. */
export type QueueInput = { readonly op: 'enqueue'; readonly value: QueueValue } | { readonly op: 'dequeue' };

/** `done` for an enqueue; the value dequeued, or `empty`. */
export type QueueOutput = { readonly type: 'done' } | { readonly type: 'value'; readonly value: QueueValue } | { readonly type: 'empty' };

/** The queue's values, head first. */
export type QueueState = readonly QueueValue[];

function step(state: QueueState, input: QueueInput, observed: QueueOutput | undefined): ModelStep<QueueState, QueueOutput> {
  switch (input.op) {
    case 'enqueue':
      return { ok: observed === undefined || observed.type === 'done', state: [...state, input.value], output: { type: 'done' } };
    case 'dequeue': {
      if (state.length === 0) return { ok: observed === undefined || observed.type === 'empty', state, output: { type: 'empty' } };
      const head = state[0]!;
      return {
        ok: observed === undefined || (observed.type === 'value' && observed.value === head),
        state: state.slice(1),
        output: { type: 'value', value: head },
      };
    }
    default:
      return unreachable(input);
  }
}

/**
 * The model of a FIFO queue, for {@link checkLinearizability}: empty at first.
 *
 * @example
 * ```ts
 * checkLinearizability(history, queueModel); // history: Operation<QueueInput, QueueOutput>[]
 * ```
 */
export const queueModel: Model<QueueState, QueueInput, QueueOutput> = {
  name: 'queue',
  init: () => [],
  step,
  // JSON keeps 1 and '1' apart.
  hash: (state: QueueState) => JSON.stringify(state),
  // A dequeue that found the queue empty changed nothing.
  readOnly: (_input: QueueInput, output: QueueOutput) => output.type === 'empty',
};
