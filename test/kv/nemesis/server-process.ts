/**
 * One KV server as a child process of the nemesis test: `node --import tsx
 * server-process.ts CONFIG ID`. It tells its parent `ready` once serving, and obeys
 * `{ block: [ids] }` (a partition, through the transport's fault hook) over IPC.
 */
import { readClusterConfig } from '../../../src/cli/cluster-config.js';
import { KvServer } from '../../../src/kv/server/index.js';

const [configPath, id] = process.argv.slice(2);
const config = await readClusterConfig(configPath!);
const server = new KvServer({
  id: id!,
  clusterId: config.clusterId,
  members: config.members,
  dataDir: config.members[id!]!.dataDir,
  secret: config.secret!,
  clientSecret: config.clientSecret!,
  node: { tickMs: 20, snapshot: { everySlots: 500, trailingSlots: 100 } },
});
await server.start();
process.on('message', (m: { block?: string[] }) => {
  if (Array.isArray(m.block)) server.blockPeers(m.block);
});
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
process.send?.('ready');
