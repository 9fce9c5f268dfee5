/**
 * A local cluster file (`writeLocalCluster`) whose members each have a ZooKeeper port,
 * for tests that start `synod serve` processes serving ZooKeeper clients.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { freePort, writeLocalCluster } from '../../src/cli/cluster-up.js';

/** Writes the cluster file of `members` members in `dir`; returns its path and each member's ZooKeeper port. */
export async function writeZkCluster(dir: string, members: number): Promise<{ config: string; zkPorts: Record<string, number> }> {
  const config = await writeLocalCluster(dir, members);
  const cluster = JSON.parse(await readFile(config, 'utf8')) as { members: Record<string, Record<string, string>> };
  const zkPorts: Record<string, number> = {};
  for (const id of Object.keys(cluster.members)) {
    zkPorts[id] = await freePort();
    cluster.members[id]!['zk'] = `127.0.0.1:${zkPorts[id]}`;
  }
  await writeFile(config, JSON.stringify(cluster));
  return { config, zkPorts };
}
