/**
 * Heartbeats coalesced per peer host: the heartbeats and replies a host's groups send
 * one peer in the same turn leave as one `hostHeartbeats` message, the receiving host
 * hands each group its own message rebuilt whole, and groups the host builds tick on
 * one beat, so an active host sends each peer one such message a tick however many
 * groups they share.
 */
import { describe, expect, it } from 'vitest';
import { GroupHost, type GroupMemberMessage, type HostHeartbeatsMessage, MemoryNetwork, MemoryStorage, type SynodNode } from '../../src/index.js';
import { type Add, Counters } from '../runtime/local-cluster.js';
import { HandTransport, keeper } from './hand-transport.js';

const heartbeat = (from: string, to: string, round: number, node = from): GroupMemberMessage => ({
  type: 'heartbeat',
  from,
  to,
  ballot: { round, node },
  commitIndex: 9,
  seq: 4,
});
const reply = (from: string, to: string, round: number): GroupMemberMessage => ({
  type: 'heartbeatReply',
  from,
  to,
  ballot: { round, node: to },
  commitIndex: 9,
  seq: 4,
});

describe('GroupHost heartbeats', () => {
  it('sends the heartbeats and replies its groups send a peer in one turn as one message per peer; anything else goes alone, tagged', async () => {
    const shared = new HandTransport();
    const host = new GroupHost({ id: 'a', transport: shared, storage: () => new MemoryStorage(), quiescence: false });
    await host.start();
    const lanes = [1, 2, 3].map((g) => host.groupTransport(g));
    await Promise.all(lanes.map((t) => t.start(keeper().handlers)));
    lanes[0]!.send(heartbeat('a', 'b', 5));
    lanes[1]!.send(heartbeat('a', 'b', 6));
    lanes[2]!.send(reply('a', 'c', 2));
    lanes[0]!.send(heartbeat('a', 'c', 5));
    // A heartbeat whose ballot is not its sender's cannot be rebuilt from an entry: it goes alone (its node drops it).
    lanes[1]!.send(heartbeat('a', 'b', 6, 'z'));
    expect(shared.sent).toEqual([{ type: 'group', from: 'a', to: 'b', group: 2, message: heartbeat('a', 'b', 6, 'z') }]);
    await Promise.resolve();
    const entry = (group: number, reply: boolean, round: number) => ({ group, reply, round, commitIndex: 9, seq: 4 });
    expect(shared.sent.slice(1)).toEqual([
      { type: 'hostHeartbeats', from: 'a', to: 'b', beats: [entry(1, false, 5), entry(2, false, 6)] },
      { type: 'hostHeartbeats', from: 'a', to: 'c', beats: [entry(3, true, 2), entry(1, false, 5)] },
    ]);
    expect(host.counts()).toMatchObject({ sent: 5, heartbeats: 4, heartbeatMessages: 2 });
    await host.close();
  });

  it('hands each group its heartbeat or reply rebuilt whole; entries for no group here, or malformed, are dropped and counted', async () => {
    const shared = new HandTransport();
    const host = new GroupHost({ id: 'b', transport: shared, storage: () => new MemoryStorage(), quiescence: false });
    await host.start();
    const one = keeper();
    const two = keeper();
    await host.groupTransport(1).start(one.handlers);
    await host.groupTransport(2).start(two.handlers);
    host.groupTransport(3); // not started
    const message: HostHeartbeatsMessage = {
      type: 'hostHeartbeats',
      from: 'a',
      to: 'b',
      beats: [
        { group: 1, reply: false, round: 5, commitIndex: 9, seq: 4 },
        { group: 2, reply: true, round: 6, commitIndex: 9, seq: 4 },
        { group: 3, reply: false, round: 1, commitIndex: 0, seq: 1 },
        { group: 99, reply: false, round: 1, commitIndex: 0, seq: 1 },
        { group: -1, reply: false, round: 1, commitIndex: 0, seq: 1 },
        null as never,
      ],
    };
    shared.handlers!.deliver(message);
    expect(one.got).toEqual([heartbeat('a', 'b', 5)]);
    // A reply's ballot is its addressee's: the leader it answers.
    expect(two.got).toEqual([{ type: 'heartbeatReply', from: 'a', to: 'b', ballot: { round: 6, node: 'b' }, commitIndex: 9, seq: 4 }]);
    shared.handlers!.deliver({ type: 'hostHeartbeats', from: 'a', to: 'b', beats: 'nope' } as never);
    expect(host.counts()).toMatchObject({
      delivered: 2,
      dropped: { 'unknown-group': 1, 'group-not-started': 1, untagged: 0, malformed: 3 },
    });
    await host.close();
  });

  it("groups a host builds tick on one beat: a host's heartbeats and replies to a peer share messages, many groups' a message", async () => {
    const network = new MemoryNetwork();
    const ids = ['a', 'b', 'c'];
    const hosts = ids.map((id) => new GroupHost({ id, transport: network.transport(id), storage: () => new MemoryStorage(), quiescence: false }));
    await Promise.all(hosts.map((h) => h.start()));
    const groups = 30;
    const nodes: SynodNode<Add, number>[] = [];
    for (let g = 1; g <= groups; g++) {
      for (const host of hosts) {
        // Groups start at scattered times: the beat aligns their ticks anyway.
        await new Promise((resolve) => setTimeout(resolve, g % 3));
        const node = host.createGroup<Add, number>(g, { members: ids, stateMachine: new Counters(), tickMs: 10 });
        nodes.push(node);
        await node.start();
      }
    }
    // Every group elects a leader and commits a write.
    await Promise.all(Array.from({ length: groups }, (_, i) => nodes[3 * i]!.propose({ key: 'k', add: i + 1 })));
    const counted = hosts.map((h) => h.counts());
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const [i, h] of hosts.entries()) {
      const now = h.counts();
      const beats = now.heartbeats - counted[i]!.heartbeats;
      const messages = now.heartbeatMessages - counted[i]!.heartbeatMessages;
      // Every group heartbeats (or answers) every tick of 10 ms: about 50 rounds in 500 ms.
      expect(beats).toBeGreaterThan(groups * 10);
      // Groups' heartbeat rounds fall on one of heartbeatTicks (2) ticks, and a host sends
      // each peer its leaders' heartbeats and its followers' replies: with ten groups led
      // by each host, about five groups' a message (each group on its own timer: about 1).
      expect(beats / messages).toBeGreaterThan(3);
      // Once every group runs everywhere, nothing is dropped (before, a group's messages may reach a host that has not built it yet).
      expect(now.dropped).toEqual(counted[i]!.dropped);
    }
    await Promise.all(hosts.map((h) => h.close()));
  }, 20_000);
});
