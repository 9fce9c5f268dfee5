/**
 * synod/recipes: coordination built on the replicated KV, written against `KvApi`
 * only, so each runs on an embedded `KvNode` and on a remote `KvClient` alike.
 *
 * - {@link KvLock}: a distributed lock with fencing tokens (ZooKeeper's lock recipe);
 * - {@link KvElection} and {@link LeaderObserver}: leader election, and watching who leads;
 * - {@link ConfigService}: a configuration kept in sync from a prefix, with atomic updates;
 * - {@link SequentialQueue}: the fair waiting line under the lock and the election;
 * - {@link FencedResource}: the check a protected resource makes on fencing tokens.
 *
 * `docs/kv.md` (Recipes) explains each; `examples/kv-lock.ts`, `kv-election.ts` and
 * `kv-config.ts` run them on a three-node cluster.
 * @packageDocumentation
 */
export { KvLock, LockHandle, type KvLockOptions, type AcquireOptions, type LockHolder } from './lock.js';
export { KvElection, Leadership, LeaderObserver, type KvElectionOptions, type CampaignOptions, type Leader } from './election.js';
export {
  ConfigService,
  type ConfigEntry,
  type ConfigChange,
  type ConfigUpdate,
  type ConfigSnapshot,
  type ConfigServiceOptions,
  type UpdateOptions,
} from './config-service.js';
export {
  SequentialQueue,
  QueueTurn,
  QueueEntryGoneError,
  type QueueEntry,
  type RecipeSession,
  type TurnLoss,
  type WaitOptions,
} from './sequential-queue.js';
export { FencedResource, StaleTokenError, type FencedWrite, type FencedResourceOptions } from './fenced-resource.js';
export { revisionBatches, type RevisionBatch } from './revision-batches.js';
export { TooManyKeysError } from './too-many-keys-error.js';
