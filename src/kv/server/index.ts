/**
 * synod/kv-server: the KV server (FileStorage, TcpTransport between replicas, a port
 * for clients). Node-only: its own subpath, so a browser bundle cannot pull it in.
 * @packageDocumentation
 */
export { KvServer, type KvServerOptions, type KvServerAddress, type KvServerShards } from './kv-server.js';
export type { ConnectionLimits } from './client-connection.js';
export type { KvServerMetrics } from './server-metrics.js';
export type { KvAuthOptions, KvUserOptions, KvRoleOptions, KvPermission, KeyAccess, PrincipalQuotas } from './access-control.js';
export { defaultPrincipalQuotas, rootRole } from './access-control.js';
export type { QuotaTrips } from './server-metrics.js';
export type { KeyPattern } from '../key-set.js';
