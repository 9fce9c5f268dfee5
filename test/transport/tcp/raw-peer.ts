/**
 * A hand-driven peer for the security tests: a bare socket that speaks as much of the
 * handshake as a test wants, honestly or not, and reads back what the transport says.
 */
import { connect, type Socket } from 'node:net';
import { FrameReader } from '../../../src/encoding/frame-reader.js';
import { protocolVersion } from '../../../src/transport/codec/message-codec.js';
import { newNonce, proofOf } from '../../../src/connection/proof.js';
import { decodeHandshake, handshakeBytes, type HandshakeFrame, isHandshakeFrame } from '../../../src/transport/tcp/handshake.js';

export class RawPeer {
  readonly frames: Uint8Array[] = [];
  closed = false;
  private readonly reader = new FrameReader(1 << 24);

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.reader.push(chunk)) this.frames.push(frame);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
    });
  }

  /** Connects from `localAddress` (another loopback address plays another host). */
  static connect(port: number, localAddress = '127.0.0.1'): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, localAddress });
      socket.once('connect', () => resolve(new RawPeer(socket)));
      socket.once('error', reject);
    });
  }

  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** The next handshake frame the transport sends, or 'closed' if it hangs up first. */
  async next(timeoutMs = 3_000): Promise<HandshakeFrame | 'closed'> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.frames.shift();
      if (frame !== undefined) {
        if (!isHandshakeFrame(frame)) throw new Error('a message frame where a handshake frame was due');
        return decodeHandshake(frame, 255);
      }
      if (this.closed) return 'closed';
      if (Date.now() > deadline) throw new Error('no frame and no close within the timeout');
      await sleep(2);
    }
  }

  /** Resolves once the transport has closed the connection; throws after `timeoutMs`. */
  async waitClosed(timeoutMs = 3_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('the connection is still open');
      await sleep(2);
    }
  }

  /**
   * Dials like node `from` of `cluster`, proving `secret` (or sending `proof` as is).
   * Returns the refusal reason, or 'open' with the proof it sent.
   */
  async handshake(h: {
    cluster: string;
    from: string;
    to: string;
    secret?: string;
    proof?: Uint8Array;
    nonce?: Uint8Array;
    version?: number;
  }): Promise<{ result: 'open'; proof: Uint8Array } | { result: 'refused'; reason: string }> {
    const version = h.version ?? protocolVersion;
    const nonce = h.nonce ?? newNonce();
    this.write(handshakeBytes({ kind: 'hello', version, cluster: h.cluster, from: h.from, to: h.to, nonce }));
    const welcome = await this.next();
    if (welcome === 'closed') return { result: 'refused', reason: 'closed' };
    if (welcome.kind === 'refuse') return { result: 'refused', reason: welcome.reason };
    if (welcome.kind !== 'welcome') throw new Error(`expected a welcome, got ${welcome.kind}`);
    const context = { cluster: h.cluster, first: h.from, second: h.to, firstNonce: nonce, secondNonce: welcome.nonce };
    const proof = h.proof ?? (h.secret === undefined ? new Uint8Array(0) : proofOf(new TextEncoder().encode(h.secret), 'dialer', protocolVersion, context));
    this.write(handshakeBytes({ kind: 'proof', version, proof }));
    const ready = await this.next();
    if (ready === 'closed') return { result: 'refused', reason: 'closed' };
    if (ready.kind === 'refuse') return { result: 'refused', reason: ready.reason };
    if (ready.kind !== 'ready') throw new Error(`expected ready, got ${ready.kind}`);
    return { result: 'open', proof };
  }

  close(): void {
    this.socket.destroy();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
