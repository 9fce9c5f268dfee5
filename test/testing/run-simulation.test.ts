import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Prng, SimNetwork, SimulationRun, Simulator, commandBytes, runSimulation, simulationArbitrary } from '../../src/testing/index.js';
import { SimDisk } from '../../src/testing/sim-disk.js';
import type { SimEvent, SimulationConfig } from '../../src/testing/index.js';

const configs: SimulationConfig[] = fc.sample(
  simulationArbitrary({ voters: [3, 5], observersMax: 1, proposals: 40, safetyTicks: [150, 250], snapshots: true }),
  { seed: 11, numRuns: 4 },
);

describe('SimulationRun', () => {
  // The playground and debuggers step a run event by event; it must be the run
  // runSimulation does whole, draw for draw, or a replayed failure would not be the same.
  it('stepped event by event is the same run as runSimulation', () => {
    for (const config of configs) {
      const whole = runSimulation(config);
      const run = new SimulationRun(config);
      const kinds = new Set<SimEvent['kind']>();
      let steps = 0;
      while (!run.done) {
        const event = run.step();
        if (event !== undefined) kinds.add(event.kind);
        steps++;
      }
      expect(run.finish()).toEqual(whole);
      expect(steps).toBeGreaterThan(whole.ticks);
      expect([...kinds].sort()).toEqual(['delivered', 'tickBegun', 'ticked']);
    }
  });
});

describe('Simulator.step', () => {
  it('walks one tick as tick() does it', () => {
    const a = new Simulator({ seed: 3, voters: 3 });
    const b = new Simulator({ seed: 3, voters: 3 });
    for (let t = 0; t < 80; t++) {
      if (t === 40) {
        a.propose(commandBytes(1));
        b.propose(commandBytes(1));
      }
      a.tick();
      expect(b.step()).toEqual({ kind: 'tickBegun', at: t + 1 });
      expect(b.midTick).toBe(true);
      while (b.step() !== undefined);
      expect(b.midTick).toBe(false);
    }
    for (const id of a.ids) expect(b.replica(id)!.status).toEqual(a.replica(id)!.status);
  });

  it('a crash keeps completed unsynced writes only when asked (a process crash, not a power loss)', () => {
    for (const keepUnsynced of [false, true]) {
      const disk = new SimDisk();
      // A batch holding only the commit index is written without a sync.
      disk.write(1, { accepted: [], chosen: [], commitIndex: 4 }, 0, false);
      expect(disk.completeNext(0)?.seq).toBe(1);
      disk.crash(keepUnsynced);
      expect(disk.load().commitIndex).toBe(keepUnsynced ? 4 : 0);
    }
  });
});

describe('SimNetwork', () => {
  const message = { type: 'catchUp', from: 'a', to: 'b', firstSlot: 1, lastSlot: 3 } as const;

  it('shows the messages in flight, and drops or duplicates one by its order', () => {
    const network = new SimNetwork(new Prng(1));
    network.send(message, 0);
    network.send({ ...message, firstSlot: 2 }, 0);
    const [first, second] = network.inFlight;
    expect(first).toMatchObject({ sentAt: 0, message });
    expect(network.drop(first!.order)).toBe(true);
    expect(network.drop(first!.order)).toBe(false);
    expect(network.duplicate(second!.order)).toBe(true);
    expect(network.inFlight.map((f) => (f.message.type === 'catchUp' ? f.message.firstSlot : 0))).toEqual([2, 2]);
    expect(network.takeDue(10)).toHaveLength(2);
    expect(network.counts).toMatchObject({ lost: 1, duplicated: 1 });
  });
});
