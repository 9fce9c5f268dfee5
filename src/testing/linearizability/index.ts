/**
 * The linearizability checker of `synod/testing`: histories, models, the versioned KV
 * model and the search.
 */
export { type Outcome, type Operation, type History, type HistoryEvent, historyFromEvents, validateHistory } from './history.js';
export { HistoryError } from './history-error.js';
export type { Model, ModelStep, ModelOrigin } from './model.js';
export { type KvInput, type KvOutput, type KvState, versionedKvModel, kvOutputEquals } from './versioned-kv-model.js';
export { type RegisterValue, type RegisterInput, type RegisterOutput, registerModel } from './register-model.js';
export { type ZnodeInput, type ZnodeOutput, type ZnodeState, znodeModel } from './znode-model.js';
export { checkLinearizability, type LinearizabilityVerdict, type LinearizabilityOptions } from './check-linearizability.js';
export { type LinearizabilityExplanation, type WindowCandidate, type WindowAttempt, describeOperation } from './explanation.js';
export { renderLinearizabilityHtml } from './visualization.js';
export { linearizabilityLimits } from './limits.js';
export type { BudgetReason, UnknownReason } from './budget.js';
export {
  checkLinearizabilityInParallel,
  type ParallelLinearizabilityOptions,
  type ParallelLinearizabilityVerdict,
  type LinearizabilityExecution,
} from './check-in-parallel.js';
export { type KvPlannedOperation, simulateKvHistory } from './kv-history-simulation.js';
export { kvHistoryArbitrary, type KvHistoryArbitraryOptions, type KvHistoryFault, type KvHistorySample } from './kv-history-arbitrary.js';
export { type EdnValue, type EdnKeyword, readEdn, writeEdn, keyword, isKeyword } from './edn.js';
export { type JepsenCodec, historyFromJepsenEdn, historyToJepsenEdn, jepsenCasRegister, jepsenIndependent } from './jepsen-history.js';
export { type PorcupineCodec, historyFromPorcupineJson, historyToPorcupineJson, porcupineTimeoutReturn } from './porcupine-json.js';
export { type AppendKvInput, type AppendKvOutput, appendKvModel } from './append-kv-model.js';
export { type SetElement, type SetInput, type SetOutput, type SetState, setModel } from './set-model.js';
export { type QueueValue, type QueueInput, type QueueOutput, type QueueState, queueModel } from './queue-model.js';
export { type MutexInput, type MutexOutput, type MutexState, mutexModel } from './mutex-model.js';
export { type TxnStep, type TxnInput, type TxnOutput, type TxnState, transactionalRegisterModel } from './transactional-register-model.js';
