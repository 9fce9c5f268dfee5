import { describe, expect, it } from 'vitest';
import { ConfigError, type Limits, Replica, defaultLimits, majority } from '../../src/core/index.js';
import { messageEnd, validateLimits } from '../../src/core/limits.js';

const make = (limits: object) => () => new Replica({ id: 'a', quorum: majority(['a', 'b', 'c']), random: () => 0, limits });

describe('limits', () => {
  it('defaults are consistent with each other', () => {
    expect(defaultLimits.heartbeatTicks).toBeLessThan(defaultLimits.electionTicksMin);
    expect(defaultLimits.electionTicksMin).toBeLessThanOrEqual(defaultLimits.electionTicksMax);
    expect(defaultLimits.proposalQueueMax).toBeGreaterThanOrEqual(defaultLimits.batchCommandsMax);
    expect(defaultLimits.messageBytesMax).toBeGreaterThanOrEqual(defaultLimits.batchBytesMax);
    expect(make({})).not.toThrow();
  });

  it.each([
    [{ heartbeatTicks: 10, electionTicksMin: 10 }, 'limits.heartbeatTicks'],
    [{ electionTicksMin: 30, electionTicksMax: 20 }, 'limits.electionTicksMax'],
    [{ proposalQueueMax: 10, batchCommandsMax: 64 }, 'limits.proposalQueueMax'],
    [{ inflightSlotsMax: 0 }, 'limits.inflightSlotsMax'],
    [{ acceptSlotsMax: 1.5 }, 'limits.acceptSlotsMax'],
    [{ batchBytesMax: 2048, messageBytesMax: 1024 }, 'limits.messageBytesMax'],
  ])('refuses %j, naming %s', (limits, field) => {
    const e = (() => {
      try {
        make(limits)();
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).field).toBe(field);
    expect((e as ConfigError).message).toMatch(/^Replica: /);
  });
});

describe('validateLimits', () => {
  const problem = (fields: Partial<Limits>) => validateLimits({ ...defaultLimits, ...fields });

  it('takes the defaults, and each cross-field rule at its boundary', () => {
    expect(problem({})).toBeUndefined();
    expect(problem({ electionTicksMin: 20, electionTicksMax: 20 })).toBeUndefined();
    expect(problem({ heartbeatTicks: 9, electionTicksMin: 10 })).toBeUndefined();
    expect(problem({ proposalQueueMax: 256, batchCommandsMax: 256 })).toBeUndefined();
    expect(problem({ messageBytesMax: 1024, batchBytesMax: 1024 })).toBeUndefined();
    expect(problem({ ackRangesMax: 1 })).toBeUndefined();
  });

  it('refuses each field that is not a positive safe integer, word for word', () => {
    for (const key of Object.keys(defaultLimits) as (keyof Limits)[]) {
      expect(problem({ [key]: 0 })).toEqual([key, 'must be a positive integer, got 0']);
      expect(problem({ [key]: 2.5 })).toEqual([key, 'must be a positive integer, got 2.5']);
      expect(problem({ [key]: 2 ** 53 })).toEqual([key, `must be a positive integer, got ${2 ** 53}`]);
    }
    expect(problem({ ackRangesMax: undefined as unknown as number })).toEqual(['ackRangesMax', 'must be a positive integer, got undefined']);
  });

  it('refuses each cross-field rule one past its boundary, word for word', () => {
    expect(problem({ electionTicksMin: 21, electionTicksMax: 20 })).toEqual(['electionTicksMax', 'must be >= electionTicksMin']);
    expect(problem({ heartbeatTicks: 10, electionTicksMin: 10 })).toEqual([
      'heartbeatTicks',
      'must be < electionTicksMin, or followers time out between heartbeats',
    ]);
    expect(problem({ proposalQueueMax: 255, batchCommandsMax: 256 })).toEqual(['proposalQueueMax', 'must be >= batchCommandsMax']);
    expect(problem({ messageBytesMax: 1023, batchBytesMax: 1024 })).toEqual(['messageBytesMax', 'must be >= batchBytesMax, or a full slot could not be sent']);
  });
});

describe('messageEnd', () => {
  const limits = { ...defaultLimits, batchBytesMax: 10, messageBytesMax: 10 };
  const sizes =
    (...b: number[]) =>
    (slot: number) =>
      b[slot - 1]!;

  it('ends at `last`, or after `slotsMax` slots, whichever comes first', () => {
    expect(messageEnd(1, 5, 10, limits, () => 1)).toBe(5);
    expect(messageEnd(3, 10, 4, limits, () => 1)).toBe(6);
    expect(messageEnd(3, 6, 4, limits, () => 1)).toBe(6);
    expect(messageEnd(4, 4, 4, limits, () => 1)).toBe(4);
  });

  it('stops before the slot that takes the bytes over messageBytesMax, never before `first`', () => {
    expect(messageEnd(1, 5, 10, limits, sizes(4, 6, 1, 1, 1))).toBe(2); // exactly 10
    expect(messageEnd(1, 5, 10, limits, sizes(4, 7, 1, 1, 1))).toBe(1);
    expect(messageEnd(1, 5, 10, limits, sizes(12, 1, 1, 1, 1))).toBe(1); // first alone, even over
    expect(messageEnd(2, 5, 10, limits, sizes(9, 3, 3, 3, 2))).toBe(4); // 3+3+3, and 2 more is 11
  });
});
