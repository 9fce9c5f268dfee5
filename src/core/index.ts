export { type Ballot, ballotZero, compareBallots, ballotEquals, maxBallot, formatBallot } from './ballot.js';
export type { NodeId } from './node-id.js';
export { type Value, type NoopValue, type BatchValue, type ConfigValue, noop, batch, valueBytes, valueEquals } from './value.js';
export {
  type Configuration,
  type QuorumRule,
  type VoterSet,
  windowSlotsDefault,
  encodeConfiguration,
  decodeConfiguration,
  configurationEquals,
  quorumsMeet,
} from './configuration/configuration.js';
export type { ConfigurationState } from './configuration/epochs.js';
export { type MembershipChange, type ChangeRefusal, planChange } from './configuration/membership-change.js';
export { type ForcedCluster, forceNewCluster } from './configuration/force-new-cluster.js';
export type * from './messages.js';
export type { AcceptedEntry, ChosenEntry, CommittedEntry } from './entries.js';
export {
  type DurableState,
  type PersistBatch,
  emptyDurableState,
  DurableStateBuilder,
  mergePersistBatches,
  persistNeedsSync,
} from './durable-state.js';
export { type Output, type ReadIndexResult, isEmptyOutput, mayPrecedePersist } from './output.js';
export { type Limits, defaultLimits } from './limits.js';
export { SynodError, InvariantError, ConfigError, type SynodErrorCode } from './errors.js';
export type { Quorum, VoteResult, VoteLookup, AcknowledgedLookup } from './quorum/quorum.js';
export { majority } from './quorum/majority.js';
export { flexible } from './quorum/flexible.js';
export { joint } from './quorum/joint.js';
export {
  Replica,
  type ReplicaOptions,
  type ReplicaStatus,
  type ProposeResult,
  type ReadIndexRequestResult,
  type TransferResult,
  type Role,
  type ChangeMembersResult,
  type MemberProgress,
} from './replica.js';
