/** Ports and transports for the TCP tests. */
import { readFileSync } from 'node:fs';
import { freePort } from '../../../src/cli/cluster-up.js';
import type { NodeId, NodeMessage } from '../../../src/index.js';
import { TcpTransport, type TcpTransportOptions } from '../../../src/transport/tcp/index.js';
import { RawPeer, sleep } from './raw-peer.js';

/** `n` distinct ports free a moment ago on 127.0.0.1 (see `freePort` for where they come from). */
export async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
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

/** A started transport and what it handed its node. */
export interface StartedTransport {
  readonly transport: TcpTransport;
  readonly delivered: NodeMessage[];
  /** Reachability reports in order: `+b` reachable, `-b` unreachable. */
  readonly events: string[];
  /** The peers reported reachable, in order. */
  readonly reachable: NodeId[];
  /** Warnings and errors logged, as `message: reason`. */
  readonly warnings: string[];
}

/** What a test file opened, closed after each test by `closeAll`. */
export class Opened {
  private readonly transports: TcpTransport[] = [];
  private readonly raws: RawPeer[] = [];

  /** Starts node `id`'s transport (see {@link tcpTransport}) with handlers that record everything. */
  async start(id: NodeId, ports: readonly number[], options: TestTcpOptions = {}, ids: readonly NodeId[] = ['a', 'b']): Promise<StartedTransport> {
    const warnings: string[] = [];
    const note = (fields: Record<string, unknown>, message: string): void => {
      warnings.push(`${message}: ${String(fields['reason'] ?? '')}`);
    };
    const transport = tcpTransport(id, ids, ports, { logger: { debug: () => {}, info: () => {}, warn: note, error: note }, ...options });
    const s: StartedTransport = { transport, delivered: [], events: [], reachable: [], warnings };
    await transport.start({
      deliver: (m) => s.delivered.push(m),
      peerReachable: (p) => {
        s.events.push(`+${p}`);
        s.reachable.push(p);
      },
      peerUnreachable: (p) => s.events.push(`-${p}`),
    });
    this.transports.push(transport);
    return s;
  }

  /** A raw socket to `port` (see {@link RawPeer}). */
  async raw(port: number, localAddress?: string): Promise<RawPeer> {
    const r = await RawPeer.connect(port, localAddress);
    this.raws.push(r);
    return r;
  }

  async closeAll(): Promise<void> {
    for (const r of this.raws.splice(0)) r.close();
    for (const t of this.transports.splice(0)) await t.close();
  }
}

/** A forward message whose one command is `bytes` bytes of `n`. */
export function forward(from: NodeId, to: NodeId, n: number, bytes = 1): NodeMessage {
  return { type: 'forward', from, to, commands: [new Uint8Array(bytes).fill(n & 0xff)] };
}

/** Polls `done` until it holds; throws naming `what` after `ms`. */
export async function until(done: () => boolean, what: string, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
