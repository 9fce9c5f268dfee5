/**
 * A hand-driven KV client for the security tests: a bare socket that speaks as much of
 * the client protocol as a test wants, honestly or not, and records what the server
 * says back (handshake frames, then server frames) with the time each arrived.
 */
import { connect, type Socket } from 'node:net';
import { decodeServerFrame, encodeClientRequest } from '../../../src/kv/protocol/client-codec.js';
import type { ClientRequest, ServerFrame } from '../../../src/kv/protocol/client-frames.js';
import { type ClientHandshakeFrame, decodeClientHandshake, encodeClientHandshake } from '../../../src/kv/protocol/client-handshake.js';
import { clientProtocolVersion } from '../../../src/kv/protocol/client-codec.js';
import { newNonce, proofOf } from '../../../src/connection/proof.js';
import { FrameReader, prefixFrame } from '../../../src/encoding/frame-reader.js';

/** A frame the server sent and when it arrived (`performance.now()`). */
export interface Received {
  readonly bytes: Uint8Array;
  readonly at: number;
}

export class RawClient {
  /** Every frame received, in order; `taken` of them were consumed by `next*`. */
  readonly frames: Received[] = [];
  private taken = 0;
  closed = false;
  private readonly reader = new FrameReader(1 << 26);

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      const at = performance.now();
      for (const bytes of this.reader.push(chunk)) this.frames.push({ bytes, at });
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  write(bytes: Uint8Array): boolean {
    return !this.socket.destroyed && this.socket.write(bytes);
  }

  /** Sends `requests` in one write, each framed. */
  send(...requests: ClientRequest[]): boolean {
    return this.write(concat(requests.map((q) => prefixFrame(encodeClientRequest(q)))));
  }

  /** The next frame not yet taken, or 'closed' if the server hung up first. */
  private async nextBytes(timeoutMs: number): Promise<Uint8Array | 'closed'> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.frames[this.taken];
      if (frame !== undefined) {
        this.taken++;
        return frame.bytes;
      }
      if (this.closed) return 'closed';
      if (Date.now() > deadline) throw new Error('no frame and no close within the timeout');
      await sleep(2);
    }
  }

  async nextHandshake(timeoutMs = 3_000): Promise<ClientHandshakeFrame | 'closed'> {
    const bytes = await this.nextBytes(timeoutMs);
    return bytes === 'closed' ? bytes : decodeClientHandshake(bytes);
  }

  async nextFrame(timeoutMs = 3_000): Promise<ServerFrame | 'closed'> {
    const bytes = await this.nextBytes(timeoutMs);
    return bytes === 'closed' ? bytes : decodeServerFrame(bytes);
  }

  /** The server frames received so far after the handshake (decoded, whether taken or not). */
  serverFrames(): ServerFrame[] {
    return this.frames.slice(2).map((f) => decodeServerFrame(f.bytes));
  }

  /**
   * Reads the challenge and says hello as `clientId`, proving `secret` over the context
   * (with `cluster` and `node` in place of the challenge's, to lie about them), or
   * sending `proof` as is; `then` is written right behind the hello, before any answer.
   * Returns the refusal's reason, or 'open'.
   */
  async handshake(h: {
    secret?: Uint8Array;
    proof?: Uint8Array;
    clientId?: string;
    cluster?: string;
    node?: string;
    nonce?: Uint8Array;
    /** The user to authenticate as (its secret in `secret`); default none, the shared secret. */
    user?: string;
    then?: readonly ClientRequest[];
  }): Promise<{ result: 'open'; hello: Uint8Array } | { result: 'refused'; reason: string }> {
    const challenge = await this.nextHandshake();
    if (challenge === 'closed') return { result: 'refused', reason: 'closed' };
    if (challenge.kind !== 'challenge') throw new Error(`expected a challenge, got ${challenge.kind}`);
    const clientId = h.clientId ?? 'raw';
    const nonce = h.nonce ?? newNonce();
    const user = h.user === undefined ? {} : { user: h.user };
    // The server spoke first (its node id and nonce), the client answers.
    const context = {
      cluster: h.cluster ?? challenge.cluster,
      first: h.node ?? challenge.node,
      second: clientId,
      firstNonce: challenge.nonce,
      secondNonce: nonce,
      ...user,
    };
    const proof = h.proof ?? (h.secret === undefined ? new Uint8Array(0) : proofOf(h.secret, 'client', clientProtocolVersion, context));
    const hello = prefixFrame(encodeClientHandshake({ kind: 'hello', clientId, nonce, proof, ...user }));
    this.write(concat([hello, ...(h.then ?? []).map((q) => prefixFrame(encodeClientRequest(q)))]));
    const answer = await this.nextHandshake();
    if (answer === 'closed') return { result: 'refused', reason: 'closed' };
    if (answer.kind === 'refuse') return { result: 'refused', reason: answer.reason };
    if (answer.kind !== 'welcome') throw new Error(`expected a welcome, got ${answer.kind}`);
    return { result: 'open', hello };
  }

  /** Resolves once the server closed the connection; throws after `timeoutMs`. */
  async waitClosed(timeoutMs = 3_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error(`the connection is still open after ${timeoutMs} ms`);
      await sleep(2);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
