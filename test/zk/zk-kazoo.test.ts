/**
 * kazoo, a ZooKeeper client no one here wrote, against a 3-member synod cluster of
 * real processes serving ZooKeeper clients: CRUD with versions, ephemeral and
 * sequential nodes, a one-shot watch, multi, and the Lock, Counter, Queue, Barrier,
 * Election and Semaphore recipes; then the member its client is connected to is
 * killed, and the session moves to another member with its ephemeral node, its lock,
 * its leadership and its semaphore lease (issue 16, section 3).
 *
 * Needs python3-kazoo (scripts/install-system-packages.sh installs it); skips, saying
 * so, where it cannot be imported.
 */
import { execFileSync, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerProcesses, root, until } from '../cli/cli-processes.js';
import { fourLetterWord } from './four-letter-word.js';
import { writeZkCluster } from './zk-cluster-file.js';

/** The python that has kazoo (Debian's, not a pyenv shim), or why there is none. */
function kazooPython(): { python: string } | { missing: string } {
  for (const python of ['/usr/bin/python3', 'python3']) {
    try {
      execFileSync(python, ['-c', 'import kazoo.client'], { stdio: 'ignore' });
      return { python };
    } catch {
      // Try the next.
    }
  }
  return { missing: 'python3-kazoo is not installed (run scripts/install-system-packages.sh)' };
}

const kazoo = kazooPython();
if ('missing' in kazoo) console.warn(`zk-kazoo.test.ts skipped: ${kazoo.missing}`);

describe.skipIf('missing' in kazoo)('kazoo against a 3-member synod cluster', () => {
  const servers = new ServerProcesses();
  let dir = '';
  let config = '';
  let zkPorts: Record<string, number> = {};
  const pids: Record<string, number> = {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'synod-zk-'));
    ({ config, zkPorts } = await writeZkCluster(dir, 3));
    for (const id of Object.keys(zkPorts)) {
      const child = servers.serve(config, id, ['--tick-ms', '20']);
      pids[id] = child.pid!;
    }
    for (const id of Object.keys(zkPorts))
      await until(`member ${id} answering ruok`, 20_000, async () => (await fourLetterWord(zkPorts[id]!, 'ruok')) === 'imok');
  }, 30_000);

  afterAll(async () => {
    await servers.killAll();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers the four-letter words operators script against', async () => {
    const modesNow = () => Promise.all(Object.values(zkPorts).map(async (port) => /Mode: (\w+)/.exec(await fourLetterWord(port, 'srvr'))?.[1]));
    await until('a leader', 10_000, async () => (await modesNow()).includes('leader'));
    const modes = await modesNow();
    expect(
      modes.filter((m) => m === 'leader'),
      modes.join(),
    ).toHaveLength(1);
    expect(modes.filter((m) => m === 'follower')).toHaveLength(2);
    expect(await fourLetterWord(zkPorts['a']!, 'isro')).toBe('rw');
    expect(await fourLetterWord(zkPorts['a']!, 'mntr')).toMatch(/^zk_server_state\t(leader|follower)$/m);
    expect(await fourLetterWord(zkPorts['a']!, 'conf')).toContain(`clientPort=${zkPorts['a']}`);
  });

  it('serves kazoo: versions, ephemeral and sequential nodes, a watch, multi, the recipes; a killed member moves the session with its ephemeral, lock, leadership and lease', async () => {
    const hosts = Object.values(zkPorts)
      .map((p) => `127.0.0.1:${p}`)
      .join(',');
    const portPids = Object.keys(zkPorts).map((id) => `${zkPorts[id]}=${pids[id]}`);
    const out = await new Promise<string>((resolve, reject) => {
      execFile(
        (kazoo as { python: string }).python,
        [join(root, 'test', 'zk', 'clients', 'kazoo-session.py'), hosts, ...portPids],
        { timeout: 90_000 },
        (error, stdout, stderr) => {
          if (error !== null) reject(new Error(`kazoo script failed: ${error.message}\n${stderr}`));
          else resolve(stdout);
        },
      );
    });
    const seen = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(seen).toMatchObject({
      create: '/app/config',
      get: ['v1', 0, 2, 0],
      badVersion: true,
      nodeExists: true,
      notEmpty: true,
      noNode: true,
      'read-your-write-on-b': 'v2',
      seq: ['/app/job-0000000001', '/app/job-0000000002', '/app/job-0000000003'],
      ephemeral: '/app/alive',
      ephemeralOwner: true,
      watch: [['CHANGED', '/app/config']],
      multiFailed: ['RolledBackError', 'BadVersionError'],
      multiLeftNothing: true,
      multiOk: ['/app/t1', 'ZnodeStat'],
      lockA: true,
      lockBWhileHeld: false,
      sameSession: true,
      ephemeralSurvived: true,
      lockBAfterMove: false,
      lockContendersAfterMove: ['a'],
      lockNodeOwnedAfterMove: true,
      // kazoo 2.8 drops its one-shot watches on a lost connection, telling each with a NONE event...
      watchAfterMove: [['NONE', null]],
      // ...while its DataWatch recipe sets its watch again after the move and sees the change.
      dataWatchAfterMove: 'after-move',
      lockBAfterRelease: true,
      counter: 6,
      queue: ['one', 'two'],
      barrierUp: false,
      electionLeader: ['a'],
      semaphoreA: true,
      semaphoreBWhileHeld: false,
      electionLeaderAfterMove: ['a'],
      semaphoreBAfterMove: false,
      counterAfterMove: 16,
      queueAfterMove: 'three',
      barrierDown: true,
      semaphoreBAfterRelease: true,
      ephemeralGoneAfterClose: true,
    });
    expect(seen['movedTo']).not.toBe(seen['killed']);
  }, 120_000);
});
