/**
 * The transport benchmark's second process: it listens (on a free port), takes the one
 * connection the benchmark makes, counts the messages that arrive and sends one reply
 * (an `accepted`) every `replyEvery` of them. Run by `run.ts` as
 * `node <tsx flags> sink.ts <variant>`; not meant to be run by hand.
 *
 * Control, one JSON line at a time on stdin, each answered by one JSON line on stdout:
 * - (at start, unasked) `{ "port": n }`, once listening;
 * - `{ "op": "replyEvery", "n": k }`: reply every k messages from now on (the count
 *   restarts); answered `{ "ok": true }`;
 * - `{ "op": "mark" }`: answered {@link SinkMark}, for the edges of a measured block;
 * - `{ "op": "exit" }`: closes and exits.
 * It exits as soon as stdin ends, so it never outlives the benchmark.
 */
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { type Endpoint, RawEndpoint, TcpEndpoint, type Variant, host, rawModeOf, variants } from './endpoint.js';
import { reply, senderId, sinkId } from './payloads.js';

/** What the sink has done so far, read at the edges of a measured block. */
export interface SinkMark {
  /** Messages received. */
  readonly received: number;
  /** Process CPU time (user + system) so far, in µs. */
  readonly cpuMicros: number;
  /** `performance.now()` in the sink, in ms. */
  readonly atMs: number;
  readonly messagesSent: number;
  readonly writes: number;
}

/** The port a sink's placeholder address for the sender names: never dialed (see TcpEndpoint.start). */
const neverDialedPort = 9;

function out(line: unknown): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function main(): Promise<void> {
  const variant = process.argv[2] as Variant;
  if (!variants.includes(variant)) throw new Error(`sink: unknown variant ${String(variant)}; expected one of ${variants.join(', ')}`);
  let replyEvery = 1;
  let sinceReply = 0;
  let received = 0;
  let endpoint: Endpoint | undefined;
  const onMessage = (): void => {
    received++;
    if (++sinceReply === replyEvery) {
      sinceReply = 0;
      endpoint!.send(reply);
    }
  };

  let closeServer = (): void => {};
  if (variant === 'tcp') {
    const tcp = await TcpEndpoint.start(sinkId, senderId, neverDialedPort, false);
    tcp.onMessage = onMessage;
    endpoint = tcp;
    out({ port: tcp.transport.address().port });
  } else {
    const server = createServer({ noDelay: true }, (socket) => {
      if (endpoint !== undefined) {
        socket.destroy();
        return;
      }
      const raw = new RawEndpoint(socket, rawModeOf(variant));
      raw.onMessage = onMessage;
      endpoint = raw;
    });
    await new Promise<void>((resolve) => server.listen({ host, port: 0 }, resolve));
    closeServer = () => server.close();
    out({ port: (server.address() as { port: number }).port });
  }

  const exit = async (): Promise<void> => {
    closeServer();
    await endpoint?.close();
    process.exit(0);
  };
  // The loop ends when stdin does: the benchmark is gone, so the sink goes too.
  for await (const line of createInterface({ input: process.stdin })) {
    const command = JSON.parse(line) as { op: 'replyEvery'; n: number } | { op: 'mark' } | { op: 'exit' };
    switch (command.op) {
      case 'replyEvery':
        replyEvery = command.n;
        sinceReply = 0;
        out({ ok: true });
        break;
      case 'mark': {
        const cpu = process.cpuUsage();
        const counts = endpoint?.counts ?? { messagesSent: 0, writes: 0 };
        out({ received, cpuMicros: cpu.user + cpu.system, atMs: performance.now(), ...counts } satisfies SinkMark);
        break;
      }
      case 'exit':
        await exit();
        break;
    }
  }
  await exit();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
