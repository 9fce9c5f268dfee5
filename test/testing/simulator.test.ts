import { describe, expect, it } from 'vitest';
import { Prng, SafetyViolation, Simulator, commandBytes, runSimulation } from '../../src/testing/index.js';

function traceOf(seed: number): string[] {
  const lines: string[] = [];
  const sim = new Simulator({
    seed,
    voters: 5,
    trace: { sink: (l) => lines.push(l) },
    traceCommits: true,
    network: { lossRate: 0.1, duplicateRate: 0.1, delayTicksMax: 5 },
  });
  for (let i = 0; i < 300; i++) {
    if (i % 3 === 0) sim.propose(commandBytes(i));
    if (i === 100) sim.inject({ kind: 'crash', node: 0 });
    if (i === 150) sim.inject({ kind: 'restart', node: 0 });
    sim.tick();
  }
  return lines;
}

describe('Simulator', () => {
  it('is deterministic: the same seed replays the same run, line for line', () => {
    const a = traceOf(7);
    expect(a.length).toBeGreaterThan(10);
    expect(traceOf(7)).toEqual(a);
    expect(traceOf(8)).not.toEqual(a);
  });

  it('Prng is seeded and uniform enough', () => {
    const a = new Prng(1);
    const b = new Prng(1);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b.next()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
  });

  it('commits every proposal and converges after faults heal (1, 3, 5 and 7 voters)', () => {
    for (const voters of [1, 3, 5, 7]) {
      const n = voters + 1;
      const r = runSimulation({
        seed: voters,
        voters,
        observers: 1,
        proposals: 200,
        safetyTicks: 400,
        faults: [
          { at: 50, fault: { kind: 'network', lossRate: 0.2, duplicateRate: 0.1, delayTicksMax: 6, stragglerRate: 0.02 } },
          { at: 100, fault: { kind: 'crash', node: 0 } },
          {
            at: 200,
            fault: {
              kind: 'partition',
              groups: [
                [0, 1 % n],
                [2 % n, 3 % n],
              ],
            },
          },
          { at: 300, fault: { kind: 'restart', node: 0 } },
        ],
      });
      expect(r.chosenSlots).toBeGreaterThanOrEqual(200);
      expect(r.checks.applies).toBeGreaterThan(0);
    }
  });

  it('a crash loses writes that were not yet durable, and the checkers see a promise sent too early', () => {
    const sim = new Simulator({ seed: 1, voters: 3 });
    // A message claiming a promise the sender never made durable must be refused by the checker.
    expect(() =>
      sim.invariants.send(
        'n1',
        { type: 'promise', from: 'n1', to: 'n2', ballot: { round: 9, node: 'n2' }, accepted: [], chosen: [] },
        new (class {
          promised = { round: 0, node: '' };
          accepted = new Map();
        })() as never,
      ),
    ).toThrow(SafetyViolation);
  });
});
