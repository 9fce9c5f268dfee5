/**
 * GroupHost over a SharedFileLog on real files: each host keeps all its groups in one
 * log. Groups propose, every host restarts (host and log closed, the log reopened),
 * and each group's state is back, its own only, and goes on.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GroupHost, MemoryNetwork, type SynodNode } from '../../src/index.js';
import { SharedFileLog } from '../../src/storage/file/index.js';
import { type Add, Counters } from '../runtime/local-cluster.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

const hostIds = ['a', 'b', 'c'];
const placement: Record<number, string[]> = { 1: ['a', 'b', 'c'], 2: ['a', 'b', 'c'], 7: ['a'] };

/** Every host on its own shared log in `dirs`, every group of `placement` created and started. */
async function startHosts(network: MemoryNetwork, logDirs: Map<string, string>) {
  const logs = new Map<string, SharedFileLog>();
  for (const id of hostIds) logs.set(id, await SharedFileLog.open(logDirs.get(id)!));
  const hosts = hostIds.map((id) => new GroupHost({ id, transport: network.transport(id), storage: (group) => logs.get(id)!.group(group) }));
  await Promise.all(hosts.map((h) => h.start()));
  const nodes = new Map<string, SynodNode<Add, number>>();
  const machines = new Map<string, Counters>();
  for (const [group, members] of Object.entries(placement)) {
    for (const host of hosts.filter((h) => members.includes(h.id))) {
      const machine = new Counters();
      machines.set(`${group}/${host.id}`, machine);
      nodes.set(`${group}/${host.id}`, host.createGroup<Add, number>(Number(group), { members, stateMachine: machine, tickMs: 10 }));
    }
  }
  await Promise.all([...nodes.values()].map((n) => n.start()));
  const stop = async (): Promise<void> => {
    await Promise.all(hosts.map((h) => h.close()));
    for (const log of logs.values()) await log.close();
  };
  return { logs, nodes, machines, stop };
}

describe('GroupHost over a SharedFileLog', () => {
  it('groups keep their own state across a restart of every host', async () => {
    const logDirs = new Map<string, string>();
    for (const id of hostIds) {
      const dir = await mkdtemp(join(tmpdir(), `synod-shared-host-${id}-`));
      dirs.push(dir);
      logDirs.set(id, dir);
    }
    const network = new MemoryNetwork({ delayMs: { min: 0, max: 1 } });
    const first = await startHosts(network, logDirs);
    for (const [group, members] of Object.entries(placement)) {
      const node = first.nodes.get(`${group}/${members[members.length - 1]}`)!;
      await node.propose({ key: `g${group}`, add: 1 });
      expect(await node.propose({ key: `g${group}`, add: Number(group) })).toBe(1 + Number(group));
    }
    // Host a's one log holds all three groups, and its group commits shared syncs.
    const stats = first.logs.get('a')!.stats;
    expect(stats.groups).toBe(3);
    expect(stats.persists).toBeGreaterThan(stats.fsyncs);
    await first.stop();

    const second = await startHosts(network, logDirs);
    for (const [group, members] of Object.entries(placement)) {
      const node = second.nodes.get(`${group}/${members[0]}`)!;
      expect(await node.propose({ key: `g${group}`, add: 100 })).toBe(101 + Number(group));
      for (const id of members) {
        const replica = second.nodes.get(`${group}/${id}`)!;
        await replica.read();
        expect([...second.machines.get(`${group}/${id}`)!.values]).toEqual([[`g${group}`, 101 + Number(group)]]);
      }
    }
    await second.stop();
  }, 30_000);
});
