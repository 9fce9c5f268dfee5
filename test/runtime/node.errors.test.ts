/**
 * How the node refuses: configuration errors up front, typed rejections at call
 * time, and failing closed when its storage fails. Every error is a SynodError that
 * callers can match with `instanceof`.
 */
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  AbortedError,
  ApplyError,
  ClosedError,
  CommandTooLargeError,
  ConfigError,
  MemoryNetwork,
  MemoryStorage,
  type NodeId,
  NotLeaderError,
  NotStartedError,
  OverloadedError,
  StorageError,
  SynodError,
  TransferError,
  createNode,
  jsonCodec,
} from '../../src/index.js';
import { type Add, Counters, LocalCluster, clusterPerTest } from './local-cluster.js';

const clusters = clusterPerTest();
const startCluster = clusters.start;

describe('createNode validates every option up front', () => {
  const network = new MemoryNetwork();
  const base = () => ({
    id: 'a',
    members: ['a', 'b', 'c'],
    transport: network.transport(`t${Math.random()}`),
    storage: new MemoryStorage(),
    stateMachine: new Counters(),
  });
  const cases: [string, Record<string, unknown>][] = [
    ['id', { id: '' }],
    ['members', { members: ['b', 'c'] }],
    ['members', { members: ['a', 'a'] }],
    ['members', { members: [] }],
    ['observers', { observers: ['b'] }],
    ['quorum', { quorum: { phase1: 1, phase2: 2 } }],
    ['quorum', { quorum: 'unanimous' }],
    ['windowSlots', { windowSlots: 0 }],
    ['transport', { transport: {} }],
    ['storage', { storage: { load() {} } }],
    ['stateMachine', { stateMachine: {} }],
    ['tickMs', { tickMs: 0 }],
    ['electionTicks.max', { electionTicks: { min: 10, max: 5 } }],
    ['heartbeatTicks', { heartbeatTicks: 10 }],
    ['commandBytesMax', { commandBytesMax: 10 }],
    ['commandBytesMax', { commandBytesMax: 4096, batchBytesMax: 1024 }],
    ['followerProposals', { followerProposals: 'drop' }],
    ['dedup.resultsPerClientMax', { dedup: { resultsPerClientMax: -1 } }],
    ['dedup.resultBytesPerClientMax', { dedup: { resultBytesPerClientMax: 1023 } }],
    // The total must hold at least one client's worth: the default total is below a larger per-client bound.
    ['dedup.resultBytesMax', { dedup: { resultBytesPerClientMax: 128 * 1024 * 1024 } }],
    ['dedup.resultBytesMax', { dedup: { resultBytesPerClientMax: 4096, resultBytesMax: 2048 } }],
    ['clientId', { clientId: '' }],
    ['snapshot.inflightBytesMax', { snapshot: { inflightBytesMax: 0 } }],
    ['snapshot.crc32', { snapshot: { crc32: 'zlib' } }],
    // Not CRC-32 (IEEE): an Adler-32, and a CRC that ignores where it goes on from.
    ['snapshot.crc32', { snapshot: { crc32: (bytes: Uint8Array) => bytes.reduce((a, b) => a + b, 1) } }],
    ['snapshot.crc32', { snapshot: { crc32: (bytes: Uint8Array) => zlibCrc32(bytes) } }],
  ];

  it.each(cases)('names `%s`', (field, override) => {
    let error: unknown;
    try {
      createNode({ ...base(), ...override } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe(field);
    expect((error as Error).message).toMatch(/^createNode: /);
  });
});

describe('refusals at call time', () => {
  it('before start and after close', async () => {
    const network = new MemoryNetwork();
    const node = createNode<Add, number>({
      id: 'a',
      members: ['a'],
      transport: network.transport('a'),
      storage: new MemoryStorage(),
      stateMachine: new Counters(),
    });
    await expect(node.propose({ key: 'x', add: 1 })).rejects.toBeInstanceOf(NotStartedError);
    await expect(node.read()).rejects.toBeInstanceOf(NotStartedError);
    await node.start();
    await node.close();
    await expect(node.propose({ key: 'x', add: 1 })).rejects.toBeInstanceOf(ClosedError);
    await expect(node.read()).rejects.toBeInstanceOf(ClosedError);
    expect(node.status().state).toBe('closed');
  });

  it('a command larger than commandBytesMax', async () => {
    const c = await startCluster({ voters: 1, node: { commandBytesMax: 256 } });
    await c.waitForLeader();
    const error = await c
      .node('n1')
      .propose({ key: 'x'.repeat(300), add: 1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandTooLargeError);
    expect((error as CommandTooLargeError).limit).toBe(256);
    expect(await c.node('n1').propose({ key: 'x', add: 1 })).toBe(1);
  });

  it('more pending proposals than pendingProposalsMax', async () => {
    const c = await startCluster({ voters: 3, node: { pendingProposalsMax: 4 } });
    await c.waitForLeader();
    const accepted = Array.from({ length: 4 }, () => c.node('n1').propose({ key: 'o', add: 1 }));
    await expect(c.node('n1').propose({ key: 'o', add: 1 })).rejects.toBeInstanceOf(OverloadedError);
    await Promise.all(accepted);
  });

  it("a follower told to reject gives the leader's id and the command back", async () => {
    const c = await startCluster({ voters: 3, node: { followerProposals: 'reject' } });
    // Leadership may move once more while the followers learn of the first leader (a
    // loaded machine delays ticks): wait for a follower that knows the leader of the moment.
    let leader: NodeId | undefined;
    let follower: NodeId | undefined;
    await c.waitFor(() => {
      leader = c.leader();
      follower = c.ids.find((id) => id !== leader && c.node(id).status().leader === leader);
      return leader !== undefined && follower !== undefined;
    }, 'a follower to know the leader');
    const command = { key: 'f', add: 1 };
    const error = await c
      .node(follower!)
      .propose(command)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotLeaderError);
    expect((error as NotLeaderError).leaderHint).toBe(leader);
    expect((error as NotLeaderError).command).toBe(command);
  });

  it('an aborted signal stops the wait', async () => {
    const c = await startCluster({ voters: 3 });
    const leader = await c.waitForLeader();
    c.network.isolate(leader);
    const controller = new AbortController();
    const waiting = c.node(leader).propose({ key: 'a', add: 1 }, { signal: controller.signal });
    controller.abort(new Error('user gave up'));
    await expect(waiting).rejects.toBeInstanceOf(AbortedError);
    await expect(c.node(leader).propose({ key: 'a', add: 1 }, { signal: controller.signal })).rejects.toBeInstanceOf(AbortedError);
  });

  it('a state machine that throws rejects that command only, on every replica alike', async () => {
    const c = await startCluster({ voters: 3 });
    await c.waitForLeader();
    const error = await c
      .node('n2')
      .propose({ key: 'bad', add: -1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplyError);
    expect((error as ApplyError).cause).toBeInstanceOf(RangeError);
    expect(await c.node('n2').propose({ key: 'bad', add: 2 })).toBe(2);
  });
});

describe('leadership transfer failures', () => {
  it('rejects soon after the leader gives up, not at the timeout', async () => {
    const c = await startCluster({ voters: 3 });
    const leader = await c.waitForLeader();
    const target = c.ids.find((id) => id !== leader)!;
    c.network.isolate(target);
    const started = Date.now();
    const error = await c
      .node(leader)
      .transferLeadership(target, { timeoutMs: 5_000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransferError);
    // electionTicks.max is 40 ticks of 10 ms: the leader gives up after about 400 ms.
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(c.node(leader).status().role).toBe('leader');
    expect(await c.node(leader).propose({ key: 'after', add: 1 })).toBe(1);
  });

  it('a deposed leader does not name itself as the leader', async () => {
    const c = await startCluster({ voters: 3 });
    const leader = await c.waitForLeader();
    c.network.isolate(leader);
    await c.waitFor(() => c.node(leader).status().role === 'follower', 'the isolated leader to step down');
    expect(c.node(leader).status().leader).not.toBe(leader);
  });
});

describe('limits on reads and codecs', () => {
  it('refuses reads beyond pendingReadsMax', async () => {
    const c = await startCluster({ voters: 3, node: { pendingReadsMax: 2 } });
    const leader = await c.waitForLeader();
    c.network.isolate(leader);
    const waiting = [c.node(leader).read({ timeoutMs: 300 }), c.node(leader).read({ timeoutMs: 300 })];
    await expect(c.node(leader).read()).rejects.toBeInstanceOf(OverloadedError);
    await Promise.allSettled(waiting);
    expect(c.node(leader).metrics().reads.failed).toBe(2);
  });

  it('the JSON codec refuses what JSON cannot hold', () => {
    expect(() => jsonCodec.encode(undefined)).toThrow(TypeError);
    expect(jsonCodec.decode(jsonCodec.encode({ a: 1 }))).toEqual({ a: 1 });
  });
});

describe('failing closed', () => {
  it('a failed storage write stops the node: pending proposals reject, an error event fires', async () => {
    const c = await startCluster({ voters: 3 });
    const leader = await c.waitForLeader();
    const events: { error: Error; fatal: boolean }[] = [];
    c.node(leader).on('error', (e) => events.push(e));
    c.storages.get(leader)!.failNextPersists(1);
    const outcome = await c
      .node(leader)
      .propose({ key: 's', add: 1 })
      .catch((e: unknown) => e);
    expect(outcome).toBeInstanceOf(ClosedError);
    expect((outcome as ClosedError).cause).toBeInstanceOf(StorageError);
    expect(events).toHaveLength(1);
    expect(events[0]!.fatal).toBe(true);
    await c.waitFor(() => c.node(leader).status().state === 'closed', 'the node to close');
    // The others elect a new leader and carry on.
    await c.waitFor(() => c.leader() !== undefined && c.leader() !== leader, 'a new leader');
    const survivor = c.ids.find((id) => id !== leader)!;
    expect(await c.node(survivor).propose({ key: 's', add: 1 })).toBeGreaterThanOrEqual(1);
  });

  it('a storage whose persist throws instead of rejecting fails the node the same way', async () => {
    const storage = new MemoryStorage();
    const throwing = Object.assign(Object.create(storage) as MemoryStorage, {
      persist: () => {
        throw new Error('EIO');
      },
    });
    const network = new MemoryNetwork();
    const lone = createNode<Add, number>({
      id: 'a',
      members: ['a'],
      transport: network.transport('a'),
      storage: throwing,
      stateMachine: new Counters(),
      tickMs: 5,
    });
    const errors: Error[] = [];
    lone.on('error', ({ error }) => errors.push(error));
    await lone.start();
    const outcome = await lone.propose({ key: 'x', add: 1 }).catch((e: unknown) => e);
    expect(outcome).toBeInstanceOf(ClosedError);
    expect((outcome as ClosedError).cause).toBeInstanceOf(StorageError);
    expect(errors[0]).toBeInstanceOf(StorageError);
    // The storage's own words are in the message, not only in `cause`: loggers print messages.
    expect(errors[0]!.message).toMatch(/^storage persist failed \(EIO\)/);
  });

  it('a storage that cannot load rejects start with StorageError', async () => {
    const storage = new MemoryStorage();
    const broken = Object.assign(Object.create(storage) as MemoryStorage, { load: () => Promise.reject(new Error('EIO')) });
    const node = createNode<Add, number>({
      id: 'a',
      members: ['a'],
      transport: new MemoryNetwork().transport('a'),
      storage: broken,
      stateMachine: new Counters(),
    });
    await expect(node.start()).rejects.toBeInstanceOf(StorageError);
    expect(node.status().state).toBe('closed');
  });
});

describe('events', () => {
  it('report leader, role, commit and apply changes; a throwing listener does not break the node', async () => {
    const c = clusters.track(new LocalCluster({ voters: 1 }));
    const node = c.node('n1');
    const seen: string[] = [];
    node.on('roleChange', ({ role }) => seen.push(`role:${role}`));
    node.on('leaderChange', ({ leader }) => seen.push(`leader:${leader}`));
    node.once('commit', () => seen.push('commit'));
    node.once('apply', () => seen.push('apply'));
    node.on('apply', () => {
      throw new Error('listener bug');
    });
    await c.start();
    await node.propose({ key: 'e', add: 1 });
    expect(seen).toEqual(expect.arrayContaining(['role:candidate', 'role:leader', 'leader:n1', 'commit', 'apply']));
    expect(await node.propose({ key: 'e', add: 1 })).toBe(2);
    const m = node.metrics();
    expect(m.proposals.succeeded).toBe(2);
    expect(m.elections.won).toBe(1);
    expect(m.persist.writes).toBeGreaterThan(0);
    expect(m.applyLag).toBe(0);
  });

  it('errors are SynodErrors with stable codes', async () => {
    const e = new NotLeaderError('b', { key: 'k', add: 1 });
    expect(e).toBeInstanceOf(SynodError);
    expect(e.code).toBe('NOT_LEADER');
    expect(new OverloadedError(3, 'node').code).toBe('OVERLOADED');
  });
});
