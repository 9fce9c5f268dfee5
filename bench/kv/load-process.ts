/**
 * The KV benchmark's clients, in a process of their own, run by `run.ts` as `node
 * --import tsx load-process.ts CONFIG`.
 *
 * - Logical clients: client `i` owns key `bench/client-<i>` and works in a closed loop,
 *   one request in flight: `cas` reads its key's version once (creating the key if it is
 *   absent), then puts values of `valueBytes` (from `setup`) with `expectedVersion` set to the
 *   version its last put returned (a versioned compare-and-set); `read` gets its key
 *   with a linearizable read (the default consistency).
 * - Connections: logical client `i` uses KvClient `i % connections`, each KvClient one
 *   TCP connection with its own client id; by default one per logical client, as a
 *   fleet of independent clients (ZooKeeper sessions, etcd clients) would have.
 *
 * Requests (see `parent.ts`): `setup` (the KvClients, connected, and the keys; again
 * when the leader moved, with new connections);
 * `start` (a point's loops, unmeasured); `open` and `close` (the measured window's
 * edges, with this process's CPU time; `close` gives the latencies too); `stop` (ends
 * the loops, waits for the last requests); `rtt` (the raw round-trip floor, against
 * `echo-server.ts`). It closes its KvClients and exits once the channel closes.
 */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { readClusterConfig } from '../../src/cli/cluster-config.js';
import { KvClient } from '../../src/kv/client/index.js';
import { VersionConflictError } from '../../src/kv/index.js';
import { putCommand } from '../../src/kv/kv-requests.js';
import { encodeClientRequest, encodeServerFrame } from '../../src/kv/protocol/client-codec.js';
import { prefixFrame } from '../../src/encoding/frame-reader.js';
import { Window } from '../window.js';
import { type Request, answerParent, tellReady } from './parent.js';

/** Latencies kept per point (a uniform reservoir sample). */
const latencySamplesMax = 1 << 17;

export type Kind = 'cas' | 'read';

/** `setup`: how many logical clients, over how many connections, each connection's servers in the order it tries them. */
export interface SetupRequest {
  readonly clients: number;
  /** Bytes of each value a CAS writes. */
  readonly valueBytes: number;
  readonly connections: number;
  /** Member ids, one order per connection (connection `j` uses `orders[j % orders.length]`). */
  readonly orders: readonly (readonly string[])[];
  /** Each client routes its key to its range's leader (`routeToLeaders`). */
  readonly route: boolean;
}

/** The frames of one CAS on the wire, length prefix included, in bytes. */
export interface FrameSizes {
  readonly casRequestBytes: number;
  readonly casAnswerBytes: number;
}

/** This process's CPU time and clock at a window's edge. */
export interface LoadMark {
  /** User + system, every thread, in µs. */
  readonly cpuMicros: number;
  readonly atMs: number;
}

/** What `close` reports of the measured window. */
export interface LoadWindow extends LoadMark {
  readonly completed: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Requests that failed in the window (timeouts, conflicts), not counted in `completed`. */
  readonly failures: number;
  /** The message of the first failure, if any. */
  readonly firstFailure: string | undefined;
}

/** What the `rtt` request measured: the raw round trip over one connection. */
export interface RawRoundTrips {
  readonly roundTrips: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** This process's CPU time over the measured round trips, in µs. */
  readonly cpuMicros: number;
}

/** One logical client: its connection, its key, the version its key is at. */
interface LogicalClient {
  readonly kv: KvClient;
  readonly key: string;
  version: number;
}

const [configPath] = process.argv.slice(2);
if (configPath === undefined) throw new Error('load-process: expected CONFIG');
const config = await readClusterConfig(configPath);
/** Where each range starts ('0' for the first): a client's key starts with one of them. */
const keyPrefixes = config.shards === undefined ? [''] : ['0', ...config.shards.splitKeys];
let value = new Uint8Array(0);

let connections: KvClient[] = [];
let clients: LogicalClient[] = [];
/** The current point's window and loops. */
let window = new Window(latencySamplesMax);
let loops: Promise<void>[] = [];
let failures = 0;
let firstFailure: string | undefined;

function mark(): LoadMark {
  const cpu = process.cpuUsage();
  return { cpuMicros: cpu.user + cpu.system, atMs: performance.now() };
}

function failed(error: unknown): void {
  if (!window.measuring) return;
  failures++;
  firstFailure ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

async function casLoop(c: LogicalClient, w: Window): Promise<void> {
  while (!w.stopped) {
    const start = performance.now();
    try {
      c.version = (await c.kv.put(c.key, value, { expectedVersion: c.version })).version;
      w.record(performance.now() - start);
    } catch (error) {
      // A timed-out put may have applied after all: carry on from the version found.
      if (error instanceof VersionConflictError) c.version = error.currentVersion;
      failed(error);
    }
  }
}

async function readLoop(c: LogicalClient, w: Window): Promise<void> {
  while (!w.stopped) {
    const start = performance.now();
    try {
      const kv = await c.kv.get(c.key);
      if (kv === undefined || kv.value.byteLength !== value.byteLength)
        throw new Error(`${c.key}: read ${kv === undefined ? 'nothing' : `${kv.value.byteLength} bytes`}`);
      w.record(performance.now() - start);
    } catch (error) {
      failed(error);
    }
  }
}

async function setup(request: SetupRequest): Promise<FrameSizes> {
  const secret = config.clientSecret;
  if (secret === undefined) throw new Error('load-process: the cluster file has no client secret');
  value = new Uint8Array(request.valueBytes).fill(0x61);
  // Set up again (the leader moved): new connections; each client reads its version again.
  await Promise.all(connections.map((kv) => kv.close()));
  connections = Array.from({ length: request.connections }, (_, j) => {
    const order = request.orders[j % request.orders.length]!;
    return new KvClient({ endpoints: order.map((id) => config.members[id]!.client), clusterId: config.clusterId, secret, routeToLeaders: request.route });
  });
  await Promise.all(connections.map((kv) => kv.connect()));
  clients = Array.from({ length: request.clients }, (_, i) => ({
    kv: connections[i % connections.length]!,
    // On a sharded cluster the clients' keys are spread over the ranges, one range after another.
    key: `${keyPrefixes[i % keyPrefixes.length]}bench/client-${String(i).padStart(4, '0')}`,
    version: 0,
  }));
  // Each client reads its version once; an absent key is created, so reads find a value.
  await Promise.all(
    clients.map(async (c) => {
      c.version = (await c.kv.get(c.key))?.version ?? 0;
      if (c.version === 0) c.version = (await c.kv.put(c.key, value, { expectedVersion: 0 })).version;
    }),
  );
  // The bytes of one CAS of a 5-digit version, as the client codec frames them.
  const c = clients[0]!;
  const n = 10_000;
  const requestFrame = encodeClientRequest({
    kind: 'command',
    id: n,
    command: putCommand(c.key, value, { expectedVersion: n }),
    request: { clientId: c.kv.clientId, seq: n, ackedBelow: n },
    timeoutMs: 0,
  });
  const answerFrame = encodeServerFrame({ kind: 'result', id: n, result: { type: 'put', key: c.key, version: n + 1, revision: 10 * n } });
  return { casRequestBytes: prefixFrame(requestFrame).byteLength, casAnswerBytes: prefixFrame(answerFrame).byteLength };
}

function start(request: Request): null {
  const kind = request['kind'] as Kind;
  const n = request['clients'] as number;
  if (n > clients.length) throw new Error(`start: ${n} clients asked, ${clients.length} set up`);
  if (loops.length > 0) throw new Error('start: the last point was not stopped');
  window = new Window(latencySamplesMax);
  failures = 0;
  firstFailure = undefined;
  const w = window;
  loops = clients.slice(0, n).map((c) => (kind === 'cas' ? casLoop(c, w) : readLoop(c, w)));
  return null;
}

function open(): LoadMark {
  window.measuring = true;
  return mark();
}

function close(): LoadWindow {
  const at = mark();
  window.measuring = false;
  return { ...at, completed: window.completed, p50Ms: window.quantile(0.5), p99Ms: window.quantile(0.99), failures, firstFailure };
}

async function stop(): Promise<null> {
  window.stopped = true;
  await Promise.all(loops);
  loops = [];
  return null;
}

/** Ping-pong over one raw connection to the echo server: `requestBytes` out, `answerBytes` back, one at a time. */
async function rtt(request: Request): Promise<RawRoundTrips> {
  const port = request['port'] as number;
  const requestBytes = request['requestBytes'] as number;
  const answerBytes = request['answerBytes'] as number;
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.setNoDelay(true);
  const payload = Buffer.alloc(requestBytes, 0x61);
  const w = new Window(latencySamplesMax);
  let sentAt = 0;
  let received = 0;
  let done: () => void = () => {};
  const drained = new Promise<void>((resolve) => (done = resolve));
  const ping = (): void => {
    sentAt = performance.now();
    socket.write(payload);
  };
  socket.on('data', (chunk: Buffer) => {
    received += chunk.byteLength;
    if (received < answerBytes) return;
    received -= answerBytes;
    w.record(performance.now() - sentAt);
    if (w.stopped) done();
    else ping();
  });
  ping();
  await sleep((request['warmupSeconds'] as number) * 1000);
  const before = mark();
  w.measuring = true;
  await sleep((request['seconds'] as number) * 1000);
  w.measuring = false;
  const after = mark();
  w.stopped = true;
  await drained;
  socket.destroy();
  return { roundTrips: w.completed, p50Ms: w.quantile(0.5), p99Ms: w.quantile(0.99), cpuMicros: after.cpuMicros - before.cpuMicros };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

answerParent(
  {
    setup: (request) => setup(request as unknown as SetupRequest),
    start,
    open,
    close,
    stop,
    rtt,
  },
  async () => {
    window.stopped = true;
    await Promise.all(connections.map((kv) => kv.close()));
  },
);
tellReady({});
