/**
 * Test helper: a real ZooKeeper 3.8 (the Debian `zookeeper` package's jar, on java),
 * standalone or an ensemble, started in a temporary directory and killed after.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../../src/cli/cluster-up.js';
import { exit } from '../cli/cli-processes.js';
import { fourLetterWord } from './four-letter-word.js';

/** The classpath of the Debian package's server and client. */
export const zookeeperClasspath = '/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-api.jar';

/** Why a real ZooKeeper cannot run here, or undefined if it can. */
export const zookeeperMissing: string | undefined = !existsSync('/usr/share/java/zookeeper.jar')
  ? 'the zookeeper package is not installed (run scripts/install-system-packages.sh)'
  : !existsSync('/usr/bin/java')
    ? 'java is not installed'
    : undefined;

/** A running ZooKeeper: its client ports, and how to stop it. */
export interface RealZooKeeper {
  readonly ports: readonly number[];
  stop(): Promise<void>;
}

/**
 * Starts `servers` ZooKeeper servers in `dir` (1: standalone) and waits until they
 * serve. TTL nodes are enabled (`zookeeper.extendedTypesEnabled`), as synod has them;
 * `containerCheckMs` is `znode.container.checkIntervalMs` (ZooKeeper's default 60 s).
 */
export async function startZooKeeper(dir: string, servers: number, options: { containerCheckMs?: number } = {}): Promise<RealZooKeeper> {
  const properties = [
    '-Dzookeeper.extendedTypesEnabled=true',
    ...(options.containerCheckMs === undefined ? [] : [`-Dznode.container.checkIntervalMs=${options.containerCheckMs}`]),
  ];
  const ports = await Promise.all(
    Array.from({ length: servers }, async () => ({ client: await freePort(), quorum: await freePort(), election: await freePort() })),
  );
  const children: ChildProcess[] = [];
  for (const [i, p] of ports.entries()) {
    const data = join(dir, `zk${i + 1}`);
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'myid'), `${i + 1}\n`);
    const ensemble = servers === 1 ? '' : ports.map((q, j) => `server.${j + 1}=127.0.0.1:${q.quorum}:${q.election}`).join('\n');
    await writeFile(
      join(data, 'zoo.cfg'),
      `tickTime=200\ninitLimit=50\nsyncLimit=25\ndataDir=${data}\nclientPort=${p.client}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\nmaxSessionTimeout=40000\n${ensemble}\n`,
    );
    const main = servers === 1 ? 'org.apache.zookeeper.server.ZooKeeperServerMain' : 'org.apache.zookeeper.server.quorum.QuorumPeerMain';
    children.push(
      spawn('/usr/bin/java', ['-Dzookeeper.root.logger=ERROR,CONSOLE', ...properties, '-cp', zookeeperClasspath, main, join(data, 'zoo.cfg')], {
        stdio: 'ignore',
      }),
    );
  }
  const stop = () => Promise.all(children.map((c) => exit(c, 'SIGKILL'))).then(() => undefined);
  try {
    const deadline = Date.now() + 25_000;
    const serving = async (port: number) => /Mode: (leader|follower|standalone)/.test(await fourLetterWord(port, 'srvr'));
    while (!(await Promise.all(ports.map((p) => serving(p.client)))).every(Boolean)) {
      // A server that exited (its port taken since freePort chose it) will never serve.
      const gone = children.find((c) => c.exitCode !== null);
      if (gone !== undefined) throw new Error(`ZooKeeper exited with code ${gone.exitCode} before serving`);
      if (Date.now() > deadline) throw new Error('timed out waiting for ZooKeeper to serve');
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { ports: ports.map((p) => p.client), stop };
}
