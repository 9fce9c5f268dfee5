import { it } from 'vitest';
import { assertSimulations, simulationParameters, simulationSuites } from '../../../src/testing/index.js';

// Linearizable reads (read-index): a confirmed read index covers every slot applied
// anywhere before the read began. Leadership transfers with cut links leave deposed
// leaders that still believe they lead, the case a read without a quorum round gets wrong.
it('confirms only linearizable read indexes: slow clocks, transfers, cuts', () => {
  const arbitrary = simulationSuites.reads();
  assertSimulations(arbitrary, simulationParameters(300, process.env));
}, 600_000);
