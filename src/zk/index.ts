/**
 * `synod/zk`: ZooKeeper's data model over synod's replicated state machine: the znode
 * tree, sessions, ACLs and watches, and the jute wire protocol.
 */
export { ZkErrorCode, type ZkErrorCodeValue, zkErrorName } from './zk-error-code.js';
export { invalidPath } from './zk-path.js';
export {
  type ZkStat,
  type ZkId,
  type ZkAcl,
  ZkPerm,
  openAcl,
  ZkCreateMode,
  zkTtlMsMax,
  type ZkWriteOp,
  type ZkWriteRequest,
  type ZkOpResult,
  type ZkWriteResult,
  type ZkChange,
} from './zk-types.js';
export { aclAllows, fixupAcl, ipMatches } from './zk-acl.js';
export { ZkTree, type ZkWriteContext } from './zk-tree.js';
export type { ZkCommand, ZkResult } from './zk-command.js';
export { ZkStateMachine, type ZkApplyMeta, type ZkApplied } from './zk-state-machine.js';
export { zkLimits } from './zk-limits.js';
export { ZkWatchTable, type ZkWatchKind, type ZkWatchEvent } from './zk-watch-table.js';
export { ZkExtension, zkKvCommand, zkResultOf } from './zk-extension.js';
