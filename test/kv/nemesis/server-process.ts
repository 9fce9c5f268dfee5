/**
 * One KV server as a child process of the nemesis tests (and of
 * session-clock.faketime.test.ts, which runs it under libfaketime): `node --import tsx
 * server-process.ts CONFIG ID [JOIN]`. JOIN, for a member the cluster file does not
 * name, is `{"peer","client","dataDir"}` as JSON (and `"zk"`, optional): the server
 * starts as an observer the cluster is asked to add (the test asks). When any member of
 * the cluster file has a `zk` address, the server carries the ZooKeeper tree, as `synod
 * serve` does, and opens its own ZooKeeper port if it has one. It tells its parent
 * `ready` once serving, and obeys `{ block: [ids] }` (a partition, through the
 * transport's fault hook) over IPC.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { readClusterConfig } from '../../../src/cli/cluster-config.js';
import { KvServer } from '../../../src/kv/server/index.js';
import { parseHostPort } from '../../../src/kv/server/member-address.js';
import { ZkExtension, ZkServer } from '../../../src/zk/server/index.js';

const [configPath, id, joinText] = process.argv.slice(2);
const config = await readClusterConfig(configPath!);
const joining = joinText === undefined ? undefined : (JSON.parse(joinText) as { peer: string; client: string; zk?: string; dataDir: string });
const member =
  joining === undefined
    ? config.members[id!]!
    : {
        peer: parseHostPort('nemesis', 'peer', joining.peer),
        client: parseHostPort('nemesis', 'client', joining.client),
        ...(joining.zk === undefined ? {} : { zk: parseHostPort('nemesis', 'zk', joining.zk) }),
        dataDir: joining.dataDir,
      };
// Role and leader changes and warnings, one JSON line each, next to the data directory: read when a run fails.
const logFile = join(member.dataDir, '..', `${id}.log`);
const line = (level: string) => (fields: Record<string, unknown>, message: string) =>
  appendFileSync(
    logFile,
    `${JSON.stringify({ t: Date.now(), level, message, ...fields }, (_k, v: unknown) => (v instanceof Error ? { message: v.message, stack: v.stack, cause: v.cause } : v))}\n`,
  );
const logger = { debug: () => {}, info: line('info'), warn: line('warn'), error: line('error') };
// Every member replays the same log: all carry the tree once any serves ZooKeeper clients.
const extension = Object.values(config.members).some((m) => m.zk !== undefined) ? new ZkExtension() : undefined;
const server = new KvServer({
  id: id!,
  clusterId: config.clusterId,
  members: config.members,
  ...(joining === undefined ? {} : { observers: { [id!]: member } }),
  dataDir: member.dataDir,
  secret: config.secret!,
  clientSecret: config.clientSecret!,
  node: { tickMs: 20, snapshot: { everySlots: 500, trailingSlots: 100 }, ...(extension === undefined ? {} : { kv: { extension } }) },
  ...(config.shards === undefined ? {} : { shards: config.shards }),
  logger,
});
process.on('message', (m: { block?: string[] }) => {
  if (Array.isArray(m.block)) line('info')({ block: m.block }, 'nemesis: blocking peers');
});
await server.start();
const zk =
  extension === undefined || member.zk === undefined
    ? undefined
    : new ZkServer({ kv: server.kv, extension, address: member.zk, dataDir: member.dataDir, logger });
await zk?.start();
process.on('message', (m: { block?: string[] }) => {
  if (Array.isArray(m.block)) server.blockPeers(m.block);
});
// The test that started it is gone (its worker killed, say): go too, rather than serve on unwatched.
process.on('disconnect', () => process.exit(1));
process.on('SIGTERM', () => {
  void (zk?.close() ?? Promise.resolve()).then(() => server.close()).then(() => process.exit(0));
});
// A failed node stops its server; the process exits, and the nemesis restarts it later.
void server.failed.then(() => process.exit(1));
process.send?.('ready');
