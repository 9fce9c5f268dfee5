import { it } from 'vitest';
import { assertSimulations, simulationParameters, simulationSuites } from '../../../src/testing/index.js';

// Snapshots and log compaction inside the fault schedules: nodes snapshot every few
// slots and forget their logs, so crashed, partitioned and lagging replicas (and
// observers) come back through a snapshot sent over the lossy network. Every installed
// snapshot must be the state the chosen prefix gives, and the healed cluster must converge.
it('stays safe and converges with snapshots and compaction: crashes, partitions, loss', () => {
  const arbitrary = simulationSuites.snapshots();
  assertSimulations(arbitrary, simulationParameters(300, process.env));
}, 600_000);

// Agreement with compacted acceptors. A candidate whose first unchosen slot lies at or
// below an acceptor's compaction point must not get that acceptor's promise: the
// accepted values it would have to report are gone, and the candidate would fill the
// chosen slots with no-ops. The pre-vote refuses most such candidates; a leadership
// transfer (timeoutNow skips the pre-vote) to a lagging voter is the case that needs
// the acceptor's own guard.
it('never chooses twice when a lagging voter campaigns past compacted acceptors', () => {
  const arbitrary = simulationSuites.snapshotTransfers();
  assertSimulations(arbitrary, simulationParameters(800, process.env));
}, 600_000);
