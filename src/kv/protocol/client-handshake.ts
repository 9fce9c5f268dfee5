/**
 * How a KV client and server authenticate each other before any request. Node-only
 * (node:crypto).
 *
 *   server → challenge { cluster, node, nonce }
 *   client → hello     { clientId, nonce, proof, user? }   HMAC of the client secret (or the user's) over both nonces
 *   server → welcome   { proof }                     the same, signed for the server's role
 * or `refuse { reason }` and close. Under TLS both ends are already authenticated by
 * their certificates and the proofs are empty. `user` is optional and last, so a hello
 * without it is byte for byte the one from before users: such a client proves the
 * shared client secret. Frames carry the magic "SC" and are at
 * most `clientHandshakeBytesMax` bytes.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CodecError } from '../../encoding/codec-error.js';
import { Reader } from '../../encoding/reader.js';
import { Writer } from '../../encoding/writer.js';
import { readString, writeString } from '../kv-codec.js';
import { clientProtocolVersion } from './client-codec.js';

/** The reason a server refuses a client whose proof does not verify (the client fails for good on it). */
export const authenticationRefusal = 'authentication failed';

/** The largest handshake frame. */
export const clientHandshakeBytesMax = 2048;
const nonceBytes = 32;
const idBytesMax = 255;
const magic0 = 0x53; // 'S'
const magic1 = 0x43; // 'C'

/** One handshake frame. @internal */
export type ClientHandshakeFrame =
  | { readonly kind: 'challenge'; readonly cluster: string; readonly node: string; readonly nonce: Uint8Array }
  | { readonly kind: 'hello'; readonly clientId: string; readonly nonce: Uint8Array; readonly proof: Uint8Array; readonly user?: string }
  | { readonly kind: 'welcome'; readonly proof: Uint8Array }
  | { readonly kind: 'refuse'; readonly reason: string };

const kinds = ['challenge', 'hello', 'welcome', 'refuse'] as const satisfies readonly ClientHandshakeFrame['kind'][];

/** Encodes a handshake frame (without its length prefix). @internal */
export function encodeClientHandshake(f: ClientHandshakeFrame): Uint8Array {
  const w = new Writer(128);
  w.u8(magic0);
  w.u8(magic1);
  w.u8(clientProtocolVersion);
  w.u8(kinds.indexOf(f.kind) + 1);
  switch (f.kind) {
    case 'challenge':
      writeString(w, 'cluster', f.cluster, idBytesMax);
      writeString(w, 'node', f.node, idBytesMax);
      w.bytesOf(f.nonce);
      break;
    case 'hello':
      writeString(w, 'client id', f.clientId, idBytesMax);
      w.bytesOf(f.nonce);
      w.bytesOf(f.proof);
      if (f.user !== undefined) writeString(w, 'user', f.user, idBytesMax);
      break;
    case 'welcome':
      w.bytesOf(f.proof);
      break;
    case 'refuse':
      writeString(w, 'reason', f.reason.length > 200 ? f.reason.slice(0, 200) : f.reason, 1024);
      break;
  }
  return w.finish().slice();
}

/** Decodes a handshake frame; throws `CodecError` on anything malformed or of another version. @internal */
export function decodeClientHandshake(frame: Uint8Array): ClientHandshakeFrame {
  if (frame.byteLength > clientHandshakeBytesMax) throw new CodecError(`handshake frame of ${frame.byteLength} bytes, over ${clientHandshakeBytesMax}`);
  const r = new Reader(frame);
  if (r.u8('magic') !== magic0 || r.u8('magic') !== magic1) throw new CodecError('not a synod client handshake (bad magic)');
  const version = r.u8('version');
  if (version !== clientProtocolVersion) throw new CodecError(`client protocol version ${version}; this build speaks ${clientProtocolVersion}`);
  const kind = kinds[r.u8('kind') - 1];
  let f: ClientHandshakeFrame;
  const nonce = (what: string) => {
    const n = r.bytesOf(what, nonceBytes);
    if (n.byteLength !== nonceBytes) throw new CodecError(`${what}: ${n.byteLength} bytes, not ${nonceBytes}`);
    return n;
  };
  const proof = () => r.bytesOf('proof', 32).slice();
  switch (kind) {
    case 'challenge':
      f = { kind, cluster: readString(r, 'cluster', idBytesMax), node: readString(r, 'node', idBytesMax), nonce: nonce('nonce').slice() };
      break;
    case 'hello': {
      const clientId = readString(r, 'client id', idBytesMax);
      if (clientId.length === 0) throw new CodecError('empty client id');
      const fields = { kind, clientId, nonce: nonce('nonce').slice(), proof: proof() };
      if (r.left === 0) {
        f = fields;
        break;
      }
      const user = readString(r, 'user', idBytesMax);
      if (user.length === 0) throw new CodecError('empty user');
      f = { ...fields, user };
      break;
    }
    case 'welcome':
      f = { kind, proof: proof() };
      break;
    case 'refuse':
      f = { kind, reason: readString(r, 'reason', 1024) };
      break;
    default:
      throw new CodecError('unknown handshake kind');
  }
  r.end();
  return f;
}

/** A fresh nonce. @internal */
export function clientNonce(): Uint8Array {
  return randomBytes(nonceBytes);
}

/** What a proof covers. @internal */
export interface ClientProofContext {
  readonly cluster: string;
  readonly node: string;
  readonly clientId: string;
  readonly serverNonce: Uint8Array;
  readonly clientNonce: Uint8Array;
  /** The user the client claims to be; absent: the shared client secret. */
  readonly user?: string;
}

/** HMAC-SHA256 of the client secret over the context, labelled with the signer's role. @internal */
export function clientProofOf(secret: Uint8Array, signer: 'client' | 'server', c: ClientProofContext): Uint8Array {
  const w = new Writer(256);
  w.string(`synod kv client v${clientProtocolVersion} ${signer}`);
  w.string(c.cluster);
  w.string(c.node);
  w.string(c.clientId);
  w.bytesOf(c.serverNonce);
  w.bytesOf(c.clientNonce);
  // Bound into the proof, so a hello cannot be replayed under another user's name.
  if (c.user !== undefined) w.string(`user ${c.user}`);
  return createHmac('sha256', secret).update(w.finish()).digest();
}

/** Constant-time comparison of a proof received with the one expected. @internal */
export function clientProofMatches(expected: Uint8Array, got: Uint8Array): boolean {
  return got.byteLength === expected.byteLength && timingSafeEqual(expected, got);
}
