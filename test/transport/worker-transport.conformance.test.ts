/** The worker_threads transport of examples/ against the Transport conformance suite, and its own checks. */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { encodeMessage, type NodeId, type NodeMessage, type TransportHandlers } from '../../src/index.js';
import { transportConformance } from '../../src/testing/index.js';
import { WorkerNetwork, WorkerTransport } from '../../examples/worker-transport/worker-transport.js';

let network = new WorkerNetwork();
transportConformance(
  'WorkerTransport (examples/worker-transport)',
  {
    setup: async () => {
      network = new WorkerNetwork();
    },
    create: (id) => new WorkerTransport(id, network.join(id)),
  },
  { describe, it },
);

describe('WorkerTransport', () => {
  const forward = (from: NodeId, to: NodeId, byte = 1): NodeMessage => ({ type: 'forward', from, to, commands: [new Uint8Array([byte])] });
  const until = async (done: () => boolean): Promise<void> => {
    for (let i = 0; i < 400 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(done()).toBe(true);
  };
  const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));

  /** What one transport's handlers were called with. */
  class Heard implements TransportHandlers {
    readonly delivered: NodeMessage[] = [];
    readonly events: string[] = [];
    deliver(m: NodeMessage): void {
      this.delivered.push(m);
    }
    peerReachable(peer: NodeId): void {
      this.events.push(`+${peer}`);
    }
    peerUnreachable(peer: NodeId): void {
      this.events.push(`-${peer}`);
    }
  }

  /** Node `a`'s transport with a hand-made control port: the test plays the network and peer b. */
  async function alone(): Promise<{ transport: WorkerTransport; heard: Heard; b: MessagePort; done: () => Promise<void> }> {
    const control = new MessageChannel();
    const transport = new WorkerTransport('a', control.port1);
    const heard = new Heard();
    const started = transport.start(heard);
    const channel = new MessageChannel();
    control.port2.postMessage({ peer: 'b', port: channel.port1 }, [channel.port1]);
    control.port2.postMessage({ ready: true });
    await started;
    const done = async (): Promise<void> => {
      await transport.close();
      channel.port2.close();
      control.port2.close();
    };
    return { transport, heard, b: channel.port2, done };
  }

  it('refuses malformed frames, counted, and the node never sees them', async () => {
    const { transport, heard, b, done } = await alone();
    const good = encodeMessage(forward('b', 'a'));
    b.postMessage(new Uint8Array([1, 2, 3]));
    b.postMessage(good.slice(0, good.byteLength - 1)); // truncated
    b.postMessage('not a frame');
    b.postMessage(null);
    await until(() => transport.counts.rejected === 4);
    await settle();
    expect(heard.delivered).toEqual([]);
    expect(transport.counts.delivered).toBe(0);
    await done();
  });

  it("refuses frames not from the channel's peer or not for this node, counted, and delivers good ones", async () => {
    const { transport, heard, b, done } = await alone();
    b.postMessage(encodeMessage(forward('c', 'a'))); // not from the channel's peer
    b.postMessage(encodeMessage(forward('b', 'c'))); // not for this node
    b.postMessage(encodeMessage(forward('b', 'a')));
    await until(() => heard.delivered.length === 1 && transport.counts.rejected === 2);
    expect(heard.delivered[0]).toMatchObject({ from: 'b', to: 'a' });
    expect(transport.counts.delivered).toBe(1);
    await done();
  });

  it('never throws on send: what has no channel waits within bounds, the rest is dropped and counted', async () => {
    const { transport, done } = await alone();
    for (let i = 0; i < 5_000; i++) transport.send(forward('a', 'z', i & 0xff)); // z never joins
    expect(transport.counts.dropped).toBe(4_000); // 1,000 wait for z
    for (let i = 0; i < 20; i++) transport.send(forward('a', `unknown-${i}`));
    expect(transport.counts.dropped).toBe(4_000 + 5); // 16 peers may have messages waiting
    transport.send({ type: 'no such type', from: 'a', to: 'b' } as unknown as NodeMessage);
    transport.send({ type: 'forward', from: 'a', to: 'b' } as unknown as NodeMessage); // no commands
    expect(transport.counts.unencodable).toBe(2);
    await done();
    transport.send(forward('a', 'b'));
    expect(transport.counts.dropped).toBe(4_005 + 1);
  });

  it('a node that rejoins gets fresh channels: peers close the old ones and report the change', async () => {
    const net = new WorkerNetwork();
    const a = new WorkerTransport('a', net.join('a'));
    const b1 = new WorkerTransport('b', net.join('b'));
    const heardA = new Heard();
    const heardB1 = new Heard();
    await Promise.all([a.start(heardA), b1.start(heardB1)]);
    await until(() => heardA.events.includes('+b'));

    // b restarts without closing its old transport (a crash): the old channel must die.
    const b = new WorkerTransport('b', net.join('b'));
    const heardB = new Heard();
    await b.start(heardB);
    await until(() => heardB1.events.includes('-a'));
    a.send(forward('a', 'b', 7));
    b.send(forward('b', 'a', 8));
    await until(() => heardB.delivered.length === 1 && heardA.delivered.length === 1);
    expect(heardB1.delivered).toEqual([]);
    expect(heardA.events).toEqual(['+b', '+b']); // replaced before its close event: best effort

    // b closes: a hears it, and sends to b wait (bounded) for the next b.
    await b.close();
    await until(() => heardA.events.at(-1) === '-b');
    a.send(forward('a', 'b', 9));
    const b3 = new WorkerTransport('b', net.join('b'));
    const heardB3 = new Heard();
    await b3.start(heardB3);
    await until(() => heardB3.delivered.length === 1);
    expect(heardB3.delivered[0]).toMatchObject({ commands: [new Uint8Array([9])] });
    expect(heardA.events.at(-1)).toBe('+b');
    for (const t of [a, b1, b3]) await t.close();
  });
});
