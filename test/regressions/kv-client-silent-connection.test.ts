/**
 * Bug: a KvClient kept a connection that had gone silent, with its sockets still open
 * (packets dropped by the network, a server paused): each request timed out, and the
 * client never tried another server, however many it had. The kernel nemesis showed it:
 * a client cut off from its server for 20 s timed out 10 requests of 10 while the two
 * other servers served, and waited 6.6 s more after the cut healed (TCP's retransmission
 * backoff). A connection on which nothing arrived for a whole request timeout is now
 * presumed dead: the client closes it and dials the next server.
 */
import { type Socket, connect, createServer } from 'node:net';
import { expect, it } from 'vitest';
import { TimeoutError } from '../../src/runtime/index.js';
import { ServerCluster } from '../kv/server/cluster.js';

/** A TCP relay to `port` that can go silent: bytes are then dropped both ways, and every socket stays open. */
async function silenceableRelay(port: number): Promise<{ port: number; silence(): void; close(): Promise<void> }> {
  let silent = false;
  const sockets = new Set<Socket>();
  const server = createServer((down) => {
    const up = connect({ host: '127.0.0.1', port });
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => (s === up ? down : up).destroy());
    }
    down.on('data', (d) => silent || up.write(d));
    up.on('data', (d) => silent || down.write(d));
  });
  await new Promise<void>((done) => server.listen({ host: '127.0.0.1', port: 0 }, done));
  return {
    port: (server.address() as { port: number }).port,
    silence: () => (silent = true),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((done) => server.close(done));
    },
  };
}

it('a KvClient whose connection falls silent moves to another server', async () => {
  const cluster = await ServerCluster.start(['a']);
  const relay = await silenceableRelay(cluster.port('a'));
  try {
    // The relay first: the client connects through it.
    const client = cluster.client({ endpoints: [{ host: '127.0.0.1', port: relay.port }, cluster.members['a']!.client], requestTimeoutMs: 500 });
    await client.put('k', 'through the relay', { timeoutMs: 10_000 });
    relay.silence();
    await expect(client.put('k', 'lost in the relay')).rejects.toBeInstanceOf(TimeoutError);
    // The silent connection is given up: the next request reaches the server directly.
    const { version } = await client.put('k', 'direct');
    expect((await client.get('k'))?.version).toBe(version);
  } finally {
    await relay.close();
    await cluster.close();
  }
});
