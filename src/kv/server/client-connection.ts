/**
 * One client's connection to a KV server: the handshake, then requests answered in
 * any order (each carries its id), watches pumped from history, and bounds on
 * everything a client can make the server hold.
 */
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from '../../runtime/index.js';
import { CodecError } from '../../transport/codec/codec-error.js';
import { FrameReader, prefixFrame } from '../../transport/codec/frame-reader.js';
import { KvRequestError } from '../errors.js';
import type { KvNode } from '../kv-node.js';
import { decodeClientRequest, encodeServerFrame, snapshotChunkBytesMax } from '../protocol/client-codec.js';
import { errorBodyOf } from '../protocol/client-errors.js';
import type { ClientRequest, ServerFrame } from '../protocol/client-frames.js';
import { clientHandshakeBytesMax, clientNonce, clientProofMatches, clientProofOf, decodeClientHandshake, encodeClientHandshake } from '../protocol/client-handshake.js';
import type { WatchEvent } from '../kv-types.js';
import { ServerWatch } from './server-watch.js';

/** What a connection needs from its server. @internal */
export interface ConnectionHost {
  readonly kv: KvNode;
  readonly clusterId: string;
  readonly nodeId: string;
  readonly members: readonly string[];
  /** The client secret, or undefined under TLS (the certificate authenticated the client). */
  readonly secret: Uint8Array | undefined;
  readonly logger: Logger;
  readonly limits: ConnectionLimits;
  closed(connection: ClientConnection): void;
  /**
   * Runs `task` once no other connection's runs (a snapshot held and sent: at most one
   * copy of the state at a time, whatever the clients ask).
   */
  oneSnapshotAtATime<T>(task: () => Promise<T>): Promise<T>;
}

/** Bounds on one client connection. */
export interface ConnectionLimits {
  /** Largest frame after the handshake, in bytes. */
  readonly frameBytesMax: number;
  /** Requests in flight; at it the server stops reading the socket until half of them finish. */
  readonly requestsInFlightMax: number;
  /** Watches open at once; more are refused. */
  readonly watchesMax: number;
  /** Malformed frames before the connection is closed. */
  readonly badFramesMax: number;
  /** Time to finish the handshake, in ms. */
  readonly handshakeTimeoutMs: number;
  /**
   * Bytes queued on the socket above which watches wait for `drain` and the server stops
   * reading requests (a client that does not read its answers). At least the socket's
   * own high-water mark (16 KiB) in effect, since only above that does `drain` come.
   */
  readonly socketBytesHigh: number;
}

/** @internal */
export class ClientConnection {
  private readonly reader = new FrameReader(clientHandshakeBytesMax);
  private readonly serverNonce = clientNonce();
  private state: 'handshake' | 'open' | 'closed' = 'handshake';
  private clientId = '';
  private inFlight = 0;
  private paused = false;
  private badFrames = 0;
  private readonly watches = new Map<number, ServerWatch>();
  private readonly handshakeTimer: ReturnType<typeof setTimeout>;
  private corked = false;

  constructor(
    private readonly socket: Socket,
    private readonly host: ConnectionHost,
  ) {
    socket.setNoDelay(true);
    this.handshakeTimer = setTimeout(() => this.close('handshake timed out'), host.limits.handshakeTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.resumeReading());
    socket.on('error', () => this.close(undefined));
    socket.on('close', () => this.close(undefined));
    this.sendRaw(encodeClientHandshake({ kind: 'challenge', cluster: host.clusterId, node: host.nodeId, nonce: this.serverNonce }));
  }

  /** Ends the connection (with a reason the client is told during the handshake). */
  close(reason: string | undefined): void {
    if (this.state === 'closed') return;
    if (reason !== undefined) this.host.logger.info({ node: this.host.nodeId, client: this.clientId || undefined, reason }, 'kv server: client connection closed');
    if (this.state === 'handshake' && reason !== undefined && !this.socket.destroyed) this.sendRaw(encodeClientHandshake({ kind: 'refuse', reason }));
    this.state = 'closed';
    clearTimeout(this.handshakeTimer);
    for (const watch of this.watches.values()) watch.stop();
    this.watches.clear();
    // end() flushes what is queued (a refusal's reason); a peer that never reads is cut off.
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1_000).unref();
    this.host.closed(this);
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.reader.append(chunk);
    this.readFrames();
  }

  /**
   * Handles the frames buffered, until they run out or reading pauses: a chunk may hold
   * many requests, and those past the pause wait in the reader, not in flight.
   */
  private readFrames(): void {
    while (!this.paused) {
      let frame: Uint8Array | undefined;
      try {
        frame = this.reader.next();
      } catch (error) {
        return this.close(error instanceof Error ? error.message : String(error));
      }
      if (frame === undefined || (this.state as string) === 'closed') return;
      if (this.state === 'handshake') this.onHandshake(frame);
      else this.onRequestFrame(frame);
    }
  }

  private onHandshake(frame: Uint8Array): void {
    let hello;
    try {
      hello = decodeClientHandshake(frame);
    } catch (error) {
      return this.close(`bad handshake: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (hello.kind !== 'hello') return this.close(`expected hello, got ${hello.kind}`);
    const context = { cluster: this.host.clusterId, node: this.host.nodeId, clientId: hello.clientId, serverNonce: this.serverNonce, clientNonce: hello.nonce };
    let proof: Uint8Array = new Uint8Array(0);
    if (this.host.secret !== undefined) {
      if (!clientProofMatches(clientProofOf(this.host.secret, 'client', context), hello.proof)) return this.close('authentication failed');
      proof = clientProofOf(this.host.secret, 'server', context);
    }
    clearTimeout(this.handshakeTimer);
    this.clientId = hello.clientId;
    this.state = 'open';
    this.reader.limit(this.host.limits.frameBytesMax);
    this.sendRaw(encodeClientHandshake({ kind: 'welcome', proof }));
  }

  private onRequestFrame(frame: Uint8Array): void {
    let request: ClientRequest;
    try {
      request = decodeClientRequest(frame);
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      this.badFrames++;
      this.host.logger.warn({ node: this.host.nodeId, client: this.clientId, error: error.message }, 'kv server: malformed frame from a client');
      if (this.badFrames >= this.host.limits.badFramesMax) this.close(`${this.badFrames} malformed frames`);
      return;
    }
    if (request.kind === 'unwatch') {
      this.watches.get(request.id)?.stop();
      this.watches.delete(request.id);
      return;
    }
    this.inFlight++;
    if (this.inFlight >= this.host.limits.requestsInFlightMax || this.socketFull()) this.pauseReading();
    this.serve(request).then(
      (answer) => this.finish(answer),
      (error: unknown) => this.finish({ kind: 'error', id: request.id, error: errorBodyOf(error) }),
    );
  }

  private async serve(request: Exclude<ClientRequest, { kind: 'unwatch' }>): Promise<ServerFrame | undefined> {
    const kv = this.host.kv;
    switch (request.kind) {
      case 'command': {
        // The leader's own duties: a client that could enter them would keep dead sessions alive.
        if (request.command.type === 'session-renew' || request.command.type === 'session-expire') {
          throw new KvRequestError('command', `${request.command.type} is entered by the leader, not by clients`);
        }
        const options = {
          ...(request.request === undefined ? {} : { request: request.request }),
          ...(request.timeoutMs === 0 ? {} : { timeoutMs: request.timeoutMs }),
        };
        return { kind: 'result', id: request.id, result: await kv.node.propose(request.command, options) };
      }
      case 'range': {
        const result = await kv.range(request.range, {
          consistency: request.linearizable ? 'linearizable' : 'serializable',
          ...(request.limit === 0 ? {} : { limit: request.limit }),
          ...(request.revision === 0 ? {} : { revision: request.revision }),
        });
        return { kind: 'range', id: request.id, result };
      }
      case 'watch': {
        if (this.watches.size >= this.host.limits.watchesMax) throw new KvRequestError('watch', `at most ${this.host.limits.watchesMax} watches per connection`);
        if (this.watches.has(request.id)) throw new KvRequestError('watch', `watch ${request.id} is already open`);
        let from = request.fromRevision;
        if (from === 0) {
          await kv.node.read();
          from = kv.machine.revision + 1;
        }
        if (this.state === 'closed') return undefined;
        // 'watching' goes out before any event: the client learns where the watch starts.
        this.send({ kind: 'watching', id: request.id, fromRevision: from });
        this.watches.set(request.id, new ServerWatch(request.id, kv.machine, request.range, from, this.watchSink));
        return undefined;
      }
      case 'member':
        return this.member(request);
      case 'snapshot':
        return this.host.oneSnapshotAtATime(() => this.sendSnapshot(request));
      case 'status': {
        const s = kv.node.status();
        return {
          kind: 'status',
          id: request.id,
          status: {
            node: s.id,
            leader: s.leader,
            role: s.role ?? 'starting',
            members: s.configuration?.voters ?? this.host.members,
            commitIndex: s.commitIndex,
            appliedIndex: s.appliedIndex,
            revision: kv.machine.revision,
            compactRevision: kv.machine.compactRevision,
          },
        };
      }
    }
  }

  /** A `member` request: the configuration, or a change to it (the leader's; others refuse with the leader). */
  private async member(request: Extract<ClientRequest, { kind: 'member' }>): Promise<ServerFrame> {
    const node = this.host.kv.node;
    const options = request.timeoutMs === 0 ? {} : { timeoutMs: request.timeoutMs };
    const { target } = request;
    switch (request.action) {
      case 'list':
        break;
      case 'transfer':
        await node.transferLeadership(target, options);
        break;
      case 'addObserver':
        await node.changeMembers({ type: 'addObserver', id: target, ...(request.address === '' ? {} : { address: request.address }) }, options);
        break;
      default:
        await node.changeMembers({ type: request.action, id: target }, options);
    }
    const s = node.status();
    if (s.configuration === undefined) throw new KvRequestError('member', 'the node has not started');
    return { kind: 'members', id: request.id, configuration: s.configuration, from: s.configurationFrom };
  }

  /**
   * A `snapshot` request: a copy of the state at a linearizable point, sent in pieces
   * of at most `snapshotChunkBytesMax`, waiting for the socket to drain between them.
   * Answers nothing more (the last piece says it is complete).
   */
  private async sendSnapshot(request: Extract<ClientRequest, { kind: 'snapshot' }>): Promise<undefined> {
    if (this.state === 'closed') return undefined;
    const snapshot = await this.host.kv.node.exportSnapshot(request.timeoutMs === 0 ? {} : { timeoutMs: request.timeoutMs });
    const { slot, data } = snapshot;
    const sha256 = createHash('sha256').update(data).digest();
    this.host.logger.info({ node: this.host.nodeId, client: this.clientId, slot, bytes: data.byteLength }, 'kv server: sending a snapshot to a client');
    for (let offset = 0; offset < data.byteLength; offset += snapshotChunkBytesMax) {
      if ((this.state as string) === 'closed') return undefined;
      this.send({ kind: 'snapshotChunk', id: request.id, slot, totalBytes: data.byteLength, offset, sha256, data: data.subarray(offset, offset + snapshotChunkBytesMax) });
      if (this.socketFull()) await this.whenWritable();
    }
    return undefined;
  }

  /** Resolves once the socket took what it holds (or closed). */
  private whenWritable(): Promise<void> {
    return new Promise((resolve) => {
      if (this.state === 'closed' || !this.socketFull()) return resolve();
      this.socket.once('drain', resolve);
      this.socket.once('close', resolve);
    });
  }

  /** Whether the socket holds more than `socketBytesHigh` the client has not taken yet (and `drain` will say when it has). */
  private socketFull(): boolean {
    return this.socket.writableNeedDrain && this.socket.writableLength >= this.host.limits.socketBytesHigh;
  }

  /** Stops reading requests: too many in flight, or answers piling up unread. */
  private pauseReading(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  /** Reads again once half the requests in flight finished and the socket drained; first the frames already buffered. */
  private resumeReading(): void {
    if (!this.paused || this.state === 'closed') return;
    if (this.inFlight >= this.host.limits.requestsInFlightMax / 2 || this.socketFull()) return;
    this.paused = false;
    this.socket.resume();
    this.readFrames();
  }

  private readonly watchSink = {
    events: (id: number, events: readonly WatchEvent[], through: number): boolean => {
      this.send({ kind: 'events', id, events, through });
      return !this.socketFull();
    },
    whenWritable: (): Promise<void> => this.whenWritable(),
    failed: (id: number, error: Error): void => {
      this.watches.delete(id);
      this.send({ kind: 'error', id, error: errorBodyOf(error) });
    },
  };

  private finish(answer: ServerFrame | undefined): void {
    this.inFlight--;
    if (answer !== undefined) this.send(answer);
    this.resumeReading();
  }

  private send(frame: ServerFrame): void {
    if (this.state === 'closed') return;
    let bytes: Uint8Array;
    try {
      bytes = encodeServerFrame(frame);
    } catch (error) {
      // A result that cannot be encoded (it broke a limit): tell the client rather than leave it waiting.
      if (frame.kind === 'error') throw error;
      bytes = encodeServerFrame({ kind: 'error', id: frame.id, error: errorBodyOf(error) });
    }
    this.sendRaw(bytes);
  }

  /** Writes a frame; frames written in one turn leave in one system call. */
  private sendRaw(frame: Uint8Array): void {
    if (this.socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(prefixFrame(frame));
  }
}
