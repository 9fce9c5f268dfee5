/**
 * Apache Curator, the ZooKeeper client most users run (through Kafka, HBase, Hadoop),
 * against a 3-member synod cluster of real processes serving ZooKeeper clients: its
 * InterProcessMutex, DistributedAtomicLong, LeaderLatch, SharedCount and CuratorCache
 * recipes over four sessions at once; then the member one session is connected to is
 * killed, and the session moves with its lock and its ephemeral node (issue 16).
 *
 * The client is test/zk/clients/curator/CuratorRecipes.java, run by Java's source
 * launcher against Debian's Curator 5.4 and ZooKeeper 3.8 jars. Needs a JDK and
 * libcurator-recipes-java (scripts/install-system-packages.sh installs both); skips,
 * saying so, where they are missing.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerProcesses, root, until } from '../cli/cli-processes.js';
import { fourLetterWord } from './four-letter-word.js';
import { writeZkCluster } from './zk-cluster-file.js';

const recipesJar = '/usr/share/java/curator-recipes.jar';
/** Curator logs through SLF4J; the no-op binding keeps its output to what the program prints. */
const classPath = [recipesJar, '/usr/share/java/slf4j-nop.jar'].join(':');

/** Why Curator cannot run here, or undefined. */
function missing(): string | undefined {
  if (!existsSync(recipesJar)) return `${recipesJar} is missing (libcurator-recipes-java; run scripts/install-system-packages.sh)`;
  try {
    // The source launcher needs the JDK's compiler, which a JRE alone lacks.
    execFileSync('javac', ['-version'], { stdio: 'ignore' });
  } catch {
    return 'no JDK (javac) on the PATH (openjdk-17-jdk-headless; run scripts/install-system-packages.sh)';
  }
  return undefined;
}

const why = missing();
if (why !== undefined) console.warn(`zk-curator.test.ts skipped: ${why}`);

describe.skipIf(why !== undefined)('Apache Curator against a 3-member synod cluster', () => {
  const servers = new ServerProcesses();
  let dir = '';
  let config = '';
  let zkPorts: Record<string, number> = {};
  const children: Record<string, ReturnType<ServerProcesses['serve']>> = {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'synod-curator-'));
    ({ config, zkPorts } = await writeZkCluster(dir, 3));
    for (const id of Object.keys(zkPorts)) children[id] = servers.serve(config, id, ['--tick-ms', '20']);
    for (const id of Object.keys(zkPorts))
      await until(`member ${id} answering ruok`, 20_000, async () => (await fourLetterWord(zkPorts[id]!, 'ruok')) === 'imok');
  }, 30_000);

  afterAll(async () => {
    await servers.killAll();
    await rm(dir, { recursive: true, force: true });
  });

  it("runs Curator's mutex, atomic long, leader latch, shared count and cache over four sessions; a killed member moves a session with its lock and ephemeral node", async () => {
    const hosts = Object.values(zkPorts)
      .map((p) => `127.0.0.1:${p}`)
      .join(',');
    const java = spawn('java', ['-cp', classPath, join(root, 'test', 'zk', 'clients', 'curator', 'CuratorRecipes.java'), hosts], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    java.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const lines: string[] = [];
    let killed: string | undefined;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        java.kill('SIGKILL');
        reject(new Error(`Curator program timed out; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`));
      }, 150_000);
      java.on('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`Curator program exited with ${code}; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`));
      });
    });
    createInterface({ input: java.stdout }).on('line', (line) => {
      lines.push(line);
      const kill = /^KILL ([0-9a-f]+)$/.exec(line);
      if (kill === null) return;
      // The member whose connections list that session (`cons`): kill it, then let the program go on.
      void (async () => {
        for (const [id, port] of Object.entries(zkPorts)) {
          if ((await fourLetterWord(port, 'cons')).includes(`sid=0x${kill[1]}`)) {
            killed = id;
            children[id]!.kill('SIGKILL');
            break;
          }
        }
        java.stdin.write(`killed ${killed ?? 'none'}\n`);
      })();
    });
    await done;
    const seen = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
    expect(killed, 'the session was found on a member').toBeDefined();
    expect(seen).toMatchObject({
      // 4 sessions × 25 rounds, each a read and a versioned write under the lock: no conflict.
      mutexCounter: 100,
      mutexConflicts: 0,
      atomic: 100,
      atomicFailed: 0,
      latchLeaders: 1,
      latchLeadersAfterLeaving: 1,
      sharedSet: true,
      sharedStaleSet: false,
      shared: 5,
      cache: ['create /cache/x 1', 'change /cache/x 2', 'delete /cache/x'],
      moveLockHeld: true,
      killed: `killed ${killed}`,
      sameSession: true,
      ephemeralSurvived: true,
      moveLockStillHeld: true,
      contenderWhileHeld: false,
      contenderAfterRelease: true,
      mutexCounterAfterMove: 120,
      mutexConflictsAfterMove: 0,
    });
    // The session moved: suspended, then reconnected, never lost.
    expect(seen['statesDuringMove']).not.toContain('LOST');
    expect(seen['statesDuringMove']).toContain('RECONNECTED');
  }, 180_000);
});
