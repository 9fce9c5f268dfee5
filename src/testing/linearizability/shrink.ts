/**
 * Shrinking a non-linearizable partition to a small failing sub-history.
 */
import { assert } from '../../core/assert.js';
import type { Budget } from './budget.js';
import type { Operation } from './history.js';
import type { Model } from './model.js';
import { searchPartition } from './search.js';

/** A shrunk failing sub-history, and whether shrinking finished. @internal */
export interface Shrunk<I, O> {
  /** Still non-linearizable; 1-minimal when `complete`. */
  readonly operations: readonly Operation<I, O>[];
  /** False when the budget ran out first: `operations` fails but may not be minimal. */
  readonly complete: boolean;
}

/**
 * Greedily drops operations from `operations` (non-linearizable against `model`)
 * while what is left stays non-linearizable: first chunks of halving size (a quick
 * cut of a long history), then single operations, pass after pass until no single
 * operation can go. The result is 1-minimal: removing any one of its operations
 * makes it linearizable. Passes repeat because a subset of a linearizable history
 * need not be linearizable (drop a write and a read of it is unexplained). @internal
 */
export function shrinkPartition<S, I, O>(operations: readonly Operation<I, O>[], model: Model<S, I, O>, budget: Budget): Shrunk<I, O> {
  let current = operations;
  let chunk = Math.floor(current.length / 2);
  for (;;) {
    const size = Math.max(1, chunk);
    let dropped = false;
    for (let start = 0; start < current.length; ) {
      const candidate = [...current.slice(0, start), ...current.slice(start + size)];
      const result = searchPartition(candidate, model, budget);
      if (result === 'unknown') return { operations: current, complete: false };
      if (result === 'not-linearizable') {
        current = candidate;
        dropped = true;
      } else {
        start += size;
      }
    }
    if (size > 1) chunk = Math.floor(size / 2);
    else if (!dropped) break;
  }
  assert(current.length > 0, 'a non-linearizable history shrank to nothing');
  return { operations: current, complete: true };
}
