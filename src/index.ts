/**
 * synod: embeddable Multi-Paxos. The root entry exports the pure protocol core.
 * @packageDocumentation
 */
export * from './core/index.js';
export { MemoryStorage, type MemoryStorageStats } from './storage/memory-storage.js';
export {
  MemoryNetwork,
  type MemoryNetworkOptions,
  type MemoryNetworkConditions,
  type MemoryNetworkCounts,
} from './transport/memory-network.js';
