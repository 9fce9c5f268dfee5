import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/testing/prng.js';
import { workload } from '../../src/testing/workload.js';

describe('workload', () => {
  const config = {
    safetyMs: 1_000,
    proposals: 40,
    faults: [
      { at: 500, fault: { kind: 'crash', node: 1 } },
      { at: 1, fault: { kind: 'heal' } },
    ],
  } as const;

  it('proposals in the first 80% of the safety phase, half as many reads by default, and the faults, in time order', () => {
    const events = workload(config, new Prng(7));
    const proposals = events.filter((e) => e.kind === 'propose');
    expect(proposals).toHaveLength(40);
    expect(proposals.every((e) => e.at >= 1 && e.at <= 800)).toBe(true);
    expect(events.filter((e) => e.kind === 'read')).toHaveLength(20);
    expect(events.filter((e) => e.kind === 'fault').map((e) => e.at)).toEqual([1, 500]);
    for (let i = 1; i < events.length; i++) expect(events[i]!.at).toBeGreaterThanOrEqual(events[i - 1]!.at);
    expect(workload({ ...config, reads: 3 }, new Prng(7)).filter((e) => e.kind === 'read')).toHaveLength(3);
  });

  it('same-time events keep their order, and a seed gives the same workload', () => {
    const events = workload({ safetyMs: 1, proposals: 3, reads: 1, faults: [{ at: 1, fault: { kind: 'heal' } }] }, new Prng(1));
    expect(events.map((e) => (e.kind === 'propose' ? e.i : e.kind))).toEqual([0, 1, 2, 'read', 'fault']);
    expect(workload(config, new Prng(9))).toEqual(workload(config, new Prng(9)));
  });
});
