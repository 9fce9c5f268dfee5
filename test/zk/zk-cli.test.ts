/**
 * zkCli, ZooKeeper's own command line client, runs one scripted session (create, ls,
 * get -w, set with a version, delete, ephemeral and sequential nodes, addWatch,
 * addauth + setAcl, sync, getAllChildrenNumber, getEphemerals) against a real 3-server
 * ZooKeeper 3.8 ensemble started here and against a 3-member synod cluster: the
 * outputs must be the same, but for what differs by design (zxids, times, session ids)
 * and the order of what ZooKeeper returns unordered (issue 16, section 3). Watch
 * events are compared as a set: zkCli prints them from another thread. The session
 * ends by creating containers and TTL nodes and emptying one container; once both
 * servers deleted the emptied container and the short-lived TTL node (each checking
 * every 200 ms), a second session must print the same on both; and a client watching
 * a container and a TTL node the servers delete gets the same events from both.
 *
 * Needs the `zookeeper` Debian package and java (scripts/install-system-packages.sh);
 * skips, saying so, where they are missing.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, writeLocalCluster } from '../../src/cli/cluster-up.js';
import { ServerProcesses, root, until } from '../cli/cli-processes.js';
import { openAcl } from '../../src/zk/index.js';
import { WireClient } from './server/zk-wire-client.js';
import { type RealZooKeeper, startZooKeeper, zookeeperClasspath as classpath, zookeeperMissing as missing } from './real-zookeeper.js';
import { fourLetterWord } from './four-letter-word.js';

if (missing !== undefined) console.warn(`zk-cli.test.ts skipped: ${missing}`);

/** Runs the scripted session with zkCli against `port`. */
function zkCli(port: number, script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      '/usr/bin/java',
      ['-Dzookeeper.root.logger=ERROR,CONSOLE', '-cp', classpath, 'org.apache.zookeeper.ZooKeeperMain', '-server', `127.0.0.1:${port}`],
      { timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error !== null) reject(new Error(`zkCli failed: ${error.message}\n${stderr}`));
        else resolve(stdout + stderr);
      },
    );
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
    lines.push(
      line
        .replace(/^(cZxid|mZxid|pZxid|ctime|mtime|ephemeralOwner) = .*/, '$1 = X')
        .replace(/^\[(.*)\]$/, (_m, list: string) => `[${list.split(', ').sort().join(', ')}]`),
    );
  }
  return { lines, events: events.sort() };
}

describe.skipIf(missing !== undefined)('zkCli: a scripted session against real ZooKeeper and against synod', () => {
  const servers = new ServerProcesses();
  let zookeeper: RealZooKeeper | undefined;
  // Kept so afterAll stops a ZooKeeper whose start outlived a failed beforeAll.
  let starting: Promise<RealZooKeeper> | undefined;
  let dir = '';
  let synodPort = 0;
  let zookeeperPort = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'synod-zkcli-'));
    // A real ensemble of three ZooKeeper 3.8 servers, started while synod's members start.
    const real = (starting = startZooKeeper(dir, 3, { containerCheckMs: 200 }));
    // A 3-member synod cluster serving ZooKeeper clients.
    const config = await writeLocalCluster(join(dir, 'synod'), 3);
    const cluster = JSON.parse(await readFile(config, 'utf8')) as { members: Record<string, Record<string, string>> };
    const zkPorts: number[] = [];
    for (const id of Object.keys(cluster.members)) {
      zkPorts.push(await freePort());
      cluster.members[id]!['zk'] = `127.0.0.1:${zkPorts[zkPorts.length - 1]}`;
    }
    await writeFile(config, JSON.stringify(cluster));
    for (const id of Object.keys(cluster.members)) servers.serve(config, id, ['--tick-ms', '20', '--zk-node-check-ms', '200']);
    synodPort = zkPorts[1]!;
    zookeeper = await real;
    zookeeperPort = zookeeper.ports[1]!;
    await until('a synod leader', 25_000, async () =>
      (await Promise.all(zkPorts.map((p) => fourLetterWord(p, 'srvr')))).some((t) => t.includes('Mode: leader')),
    );
  }, 40_000);

  afterAll(async () => {
    await (zookeeper ?? (await starting?.catch(() => undefined)))?.stop();
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

  it('deletes the emptied container and the expired TTL node as ZooKeeper does, and keeps the rest', async () => {
    const gone = async (port: number) => {
      const client = await WireClient.open(port);
      try {
        await client.handshake({ timeoutMs: 10_000 });
        const answers = await Promise.all(['/box', '/short'].map((path) => client.call({ type: 'exists', path, watch: false })));
        return answers.every((a) => a.err === -101);
      } finally {
        client.close();
      }
    };
    await until('both deleted /box and /short', 15_000, async () => (await gone(zookeeperPort)) && (await gone(synodPort)));
    const script = await readFile(join(root, 'test', 'zk', 'clients', 'zkcli-after-expiry.txt'), 'utf8');
    const [real, ours] = await Promise.all([zkCli(zookeeperPort, script), zkCli(synodPort, script)]);
    const expected = normalize(real);
    expect(expected.lines).toContain('Node does not exist: /box');
    expect(normalize(ours).lines, ours).toEqual(expected.lines);
  }, 40_000);

  it('fires the same watch events on both when a container and a TTL node are deleted by the server', async () => {
    const events = async (port: number): Promise<unknown> => {
      const client = await WireClient.open(port);
      try {
        await client.handshake({ timeoutMs: 10_000 });
        const create = (path: string, kind?: 'container' | 'ttl') =>
          client.call({
            type: 'write',
            request: {
              op: 'create',
              path,
              data: new Uint8Array(0),
              acl: openAcl,
              flags: kind === 'ttl' ? 5 : 0,
              withStat: true,
              ...(kind === undefined ? {} : kind === 'ttl' ? { kind, ttlMs: 300 } : { kind }),
            },
          });
        const answers = [await create('/wbox', 'container'), await create('/wbox/item'), await create('/wttl', 'ttl')].map((f) => f.err);
        for (const path of ['/wbox', '/wttl']) await client.call({ type: 'getData', path, watch: true });
        await client.call({ type: 'getChildren', path: '/', watch: true });
        answers.push((await client.call({ type: 'write', request: { op: 'delete', path: '/wbox/item', version: -1 } })).err);
        // One request at a time: the client reads its replies in order.
        const absent = async (path: string) => (await client.call({ type: 'exists', path, watch: false })).err === -101;
        await until('/wbox and /wttl deleted', 15_000, async () => (await absent('/wbox')) && (await absent('/wttl')));
        await client.call({ type: 'sync', path: '/' });
        return { answers, events: client.events.sort() };
      } finally {
        client.close();
      }
    };
    const [real, ours] = await Promise.all([events(zookeeperPort), events(synodPort)]);
    expect(real).toEqual({
      answers: [0, 0, 0, 0],
      events: [
        [2, '/wbox'],
        [2, '/wttl'],
        [4, '/'],
      ],
    });
    expect(ours).toEqual(real);
  }, 40_000);
});
