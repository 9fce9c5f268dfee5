/**
 * One TCP (or TLS) connection between two nodes: its handshake, then whole messages in
 * and out, a ping while idle and a close when the peer falls silent or misbehaves.
 * What a connection is for (which peer, which queue) is the transport's business.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { NodeId } from '../../core/index.js';
import type { NodeMessage } from '../../runtime/index.js';
import { CodecError } from '../../encoding/codec-error.js';
import { FrameReader } from '../../encoding/frame-reader.js';
import { decodeMessageIn, protocolVersion } from '../codec/message-codec.js';
import { certificateNamesNode } from './certificate-names.js';
import type { HandshakeFrame, ProofContext } from './handshake.js';
import { decodeHandshake, handshakeBytes, handshakeFrameBytesMax, isHandshakeFrame, newNonce, proofMatches, proofOf } from './handshake.js';
import type { ResolvedTcpOptions } from './tcp-options.js';
import type { TcpCounters, TcpPeerCounters } from './tcp-stats.js';

/** What a connection reports to, and asks of, its transport. @internal */
export interface ConnectionHost {
  readonly options: ResolvedTcpOptions;
  readonly counters: TcpCounters;
  /** Whether this node's end uses TLS (the socket is then a TLSSocket). */
  readonly tls: boolean;
  /** Acceptor side: why `peer` may not connect here, or undefined if it may. */
  refusal(peer: NodeId): string | undefined;
  /** The handshake succeeded; `connection.peer` is authenticated. */
  established(connection: Connection): void;
  /** A checked message from `connection.peer` to this node. */
  deliver(connection: Connection, message: NodeMessage): void;
  /** The connection is gone (called once). */
  ended(connection: Connection, reason: string): void;
}

type State =
  | 'connecting' // dialer: waiting for TCP (and TLS)
  | 'hello' // acceptor: waiting for the dialer's hello
  | 'welcome' // dialer: waiting for the acceptor's welcome
  | 'proof' // acceptor: waiting for the dialer's proof
  | 'ready' // dialer: waiting for the acceptor's go-ahead
  | 'open'
  | 'closed';

const noProof = new Uint8Array(0);

/** @internal */
export class Connection {
  /** The peer's node id: the one expected (dialer) or claimed in its hello (acceptor); authenticated once open. */
  peer: NodeId | undefined;
  /** The peer's own counters, once its link took this connection. */
  peerCounts: TcpPeerCounters | undefined;
  private state: State;
  private readonly reader = new FrameReader(handshakeFrameBytesMax);
  private readonly nonce = newNonce();
  private peerNonce: Uint8Array | undefined;
  private badFrames = 0;
  /** On the monotonic clock (`performance.now()`): a wall clock step must neither close a live connection nor keep a dead one. */
  private lastReceived = performance.now();
  private lastWritten = performance.now();
  private socketError: string | undefined;
  /** Whether the TCP connection was made (an accepted one was): a dial refused before it is no handshake failure. */
  private connected: boolean;
  private readonly handshakeTimer: ReturnType<typeof setTimeout>;
  private pingTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly host: ConnectionHost,
    private readonly socket: Socket,
    readonly role: 'dialer' | 'acceptor',
    /** Where the other end is, for the logs. */
    readonly remote: string,
    expectedPeer?: NodeId,
  ) {
    this.peer = expectedPeer;
    this.state = role === 'dialer' ? 'connecting' : 'hello';
    this.connected = role === 'acceptor';
    if (role === 'dialer') socket.once('connect', () => (this.connected = true));
    const timeoutMs = host.options.handshakeTimeoutMs;
    this.handshakeTimer = setTimeout(() => this.close(`handshake not finished after ${timeoutMs} ms`), timeoutMs);
    this.handshakeTimer.unref();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: Error) => {
      this.socketError = error.message;
    });
    socket.on('close', () => this.close(this.socketError === undefined ? 'connection closed' : `connection closed: ${this.socketError}`, false));
    if (role === 'dialer') socket.once(host.tls ? 'secureConnect' : 'connect', () => this.sendHello());
  }

  /** Whether the handshake has finished and the connection is usable. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Bytes written but not yet taken by the kernel. */
  get writableLength(): number {
    return this.socket.writableLength;
  }

  /**
   * Writes whole frames (with their prefixes). Only once open. `written`, if given, is
   * called once the socket no longer holds `bytes` (written out, or failed): not at all
   * when the connection is not open.
   */
  write(bytes: Uint8Array, written?: () => void): void {
    if (this.state !== 'open') return;
    this.socket.write(bytes, written);
    this.lastWritten = performance.now();
    this.host.counters.writes++;
    this.host.counters.bytesSent += bytes.byteLength;
  }

  /** Writes one frame given in two parts (its head, then bytes the caller never changes again), without joining them. Only once open. */
  writeParts(head: Uint8Array, tail: Uint8Array): void {
    if (this.state !== 'open') return;
    this.socket.cork();
    this.socket.write(head);
    this.socket.write(tail);
    this.socket.uncork();
    this.lastWritten = performance.now();
    this.host.counters.writes++;
    this.host.counters.bytesSent += head.byteLength + tail.byteLength;
  }

  /**
   * Closes the connection and reports it ended, once. `graceful` lets what was written
   * (a refusal) reach the peer first; the socket is destroyed soon after regardless.
   */
  close(reason: string, graceful = false): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    clearTimeout(this.handshakeTimer);
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
    if (!wasOpen) this.host.counters.handshakesFailed++;
    if (graceful && !this.socket.destroyed) {
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1_000).unref();
    } else {
      this.socket.destroy();
    }
    const log = this.host.options.logger;
    const fields = { node: this.host.options.id, peer: this.peer, remote: this.remote, reason };
    if (wasOpen) log.info(fields, 'tcp: connection closed');
    // A peer not listening (yet: a cluster starting) is the link's news ("peer unreachable"), not a line per redial.
    else if (!this.connected) log.debug(fields, 'tcp: dial failed');
    else log.warn(fields, `tcp: connection failed during the handshake`);
    this.host.ended(this, reason);
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.host.counters.bytesReceived += chunk.byteLength;
    if (this.peerCounts !== undefined) this.peerCounts.bytesReceived += chunk.byteLength;
    this.lastReceived = performance.now();
    this.reader.append(chunk);
    // A frame may close the connection; the state is re-read on every turn.
    const reader = this.reader;
    while (!this.isClosed()) {
      try {
        if (!reader.nextInPlace()) return;
      } catch (error) {
        // The length prefix itself is beyond the limit: the stream cannot be followed.
        this.host.counters.framesRejected++;
        this.refuse((error as CodecError).message);
        return;
      }
      // Read in place in the chunk the socket gave (a fresh buffer each time, never
      // reused: what is decoded from it may keep views of it).
      if (this.state === 'open') this.onFrame(reader.frameBytes, reader.frameStart, reader.frameEnd);
      else this.onHandshakeFrame(reader.frameBytes.subarray(reader.frameStart, reader.frameEnd));
    }
  }

  // ---- after the handshake

  /** The frame in `bytes` from `start` to `end`. */
  private onFrame(bytes: Uint8Array, start: number, end: number): void {
    if (isHandshakeFrame(bytes, start, end)) {
      let h: HandshakeFrame;
      try {
        h = decodeHandshake(bytes.subarray(start, end), this.host.options.idBytesMax);
      } catch (error) {
        this.bad((error as CodecError).message);
        return;
      }
      if (h.kind === 'ping') return;
      if (h.kind === 'refuse') this.close(`closed by the peer: ${h.reason}`);
      else this.bad(`a ${h.kind} frame after the handshake`);
      return;
    }
    let message: NodeMessage;
    try {
      message = decodeMessageIn(bytes, start, end, this.host.options);
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      this.bad(error.message);
      return;
    }
    if (message.from !== this.peer || message.to !== this.host.options.id) {
      this.bad(`a message from ${message.from} to ${message.to} on the connection between ${this.peer} and ${this.host.options.id}`);
      return;
    }
    if (this.peerCounts !== undefined) this.peerCounts.framesReceived++;
    this.host.deliver(this, message);
  }

  /** A frame refused: counted, logged once, and the connection closed after too many. */
  private bad(why: string): void {
    this.host.counters.framesRejected++;
    this.badFrames++;
    if (this.badFrames === 1)
      this.host.options.logger.warn({ node: this.host.options.id, peer: this.peer, remote: this.remote, reason: why }, 'tcp: bad frame dropped');
    if (this.badFrames >= this.host.options.badFramesMax) {
      this.host.counters.connectionsClosedForBadFrames++;
      this.refuse(`${this.badFrames} bad frames; the last: ${why}`);
    }
  }

  // ---- the handshake

  private onHandshakeFrame(frame: Uint8Array): void {
    let h: HandshakeFrame;
    try {
      h = decodeHandshake(frame, this.host.options.idBytesMax);
    } catch (error) {
      this.host.counters.framesRejected++;
      this.refuse(`malformed handshake: ${(error as CodecError).message}`);
      return;
    }
    if (h.kind === 'refuse') {
      this.close(`refused by the peer: ${h.reason}`);
      return;
    }
    if (h.version !== protocolVersion) {
      this.refuse(`protocol version ${h.version}; this node speaks ${protocolVersion}`);
      return;
    }
    const expected = { hello: 'hello', welcome: 'welcome', proof: 'proof', ready: 'ready' }[this.state as 'hello' | 'welcome' | 'proof' | 'ready'];
    if (h.kind !== expected) {
      this.refuse(`a ${h.kind} frame where a ${expected} was due`);
      return;
    }
    if (h.kind === 'hello') this.onHello(h);
    else if (h.kind === 'welcome') this.onWelcome(h);
    else if (h.kind === 'proof') this.onProof(h.proof);
    else this.open();
  }

  private sendHello(): void {
    if (this.state !== 'connecting') return;
    const o = this.host.options;
    this.state = 'welcome';
    this.socket.write(handshakeBytes({ kind: 'hello', version: protocolVersion, cluster: o.clusterId, from: o.id, to: this.peer!, nonce: this.nonce }));
  }

  private onHello(h: Extract<HandshakeFrame, { kind: 'hello' }>): void {
    const o = this.host.options;
    this.peer = h.from;
    if (h.cluster !== o.clusterId) return this.refuse(`the peer is in cluster "${h.cluster}", this node in "${o.clusterId}"`, 'wrong cluster id');
    if (h.to !== o.id) return this.refuse(`the peer wanted ${h.to}; this is ${o.id}`);
    const refusal = this.host.refusal(h.from);
    if (refusal !== undefined) return this.refuse(refusal);
    const certificate = this.certificateRefusal(h.from);
    if (certificate !== undefined) return this.refuse(certificate);
    this.peerNonce = h.nonce;
    const proof = o.secret === undefined ? noProof : proofOf(o.secret, 'acceptor', this.proofContext());
    this.state = 'proof';
    this.socket.write(handshakeBytes({ kind: 'welcome', version: protocolVersion, cluster: o.clusterId, from: o.id, to: h.from, nonce: this.nonce, proof }));
  }

  private onWelcome(h: Extract<HandshakeFrame, { kind: 'welcome' }>): void {
    const o = this.host.options;
    if (h.cluster !== o.clusterId) return this.refuse(`the peer is in cluster "${h.cluster}", this node in "${o.clusterId}"`, 'wrong cluster id');
    if (h.from !== this.peer) return this.refuse(`the node at ${this.remote} is ${h.from}, not ${this.peer}`);
    if (h.to !== o.id) return this.refuse(`the peer wanted ${h.to}; this is ${o.id}`);
    const certificate = this.certificateRefusal(h.from);
    if (certificate !== undefined) return this.refuse(certificate);
    this.peerNonce = h.nonce;
    const refusal = this.proofRefusal('acceptor', h.proof);
    if (refusal !== undefined) return this.refuse(refusal);
    const proof = o.secret === undefined ? noProof : proofOf(o.secret, 'dialer', this.proofContext());
    this.state = 'ready';
    this.socket.write(handshakeBytes({ kind: 'proof', version: protocolVersion, proof }));
  }

  private onProof(proof: Uint8Array): void {
    const refusal = this.proofRefusal('dialer', proof);
    if (refusal !== undefined) return this.refuse(refusal);
    this.socket.write(handshakeBytes({ kind: 'ready', version: protocolVersion }));
    this.open();
  }

  /** Why the peer's proof of the secret is not good enough, or undefined. */
  private proofRefusal(signer: 'dialer' | 'acceptor', proof: Uint8Array): string | undefined {
    const secrets = this.host.options.secrets;
    if (secrets.length === 0) return proof.byteLength === 0 ? undefined : 'the peer proves a shared secret and this node has none configured';
    if (proof.byteLength === 0) return 'the peer sent no proof of the shared secret';
    const context = this.proofContext();
    return secrets.some((secret) => proofMatches(proofOf(secret, signer, context), proof))
      ? undefined
      : 'authentication failed: wrong proof of the shared secret';
  }

  /** Under TLS, why the peer's certificate does not make it node `id`, or undefined. */
  private certificateRefusal(id: NodeId): string | undefined {
    if (!this.host.tls) return undefined;
    const socket = this.socket as TLSSocket;
    if (!socket.authorized) return `the peer's certificate is not trusted: ${String(socket.authorizationError ?? 'no certificate')}`;
    if (!certificateNamesNode(socket.getPeerCertificate(), id)) return `the peer's certificate does not name ${id}`;
    return undefined;
  }

  private proofContext(): ProofContext {
    const o = this.host.options;
    const dialer = this.role === 'dialer';
    return {
      cluster: o.clusterId,
      dialer: dialer ? o.id : this.peer!,
      acceptor: dialer ? this.peer! : o.id,
      dialerNonce: dialer ? this.nonce : this.peerNonce!,
      acceptorNonce: dialer ? this.peerNonce! : this.nonce,
    };
  }

  private open(): void {
    const o = this.host.options;
    this.state = 'open';
    clearTimeout(this.handshakeTimer);
    this.reader.limit(o.frameBytesMax);
    this.host.counters.connectionsEstablished++;
    const ping = handshakeBytes({ kind: 'ping', version: protocolVersion });
    this.pingTimer = setInterval(
      () => {
        const now = performance.now();
        if (now - this.lastReceived >= o.idleTimeoutMs) this.close(`nothing received for ${Math.round(now - this.lastReceived)} ms`);
        else if (now - this.lastWritten >= o.pingIntervalMs) this.write(ping);
      },
      Math.max(1, Math.floor(o.pingIntervalMs / 2)),
    );
    this.pingTimer.unref();
    o.logger.info({ node: o.id, peer: this.peer, remote: this.remote, role: this.role }, 'tcp: connection established');
    this.host.established(this);
  }

  /**
   * Tells the peer why (best effort) and closes. `toPeer` is what the peer is told when
   * the full reason would reveal this node's configuration to an unauthenticated party.
   */
  private refuse(reason: string, toPeer = reason): void {
    if (this.state === 'closed') return;
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(handshakeBytes({ kind: 'refuse', version: protocolVersion, reason: toPeer }));
    this.close(reason, true);
  }
}
