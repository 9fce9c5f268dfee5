/** `synod/zk-server`: a member's ZooKeeper port (Node-only). */
export { ZkServer, type ZkServerOptions } from './zk-server.js';
export type { ZkConnectionLimits } from './zk-connection.js';
export { ZkExtension } from '../zk-extension.js';
export { digestAuthId } from '../zk-digest.js';
