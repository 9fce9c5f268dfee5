/**
 * zkCli, ZooKeeper's own command line client, runs one scripted session (create, ls,
 * get -w, set with a version, delete, ephemeral and sequential nodes, addWatch,
 * addauth + setAcl, sync, getAllChildrenNumber, getEphemerals) against a real 3-server
 * ZooKeeper 3.8 ensemble started here and against a 3-member synod cluster: the
 * outputs must be the same, but for what differs by design (zxids, times, session ids)
 * and the order of what ZooKeeper returns unordered (issue 16, section 3). Watch
 * events are compared as a set: zkCli prints them from another thread.
 *
 * Needs the `zookeeper` Debian package and java (scripts/install-system-packages.sh);
 * skips, saying so, where they are missing.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, writeLocalCluster } from '../../src/cli/cluster-up.js';
import { ServerProcesses, exit, root, until } from '../cli/cli-processes.js';

const classpath = '/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-api.jar';
const missing = !existsSync('/usr/share/java/zookeeper.jar') ? 'the zookeeper package is not installed (run scripts/install-system-packages.sh)' : !existsSync('/usr/bin/java') ? 'java is not installed' : undefined;
if (missing !== undefined) console.warn(`zk-cli.test.ts skipped: ${missing}`);

function fourLetterWord(port: number, word: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(word));
    let text = '';
    socket.on('data', (b) => (text += b.toString('utf8')));
    socket.on('end', () => resolve(text));
    socket.on('error', () => resolve(''));
  });
}

/** Runs the scripted session with zkCli against `port`. */
function zkCli(port: number, script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('/usr/bin/java', ['-Dzookeeper.root.logger=ERROR,CONSOLE', '-cp', classpath, 'org.apache.zookeeper.ZooKeeperMain', '-server', `127.0.0.1:${port}`], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`zkCli failed: ${error.message}\n${stderr}`));
      else resolve(stdout + stderr);
    });
    child.stdin!.end(script);
  });
}

/**
 * The session's output without what differs by design: zxids, times and session ids
 * masked, ZooKeeper's unordered lists sorted, and the watch events (printed by
 * zkCli's event thread, racing the main one) taken out and sorted apart.
 */
function normalize(output: string): { lines: string[]; events: string[] } {
  const lines: string[] = [];
  const events: string[] = [];
  for (const line of output.split('\n')) {
    if (line.startsWith('SLF4J') || line === 'WATCHER::' || line.trim() === '' || line.startsWith('Connecting to')) continue;
    // The client's own end of session (Closed, and a Disconnected its threads may race to report first) is no server's answer.
    if (/^WatchedEvent state:(Closed|Disconnected) type:None/.test(line)) continue;
    if (line.startsWith('WatchedEvent')) {
      events.push(line);
      continue;
    }
    lines.push(line.replace(/^(cZxid|mZxid|pZxid|ctime|mtime|ephemeralOwner) = .*/, '$1 = X').replace(/^\[(.*)\]$/, (_m, list: string) => `[${list.split(', ').sort().join(', ')}]`));
  }
  return { lines, events: events.sort() };
}

describe.skipIf(missing !== undefined)('zkCli: a scripted session against real ZooKeeper and against synod', () => {
  const servers = new ServerProcesses();
  const zookeepers: ChildProcess[] = [];
  let dir = '';
  let synodPort = 0;
  let zookeeperPort = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'synod-zkcli-'));
    // A real ensemble of three ZooKeeper 3.8 servers.
    const ports = await Promise.all([1, 2, 3].map(async () => ({ client: await freePort(), quorum: await freePort(), election: await freePort() })));
    for (const [i, p] of ports.entries()) {
      const data = join(dir, `zk${i + 1}`);
      await mkdir(data, { recursive: true });
      await writeFile(join(data, 'myid'), `${i + 1}\n`);
      const servers = ports.map((q, j) => `server.${j + 1}=127.0.0.1:${q.quorum}:${q.election}`).join('\n');
      await writeFile(join(data, 'zoo.cfg'), `tickTime=200\ninitLimit=50\nsyncLimit=25\ndataDir=${data}\nclientPort=${p.client}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\n${servers}\n`);
      zookeepers.push(spawn('/usr/bin/java', ['-Dzookeeper.root.logger=ERROR,CONSOLE', '-cp', classpath, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', join(data, 'zoo.cfg')], { stdio: 'ignore' }));
    }
    zookeeperPort = ports[1]!.client;
    // A 3-member synod cluster serving ZooKeeper clients.
    const config = await writeLocalCluster(join(dir, 'synod'), 3);
    const cluster = JSON.parse(await readFile(config, 'utf8')) as { members: Record<string, Record<string, string>> };
    const zkPorts: number[] = [];
    for (const id of Object.keys(cluster.members)) {
      zkPorts.push(await freePort());
      cluster.members[id]!['zk'] = `127.0.0.1:${zkPorts[zkPorts.length - 1]}`;
    }
    await writeFile(config, JSON.stringify(cluster));
    for (const id of Object.keys(cluster.members)) servers.serve(config, id, ['--tick-ms', '20']);
    synodPort = zkPorts[1]!;
    const serving = async (port: number) => /Mode: (leader|follower)/.test(await fourLetterWord(port, 'srvr'));
    await until('a ZooKeeper quorum', 25_000, async () => (await Promise.all(ports.map((p) => serving(p.client)))).every(Boolean));
    await until('a synod leader', 25_000, async () => (await Promise.all(zkPorts.map((p) => fourLetterWord(p, 'srvr')))).some((t) => t.includes('Mode: leader')));
  }, 40_000);

  afterAll(async () => {
    await Promise.all(zookeepers.map((z) => exit(z, 'SIGKILL')));
    await servers.killAll();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the same for the same session', async () => {
    const script = await readFile(join(root, 'test', 'zk', 'clients', 'zkcli-session.txt'), 'utf8');
    const [real, ours] = await Promise.all([zkCli(zookeeperPort, script), zkCli(synodPort, script)]);
    const expected = normalize(real);
    const actual = normalize(ours);
    expect(expected.lines.length).toBeGreaterThan(40);
    expect(actual.lines, ours).toEqual(expected.lines);
    expect(actual.events, ours).toEqual(expected.events);
  }, 40_000);
});
