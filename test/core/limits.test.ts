import { describe, expect, it } from 'vitest';
import { ConfigError, Replica, defaultLimits, majority } from '../../src/core/index.js';

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
