/**
 * A minimal ZooKeeper client speaking the wire protocol (jute records, big-endian, each
 * frame prefixed by its length) for the five calls the comparison needs: create,
 * getData, setData, sync and close, plus the pings that keep its session alive.
 *
 * Why our own: the pure-JS client on npm (node-zookeeper-client) has no `sync`, which a
 * linearizable read needs, and the official binding (`zookeeper`) is a native addon
 * built from C. Requests are pipelined; the server answers a session's requests in
 * order, and each answer is matched to its request by xid.
 */
import { connect, type Socket } from 'node:net';

/** The opcodes used (ZooDefs.OpCode). */
const op = { create: 1, delete: 2, exists: 3, getData: 4, setData: 5, sync: 9, ping: 11, closeSession: -11 } as const;
/** The error codes told apart (KeeperException.Code). */
export const zooErrors = { noNode: -101, badVersion: -103, nodeExists: -110 } as const;
const pingXid = -2;
const watchXid = -1;
/** The largest frame accepted from the server, in bytes (ZooKeeper's jute.maxbuffer default, plus headroom). */
const frameBytesMax = 1 << 21;
/** How long close waits for the server to end the session, in ms: past it the connection is dropped and the session expires on its own. */
const closeWaitMs = 2_000;

/** A request the server refused: `code` is ZooKeeper's error code (see {@link zooErrors}). */
export class ZooKeeperError extends Error {
  constructor(
    readonly code: number,
    readonly path: string,
  ) {
    super(`ZooKeeper error ${code} on ${path}`);
    this.name = 'ZooKeeperError';
  }
}

/** A znode's data and the version of that data. */
export interface ZNodeData {
  readonly data: Uint8Array;
  readonly version: number;
}

/** Writes jute records into a growing buffer. */
class JuteWriter {
  private buffer = Buffer.alloc(256);
  private length = 4; // room for the frame length

  private room(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const bigger = Buffer.alloc(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(bigger, 0, 0, this.length);
    this.buffer = bigger;
  }
  int(value: number): this {
    this.room(4);
    this.length = this.buffer.writeInt32BE(value, this.length);
    return this;
  }
  long(value: bigint): this {
    this.room(8);
    this.length = this.buffer.writeBigInt64BE(value, this.length);
    return this;
  }
  bool(value: boolean): this {
    this.room(1);
    this.length = this.buffer.writeUInt8(value ? 1 : 0, this.length);
    return this;
  }
  bytes(value: Uint8Array): this {
    this.int(value.byteLength);
    this.room(value.byteLength);
    this.buffer.set(value, this.length);
    this.length += value.byteLength;
    return this;
  }
  string(value: string): this {
    return this.bytes(Buffer.from(value, 'utf8'));
  }
  /** The frame: its length, then the records. */
  frame(): Buffer {
    this.buffer.writeInt32BE(this.length - 4, 0);
    return this.buffer.subarray(0, this.length);
  }
}

/** Reads jute records from one frame. */
class JuteReader {
  private offset = 0;
  constructor(private readonly buffer: Buffer) {}
  int(): number {
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  long(): bigint {
    const value = this.buffer.readBigInt64BE(this.offset);
    this.offset += 8;
    return value;
  }
  bytes(): Uint8Array {
    const length = this.int();
    if (length < 0) return new Uint8Array(0);
    if (this.offset + length > this.buffer.length) throw new Error(`jute buffer of ${length} bytes overruns its ${this.buffer.length}-byte frame`);
    const value = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }
  string(): string {
    return Buffer.from(this.bytes()).toString('utf8');
  }
  /** A Stat record; only its data version is kept. */
  statVersion(): number {
    this.long(); // czxid
    this.long(); // mzxid
    this.long(); // ctime
    this.long(); // mtime
    const version = this.int();
    this.int(); // cversion
    this.int(); // aversion
    this.long(); // ephemeralOwner
    this.int(); // dataLength
    this.int(); // numChildren
    this.long(); // pzxid
    return version;
  }
}

interface Pending {
  readonly path: string;
  readonly resolve: (reply: JuteReader) => void;
  readonly reject: (error: Error) => void;
}

/** Options of {@link ZooKeeperClient.connect}. */
export interface ZooKeeperClientOptions {
  /** The session timeout asked for, in ms (default 10,000); pings go out every third of what the server grants. */
  readonly sessionTimeoutMs?: number;
  /** How long to wait for the server to answer the handshake, in ms (default 10,000). */
  readonly handshakeTimeoutMs?: number;
}

/** One ZooKeeper session over one connection to one server; it does not reconnect. */
export class ZooKeeperClient {
  private nextXid = 1;
  private readonly pending = new Map<number, Pending>();
  private received: Buffer = Buffer.alloc(0);
  private failure: Error | undefined;
  private pinger: NodeJS.Timeout | undefined;

  private constructor(private readonly socket: Socket) {}

  /** Connects to `host:port` and opens a session. */
  static async connect(address: string, options: ZooKeeperClientOptions = {}): Promise<ZooKeeperClient> {
    const [host, port] = address.split(':');
    const socket = connect({ host: host!, port: Number(port), noDelay: true });
    const client = new ZooKeeperClient(socket);
    const handshake = new Promise<JuteReader>((resolve, reject) => client.pending.set(0, { path: '(connect)', resolve, reject }));
    socket.on('data', (chunk: Buffer) => client.onData(chunk));
    socket.on('error', (error) => client.fail(error));
    socket.on('close', () => client.fail(new Error(`ZooKeeper connection to ${address} closed`)));
    // ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly.
    socket.write(
      new JuteWriter()
        .int(0)
        .long(0n)
        .int(options.sessionTimeoutMs ?? 10_000)
        .long(0n)
        .bytes(new Uint8Array(16))
        .bool(false)
        .frame(),
    );
    // A server that takes the connection but never answers must not hold the caller forever.
    const waitMs = options.handshakeTimeoutMs ?? 10_000;
    const timer = setTimeout(() => client.fail(new Error(`ZooKeeper at ${address} did not answer the handshake within ${waitMs} ms`)), waitMs);
    const reply = await handshake.finally(() => clearTimeout(timer));
    reply.int(); // protocolVersion
    const grantedMs = reply.int();
    if (grantedMs <= 0) throw new Error(`ZooKeeper at ${address} refused the session`);
    client.pinger = setInterval(() => socket.write(new JuteWriter().int(pingXid).int(op.ping).frame()), Math.max(100, grantedMs / 3));
    client.pinger.unref();
    return client;
  }

  /** Creates a persistent znode with open ACLs; resolves false if it exists already. */
  async create(path: string, data: Uint8Array): Promise<boolean> {
    try {
      // CreateRequest: path, data, acl (world:anyone, all permissions), flags (persistent).
      await this.call(path, (w) => w.int(op.create).string(path).bytes(data).int(1).int(31).string('world').string('anyone').int(0));
      return true;
    } catch (error) {
      if (error instanceof ZooKeeperError && error.code === zooErrors.nodeExists) return false;
      throw error;
    }
  }

  /** Creates an ephemeral sequential znode `prefix` + the parent's counter, open ACLs; resolves its path. */
  async createEphemeralSequential(prefix: string, data: Uint8Array): Promise<string> {
    // flags 3: ephemeral and sequential.
    const reply = await this.call(prefix, (w) => w.int(op.create).string(prefix).bytes(data).int(1).int(31).string('world').string('anyone').int(3));
    return reply.string();
  }

  /** Deletes the znode if its version is still `version` (-1: any). */
  async delete(path: string, version: number): Promise<void> {
    await this.call(path, (w) => w.int(op.delete).string(path).int(version));
  }

  /** The znode's data and data version. */
  async getData(path: string): Promise<ZNodeData> {
    const reply = await this.call(path, (w) => w.int(op.getData).string(path).bool(false));
    const data = reply.bytes();
    return { data: Uint8Array.from(data), version: reply.statVersion() };
  }

  /** Sets the data if the version is still `version` (-1: any); the new version. */
  async setData(path: string, data: Uint8Array, version: number): Promise<number> {
    const reply = await this.call(path, (w) => w.int(op.setData).string(path).bytes(data).int(version));
    return reply.statVersion();
  }

  /**
   * Leaves a watch on `path` (an exists watch: it fires when the znode is created,
   * changed or deleted); resolves whether the znode exists. The event itself is ignored.
   */
  async watchExists(path: string): Promise<boolean> {
    try {
      await this.call(path, (w) => w.int(op.exists).string(path).bool(true));
      return true;
    } catch (error) {
      // An exists watch on an absent znode is left all the same, to fire at its creation.
      if (error instanceof ZooKeeperError && error.code === zooErrors.noNode) return false;
      throw error;
    }
  }

  /** Waits until the connected server has caught up with the leader as of this call. */
  async sync(path: string): Promise<void> {
    await this.call(path, (w) => w.int(op.sync).string(path));
  }

  /** Closes the session (waiting at most {@link closeWaitMs} for the server to confirm) and the connection; never rejects. */
  async close(): Promise<void> {
    if (this.pinger !== undefined) clearInterval(this.pinger);
    if (this.failure === undefined) {
      let timer: NodeJS.Timeout | undefined;
      const closed = this.call('(close)', (w) => w.int(op.closeSession)).catch(() => undefined);
      await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, closeWaitMs)))]);
      clearTimeout(timer);
    }
    this.fail(new Error('ZooKeeper client closed'));
  }

  private call(path: string, request: (w: JuteWriter) => JuteWriter): Promise<JuteReader> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const xid = this.nextXid++;
    return new Promise((resolve, reject) => {
      this.pending.set(xid, { path, resolve, reject });
      this.socket.write(request(new JuteWriter().int(xid)).frame());
    });
  }

  private onData(chunk: Buffer): void {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    while (this.received.length >= 4) {
      const length = this.received.readInt32BE(0);
      if (length < 0 || length > frameBytesMax) return this.fail(new Error(`ZooKeeper frame of ${length} bytes (at most ${frameBytesMax})`));
      if (this.received.length < 4 + length) return;
      const frame = new JuteReader(this.received.subarray(4, 4 + length));
      this.received = this.received.subarray(4 + length);
      if (this.pending.has(0)) {
        // The connect response has no reply header.
        const handshake = this.pending.get(0)!;
        this.pending.delete(0);
        handshake.resolve(frame);
        continue;
      }
      const xid = frame.int();
      frame.long(); // zxid
      const err = frame.int();
      if (xid === pingXid || xid === watchXid) continue;
      const waiting = this.pending.get(xid);
      if (waiting === undefined) return this.fail(new Error(`ZooKeeper answered xid ${xid}, which was not asked`));
      this.pending.delete(xid);
      if (err === 0) waiting.resolve(frame);
      else waiting.reject(new ZooKeeperError(err, waiting.path));
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    if (this.pinger !== undefined) clearInterval(this.pinger);
    for (const waiting of this.pending.values()) waiting.reject(this.failure);
    this.pending.clear();
    this.socket.destroy();
  }
}
