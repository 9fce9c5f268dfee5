/**
 * The group host: many groups' nodes over one transport. Routing is exact (a message
 * reaches only the node of the group it is tagged with), a message for a group that
 * does not run here is dropped and counted by reason (never delivered elsewhere, never
 * thrown), groups come and go at runtime, and misuse throws typed errors.
 */
import { describe, expect, it } from 'vitest';
import {
  ClosedError,
  ConfigError,
  DuplicateGroupError,
  type GroupMessage,
  GroupHost,
  type GroupMemberMessage,
  MemoryNetwork,
  MemoryStorage,
  type SynodNode,
  SynodError,
  UnknownGroupError,
  GroupTransport,
  type HostedGroupOptions,
  createNode,
  encodeMessage,
  groupIdMax,
  systemClock,
} from '../../src/index.js';
import { type Add, Counters } from '../runtime/local-cluster.js';
import { HandTransport, keeper } from './hand-transport.js';

const prepare = (from: string, to: string): GroupMemberMessage => ({ type: 'prepare', from, to, ballot: { round: 3, node: from }, firstSlot: 1 });
const tagged = (group: number, m: GroupMemberMessage): GroupMessage => ({ type: 'group', from: m.from, to: m.to, group, message: m });

async function handHost(): Promise<{ host: GroupHost; shared: HandTransport }> {
  const shared = new HandTransport();
  const host = new GroupHost({ id: 'a', transport: shared, storage: () => new MemoryStorage() });
  await host.start();
  return { host, shared };
}

describe('GroupHost routing', () => {
  it("hands a message only to the node of the group it is tagged with, without the tag; sends each group's messages tagged", async () => {
    const { host, shared } = await handHost();
    const one = keeper();
    const two = keeper();
    const t1 = host.groupTransport(1);
    const t2 = host.groupTransport(200);
    await t1.start(one.handlers);
    await t2.start(two.handlers);

    const m = prepare('b', 'a');
    shared.deliver(tagged(1, m));
    expect(one.got).toEqual([m]);
    expect(two.got).toEqual([]);
    shared.deliver(tagged(200, prepare('c', 'a')));
    expect(two.got).toEqual([prepare('c', 'a')]);
    expect(one.got).toHaveLength(1);

    t2.send(prepare('a', 'c'));
    expect(shared.sent).toEqual([tagged(200, prepare('a', 'c'))]);
    // On the wire the group id is a varint: group 200 costs two bytes over the message alone.
    expect(encodeMessage(shared.sent[0]!).byteLength).toBe(encodeMessage(prepare('a', 'c')).byteLength + 2);
    expect(host.counts()).toEqual({
      sent: 1,
      delivered: 2,
      pingsSent: 0,
      pingsReceived: 0,
      suspicions: 0,
      heartbeats: 0,
      heartbeatMessages: 0,
      dropped: { 'unknown-group': 0, 'group-not-started': 0, untagged: 0, malformed: 0 },
    });

    shared.handlers!.peerUnreachable('c');
    expect(one.peers).toEqual(['c down']);
    expect(two.peers).toEqual(['c down']);
    await host.close();
  });

  it('drops a message for a group that does not run here, counted as unknown-group, and delivers it to no other group', async () => {
    const { host, shared } = await handHost();
    const one = keeper();
    const t1 = host.groupTransport(1);
    await t1.start(one.handlers);
    expect(() => shared.deliver(tagged(2, prepare('b', 'a')))).not.toThrow();
    shared.deliver(tagged(groupIdMax, prepare('b', 'a')));
    expect(one.got).toEqual([]);
    expect(host.counts().dropped['unknown-group']).toBe(2);
    expect(host.counts().delivered).toBe(0);
    await host.close();
  });

  it('drops untagged, malformed, and not-yet-started messages, each counted by its reason', async () => {
    const { host, shared } = await handHost();
    const one = keeper();
    await host.groupTransport(1).start(one.handlers);
    host.groupTransport(5); // reserved, its node not started

    shared.deliver(prepare('b', 'a'));
    shared.deliver(tagged(5, prepare('b', 'a')));
    const malformed: unknown[] = [
      null,
      { ...tagged(1, prepare('b', 'a')), group: -1 },
      { ...tagged(1, prepare('b', 'a')), group: 1.5 },
      { ...tagged(1, prepare('b', 'a')), group: groupIdMax + 1 },
      { ...tagged(1, prepare('b', 'a')), message: undefined },
      { ...tagged(1, prepare('b', 'a')), message: tagged(1, prepare('b', 'a')) },
      { ...tagged(1, prepare('b', 'a')), from: 'c' },
      { ...tagged(1, prepare('b', 'a')), to: 'z' },
    ];
    for (const m of malformed) shared.deliver(m);
    expect(one.got).toEqual([]);
    expect(host.counts().dropped).toEqual({ 'unknown-group': 0, 'group-not-started': 1, untagged: 1, malformed: malformed.length });
    await host.close();
  });

  it("a group's transport sends nothing before it starts or after it closes, and never a group's message", async () => {
    const { host, shared } = await handHost();
    const t = host.groupTransport(1);
    t.send(prepare('a', 'b'));
    await t.start(keeper().handlers);
    t.send(tagged(2, prepare('a', 'b')));
    await t.close();
    t.send(prepare('a', 'b'));
    expect(shared.sent).toEqual([]);
    await expect(t.start(keeper().handlers)).rejects.toBeInstanceOf(ClosedError);
    await host.close();
  });
});

describe('GroupHost groups at runtime', () => {
  it('removeGroup closes the node, frees the id, and later messages for it are dropped as unknown-group', async () => {
    const { host, shared } = await handHost();
    const node = host.createGroup<Add, number>(4, { members: ['a'], stateMachine: new Counters(), tickMs: 5 });
    expect(host.group(4)).toBe(node);
    await node.start();
    expect(host.groups()).toEqual([4]);
    await host.removeGroup(4);
    expect(node.status().state).toBe('closed');
    expect(host.groups()).toEqual([]);
    expect(host.group(4)).toBeUndefined();
    shared.deliver(tagged(4, prepare('b', 'a')));
    expect(host.counts().dropped['unknown-group']).toBe(1);
    // The id is free again: a new group under it starts from its own storage.
    const again = host.createGroup<Add, number>(4, { members: ['a'], stateMachine: new Counters() });
    expect(host.groups()).toEqual([4]);
    await again.start();
    await host.close();
    expect(again.status().state).toBe('closed');
  });

  it("closing a group's node removes its group", async () => {
    const { host } = await handHost();
    const node = host.createGroup<Add, number>(9, { members: ['a'], stateMachine: new Counters() });
    await node.start();
    await node.close();
    expect(host.groups()).toEqual([]);
    await expect(host.removeGroup(9)).rejects.toBeInstanceOf(UnknownGroupError);
    await host.close();
  });

  it('each group gets its own storage from the factory, by group id', async () => {
    const shared = new HandTransport();
    const made: number[] = [];
    const host = new GroupHost({
      id: 'a',
      transport: shared,
      storage: (group) => {
        made.push(group);
        return new MemoryStorage();
      },
    });
    await host.start();
    host.createGroup(3, { members: ['a', 'b', 'c'], stateMachine: new Counters() });
    host.createGroup(1, { members: ['a', 'd', 'e'], stateMachine: new Counters() });
    expect(made).toEqual([3, 1]);
    expect(host.groups()).toEqual([1, 3]);
    await host.close();
  });

  it("hostGroup gives a node built another way what createGroup gives its own: the host's id, the group's transport and storage, the beat and quiescence; a build that throws frees the id", async () => {
    const shared = new HandTransport();
    const storages = new Map<number, MemoryStorage>();
    const host = new GroupHost({
      id: 'a',
      transport: shared,
      storage: (group) => {
        const storage = new MemoryStorage();
        storages.set(group, storage);
        return storage;
      },
      quiescence: { afterTicks: 7 },
    });
    await host.start();
    let given: HostedGroupOptions | undefined;
    const built = host.hostGroup(5, { tickMs: 20 }, (g) => {
      given = g;
      const node = createNode<Add, number>({ ...g, members: ['a'], stateMachine: new Counters(), tickMs: 20 });
      return { node, built: { wrapped: node } };
    });
    expect(given).toMatchObject({ id: 'a', storage: storages.get(5), quiesceAfterTicks: 7 });
    expect(given!.transport).toBeInstanceOf(GroupTransport);
    expect(given!.clock).toBeDefined();
    expect(host.group(5)).toBe(built.wrapped);
    // A group with its own clock keeps it: the host gives none.
    host.hostGroup(6, { clock: systemClock, quiesceAfterTicks: 3 }, (g) => {
      expect(g.clock).toBeUndefined();
      expect(g.quiesceAfterTicks).toBe(3);
      return { node: createNode<Add, number>({ ...g, members: ['a'], stateMachine: new Counters() }), built: undefined };
    });
    expect(() =>
      host.hostGroup(8, {}, () => {
        throw new Error('build failed');
      }),
    ).toThrow('build failed');
    expect(host.groups()).toEqual([5, 6]);
    await built.wrapped.start();
    await host.close();
    expect(built.wrapped.status().state).toBe('closed');
  });

  it('close() closes every group and then the shared transport; idempotent', async () => {
    const { host, shared } = await handHost();
    const nodes = [1, 2, 3].map((g) => host.createGroup<Add, number>(g, { members: ['a'], stateMachine: new Counters() }));
    await Promise.all(nodes.map((n) => n.start()));
    const bare = host.groupTransport(7);
    await Promise.all([host.close(), host.close()]);
    expect(nodes.map((n) => n.status().state)).toEqual(['closed', 'closed', 'closed']);
    expect(bare.isClosed).toBe(true);
    expect(host.groups()).toEqual([]);
    expect(shared.closed).toBe(1);
  });
});

describe('GroupHost errors', () => {
  it('a duplicate group id throws DuplicateGroupError; an unknown one UnknownGroupError; both SynodErrors with the group', async () => {
    const { host } = await handHost();
    host.createGroup(1, { members: ['a'], stateMachine: new Counters() });
    let duplicate: unknown;
    try {
      host.createGroup(1, { members: ['a'], stateMachine: new Counters() });
    } catch (e) {
      duplicate = e;
    }
    expect(duplicate).toBeInstanceOf(DuplicateGroupError);
    expect(duplicate).toBeInstanceOf(SynodError);
    expect((duplicate as DuplicateGroupError).group).toBe(1);
    expect((duplicate as DuplicateGroupError).code).toBe('DUPLICATE_GROUP');
    expect(() => host.groupTransport(1)).toThrow(DuplicateGroupError);
    const unknown = await host.removeGroup(2).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(UnknownGroupError);
    expect((unknown as UnknownGroupError).group).toBe(2);
    expect((unknown as UnknownGroupError).code).toBe('UNKNOWN_GROUP');
    await host.close();
  });

  it('a closed host throws ClosedError for createGroup, groupTransport, removeGroup and start', async () => {
    const { host } = await handHost();
    await host.close();
    expect(() => host.createGroup(1, { members: ['a'], stateMachine: new Counters() })).toThrow(ClosedError);
    expect(() => host.groupTransport(1)).toThrow(ClosedError);
    await expect(host.removeGroup(1)).rejects.toBeInstanceOf(ClosedError);
    const fresh = new GroupHost({ id: 'a', transport: new HandTransport(), storage: () => new MemoryStorage() });
    await fresh.close();
    await expect(fresh.start()).rejects.toBeInstanceOf(ClosedError);
  });

  it('a bad group id, bad host options, or node options createNode refuses throw ConfigError; a refused group leaves its id free', async () => {
    const { host } = await handHost();
    for (const id of [-1, 0.5, groupIdMax + 1, Number.NaN])
      expect(() => host.createGroup(id, { members: ['a'], stateMachine: new Counters() })).toThrow(ConfigError);
    // The host's id is not among the group's members.
    expect(() => host.createGroup(1, { members: ['b', 'c'], stateMachine: new Counters() })).toThrow(ConfigError);
    expect(host.groups()).toEqual([]);
    host.createGroup(1, { members: ['a'], stateMachine: new Counters() });
    expect(() => new GroupHost({ id: '', transport: new HandTransport(), storage: () => new MemoryStorage() })).toThrow(ConfigError);
    expect(() => new GroupHost({ id: 'a', transport: new HandTransport(), storage: undefined as never })).toThrow(ConfigError);
    await host.close();
  });

  it('a single-group node handed a group message drops it and counts it; it never reaches the core', async () => {
    const shared = new HandTransport();
    const node = createNode<Add, number>({ id: 'a', members: ['a', 'b', 'c'], transport: shared, storage: new MemoryStorage(), stateMachine: new Counters() });
    await node.start();
    const before = node.status();
    shared.deliver(tagged(1, prepare('b', 'a')));
    expect(node.metrics().messages.dropped).toBe(1);
    expect(node.status().promised).toEqual(before.promised);
    await node.close();
  });
});

describe('GroupHost over a network', () => {
  it('groups with different members run side by side over one transport per host; each applies only its own commands', async () => {
    const network = new MemoryNetwork({ delayMs: { min: 0, max: 1 } });
    const hosts = ['a', 'b', 'c', 'd'].map((id) => new GroupHost({ id, transport: network.transport(id), storage: () => new MemoryStorage() }));
    await Promise.all(hosts.map((h) => h.start()));
    const placement: Record<number, string[]> = { 1: ['a', 'b', 'c'], 2: ['b', 'c', 'd'], 300: ['a', 'c', 'd'] };
    const machines = new Map<string, Counters>();
    const nodes = new Map<string, SynodNode<Add, number>>();
    for (const [group, members] of Object.entries(placement)) {
      for (const host of hosts.filter((h) => members.includes(h.id))) {
        const machine = new Counters();
        machines.set(`${group}/${host.id}`, machine);
        const node = host.createGroup<Add, number>(Number(group), { members, stateMachine: machine, tickMs: 10 });
        nodes.set(`${group}/${host.id}`, node);
      }
    }
    await Promise.all([...nodes.values()].map((n) => n.start()));
    // Each group's first member takes a write of its own key; followers forward.
    const results = await Promise.all(
      Object.entries(placement).map(async ([group, members]) => {
        const node = nodes.get(`${group}/${members[members.length - 1]}`)!;
        await node.propose({ key: `g${group}`, add: 1 });
        return node.propose({ key: `g${group}`, add: 2 });
      }),
    );
    expect(results).toEqual([3, 3, 3]);
    for (const [group, members] of Object.entries(placement)) {
      for (const id of members) {
        const node = nodes.get(`${group}/${id}`)!;
        await node.read();
        // Only this group's commands: no key of another group ever reached this replica.
        expect([...machines.get(`${group}/${id}`)!.values]).toEqual([[`g${group}`, 3]]);
      }
    }
    for (const h of hosts) expect(h.counts().dropped).toEqual({ 'unknown-group': 0, 'group-not-started': 0, untagged: 0, malformed: 0 });
    await Promise.all(hosts.map((h) => h.close()));
  }, 20_000);
});
