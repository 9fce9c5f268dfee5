/**
 * One TCP (or TLS) connection between two nodes: its handshake, then whole messages in
 * and out, a ping while idle and a close when the peer falls silent or misbehaves.
 * What a connection is for (which peer, which queue) is the transport's business.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { NodeId } from '../../core/index.js';
import type { NodeMessage } from '../../runtime/index.js';
import { FrameLoop, type FrameLoopError } from '../../connection/frame-loop.js';
import { type Admission, Handshake, HandshakeError, type HandshakeStep } from '../../connection/handshake.js';
import { newNonce } from '../../connection/proof.js';
import { CodecError } from '../../encoding/codec-error.js';
import { decodeMessageIn, protocolVersion } from '../codec/message-codec.js';
import { certificateNamesNode } from './certificate-names.js';
import type { HandshakeFrame } from './handshake.js';
import { decodeHandshake, handshakeBytes, handshakeFrameBytesMax, isHandshakeFrame, peerWire } from './handshake.js';
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
  | 'handshake' // the shared handshake's steps (`connection/handshake.ts`)
  | 'open'
  | 'closed';

/** @internal */
export class Connection {
  /** The peer's node id: the one expected (dialer) or claimed in its hello (acceptor); authenticated once open. */
  peer: NodeId | undefined;
  /** The peer's own counters, once its link took this connection. */
  peerCounts: TcpPeerCounters | undefined;
  private state: State;
  private readonly loop: FrameLoop;
  private readonly handshake: Handshake<undefined>;
  private badFrames = 0;
  /** On the monotonic clock (`performance.now()`): a wall clock step must neither close a live connection nor keep a dead one. */
  private lastReceived = performance.now();
  private lastWritten = performance.now();
  private socketError: string | undefined;
  /** Whether the TCP connection was made (an accepted one was): a dial refused before it is no handshake failure. */
  private connected: boolean;
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
    this.state = role === 'dialer' ? 'connecting' : 'handshake';
    this.connected = role === 'acceptor';
    if (role === 'dialer') socket.once('connect', () => (this.connected = true));
    const o = host.options;
    this.handshake = new Handshake({
      wire: peerWire(o.idBytesMax),
      side: role === 'dialer' ? 'first' : 'second',
      cluster: o.clusterId,
      id: o.id,
      peer: expectedPeer,
      nonce: newNonce(),
      vet: (claim) => this.vet(claim.id),
    });
    this.loop = new FrameLoop(socket, this.frames, {
      handshakeFrameBytesMax,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      frameBytesMax: o.frameBytesMax,
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: Error) => {
      this.socketError = error.message;
    });
    socket.on('close', () => this.close(this.socketError === undefined ? 'connection closed' : `connection closed: ${this.socketError}`, false));
    if (role === 'dialer') socket.once(host.tls ? 'secureConnect' : 'connect', () => this.sendHello());
  }

  /** What the frame loop hands on: a frame (the handshake's until open), or why it stopped. */
  private readonly frames = {
    onFrame: (bytes: Uint8Array, start: number, end: number): void => {
      if (this.state === 'open') this.onFrame(bytes, start, end);
      else this.onHandshakeFrame(bytes.subarray(start, end));
    },
    onFailure: (error: FrameLoopError): void => {
      if (error.failure === 'handshake-timeout') return this.close(error.message);
      // The length prefix itself is beyond the limit: the stream cannot be followed.
      this.host.counters.framesRejected++;
      this.refuse(error.message);
    },
  };

  /** Whether the handshake has finished and the connection is usable. */
  get isOpen(): boolean {
    return this.state === 'open';
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
    this.loop.stop();
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
    // Frames are read in place in the chunk the socket gave (a fresh buffer each time,
    // never reused: what is decoded from it may keep views of it).
    this.loop.received(chunk);
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

  // ---- the handshake (its steps are the shared handshake's; this end does the I/O)

  private onHandshakeFrame(frame: Uint8Array): void {
    if (this.state !== 'handshake') return this.refuse('a frame before this node spoke');
    this.apply(this.handshake.receive(frame));
  }

  private sendHello(): void {
    if (this.state !== 'connecting') return;
    this.state = 'handshake';
    this.apply(this.handshake.start());
  }

  /** Writes what a handshake step sends, then opens or refuses as it says. */
  private apply(step: HandshakeStep<undefined>): void {
    if (!this.socket.destroyed && this.socket.writable) for (const frame of step.send) this.socket.write(frame);
    const failed = step.failed;
    if (failed !== undefined) {
      if (failed.failure === 'malformed') this.host.counters.framesRejected++;
      // The step sent the refusal already (this end tells why): close, letting it reach the peer.
      if (failed.failure === 'refused') this.close(failed.message);
      else this.close(failed.message, true);
      return;
    }
    if (step.done !== undefined) this.open();
  }

  /** Whether `peer` (the dialer's, or the one dialed) may be the other end: the transport's rules, its certificate. */
  private vet(peer: NodeId): Admission<undefined> | HandshakeError {
    const o = this.host.options;
    if (this.role === 'acceptor') {
      this.peer = peer;
      const refusal = this.host.refusal(peer);
      if (refusal !== undefined) return new HandshakeError('identity', refusal);
    } else if (peer !== this.peer) {
      return new HandshakeError('identity', `the node at ${this.remote} is ${peer}, not ${this.peer}`);
    }
    const certificate = this.certificateRefusal(peer);
    if (certificate !== undefined) return new HandshakeError('identity', certificate);
    return { accepted: o.secrets, prove: o.secret, grant: undefined };
  }

  /** Under TLS, why the peer's certificate does not make it node `id`, or undefined. */
  private certificateRefusal(id: NodeId): string | undefined {
    if (!this.host.tls) return undefined;
    const socket = this.socket as TLSSocket;
    if (!socket.authorized) return `the peer's certificate is not trusted: ${String(socket.authorizationError ?? 'no certificate')}`;
    if (!certificateNamesNode(socket.getPeerCertificate(), id)) return `the peer's certificate does not name ${id}`;
    return undefined;
  }

  private open(): void {
    const o = this.host.options;
    this.state = 'open';
    this.loop.opened();
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
