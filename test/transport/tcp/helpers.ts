/** Ports and transports for the TCP tests. */
import { createServer } from 'node:net';
import type { NodeId } from '../../../src/index.js';
import { TcpTransport, type TcpTransportOptions } from '../../../src/transport/tcp/index.js';

/** `n` ports free a moment ago on 127.0.0.1 (held open together, so they differ). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen({ host: '127.0.0.1', port: 0 }, () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

export const testSecret = 'a test secret of enough bytes';

/** A transport for `id` in a cluster whose nodes listen on `ports` (by position in `ids`). */
export function tcpTransport(id: NodeId, ids: readonly NodeId[], ports: readonly number[], extra: Partial<TcpTransportOptions> = {}): TcpTransport {
  const peers: Record<NodeId, { host: string; port: number }> = {};
  ids.forEach((other, i) => {
    if (other !== id) peers[other] = { host: '127.0.0.1', port: ports[i]! };
  });
  return new TcpTransport({
    id,
    clusterId: 'test',
    listen: { host: '127.0.0.1', port: ports[ids.indexOf(id)]! },
    peers,
    secret: testSecret,
    reconnectDelayMsMin: 10,
    reconnectDelayMsMax: 200,
    ...extra,
  });
}
