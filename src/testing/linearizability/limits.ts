/**
 * The named limits of the linearizability checker, in one place.
 *
 * @example
 * ```ts
 * checkLinearizability(history, versionedKvModel, { timeBudgetMs: linearizabilityLimits.timeBudgetMsDefault / 10 });
 * ```
 */
export const linearizabilityLimits = {
  /** Default wall-clock budget of one check (search and shrinking together), in milliseconds. */
  timeBudgetMsDefault: 10_000,
  /** Default budget of search steps of one check (search and shrinking together). */
  stepsMaxDefault: 1_000_000_000,
  /** Search steps between two reads of the clock (a power of two). */
  stepsPerClockRead: 1024,
} as const;
