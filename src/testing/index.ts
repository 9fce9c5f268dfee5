/**
 * synod/testing: the deterministic simulator, the safety checkers and fast-check
 * arbitraries that synod's own tests use, for users to test their integrations.
 * @packageDocumentation
 */
export { Prng } from './prng.js';
export { MissingPeerError } from './missing-peer-error.js';
export { SimDisk, type SimSnapshot } from './sim-disk.js';
export { SimNetwork, type NetworkConditions, type SimNetworkOptions, type Addressed, type InFlight, calmNetwork } from './sim-network.js';
export { type Fault, type ScheduledFault, describeFault } from './faults.js';
export { Invariants, type InvariantsOptions, SafetyViolation, describe as describeValue } from './invariants.js';
export { type SimStateMachine, HashStateMachine } from './state-machine.js';
export { Trace } from './trace.js';
export {
  Simulator,
  type SimulatorOptions,
  type QuorumSpec,
  type SimEvent,
  type SimMessage,
  type SimSnapshotOptions,
  type SnapshotTransfer,
} from './simulator.js';
export {
  runSimulation,
  SimulationRun,
  commandBytes,
  LivenessFailure,
  type SimulationConfig,
  type SimulationResult,
} from './run-simulation.js';
export { simulationSuites, type SimulationSuiteName } from './simulation-suites.js';
export {
  simulationArbitrary,
  faultArbitrary,
  transferFaultArbitrary,
  limitsArbitrary,
  quorumArbitrary,
  snapshotOptionsArbitrary,
  type SimulationArbitraryOptions,
  runtimeSimulationArbitrary,
  type RuntimeSimulationArbitraryOptions,
  groupsSimulationArbitrary,
  type GroupsSimulationArbitraryOptions,
} from './arbitraries.js';
export {
  simulationProperty,
  simulationParameters,
  assertSimulations,
  runtimeSimulationProperty,
  assertRuntimeSimulations,
  assertGroupsSimulations,
} from './properties.js';
export { ManualCluster, type ManualClusterOptions } from './manual-cluster.js';
export { VirtualClock, VirtualClockView, type VirtualClockOptions, settlePromises } from './virtual-clock.js';
export { SimStorage, type SimStorageOptions, type SimStorageCounts } from './sim-storage.js';
export { SimTransportHub, SimTransport, type SimTransportHubOptions } from './sim-transport.js';
export { RecordingStateMachine, type RecordedCommand } from './recording-state-machine.js';
export {
  RuntimeSimulation,
  type RuntimeSimulationOptions,
  type SimulatedNodeOptions,
  type AppliedCommand,
  type RuntimeSimulationCounts,
} from './runtime-simulation.js';
export { runRuntimeSimulation, type RuntimeSimulationConfig, type RuntimeSimulationResult } from './run-runtime-simulation.js';
export { GroupsSimulation, type GroupsSimulationOptions, type SimulatedGroup, type GroupOfSimulation } from './groups-simulation.js';
export { runGroupsSimulation, type GroupsSimulationConfig, type GroupsSimulationResult } from './run-groups-simulation.js';
export { storageConformance, type StorageFactory, type TestHarness } from './storage-conformance.js';
export { transportConformance, type TransportFactory, type TransportConformanceOptions } from './transport-conformance.js';
export {
  checkLinearizability,
  type LinearizabilityVerdict,
  type LinearizabilityOptions,
  type LinearizabilityExplanation,
  type WindowCandidate,
  type WindowAttempt,
  describeOperation,
  renderLinearizabilityHtml,
  type BudgetReason,
  type Outcome,
  type Operation,
  type History,
  type HistoryEvent,
  historyFromEvents,
  validateHistory,
  HistoryError,
  type Model,
  type ModelStep,
  type KvInput,
  type KvOutput,
  type KvState,
  versionedKvModel,
  kvOutputEquals,
  type RegisterValue,
  type RegisterInput,
  type RegisterOutput,
  registerModel,
  type ZnodeInput,
  type ZnodeOutput,
  type ZnodeState,
  znodeModel,
  type AppendKvInput,
  type AppendKvOutput,
  appendKvModel,
  type SetElement,
  type SetInput,
  type SetOutput,
  type SetState,
  setModel,
  type QueueValue,
  type QueueInput,
  type QueueOutput,
  type QueueState,
  queueModel,
  type MutexInput,
  type MutexOutput,
  type MutexState,
  mutexModel,
  type TxnStep,
  type TxnInput,
  type TxnOutput,
  type TxnState,
  transactionalRegisterModel,
  type EdnValue,
  type EdnKeyword,
  readEdn,
  writeEdn,
  keyword,
  isKeyword,
  type JepsenCodec,
  historyFromJepsenEdn,
  historyToJepsenEdn,
  jepsenCasRegister,
  jepsenIndependent,
  type PorcupineCodec,
  historyFromPorcupineJson,
  historyToPorcupineJson,
  porcupineTimeoutReturn,
  linearizabilityLimits,
  checkLinearizabilityInParallel,
  type ParallelLinearizabilityOptions,
  type ParallelLinearizabilityVerdict,
  type LinearizabilityExecution,
  type ModelOrigin,
  type UnknownReason,
  type KvPlannedOperation,
  simulateKvHistory,
  kvHistoryArbitrary,
  type KvHistoryArbitraryOptions,
  type KvHistoryFault,
  type KvHistorySample,
} from './linearizability/index.js';
