import { assert } from '../../core/assert.js';
import { linearizabilityLimits } from './limits.js';
import { Scratch } from './scratch.js';

/**
 * Why a check gave up: its wall-clock budget, its step budget (the whole check's
 * `stepsMax`, or one key's `partitionStepsMax`), or its memory bound
 * (`memoryBytesMax`).
 */
export type BudgetReason = 'time budget' | 'step budget' | 'memory bound';

/**
 * Why a key was not finished: a budget ran out ({@link BudgetReason}), or the worker
 * thread checking it failed (its model threw, or it exited) under
 * `checkLinearizabilityInParallel`.
 */
export type UnknownReason = BudgetReason | 'worker failed';

/**
 * The time, step and memory budget shared by every search of one check. Once the time
 * or the steps are spent, they stay spent; memory is reserved and given back. @internal
 */
export class Budget {
  private steps = 0;
  private deadline: number;
  private bytes = 0;
  private readonly sharedBlocksMax: number;
  /** Set once the time or the step budget is spent. */
  spentOn: BudgetReason | undefined;
  /** The buffers the searches of this check pass on to each other. */
  readonly scratch = new Scratch();

  constructor(
    timeBudgetMs: number,
    private readonly stepsMax: number,
    private readonly now: () => number,
    /** The most bytes the searches may hold at once. */
    readonly memoryBytesMax: number,
    /**
     * The step budget's count shared with the searches of other threads (element 0:
     * blocks of `stepsPerClockRead` steps taken by all), when one check runs on
     * workers; `stepsMax` then bounds them all together, to within a block per thread.
     */
    private readonly sharedSteps?: Int32Array,
  ) {
    assert(timeBudgetMs >= 0, `time budget ${timeBudgetMs} ms is negative`);
    assert(stepsMax >= 0, `step budget ${stepsMax} is negative`);
    assert(memoryBytesMax >= 0, `memory bound ${memoryBytesMax} bytes is negative`);
    this.deadline = now() + timeBudgetMs;
    // An Int32 counts up to 2^31 - 1 blocks; a larger budget is as good as none.
    this.sharedBlocksMax = Math.min(Math.floor(stepsMax / linearizabilityLimits.stepsPerClockRead), 0x7fff_ffff - 1);
  }

  /** Takes one step; false once the budget is spent. */
  spend(): boolean {
    if (this.spentOn !== undefined) return false;
    this.steps++;
    if (this.steps > this.stepsMax) {
      this.spentOn = 'step budget';
      return false;
    }
    if ((this.steps & (linearizabilityLimits.stepsPerClockRead - 1)) === 0) {
      if (this.sharedSteps !== undefined && Atomics.add(this.sharedSteps, 0, 1) >= this.sharedBlocksMax) {
        this.spentOn = 'step budget';
        return false;
      }
      if (this.now() > this.deadline) {
        this.spentOn = 'time budget';
        return false;
      }
    }
    return true;
  }

  /**
   * Moves the deadline to `deadline` (a reading of `now`), and takes back a time budget
   * spent before it: a head start cut short whose failure still gets the check's whole
   * time to be explained and shrunk.
   */
  extendDeadline(deadline: number): void {
    assert(deadline >= this.deadline, `deadline moved back from ${this.deadline} to ${deadline}`);
    this.deadline = deadline;
    if (this.spentOn === 'time budget' && this.now() <= deadline) this.spentOn = undefined;
  }

  /** Reserves `bytes` of the memory bound; false (nothing reserved) if they do not fit. */
  reserveBytes(bytes: number): boolean {
    assert(bytes >= 0, `reserving ${bytes} bytes`);
    if (this.bytes + bytes > this.memoryBytesMax) return false;
    this.bytes += bytes;
    return true;
  }

  /** Gives back `bytes` reserved before. */
  releaseBytes(bytes: number): void {
    assert(bytes >= 0 && bytes <= this.bytes, `releasing ${bytes} bytes of the ${this.bytes} reserved`);
    this.bytes -= bytes;
  }

  /** Steps taken so far. */
  get taken(): number {
    return this.steps;
  }

  /** Bytes reserved now. */
  get bytesHeld(): number {
    return this.bytes;
  }
}
