/**
 * Many groups over real sockets: three GroupHosts, each over one TcpTransport, run two
 * groups with different members; every group's messages cross the wire tagged with
 * their group (the codec's group frames) and each group applies only its own commands.
 */
import { afterEach, expect, it } from 'vitest';
import { GroupHost, MemoryStorage, type SynodNode } from '../../src/index.js';
import { type Add, Counters } from '../runtime/local-cluster.js';
import { freePorts, tcpTransport } from '../transport/tcp/helpers.js';

const hosts: GroupHost[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.close()));
});

it('two groups with different members run over one TCP transport per host', async () => {
  const ids = ['a', 'b', 'c'];
  const ports = await freePorts(3);
  for (const id of ids) hosts.push(new GroupHost({ id, transport: tcpTransport(id, ids, ports), storage: () => new MemoryStorage() }));
  await Promise.all(hosts.map((h) => h.start()));
  // Group 5 on all three; group 40,000 (a three-byte varint) on b and c alone.
  const placement: [number, string[]][] = [
    [5, ['a', 'b', 'c']],
    [40_000, ['b', 'c']],
  ];
  const machines = new Map<string, Counters>();
  const nodes: SynodNode<Add, number>[] = [];
  for (const [group, members] of placement) {
    for (const host of hosts.filter((h) => members.includes(h.id))) {
      const machine = new Counters();
      machines.set(`${group}/${host.id}`, machine);
      nodes.push(host.createGroup<Add, number>(group, { members, stateMachine: machine, tickMs: 10 }));
    }
  }
  await Promise.all(nodes.map((n) => n.start()));
  expect(await hosts[2]!.group<Add, number>(5)!.propose({ key: 'five', add: 5 })).toBe(5);
  expect(await hosts[1]!.group<Add, number>(40_000)!.propose({ key: 'forty', add: 4 })).toBe(4);
  for (const [group, members] of placement) {
    for (const host of hosts.filter((h) => members.includes(h.id))) {
      await host.group<Add, number>(group)!.read();
      expect([...machines.get(`${group}/${host.id}`)!.values.keys()]).toEqual([group === 5 ? 'five' : 'forty']);
    }
  }
  // a runs no node of group 40,000 and no group's node sends it one: nothing dropped anywhere.
  for (const h of hosts) expect(h.counts().dropped).toEqual({ 'unknown-group': 0, 'group-not-started': 0, untagged: 0, malformed: 0 });
  expect(hosts.every((h) => h.counts().delivered > 0)).toBe(true);
}, 30_000);
