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
import type { HandshakeMessage, HandshakeWire } from '../../connection/handshake.js';
import { nonceBytes, proofBytes } from '../../connection/proof.js';
import { CodecError } from '../../encoding/codec-error.js';
import { Reader } from '../../encoding/reader.js';
import { Writer } from '../../encoding/writer.js';
import { readString, writeString } from '../kv-codec.js';
import { clientProtocolVersion } from './client-codec.js';

/** The reason a server refuses a client whose proof does not verify (the client fails for good on it). */
export const authenticationRefusal = 'authentication failed';

/** The largest handshake frame, in bytes (a frame loop takes no more before the handshake ends). */
export const clientHandshakeBytesMax = 2048;
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
  return clientHandshakeBytes(f).subarray(4);
}

/** A handshake frame with its length prefix, written in place, ready to write to a stream. @internal */
export function clientHandshakeBytes(f: ClientHandshakeFrame): Uint8Array {
  const w = new Writer(128);
  const prefix = w.reserveU32();
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
  w.setU32(prefix, w.length - 4);
  return w.finish();
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
  const proof = () => r.bytesOf('proof', proofBytes).slice();
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

/**
 * The client protocol's frames as the shared handshake reads and writes them: the
 * server speaks first (challenge), the client answers (hello, with its proof), and the
 * server's welcome carries its proof and opens the connection. Only the server says
 * why it refuses, and for every failed proof it says the same. @internal
 */
export const clientWire: HandshakeWire = {
  version: clientProtocolVersion,
  signers: { first: 'server', second: 'client' },
  confirms: false,
  refusers: ['first'],
  names: { opening: 'challenge', answer: 'hello', proof: 'welcome', ready: 'ready', refuse: 'refuse' },
  malformed: 'bad handshake',
  outOfTurn: (got, due) => `expected ${due}, got ${got}`,
  proofRefusal: authenticationRefusal,
  encode: (m) => clientHandshakeBytes(frameOf(m)),
  decode: (frame) => {
    // Another version's frame is told apart before its fields are read: they may differ.
    if (frame.byteLength >= 3 && frame[0] === magic0 && frame[1] === magic1 && frame[2] !== clientProtocolVersion)
      return { kind: 'other', version: frame[2]!, name: 'frame' };
    return messageOf(decodeClientHandshake(frame));
  },
};

/** The client protocol's frame for a step's message. */
function frameOf(m: HandshakeMessage): ClientHandshakeFrame {
  switch (m.kind) {
    case 'opening':
      return { kind: 'challenge', cluster: m.cluster, node: m.from, nonce: m.nonce };
    case 'answer':
      return { kind: 'hello', clientId: m.from, nonce: m.nonce, proof: m.proof, ...(m.user === undefined ? {} : { user: m.user }) };
    case 'proof':
      return { kind: 'welcome', proof: m.proof };
    case 'refuse':
      return { kind: 'refuse', reason: m.reason };
    case 'ready':
    case 'other':
      throw new CodecError(`the client protocol has no ${m.kind} frame`);
  }
}

/** A step's message for the client protocol's frame. */
function messageOf(f: ClientHandshakeFrame): HandshakeMessage {
  const version = clientProtocolVersion;
  switch (f.kind) {
    case 'challenge':
      return { kind: 'opening', version, cluster: f.cluster, from: f.node, nonce: f.nonce };
    case 'hello':
      return { kind: 'answer', version, from: f.clientId, nonce: f.nonce, proof: f.proof, user: f.user };
    case 'welcome':
      return { kind: 'proof', version, proof: f.proof };
    case 'refuse':
      return { kind: 'refuse', version, reason: f.reason };
  }
}
