/**
 * One KV server as a child process of the nemesis test: `node --import tsx
 * server-process.ts CONFIG ID`. It tells its parent `ready` once serving, and obeys
 * `{ block: [ids] }` (a partition, through the transport's fault hook) over IPC.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { readClusterConfig } from '../../../src/cli/cluster-config.js';
import { KvServer } from '../../../src/kv/server/index.js';

const [configPath, id] = process.argv.slice(2);
const config = await readClusterConfig(configPath!);
// Role and leader changes and warnings, one JSON line each, next to the data directory: read when a run fails.
const logFile = join(config.members[id!]!.dataDir, '..', `${id}.log`);
const line = (level: string) => (fields: Record<string, unknown>, message: string) =>
  appendFileSync(logFile, `${JSON.stringify({ t: Date.now(), level, message, ...fields }, (_k, v: unknown) => (v instanceof Error ? { message: v.message, stack: v.stack, cause: v.cause } : v))}\n`);
const logger = { debug: () => {}, info: line('info'), warn: line('warn'), error: line('error') };
const server = new KvServer({
  id: id!,
  clusterId: config.clusterId,
  members: config.members,
  dataDir: config.members[id!]!.dataDir,
  secret: config.secret!,
  clientSecret: config.clientSecret!,
  node: { tickMs: 20, snapshot: { everySlots: 500, trailingSlots: 100 } },
  logger,
});
process.on('message', (m: { block?: string[] }) => {
  if (Array.isArray(m.block)) line('info')({ block: m.block }, 'nemesis: blocking peers');
});
await server.start();
process.on('message', (m: { block?: string[] }) => {
  if (Array.isArray(m.block)) server.blockPeers(m.block);
});
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
// A failed node stops its server; the process exits, and the nemesis restarts it later.
void server.failed.then(() => process.exit(1));
process.send?.('ready');
