/**
 * The budget shared by the searches of one check: steps counted exactly, the clock
 * read once per block of steps, a shared step count across threads, a deadline that
 * can be pushed out, and memory reserved and given back.
 */
import { describe, expect, it } from 'vitest';
import { linearizabilityLimits } from '../../../src/testing/index.js';
import { Budget } from '../../../src/testing/linearizability/budget.js';

const block = linearizabilityLimits.stepsPerClockRead;
const frozen = () => 0;

/** Spends until `spend` says no or `max` steps went through; the steps it allowed. */
const spendAll = (budget: Budget, max: number): number => {
  let allowed = 0;
  while (allowed < max && budget.spend()) allowed++;
  return allowed;
};

describe('Budget', () => {
  it('allows exactly stepsMax steps, then says no for good, with the step budget named', () => {
    const budget = new Budget(10_000, 5, frozen, 0);
    expect(spendAll(budget, 100)).toBe(5);
    expect(budget.spentOn).toBe('step budget');
    expect(budget.taken).toBe(6);
    // Spent stays spent: no more steps are counted.
    expect(budget.spend()).toBe(false);
    expect(budget.taken).toBe(6);
    const none = new Budget(10_000, 0, frozen, 0);
    expect(none.spend()).toBe(false);
    expect(none.spentOn).toBe('step budget');
  });

  it('reads the clock once every stepsPerClockRead steps, and stops when it is past the deadline', () => {
    let reads = 0;
    let t = 0;
    const budget = new Budget(
      100,
      1e9,
      () => {
        reads++;
        return t;
      },
      0,
    );
    expect(reads).toBe(1); // The deadline, at construction.
    expect(spendAll(budget, block - 1)).toBe(block - 1);
    expect(reads).toBe(1);
    expect(budget.spend()).toBe(true);
    expect(reads).toBe(2);
    // At the deadline is still in time; past it is not, at the next read.
    t = 100;
    expect(spendAll(budget, block)).toBe(block);
    expect(budget.spentOn).toBeUndefined();
    t = 100.5;
    expect(spendAll(budget, 2 * block)).toBe(block - 1);
    expect(budget.spentOn).toBe('time budget');
    expect(budget.taken).toBe(3 * block);
    expect(budget.spend()).toBe(false);
  });

  it('counts blocks of steps in the shared count, and stops every thread once they reach stepsMax', () => {
    const shared = new Int32Array(1);
    const stepsMax = 3 * block;
    const a = new Budget(10_000, stepsMax, frozen, 0, shared);
    const b = new Budget(10_000, stepsMax, frozen, 0, shared);
    expect(spendAll(a, block)).toBe(block);
    expect(shared[0]).toBe(1);
    expect(spendAll(b, 2 * block)).toBe(2 * block);
    expect(shared[0]).toBe(3);
    expect(b.spentOn).toBeUndefined();
    // The fourth block is past the shared budget: whichever thread ends it stops.
    expect(spendAll(a, 2 * block)).toBe(block - 1);
    expect(a.spentOn).toBe('step budget');
    expect(a.taken).toBe(2 * block);
  });

  it('treats a shared step budget past what an Int32 counts as no bound on blocks', () => {
    const shared = new Int32Array([0x7fff_ffff - 2]);
    const budget = new Budget(10_000, Number.MAX_SAFE_INTEGER, frozen, 0, shared);
    expect(spendAll(budget, block)).toBe(block);
    expect(budget.spentOn).toBeUndefined();
    expect(spendAll(budget, block)).toBe(block - 1);
    expect(budget.spentOn).toBe('step budget');
  });

  it('extendDeadline takes back a spent time budget when the new deadline is not past yet', () => {
    let t = 0;
    const budget = new Budget(10, 1e9, () => t, 0);
    t = 11;
    expect(spendAll(budget, 2 * block)).toBe(block - 1);
    expect(budget.spentOn).toBe('time budget');
    // A deadline already past leaves it spent.
    budget.extendDeadline(10.5);
    expect(budget.spentOn).toBe('time budget');
    // At the deadline is in time.
    budget.extendDeadline(11);
    expect(budget.spentOn).toBeUndefined();
    expect(budget.spend()).toBe(true);
    t = 12;
    expect(spendAll(budget, 2 * block)).toBe(block - 2);
    expect(budget.spentOn).toBe('time budget');
    budget.extendDeadline(20);
    expect(budget.spentOn).toBeUndefined();
    expect(() => budget.extendDeadline(19)).toThrow('deadline moved back from 20 to 19');
    budget.extendDeadline(20);
  });

  it('extendDeadline leaves a spent step budget spent', () => {
    const budget = new Budget(10, 1, frozen, 0);
    expect(spendAll(budget, 5)).toBe(1);
    budget.extendDeadline(100);
    expect(budget.spentOn).toBe('step budget');
    expect(budget.spend()).toBe(false);
  });

  it('reserves bytes up to memoryBytesMax exactly, refuses what does not fit, and takes them back', () => {
    const budget = new Budget(10_000, 1e9, frozen, 100);
    expect(budget.reserveBytes(60)).toBe(true);
    expect(budget.reserveBytes(41)).toBe(false);
    expect(budget.bytesHeld).toBe(60);
    expect(budget.reserveBytes(40)).toBe(true);
    expect(budget.bytesHeld).toBe(100);
    expect(budget.reserveBytes(0)).toBe(true);
    expect(budget.reserveBytes(1)).toBe(false);
    budget.releaseBytes(30);
    expect(budget.bytesHeld).toBe(70);
    budget.releaseBytes(70);
    expect(budget.bytesHeld).toBe(0);
    expect(() => budget.releaseBytes(1)).toThrow('releasing 1 bytes of the 0 reserved');
    expect(() => budget.reserveBytes(-1)).toThrow('reserving -1 bytes');
    expect(() => budget.releaseBytes(-1)).toThrow('releasing -1 bytes of the 0 reserved');
  });

  it('refuses negative budgets, naming the number', () => {
    expect(() => new Budget(-1, 1, frozen, 0)).toThrow('time budget -1 ms is negative');
    expect(() => new Budget(1, -1, frozen, 0)).toThrow('step budget -1 is negative');
    expect(() => new Budget(1, 1, frozen, -1)).toThrow('memory bound -1 bytes is negative');
    expect(() => new Budget(0, 0, frozen, 0)).not.toThrow();
  });
});
