/**
 * A bare ZooKeeper wire client for tests: frames requests with our jute codec, reads
 * replies and watch events in arrival order. It checks the server, not itself: every
 * frame is kept raw.
 */
import { type Socket, connect } from 'node:net';
import { JuteReader } from '../../../src/zk/protocol/jute-reader.js';
import { JuteWriter } from '../../../src/zk/protocol/jute-writer.js';
import { encodeConnectRequest } from '../../../src/zk/protocol/zk-connect.js';
import { encodeRequest, type ZkRequest } from '../../../src/zk/protocol/zk-request.js';
import { readStat } from '../../../src/zk/protocol/zk-records.js';
import type { ZkStat } from '../../../src/zk/index.js';

/** A frame from the server after the handshake. */
export interface Frame {
  readonly xid: number;
  readonly zxid: number;
  readonly err: number;
  readonly body: Uint8Array;
}

export class WireClient {
  readonly frames: Frame[] = [];
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private xid = 1;
  closed = false;
  session = { id: 0, password: new Uint8Array(16), timeoutMs: 0 };
  /** The session id exactly, in hex (a real ZooKeeper's are beyond 2^53). */
  sessionHex = '';
  lastZxid = 0;
  /** How long `handshake` and `call` wait for their answer, ms. */
  replyTimeoutMs = 5_000;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  static async open(port: number): Promise<WireClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new WireClient(socket);
  }

  /** Sends raw bytes (for malformed input). */
  raw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  send(content: Uint8Array): void {
    const frame = Buffer.alloc(4 + content.byteLength);
    frame.writeInt32BE(content.byteLength, 0);
    frame.set(content, 4);
    this.socket.write(frame);
  }

  /** The next whole frame's content, or undefined once the connection closed. */
  async nextFrame(ms = 5_000): Promise<Uint8Array | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.buffer.byteLength >= 4) {
        const n = this.buffer.readInt32BE(0);
        if (this.buffer.byteLength >= 4 + n) {
          const content = new Uint8Array(this.buffer.subarray(4, 4 + n));
          this.buffer = this.buffer.subarray(4 + n);
          return content;
        }
      }
      if (this.closed) return undefined;
      if (Date.now() > deadline) throw new Error('no frame in time');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** The handshake; `timeoutMs` 0 in the answer means the session is expired (or the password refused). */
  async handshake(
    options: { sessionId?: number; password?: Uint8Array; timeoutMs?: number } = {},
  ): Promise<{ timeoutMs: number; sessionId: number; password: Uint8Array }> {
    this.send(
      encodeConnectRequest({
        protocolVersion: 0,
        lastZxidSeen: this.lastZxid,
        timeoutMs: options.timeoutMs ?? 10_000,
        sessionId: options.sessionId ?? 0,
        password: options.password ?? new Uint8Array(16),
        readOnly: false,
      }),
    );
    const frame = await this.nextFrame(this.replyTimeoutMs);
    if (frame === undefined) throw new Error('closed during the handshake');
    const r = new JuteReader(frame);
    r.int('protocolVersion');
    const timeoutMs = r.int('timeout');
    const hex = Buffer.from(frame.subarray(8, 16)).toString('hex');
    const sessionId = r.longLossy('session');
    const password = r.buffer('password', 64).slice();
    if (timeoutMs > 0) {
      this.session = { id: sessionId, password, timeoutMs };
      this.sessionHex = hex;
    }
    return { timeoutMs, sessionId, password };
  }

  /** Sends a request; resolves with its reply (events that came before it are kept in `events`). */
  async call(request: ZkRequest, xid = this.xid++): Promise<Frame> {
    this.send(encodeRequest(xid, request));
    for (;;) {
      const content = await this.nextFrame(this.replyTimeoutMs);
      if (content === undefined) throw new Error(`connection closed before the reply to xid ${xid}`);
      const frame = parseFrame(content);
      this.frames.push(frame);
      if (frame.xid === xid || (xid === -2 && frame.xid === -2)) {
        if (frame.zxid > this.lastZxid) this.lastZxid = frame.zxid;
        return frame;
      }
    }
  }

  /** Watch events received so far: [type, path]. */
  get events(): [number, string][] {
    return this.frames
      .filter((f) => f.xid === -1)
      .map((f) => {
        const r = new JuteReader(f.body);
        const type = r.int('type');
        r.int('state');
        return [type, r.string('path', 4096)];
      });
  }

  /** Waits for `count` watch events. */
  async waitEvents(count: number, ms = 5_000): Promise<[number, string][]> {
    const deadline = Date.now() + ms;
    while (this.events.length < count) {
      if (Date.now() > deadline) throw new Error(`only ${this.events.length} of ${count} events`);
      const content = await this.nextFrame(Math.max(1, deadline - Date.now()));
      if (content === undefined) throw new Error('closed while waiting for events');
      this.frames.push(parseFrame(content));
    }
    return this.events;
  }

  close(): void {
    this.socket.destroy();
  }
}

function parseFrame(content: Uint8Array): Frame {
  const r = new JuteReader(content);
  const xid = r.int('xid');
  const zxid = r.longLossy('zxid');
  const err = r.int('err');
  return { xid, zxid, err, body: content.subarray(16) };
}

/** A getData reply's data and Stat. */
export function dataOf(frame: Frame): { data: string; stat: ZkStat } {
  const r = new JuteReader(frame.body);
  const data = new TextDecoder().decode(r.buffer('data', 1 << 20));
  return { data, stat: readStat(r) };
}

/** A Stat whose longs may be a real ZooKeeper's (session ids beyond 2^53), with its owner exactly, in hex. */
export function readStatLossy(r: JuteReader, raw: Uint8Array, at: number): ZkStat & { ownerHex: string } {
  return {
    // The owner is the Stat's eighth field, after four longs and three ints.
    ownerHex: Buffer.from(raw.subarray(at + 44, at + 52)).toString('hex'),
    czxid: r.longLossy('czxid'),
    mzxid: r.longLossy('mzxid'),
    ctime: r.longLossy('ctime'),
    mtime: r.longLossy('mtime'),
    version: r.int('version'),
    cversion: r.int('cversion'),
    aversion: r.int('aversion'),
    ephemeralOwner: r.longLossy('ephemeralOwner'),
    dataLength: r.int('dataLength'),
    numChildren: r.int('numChildren'),
    pzxid: r.longLossy('pzxid'),
  };
}

/** A raw request frame with a valid length but a body that does not parse. */
export function malformedGetData(): Uint8Array {
  return new JuteWriter().int(4).int(4).int(1000).int(1).finish();
}
