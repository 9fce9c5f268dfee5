/**
 * The frames two TcpTransports exchange before any message, and the ping that keeps an
 * idle connection honest. They share the message frames' length prefix but carry the
 * magic "SH", so neither kind can be mistaken for the other.
 *
 * The exchange (the dialer is the node with the smaller id):
 *   dialer   → hello   { cluster, from, to, nonce }
 *   acceptor → welcome { cluster, from, to, nonce, proof }   proof of the secret over both nonces
 *   dialer   → proof   { proof }                            the same, signed for the other role
 *   acceptor → ready                                          messages may flow
 * Either side may answer `refuse { reason }` instead and close. The steps are the
 * shared handshake's (`connection/handshake.ts`, run by `Connection`), and so is the
 * proof: an HMAC of the secret labelled with the signer's role (`connection/proof.ts`).
 */
import type { HandshakeMessage, HandshakeWire } from '../../connection/handshake.js';
import { nonceBytes, proofBytes } from '../../connection/proof.js';
import type { NodeId } from '../../core/index.js';
import { CodecError } from '../../encoding/codec-error.js';
import { protocolVersion } from '../codec/message-codec.js';
import { Reader } from '../../encoding/reader.js';
import { Writer } from '../../encoding/writer.js';

/** The largest handshake frame read before the peer is authenticated. */
export const handshakeFrameBytesMax = 2048;
/** The longest refusal reason sent or read. */
const reasonBytesMax = 200;
/** The longest cluster id, in UTF-8 bytes. */
export const clusterIdBytesMax = 255;

const magic0 = 0x53; // 'S'
const magic1 = 0x48; // 'H'

/** One handshake or control frame. */
export type HandshakeFrame =
  | { readonly kind: 'hello'; readonly version: number; readonly cluster: string; readonly from: NodeId; readonly to: NodeId; readonly nonce: Uint8Array }
  | {
      readonly kind: 'welcome';
      readonly version: number;
      readonly cluster: string;
      readonly from: NodeId;
      readonly to: NodeId;
      readonly nonce: Uint8Array;
      readonly proof: Uint8Array;
    }
  | { readonly kind: 'proof'; readonly version: number; readonly proof: Uint8Array }
  | { readonly kind: 'ready'; readonly version: number }
  | { readonly kind: 'refuse'; readonly version: number; readonly reason: string }
  | { readonly kind: 'ping'; readonly version: number };

const kinds = ['hello', 'welcome', 'proof', 'ready', 'refuse', 'ping'] as const satisfies readonly HandshakeFrame['kind'][];

/** Whether the frame in `bytes` from `start` to `end` is a handshake or control frame (rather than a message). */
export function isHandshakeFrame(bytes: Uint8Array, start = 0, end = bytes.byteLength): boolean {
  return end - start >= 2 && bytes[start] === magic0 && bytes[start + 1] === magic1;
}

/** Appends `frame`, with its length prefix, to `w`. */
function writeHandshake(w: Writer, frame: HandshakeFrame): void {
  const at = w.reserveU32();
  w.u8(magic0);
  w.u8(magic1);
  w.u8(frame.version);
  w.u8(kinds.indexOf(frame.kind) + 1);
  switch (frame.kind) {
    case 'hello':
    case 'welcome':
      w.string(frame.cluster);
      w.string(frame.from);
      w.string(frame.to);
      w.bytesOf(frame.nonce);
      if (frame.kind === 'welcome') w.bytesOf(frame.proof);
      break;
    case 'proof':
      w.bytesOf(frame.proof);
      break;
    case 'refuse':
      w.string(clip(frame.reason, reasonBytesMax));
      break;
    case 'ready':
    case 'ping':
      break;
  }
  w.setU32(at, w.length - at - 4);
}

/** One handshake frame with its length prefix, ready to write. */
export function handshakeBytes(frame: HandshakeFrame): Uint8Array {
  const w = new Writer(128);
  writeHandshake(w, frame);
  return w.finish();
}

/**
 * Decodes one handshake frame (without its prefix). The version is returned, not
 * checked: the caller refuses a version it does not speak with a reason.
 * @throws {@link CodecError} for anything malformed.
 */
export function decodeHandshake(frame: Uint8Array, idBytesMax: number): HandshakeFrame {
  const r = new Reader(frame);
  if (r.u8('magic') !== magic0 || r.u8('magic') !== magic1) throw new CodecError('bad magic: not a handshake frame');
  const version = r.u8('version');
  const kind = kinds[r.u8('kind') - 1];
  let out: HandshakeFrame;
  switch (kind) {
    case 'hello':
    case 'welcome': {
      const cluster = r.string('cluster', clusterIdBytesMax);
      const from = r.string('from', idBytesMax);
      const to = r.string('to', idBytesMax);
      const nonce = r.bytesOf('nonce', nonceBytes);
      if (nonce.byteLength !== nonceBytes) throw new CodecError(`nonce: ${nonce.byteLength} bytes, not ${nonceBytes}`);
      if (kind === 'hello') out = { kind, version, cluster, from, to, nonce };
      else out = { kind, version, cluster, from, to, nonce, proof: readProof(r) };
      break;
    }
    case 'proof':
      out = { kind, version, proof: readProof(r) };
      break;
    case 'refuse':
      out = { kind, version, reason: r.string('reason', reasonBytesMax) };
      break;
    case 'ready':
    case 'ping':
      out = { kind, version };
      break;
    default:
      throw new CodecError('unknown handshake frame kind');
  }
  r.end();
  return out;
}

/** A proof is empty (no secret configured) or one HMAC. */
function readProof(r: Reader): Uint8Array {
  const proof = r.bytesOf('proof', proofBytes);
  if (proof.byteLength !== 0 && proof.byteLength !== proofBytes) throw new CodecError(`proof: ${proof.byteLength} bytes`);
  return proof;
}

/** `text` cut to at most `bytesMax` UTF-8 bytes, on a character boundary. */
function clip(text: string, bytesMax: number): string {
  let out = text;
  while (new TextEncoder().encode(out).byteLength > bytesMax) out = out.slice(0, -1);
  return out;
}

/**
 * The peers' frames as the shared handshake reads and writes them: the dialer speaks
 * first (hello), the acceptor answers (welcome) and confirms (ready); both refuse
 * with a reason. A ping during the handshake is out of turn. @internal
 */
export function peerWire(idBytesMax: number): HandshakeWire {
  return {
    version: protocolVersion,
    signers: { first: 'dialer', second: 'acceptor' },
    confirms: true,
    refusers: ['first', 'second'],
    names: { opening: 'hello', answer: 'welcome', proof: 'proof', ready: 'ready', refuse: 'refuse' },
    malformed: 'malformed handshake',
    outOfTurn: (got, due) => `a ${got} frame where a ${due} was due`,
    encode: (m) => handshakeBytes(frameOf(m)),
    decode: (frame) => messageOf(decodeHandshake(frame, idBytesMax)),
  };
}

/** The peers' frame for a step's message. */
function frameOf(m: HandshakeMessage): HandshakeFrame {
  const version = m.version;
  switch (m.kind) {
    case 'opening':
      return { kind: 'hello', version, cluster: m.cluster, from: m.from, to: m.to ?? '', nonce: m.nonce };
    case 'answer':
      return { kind: 'welcome', version, cluster: m.cluster ?? '', from: m.from, to: m.to ?? '', nonce: m.nonce, proof: m.proof };
    case 'proof':
      return { kind: 'proof', version, proof: m.proof };
    case 'ready':
      return { kind: 'ready', version };
    case 'refuse':
      return { kind: 'refuse', version, reason: m.reason };
    case 'other':
      throw new CodecError(`no peer frame for ${m.name}`);
  }
}

/** A step's message for the peers' frame. */
function messageOf(f: HandshakeFrame): HandshakeMessage {
  switch (f.kind) {
    case 'hello':
      return { kind: 'opening', version: f.version, cluster: f.cluster, from: f.from, to: f.to, nonce: f.nonce };
    case 'welcome':
      return { kind: 'answer', version: f.version, cluster: f.cluster, from: f.from, to: f.to, nonce: f.nonce, proof: f.proof };
    case 'proof':
      return { kind: 'proof', version: f.version, proof: f.proof };
    case 'ready':
      return { kind: 'ready', version: f.version };
    case 'refuse':
      return { kind: 'refuse', version: f.version, reason: f.reason };
    case 'ping':
      return { kind: 'other', version: f.version, name: 'ping' };
  }
}
