import { assert } from '../../core/assert.js';
import { linearizabilityLimits } from './limits.js';

/** Why a check gave up. */
export type BudgetReason = 'time budget' | 'step budget';

/**
 * The time and step budget shared by every search of one check. Once spent, it stays
 * spent. @internal
 */
export class Budget {
  private steps = 0;
  private readonly deadline: number;
  /** Set once the budget is spent. */
  spentOn: BudgetReason | undefined;

  constructor(
    timeBudgetMs: number,
    private readonly stepsMax: number,
    private readonly now: () => number,
  ) {
    assert(timeBudgetMs >= 0, `time budget ${timeBudgetMs} ms is negative`);
    assert(stepsMax >= 0, `step budget ${stepsMax} is negative`);
    this.deadline = now() + timeBudgetMs;
  }

  /** Takes one step; false once the budget is spent. */
  spend(): boolean {
    if (this.spentOn !== undefined) return false;
    this.steps++;
    if (this.steps > this.stepsMax) {
      this.spentOn = 'step budget';
      return false;
    }
    if ((this.steps & (linearizabilityLimits.stepsPerClockRead - 1)) === 0 && this.now() > this.deadline) {
      this.spentOn = 'time budget';
      return false;
    }
    return true;
  }

  /** Steps taken so far. */
  get taken(): number {
    return this.steps;
  }
}
