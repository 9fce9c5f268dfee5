import { describe, expect, it } from 'vitest';
import { ManualCluster, runSimulation } from '../../src/testing/index.js';

// Bug: every chosen message reset the catch-up cooldown, so each answer (or duplicate,
// or leader push) sent a new request at once. Duplicated answers multiplied the chains
// of request -> answer -> request, exponentially while a replica lagged: one simulated
// run sent 921,222 messages. Now one request is outstanding at a time.
describe('regression: catch-up request storm', () => {
  it('duplicated answers do not multiply catch-up requests', () => {
    const c = new ManualCluster({ voters: ['a'], observers: ['o'], limits: { catchUpSlotsMax: 1 } });
    c.elect('a');
    for (let i = 0; i < 20; i++) c.propose('a', `v${i}`);
    c.take(() => true);
    c.tick(['a'], 2); // a heartbeat tells o the commit index is 20
    let requests = 0;
    for (let step = 0; step < 500 && c.applied('o').length < 20; step++) {
      const next = c.inFlight.shift();
      if (next === undefined) {
        c.tick();
        continue;
      }
      if (next.type === 'catchUp') requests++;
      c.inject(next);
      if (next.type === 'chosen') c.inject(next); // every answer arrives twice
    }
    expect(c.applied('o')).toHaveLength(20);
    expect(requests).toBeLessThanOrEqual(40);
  });

  it('the simulated run that exposed it stays small', () => {
    const r = runSimulation({
      seed: 2147483641,
      voters: 1,
      observers: 1,
      quorum: { kind: 'majority' },
      limits: { inflightSlotsMax: 30, batchCommandsMax: 4, acceptSlotsMax: 7, catchUpSlotsMax: 1, ackRangesMax: 2, proposalQueueMax: 4096 },
      diskDelayTicksMax: 2,
      proposals: 200,
      safetyTicks: 482,
      faults: [
        { at: 230, fault: { kind: 'network', lossRate: 0.02, duplicateRate: 0.2, delayTicksMax: 4, stragglerRate: 0.01, stragglerTicksMax: 200 } },
        { at: 125, fault: { kind: 'isolateLeader' } },
        { at: 310, fault: { kind: 'heal' } },
        { at: 122, fault: { kind: 'cut', from: 0, to: 1 } },
        { at: 465, fault: { kind: 'crash', node: 0 } },
      ],
    });
    expect(r.network.sent).toBeLessThan(20_000);
  });
});
