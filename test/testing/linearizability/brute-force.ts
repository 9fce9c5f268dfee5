/**
 * The naive oracle for the differential property: for each key, every subset of the
 * `info` operations, and every order of the chosen operations consistent with real
 * time (A before B whenever A completed strictly before B was invoked), run the model
 * and compare outputs. Exponential; only for histories of a handful of operations.
 */
import type { History, Model, Operation } from '../../../src/testing/index.js';

function returnsAt<I, O>(operation: Operation<I, O>): number {
  return operation.outcome === 'info' ? Number.POSITIVE_INFINITY : operation.completedAt!;
}

/** Whether some order of `chosen` respects real time and replays every observed output. */
function someOrder<S, I, O>(chosen: readonly Operation<I, O>[], model: Model<S, I, O>): boolean {
  const placed = new Array<boolean>(chosen.length).fill(false);
  const visit = (state: S, count: number): boolean => {
    if (count === chosen.length) return true;
    for (let i = 0; i < chosen.length; i++) {
      if (placed[i]) continue;
      const candidate = chosen[i]!;
      // Every operation that completed before this one was invoked must already be placed.
      const blocked = chosen.some((other, j) => !placed[j] && j !== i && returnsAt(other) < candidate.invokedAt);
      if (blocked) continue;
      const step = model.step(state, candidate.input, candidate.outcome === 'ok' ? candidate.output : undefined);
      if (!step.ok) continue;
      placed[i] = true;
      if (visit(step.state, count + 1)) return true;
      placed[i] = false;
    }
    return false;
  };
  return visit(model.init(), 0);
}

/** Whether one key's `ok`/`info` operations are linearizable, by brute force. */
export function bruteForcePartition<S, I, O>(operations: readonly Operation<I, O>[], model: Model<S, I, O>): boolean {
  const ok = operations.filter((operation) => operation.outcome === 'ok');
  const info = operations.filter((operation) => operation.outcome === 'info');
  for (let mask = 0; mask < 1 << info.length; mask++) {
    const chosen = [...ok, ...info.filter((_, i) => (mask & (1 << i)) !== 0)];
    if (someOrder(chosen, model)) return true;
  }
  return false;
}

/** Whether a whole history is linearizable, by brute force, key by key. */
export function bruteForceLinearizable<S, I, O>(history: History<I, O>, model: Model<S, I, O>): boolean {
  const keys = [...new Set(history.map((operation) => operation.key))];
  return keys.every((key) =>
    bruteForcePartition(
      history.filter((operation) => operation.key === key && operation.outcome !== 'fail'),
      model,
    ),
  );
}
