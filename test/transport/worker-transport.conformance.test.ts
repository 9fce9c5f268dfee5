/** The worker_threads transport of examples/ against the Transport conformance suite, and its own checks. */
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { encodeMessage, type NodeMessage } from '../../src/index.js';
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
  const forward = (from: string, to: string): NodeMessage => ({ type: 'forward', from, to, commands: [new Uint8Array([1])] });
  const until = async (done: () => boolean): Promise<void> => {
    for (let i = 0; i < 400 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(done()).toBe(true);
  };

  it('refuses malformed and misaddressed frames, counted, and delivers good ones', async () => {
    // A hand-made control port: this test plays the network and peer b.
    const control = new MessageChannel();
    const transport = new WorkerTransport('a', control.port1);
    const delivered: NodeMessage[] = [];
    const started = transport.start({ deliver: (m) => delivered.push(m), peerReachable: () => {}, peerUnreachable: () => {} });
    const channel = new MessageChannel();
    control.port2.postMessage({ peer: 'b', port: channel.port1 }, [channel.port1]);
    control.port2.postMessage({ ready: true });
    await started;
    channel.port2.postMessage(new Uint8Array([1, 2, 3]));
    channel.port2.postMessage(encodeMessage(forward('c', 'a'))); // not from the channel's peer
    channel.port2.postMessage(encodeMessage(forward('b', 'c'))); // not for this node
    channel.port2.postMessage(encodeMessage(forward('b', 'a')));
    await until(() => delivered.length === 1 && transport.counts.rejected === 3);
    expect(delivered[0]).toMatchObject({ from: 'b', to: 'a' });
    await transport.close();
    channel.port2.close();
    control.port2.close();
  });
});
