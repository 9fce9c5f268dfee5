/**
 * synod/kv-client: a client of KV servers over TCP or TLS. Node-only: its own subpath.
 * @packageDocumentation
 */
export { KvClient, type KvClientOptions } from './kv-client.js';
export type { RemoteRangesWatch } from './remote-ranges-watch.js';
export { kvClientDefaults } from './kv-client-limits.js';
export { KvServerError } from '../protocol/client-errors.js';
export type { ServerStatus } from '../protocol/client-frames.js';
