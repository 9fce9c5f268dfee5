/**
 * Membership changes through real runtime nodes (createNode, unchanged) on simulated
 * time, network and disks: the same fault schedules as the core simulator's membership
 * property (test/core/safety/membership.prop.test.ts), asked of the runtime leader with
 * node.changeMembers. Spares join empty, as `synod serve --join` starts a new member;
 * observers are promoted, voters demoted, removed and replaced (through a joint
 * configuration), the leader removes itself, amid crashes, restarts, wipes, partitions,
 * loss and duplication. The checkers derive each slot's configuration from the chosen
 * log alone (a configuration chosen at slot i governs from i + windowSlots): a slot
 * counts chosen only by a phase-2 quorum of its configuration, only that
 * configuration's voters may acknowledge it, and a new configuration's first slot may
 * be accepted only once a phase-2 quorum of it durably holds every earlier slot (the
 * handover). Once healed, the members of the latest configuration must converge and
 * hold every acknowledged proposal. See "Membership changes" in docs/protocol.md.
 */
import { expect, it } from 'vitest';
import { assertRuntimeSimulations, runtimeSimulationArbitrary, simulationParameters } from '../../src/testing/index.js';

it('stays safe and converges while runtime members are added, promoted, demoted, removed and replaced', async () => {
  const arbitrary = runtimeSimulationArbitrary({ voters: [1, 3, 5], observersMax: 1, proposals: 30, faultsMax: 20, membership: true });
  const stats = { runs: 0, changed: 0, votersChanged: 0 };
  await assertRuntimeSimulations(arbitrary, simulationParameters(500, process.env), (result, config) => {
    stats.runs++;
    if (result.configurations > 0) stats.changed++;
    const first = Array.from({ length: config.voters }, (_, i) => `n${i + 1}`);
    if (result.voters.join() !== first.join()) stats.votersChanged++;
  });
  // A schedule whose changes never take effect checks nothing about them: about half
  // the runs end in a later configuration, over a quarter with other voters.
  if (process.env['SYNOD_REPLAY'] === undefined && stats.runs >= 100) {
    expect(stats.changed, JSON.stringify(stats)).toBeGreaterThan(stats.runs / 5);
    expect(stats.votersChanged, JSON.stringify(stats)).toBeGreaterThan(stats.runs / 10);
  }
}, 600_000);
