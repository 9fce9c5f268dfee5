import type { NodeId } from '../core/index.js';
import type { ForwardMessage, NodeMessage, Transport, TransportHandlers } from '../runtime/index.js';
import type { TestHarness } from './storage-conformance.js';

/**
 * How the conformance suite gets transports: one per node of a small cluster, and a
 * new one for a node whose previous transport was closed (a restart).
 */
export interface TransportFactory {
  /**
   * Called once before each case with the ids of its cluster (e.g. to pick ports).
   * Optional.
   */
  setup?(ids: readonly NodeId[]): Promise<void>;
  /** The transport of node `id`. Called again for `id` only after its previous transport's `close()` resolved. */
  create(id: NodeId, ids: readonly NodeId[]): Promise<Transport> | Transport;
  /** Called once after each case, every transport closed. Optional. */
  teardown?(): Promise<void>;
}

/** Bounds of the suite's waits and floods. */
export interface TransportConformanceOptions {
  /** How long a message between live peers may take, in ms. Default 5,000. */
  readonly deliveryMsMax?: number;
  /** Messages sent toward a dead peer in the flood case. Default 20,000. */
  readonly floodMessages?: number;
}

const ids: readonly NodeId[] = ['a', 'b', 'c'];

/**
 * Registers the Transport conformance suite for the transport that `factory` makes:
 * the contract written on {@link Transport}. Delivery between live peers, in both
 * directions and to the addressee only; nothing delivered after `close()`; `send`
 * never throws, to a dead or unknown peer included; a flood toward a dead peer is not
 * stored without bound (a peer that returns gets at most a quarter of it); delivery again
 * once a dead peer returns. Assertions throw plain `Error`s naming what differed.
 *
 * It imports no test runner: pass the runner's `describe` and `it`.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest'; // or: from 'node:test'
 * import { MemoryNetwork } from 'synod';
 * import { transportConformance } from 'synod/testing';
 *
 * let network = new MemoryNetwork();
 * transportConformance('MemoryNetwork', {
 *   setup: async () => { network = new MemoryNetwork(); },
 *   create: (id) => network.transport(id),
 * }, { describe, it });
 * ```
 */
export function transportConformance(name: string, factory: TransportFactory, harness: TestHarness, options: TransportConformanceOptions = {}): void {
  const deliveryMsMax = options.deliveryMsMax ?? 5_000;
  const floodMessages = options.floodMessages ?? 20_000;

  const run = (title: string, body: (c: Cluster) => Promise<void>): unknown =>
    harness.it(title, async () => {
      await factory.setup?.(ids);
      const c = new Cluster(factory, deliveryMsMax);
      try {
        for (const id of ids) await c.start(id);
        await body(c);
      } finally {
        await c.closeAll();
        await factory.teardown?.();
      }
    });

  harness.describe(`${name}: Transport conformance`, () => {
    run('delivers between live peers, both ways, whole and only to the addressee', async (c) => {
      const sent: ForwardMessage[] = [];
      for (let i = 0; i < 200; i++) {
        const from = ids[i % 3]!;
        const to = ids[(i + 1 + (i % 2)) % 3]!;
        const m = forward(from, to, i, 4 + ((i * 37) % 3000));
        sent.push(m);
        c.send(m);
      }
      await c.waitFor(() => c.received.length >= sent.length, `${sent.length} messages between live peers`);
      for (const r of c.received) {
        if (r.at !== r.message.to) throw new Error(`${r.at} received a message addressed to ${r.message.to}`);
      }
      const got = new Map(c.received.map((r) => [key(r.message), r.message]));
      for (const m of sent) {
        const r = got.get(key(m));
        if (r === undefined) throw new Error(`message ${key(m)} was not delivered`);
        if (!sameForward(r, m)) throw new Error(`message ${key(m)} arrived altered`);
      }
    });

    run('delivers nothing to a closed node, and send never throws toward it or an unknown peer', async (c) => {
      await c.close('b');
      const before = c.callsAfterClose;
      for (let i = 0; i < 100; i++) c.send(forward('a', 'b', i, 10));
      c.send(forward('a', 'nobody', 0, 10));
      // Give a late delivery every chance to show up.
      c.send(forward('a', 'c', 1, 10));
      await c.waitFor(() => c.received.some((r) => r.at === 'c'), 'a message to a live peer');
      await sleep(50);
      if (c.callsAfterClose !== before) throw new Error(`${c.callsAfterClose - before} handler calls reached b after its close() resolved`);
    });

    run('a flood toward a dead peer is not stored without bound', async (c) => {
      await c.close('b');
      // Half before the sender can have noticed b is gone, half after.
      for (let i = 0; i < floodMessages / 2; i++) c.send(forward('a', 'b', i, 64));
      await sleep(100);
      for (let i = floodMessages / 2; i < floodMessages; i++) c.send(forward('a', 'b', i, 64));
      await sleep(20);
      await c.start('b');
      c.send(forward('a', 'b', floodMessages, 8));
      await c.waitFor(() => c.received.some((r) => r.at === 'b' && r.message.commands[0]!.byteLength === 8), 'the first message after the peer returned');
      await sleep(100);
      const flood = c.received.filter((r) => r.at === 'b' && r.message.commands[0]!.byteLength === 64).length;
      if (flood > floodMessages / 4)
        throw new Error(`${flood} of ${floodMessages} messages sent while b was down were delivered: they were kept without bound`);
    });

    run('delivers again once a dead peer returns', async (c) => {
      await c.close('c');
      await c.start('c');
      for (let round = 0; ; round++) {
        c.send(forward('a', 'c', round, 16));
        c.send(forward('c', 'a', round, 16));
        try {
          await c.waitFor(() => c.received.some((r) => r.at === 'c') && c.received.some((r) => r.at === 'a'), 'delivery both ways after the restart', 200);
          return;
        } catch (error) {
          // A transport may need a moment to reconnect: keep sending, as a node would.
          if (round * 200 > deliveryMsMax) throw error;
        }
      }
    });
  });
}

/** The transports of one case, what they received, and handler calls after a close. */
class Cluster {
  readonly received: { at: NodeId; message: ForwardMessage }[] = [];
  callsAfterClose = 0;
  private readonly transports = new Map<NodeId, Transport>();
  private readonly closed = new Set<NodeId>();

  constructor(
    private readonly factory: TransportFactory,
    private readonly deliveryMsMax: number,
  ) {}

  async start(id: NodeId): Promise<void> {
    const transport = await this.factory.create(id, ids);
    const handlers: TransportHandlers = {
      deliver: (message: NodeMessage) => {
        // A closed transport (or one replaced by a restart) must call nothing any more.
        if (this.transports.get(id) !== transport || this.closed.has(id)) {
          this.callsAfterClose++;
          return;
        }
        if (message.type === 'forward') this.received.push({ at: id, message });
      },
      peerReachable: () => {},
      peerUnreachable: () => {},
    };
    this.transports.set(id, transport);
    this.closed.delete(id);
    await transport.start(handlers);
  }

  send(message: NodeMessage): void {
    const t = this.transports.get(message.from);
    if (t === undefined || this.closed.has(message.from)) throw new Error(`no live transport for ${message.from}`);
    try {
      t.send(message);
    } catch (error) {
      throw new Error(`send() threw: ${String(error)}`);
    }
  }

  async close(id: NodeId): Promise<void> {
    await this.transports.get(id)!.close();
    this.closed.add(id);
  }

  async closeAll(): Promise<void> {
    for (const [id, t] of this.transports) if (!this.closed.has(id)) await t.close();
  }

  async waitFor(done: () => boolean, what: string, ms = this.deliveryMsMax): Promise<void> {
    const deadline = Date.now() + ms;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await sleep(2);
    }
  }
}

/** A forward message carrying one command of `bytes` bytes (at least 4), numbered `n`. */
function forward(from: NodeId, to: NodeId, n: number, bytes: number): ForwardMessage {
  bytes = Math.max(4, bytes);
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (n + i) & 0xff;
  new DataView(data.buffer).setUint32(0, n >>> 0);
  return { type: 'forward', from, to, commands: [data] };
}

function key(m: ForwardMessage): string {
  const c = m.commands[0]!;
  return `${m.from}>${m.to}#${new DataView(c.buffer, c.byteOffset, c.byteLength).getUint32(0)}/${c.byteLength}`;
}

function sameForward(a: ForwardMessage, b: ForwardMessage): boolean {
  if (a.from !== b.from || a.to !== b.to || a.commands.length !== b.commands.length) return false;
  for (let i = 0; i < a.commands.length; i++) {
    const x = a.commands[i]!;
    const y = b.commands[i]!;
    if (x.byteLength !== y.byteLength) return false;
    for (let j = 0; j < x.byteLength; j++) if (x[j] !== y[j]) return false;
  }
  return true;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
