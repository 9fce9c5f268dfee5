/**
 * synod/testing: the deterministic simulator, the safety checkers and fast-check
 * arbitraries that synod's own tests use, for users to test their integrations.
 * @packageDocumentation
 */
export { Prng } from './prng.js';
export { SimDisk } from './sim-disk.js';
export { SimNetwork, type NetworkConditions, calmNetwork } from './sim-network.js';
export { type Fault, type ScheduledFault, describeFault } from './faults.js';
export { Invariants, SafetyViolation, describe as describeValue } from './invariants.js';
export { type SimStateMachine, HashStateMachine } from './state-machine.js';
export { Trace } from './trace.js';
export { Simulator, type SimulatorOptions, type QuorumSpec } from './simulator.js';
export {
  runSimulation,
  commandBytes,
  LivenessFailure,
  type SimulationConfig,
  type SimulationResult,
} from './run-simulation.js';
export {
  simulationArbitrary,
  faultArbitrary,
  transferFaultArbitrary,
  limitsArbitrary,
  quorumArbitrary,
  type SimulationArbitraryOptions,
} from './arbitraries.js';
export { simulationProperty, simulationParameters, assertSimulations } from './properties.js';
export { ManualCluster, type ManualClusterOptions } from './manual-cluster.js';
