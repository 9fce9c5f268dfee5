/**
 * Explaining a failure: the window of concurrent operations where every linearization
 * dies, the model states possible just before it, and why no operation of the window
 * can go next.
 */
import type { Operation } from './history.js';
import type { Model } from './model.js';
import type { DeathPoint } from './search.js';

/** One attempt to take a window operation next from one possible state. */
export interface WindowAttempt<S, O> {
  /** The state it was tried from (one of {@link LinearizabilityExplanation.states}). */
  readonly state: S;
  /** Whether the model's output fits what the client saw (always true for an `info` operation). */
  readonly fits: boolean;
  /** What the model says the operation returns from `state`. */
  readonly output: O;
}

/** A pending operation of the window, tried next from every possible state. */
export interface WindowCandidate<S, I, O> {
  readonly operation: Operation<I, O>;
  /** One attempt per state, in the order of {@link LinearizabilityExplanation.states}. */
  readonly attempts: readonly WindowAttempt<S, O>[];
}

/**
 * Why a key is not linearizable, at the point where the search got furthest: every
 * order of the operations fails by the completion of `stuck`. A candidate that fits
 * from a state still failed there: each order continuing from it dies at or before
 * that completion.
 */
export interface LinearizabilityExplanation<S, I, O> {
  /** The `ok` operation whose completion no linearization gets past. */
  readonly stuck: Operation<I, O>;
  /** The operations taken, in order, by the first partial linearization that got that far. */
  readonly linearized: readonly Operation<I, O>[];
  /**
   * The operations pending at that point on that path (invoked by the time `stuck`
   * completed, not linearized), in invocation order; `stuck` is one of them.
   */
  readonly window: readonly Operation<I, O>[];
  /** The distinct model states possible just before the window (at most `linearizabilityLimits.explainStatesMax`). */
  readonly states: readonly S[];
  /** Every window operation tried next from every state. */
  readonly candidates: readonly WindowCandidate<S, I, O>[];
  /** The same as text for a person, one line per fact. */
  readonly text: string;
}

/** JSON, or `String` for what JSON cannot show. */
export function describeValue(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** One operation in a line: client, input, interval and what it returned. */
export function describeOperation<I, O>(operation: Operation<I, O>): string {
  const interval = operation.outcome === 'info' ? `[${operation.invokedAt}, ∞)` : `[${operation.invokedAt}, ${operation.completedAt}]`;
  const outcome = operation.outcome === 'ok' ? `-> ${describeValue(operation.output)}` : '(info: outcome unknown)';
  return `${operation.client} ${describeValue(operation.input)} ${interval} ${outcome}`;
}

/** Builds the explanation of a failed search of `operations` from where it died. @internal */
export function explainFailure<S, I, O>(
  key: string,
  operations: readonly Operation<I, O>[],
  model: Model<S, I, O>,
  death: DeathPoint<S>,
): LinearizabilityExplanation<S, I, O> {
  const stuck = operations[death.stuck]!;
  const taken = new Set(death.path);
  const window = operations
    .filter((operation, index) => !taken.has(index) && operation.invokedAt <= stuck.completedAt!)
    .sort((a, b) => a.invokedAt - b.invokedAt);
  const candidates = window.map((operation) => ({
    operation,
    attempts: death.states.map((state) => {
      const step = model.step(state, operation.input, operation.outcome === 'ok' ? operation.output : undefined);
      return { state, fits: step.ok, output: step.output };
    }),
  }));
  const lines = [
    `key ${key}: no linearization gets past the completion of ${describeOperation(stuck)}`,
    `linearized before it (${death.path.length} operations, the last ones shown):`,
    ...death.path.slice(-5).map((index) => `  ${describeOperation(operations[index]!)}`),
    `possible states then: ${death.states.map((state) => describeValue(state)).join(' | ')}`,
    `pending then (${window.length}), and why none can go next:`,
    ...candidates.map(({ operation, attempts }) => {
      const why = attempts.map((attempt) =>
        attempt.fits
          ? `from ${describeValue(attempt.state)} it fits, but no order after it gets past that completion`
          : `from ${describeValue(attempt.state)} the model returns ${describeValue(attempt.output)}`,
      );
      return `  ${describeOperation(operation)}: ${why.join('; ')}`;
    }),
  ];
  return { stuck, linearized: death.path.map((index) => operations[index]!), window, states: death.states, candidates, text: lines.join('\n') };
}
