/** Ports and transports for the TCP tests. */
import { readFileSync } from 'node:fs';
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

/** Options over the defaults below; `secret: null` for none. */
export type TestTcpOptions = Omit<Partial<TcpTransportOptions>, 'secret'> & { readonly secret?: string | Uint8Array | null };

/** A transport for `id` in a cluster whose nodes listen on `ports` (by position in `ids`). */
export function tcpTransport(id: NodeId, ids: readonly NodeId[], ports: readonly number[], extra: TestTcpOptions = {}): TcpTransport {
  const peers: Record<NodeId, { host: string; port: number }> = {};
  ids.forEach((other, i) => {
    if (other !== id) peers[other] = { host: '127.0.0.1', port: ports[i]! };
  });
  const { secret = testSecret, ...rest } = extra;
  return new TcpTransport({
    id,
    clusterId: 'test',
    listen: { host: '127.0.0.1', port: ports[ids.indexOf(id)]! },
    peers,
    ...(secret === null ? {} : { secret }),
    reconnectDelayMsMin: 10,
    reconnectDelayMsMax: 200,
    ...rest,
  });
}

const certs = new URL('./certs/', import.meta.url);

/** Mutual-TLS options from the fixtures (scripts/make-test-certs.sh): `name`'s certificate and key, trusting `ca`. */
export function tlsOf(name: string, ca = 'ca'): { ca: string; cert: string; key: string } {
  const read = (file: string): string => readFileSync(new URL(file, certs), 'utf8');
  return { ca: read(`${ca}.crt`), cert: read(`${name}.crt`), key: read(`${name}.key`) };
}
