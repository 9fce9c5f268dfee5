import fc from 'fast-check';
import { expect, it } from 'vitest';
import { commandBytes, Simulator } from '../../../src/testing/index.js';

/** Whether `id` applied a slot holding `command`. */
function appliedCommand(sim: Simulator, id: string, command: Uint8Array): boolean {
  const r = sim.replica(id)!;
  for (let slot = 1; slot <= r.status.appliedIndex; slot++) {
    const v = r.chosenValue(slot);
    if (v?.kind === 'batch' && v.commands.some((c) => Buffer.from(c).equals(command))) return true;
  }
  return false;
}

// A quiesced group whose leader dies must elect another. Its followers stand still
// (no election timer runs while quiesced), so only the liveness the simulator plays,
// a group host's suspicion of the leader's process, gets them going: without it no
// one ever campaigns. Clusters of 3 and 5 voters on a lossy, reordering network.
it('a quiesced group elects a new leader once its leader crashes for good, and commits again', () => {
  fc.assert(
    fc.property(
      fc.record({
        seed: fc.integer({ min: 0, max: 0x7fffffff }),
        voters: fc.constantFrom(3, 5),
        afterTicks: fc.integer({ min: 1, max: 8 }),
        suspectTicks: fc.integer({ min: 1, max: 10 }),
        lossRate: fc.constantFrom(0, 0.02, 0.1),
        delayTicksMax: fc.integer({ min: 1, max: 4 }),
      }),
      ({ seed, voters, afterTicks, suspectTicks, lossRate, delayTicksMax }) => {
        const sim = new Simulator({
          seed,
          voters,
          quiescence: { afterTicks, suspectTicks },
          network: { lossRate, duplicateRate: 0.02, delayTicksMax },
        });
        expect(sim.runUntil(() => sim.leader() !== undefined, 2_000)).toBe(true);
        expect(sim.propose(commandBytes(1)).ok).toBe(true);
        const quiet = (): boolean => sim.members().every((id) => sim.replica(id)?.quiesced === true);
        // Loss may keep a group from quiescing for a while; it gets there when idle.
        expect(sim.runUntil(quiet, 5_000)).toBe(true);
        const old = sim.leader()!;
        sim.crash(old);
        // A quiesced follower's time stands still: only the played liveness wakes it,
        // and then the usual election follows.
        const elected = (): boolean => {
          const l = sim.leader();
          return l !== undefined && l !== old;
        };
        expect(sim.runUntil(elected, 20 * suspectTicks + 400)).toBe(true);
        // And the group commits again: command 2 proposed to whoever leads, until every
        // live voter applied it (a leader may step down on a lossy network meanwhile).
        const live = sim.members().filter((id) => id !== old);
        let proposedTo: string | undefined;
        const applied = (): boolean => {
          const l = sim.leader();
          if (l !== undefined && l !== proposedTo && sim.propose(commandBytes(2), l).ok) proposedTo = l;
          return live.every((id) => appliedCommand(sim, id, commandBytes(2)));
        };
        expect(sim.runUntil(applied, 5_000)).toBe(true);
      },
    ),
    { numRuns: 150 },
  );
}, 120_000);
