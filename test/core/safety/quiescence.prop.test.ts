import { it } from 'vitest';
import { assertSimulations, simulationParameters, simulationSuites } from '../../../src/testing/index.js';

// Quiescence: idle leaders stop their groups' ticks, anything rouses them, and a
// quiesced replica whose leader is down or cut off is woken (the simulator plays a
// group host's liveness). Safety must hold as without it (it only stops time), and
// once healed every proposal must be applied: a group that stays asleep with a dead
// leader fails the liveness check.
it('stays safe and converges while idle groups quiesce and wake, amid faults and membership changes', () => {
  assertSimulations(simulationSuites.quiescence(), simulationParameters(400, process.env));
}, 900_000);
