import { it } from 'vitest';
import { assertSimulations, simulationParameters, simulationSuites } from '../../../src/testing/index.js';

// Membership changes inside the fault schedules: spares added as observers, observers
// promoted, voters demoted, removed and replaced (through a joint configuration where
// the old and new quorums need not meet), the leader removing itself, with crashes,
// restarts, wipes, partitions, loss, duplication and reordering around them. The
// checker derives which configuration governs each slot from the chosen log alone (a
// configuration chosen at slot i governs from i + windowSlots) and counts a slot chosen
// only by a phase-2 quorum of that configuration; every accept by a node that does not
// vote in the slot's configuration is a violation. Once healed, the members of the
// latest configuration must converge. See "Membership changes" in docs/protocol.md.
it('stays safe and converges while members are added, promoted, removed and replaced', () => {
  const arbitrary = simulationSuites.membership();
  assertSimulations(arbitrary, simulationParameters(700, process.env));
}, 900_000);

it('stays safe and converges with membership changes, snapshots and compaction', () => {
  const arbitrary = simulationSuites.membershipSnapshots();
  assertSimulations(arbitrary, simulationParameters(400, process.env));
}, 900_000);
