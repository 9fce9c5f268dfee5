import { expect, it } from 'vitest';
import { LivenessFailure, runSimulation, SimulationRun } from '../../src/testing/index.js';
import { configOf } from '../../scripts/soak.js';

// Bug (in the simulated client, not the protocol): the client proposed every command not
// yet applied again after a backoff (60 ticks, doubling up to 960), whether or not the
// leader still held it. Behind a slow pipeline (one slot in flight, one command per
// slot, a phase-2 quorum of 6 of 7 voters: about 4 ticks a slot) a command waits in the
// leader's queue longer than any backoff, so every retry put another copy behind it:
// 400 commands took over 1,063 slots, the queue held about 1,100 copies, and 12
// commands were still queued when the 3,000 healed ticks ran out (soak
// 475226991:324114). The core's contract makes the timer needless: a queued command
// gets a slot or comes back in `Output.dropped`. The client now proposes a command
// again only once it came back or the leadership that took it is gone, as the runtime
// node does with its own pipeline; a command lost while its leadership lasts fails the
// liveness check instead of being hidden by a retry.

it('a command is proposed once to each leadership', () => {
  // No faults; the pipeline is far slower than the workload.
  const run = new SimulationRun({
    seed: 7,
    voters: 3,
    limits: { inflightSlotsMax: 1, batchCommandsMax: 1 },
    diskDelayTicksMax: 3,
    proposals: 200,
    safetyTicks: 200,
    faults: [],
  });
  // Times each command was proposed, by leadership (leader and ballot round).
  const proposed = new Map<string, number>();
  const commands = new Set<string>();
  const decoder = new TextDecoder();
  const propose = run.sim.propose.bind(run.sim);
  run.sim.propose = (command, to) => {
    const c = decoder.decode(command);
    const key = `${c} to ${to} in round ${run.sim.replica(to!)!.status.promised.round}`;
    proposed.set(key, (proposed.get(key) ?? 0) + 1);
    commands.add(c);
    return propose(command, to);
  };
  const result = run.finish();
  // Commands were still queued 60 ticks after the workload ended: longer than the old first retry.
  expect(result.livenessTicks).toBeGreaterThan(60);
  expect(commands.size).toBe(200);
  expect([...proposed].filter(([, n]) => n > 1).map(([key, n]) => `${key}: ${n} times`)).toEqual([]);
});

it('a command a lasting leadership loses fails the liveness check', () => {
  // A leader that answers "queued" for c5 once and forgets it: the core breaking its
  // contract. The old client proposed c5 again 60 ticks later and the run passed.
  const run = new SimulationRun({ seed: 7, voters: 3, proposals: 20, safetyTicks: 200, faults: [], livenessTicksMax: 500 });
  const decoder = new TextDecoder();
  const propose = run.sim.propose.bind(run.sim);
  let forgotten = false;
  run.sim.propose = (command, to) => {
    if (forgotten || decoder.decode(command) !== 'c5') return propose(command, to);
    forgotten = true;
    return { ok: true };
  };
  let failure: unknown;
  try {
    run.finish();
  } catch (error) {
    failure = error;
  }
  expect(failure).toBeInstanceOf(LivenessFailure);
  expect((failure as LivenessFailure).message).toMatch(/1 of 20 proposals not applied \(first: c5\)/);
});

it('the soak run that exposed it finishes within the liveness bound', () => {
  const result = runSimulation(configOf(475226991, 324114));
  expect(result.livenessTicks).toBeLessThan(3_000);
});
