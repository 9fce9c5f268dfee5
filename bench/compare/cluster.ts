/**
 * Starts or stops one system's three-member cluster on its own, outside the harness
 * (to look at it, or to run a client against it by hand):
 *
 *   npx tsx bench/compare/cluster.ts start etcd|zookeeper|synod [--dir DIR]
 *   npx tsx bench/compare/cluster.ts stop --dir DIR
 *
 * `start` leaves the servers running, prints the directory and writes `cluster.json`
 * there: the endpoints and, for each server, its PID and start time. `stop` signals
 * exactly those processes (SIGTERM, then SIGKILL after 5 s), skipping a PID that now
 * belongs to another process, and removes nothing: the data and logs stay in DIR.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { stopServers } from './processes.js';
import { type RunningCluster, systemNames, type SystemName } from './system.js';
import { systems } from './systems.js';

/** The name of the state file in a cluster's directory. */
const stateFile = 'compare-state.json';

/** Writes `cluster`'s state file. */
export async function saveCluster(cluster: RunningCluster): Promise<void> {
  await writeFile(join(cluster.dir, stateFile), `${JSON.stringify(cluster, null, 2)}\n`);
}

/** Reads the state file in `dir`. */
async function loadCluster(dir: string): Promise<RunningCluster> {
  const cluster = JSON.parse(await readFile(join(dir, stateFile), 'utf8')) as RunningCluster;
  if (!systemNames.includes(cluster.system) || !Array.isArray(cluster.servers)) throw new Error(`${join(dir, stateFile)} is not a cluster state file`);
  for (const s of cluster.servers) {
    if (!Number.isSafeInteger(s.pid) || s.pid <= 1 || !Number.isSafeInteger(s.startTicks))
      throw new Error(`${join(dir, stateFile)}: bad server record ${JSON.stringify(s)}`);
  }
  return cluster;
}

async function main(argv: readonly string[]): Promise<void> {
  const dirFlag = argv.indexOf('--dir');
  const dir = dirFlag >= 0 ? argv[dirFlag + 1] : undefined;
  if (argv[0] === 'start') {
    const name = argv[1] as SystemName;
    if (!systemNames.includes(name)) throw new Error(`usage: cluster.ts start ${systemNames.join('|')} [--dir DIR]`);
    const target = resolve(dir ?? (await mkdtemp(join(os.tmpdir(), `synod-compare-${name}-`))));
    const cluster = await systems[name].start(target);
    await saveCluster(cluster);
    console.log(
      `${name}: ${cluster.endpoints.join(', ')}; pids ${cluster.servers.map((s) => s.pid).join(', ')}; stop with: npx tsx bench/compare/cluster.ts stop --dir ${target}`,
    );
  } else if (argv[0] === 'stop' && dir !== undefined) {
    const cluster = await loadCluster(resolve(dir));
    await stopServers(cluster.servers);
    console.log(`${cluster.system}: stopped pids ${cluster.servers.map((s) => s.pid).join(', ')}`);
  } else {
    throw new Error(`usage: cluster.ts start ${systemNames.join('|')} [--dir DIR] | cluster.ts stop --dir DIR`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
