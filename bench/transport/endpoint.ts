/**
 * One end of a benchmark connection, whatever moves the bytes: a TcpTransport, or a raw
 * `node:net` socket writing the same frames. Both ends of a run use the same variant.
 *
 * - `tcp`: a TcpTransport (shared secret, no TLS, default options). `send` hands it
 *   the message record, which it encodes, queues, and writes once per event-loop turn;
 *   the other end's transport splits the frames, decodes and checks each one and calls
 *   `deliver`.
 * - `raw`: the baseline. A socket (`noDelay`, like the transport's) writing the
 *   message's frame, encoded before timing: the bytes the transport would write. Frames
 *   sent during one turn are concatenated into one buffer and written once, on
 *   `setImmediate`, the transport's own coalescing policy; the receiver splits frames
 *   with the codec's FrameReader and does not decode them. So the difference between
 *   `raw` and `tcp` is the transport's own work: encoding, queueing, decoding, checking.
 * - `raw-codec`: to tell the codec's cost from the rest of the transport's, `raw` plus
 *   the codec: each message's record encoded when sent (into one buffer reused turn
 *   after turn, the turn's frames copied out for the write) and each frame decoded on
 *   arrival; no queue limits, handshake or checks.
 * - `raw-per-write`: for context, the same socket with one `socket.write` per frame as
 *   soon as it is sent (no coalescing, no deferral): what a naive transport would do.
 */
import { type Socket, connect } from 'node:net';
import { FrameReader } from '../../src/encoding/frame-reader.js';
import { decodeMessage } from '../../src/transport/codec/index.js';
import { writeMessage } from '../../src/transport/codec/message-codec.js';
import { Writer } from '../../src/encoding/writer.js';
import type { NodeMessage } from '../../src/runtime/index.js';
import { TcpTransport } from '../../src/transport/tcp/index.js';
import type { Payload } from './payloads.js';

export const variants = ['raw', 'raw-codec', 'tcp', 'raw-per-write'] as const;
export type Variant = (typeof variants)[number];

/** Counts an endpoint keeps of what it wrote. */
export interface EndpointCounts {
  readonly messagesSent: number;
  readonly writes: number;
}

export interface Endpoint {
  /** Sends `payload` to the other end: its record (tcp) or its frame (raw). */
  send(payload: Payload): void;
  /** Called once for each message the other end sent, in order, once it has fully arrived. */
  onMessage: () => void;
  readonly counts: EndpointCounts;
  close(): Promise<void>;
}

/**
 * `SYNOD_BENCH_READ_VALUES=1`: the receiver (`tcp`, `raw-codec`) reads every command of
 * each accept or chosen it decodes, as a node does. The codec cuts values into views of
 * the frame when first read, so without it their cost is left out of the figures.
 */
const readValues = process.env['SYNOD_BENCH_READ_VALUES'] === '1';

/** Reads `message`'s commands when {@link readValues} asks for it. */
function received(message: NodeMessage): void {
  if (!readValues || (message.type !== 'accept' && message.type !== 'chosen')) return;
  for (const v of message.values) if (v.kind === 'batch') for (const c of v.commands) if (!(c.byteLength >= 0)) throw new Error('a command that is not bytes');
}

/** The largest frame a raw receiver takes: the codec's default limit. */
const frameBytesMax = 16 * 1024 * 1024;
/** The shared secret of the benchmark's TcpTransports. */
const benchSecret = 'the transport benchmark secret, 32+';
const benchClusterId = 'bench';
export const host = '127.0.0.1';

/** How a raw endpoint writes and reads. */
export type RawMode = 'coalesce' | 'codec' | 'per-write';

export function rawModeOf(variant: Exclude<Variant, 'tcp'>): RawMode {
  return variant === 'raw' ? 'coalesce' : variant === 'raw-codec' ? 'codec' : 'per-write';
}

/** A raw socket endpoint (variants `raw`, `raw-codec` and `raw-per-write`) on an open socket. */
export class RawEndpoint implements Endpoint {
  onMessage: () => void = () => {};
  private readonly reader = new FrameReader(frameBytesMax);
  private queue: Uint8Array[] = [];
  private queueBytes = 0;
  /** `codec` mode: the turn's frames, encoded. */
  private readonly encoded = new Writer(64 * 1024);
  private flushQueued = false;
  private sent = 0;
  private written = 0;

  constructor(
    private readonly socket: Socket,
    private readonly mode: RawMode,
  ) {
    socket.setNoDelay(true);
    const decode = mode === 'codec';
    socket.on('data', (chunk: Buffer) => {
      this.reader.append(chunk);
      for (let frame = this.reader.next(); frame !== undefined; frame = this.reader.next()) {
        if (decode) received(decodeMessage(frame));
        this.onMessage();
      }
    });
    socket.on('error', () => {});
  }

  get counts(): EndpointCounts {
    return { messagesSent: this.sent, writes: this.written };
  }

  send(payload: Payload): void {
    this.sent++;
    if (this.mode === 'per-write') {
      this.written++;
      this.socket.write(payload.frame);
      return;
    }
    if (this.mode === 'codec') {
      const w = this.encoded;
      const at = w.reserveU32();
      writeMessage(w, payload.message);
      w.setU32(at, w.length - at - 4);
    } else {
      this.queue.push(payload.frame);
      this.queueBytes += payload.frame.byteLength;
    }
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.mode === 'codec') {
      const bytes = this.encoded.finish();
      if (bytes.byteLength === 0 || this.socket.destroyed) return;
      this.written++;
      this.socket.write(Buffer.from(bytes));
      this.encoded.truncate(0);
      return;
    }
    const frames = this.queue;
    const bytes = this.queueBytes;
    this.queue = [];
    this.queueBytes = 0;
    if (frames.length === 0 || this.socket.destroyed) return;
    this.written++;
    this.socket.write(Buffer.concat(frames, bytes));
  }

  close(): Promise<void> {
    this.socket.destroy();
    return Promise.resolve();
  }

  /** Connects to a raw sink at `port`. */
  static connect(port: number, mode: RawMode): Promise<RawEndpoint> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawEndpoint(socket, mode));
      });
    });
  }
}

/** A TcpTransport endpoint talking to one peer. */
export class TcpEndpoint implements Endpoint {
  onMessage: () => void = () => {};
  private constructor(
    readonly transport: TcpTransport,
    private readonly peer: string,
  ) {}

  get counts(): EndpointCounts {
    const s = this.transport.stats;
    return { messagesSent: s.messagesSent, writes: s.writes };
  }

  send(payload: Payload): void {
    this.transport.send(payload.message);
  }

  close(): Promise<void> {
    return this.transport.close();
  }

  /**
   * A started transport for `id`. `peerPort` is where `peer` listens; the peer whose id
   * sorts last never dials, so its side may pass any port there. Resolves once `peer`
   * is reachable when `waitForPeer`, or once listening.
   */
  static async start(id: string, peer: string, peerPort: number, waitForPeer: boolean): Promise<TcpEndpoint> {
    const transport = new TcpTransport({
      id,
      clusterId: benchClusterId,
      listen: { host, port: 0 },
      peers: { [peer]: { host, port: peerPort } },
      secret: benchSecret,
    });
    let reached: () => void = () => {};
    const reachable = new Promise<void>((resolve) => {
      reached = resolve;
    });
    // The endpoint exists before `start` so deliveries go through its `onMessage`.
    const endpoint = new TcpEndpoint(transport, peer);
    await transport.start({
      deliver: (message) => {
        received(message);
        endpoint.onMessage();
      },
      peerReachable: (p) => {
        if (p === endpoint.peer) reached();
      },
      peerUnreachable: () => {},
    });
    if (waitForPeer) await reachable;
    return endpoint;
  }
}
