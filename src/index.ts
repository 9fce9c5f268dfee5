/**
 * synod: embeddable Multi-Paxos. The root entry exports the runtime node (what most
 * users want: `createNode`), its interfaces and in-memory adapters, the group host
 * (many groups over one transport), and the pure protocol core underneath.
 * @packageDocumentation
 */
export * from './core/index.js';
export * from './runtime/index.js';
export * from './groups/index.js';
export { MemoryStorage, type MemoryStorageStats } from './storage/memory-storage.js';
export {
  MemoryNetwork,
  type MemoryNetworkOptions,
  type MemoryNetworkConditions,
  type MemoryNetworkCounts,
} from './transport/memory-network.js';
export { encodeMessage, decodeMessage, type CodecLimits, defaultCodecLimits, protocolVersion } from './transport/codec/index.js';
export { CodecError } from './encoding/codec-error.js';
export { FrameReader, prefixFrame, framePrefixBytes } from './encoding/frame-reader.js';
