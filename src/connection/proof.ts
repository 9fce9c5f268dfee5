/**
 * The one proof of a shared secret that every synod handshake exchanges, peers' and
 * clients' alike: an HMAC-SHA256 of the secret over what the handshake agreed (the
 * cluster, both ends' ids, both fresh nonces, the user claimed), under a label naming
 * the protocol, its version and the signer's role. Node-only (node:crypto).
 *
 * Domain separation: the four signers (a peer's dialer and acceptor, a client and a
 * server) each sign under a label no other signer uses, so a proof made for one role
 * never verifies for another: an acceptor's proof cannot be reflected back as the
 * dialer's, nor a peer's offered as a client's (or the other way round), even where an
 * operator gave peers and clients the same secret. The fresh nonce of the verifying
 * side makes every proof good for one connection only.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Writer } from '../encoding/writer.js';

/** Bytes of each side's nonce. */
export const nonceBytes = 32;
/** Bytes of a proof: one HMAC-SHA256. */
export const proofBytes = 32;

/** Who signs a proof: the two ends of a peer connection, or of a client's. */
export type ProofSigner = 'dialer' | 'acceptor' | 'client' | 'server';

/** The protocol each signer speaks: the first words of its label. */
const protocolOf: Readonly<Record<ProofSigner, string>> = {
  dialer: 'synod handshake',
  acceptor: 'synod handshake',
  client: 'synod kv client',
  server: 'synod kv client',
};

/**
 * What a proof covers, in the handshake's order: the side that speaks first (a peer's
 * dialer, a client's server) and the side that answers.
 */
export interface ProofContext {
  readonly cluster: string;
  readonly first: string;
  readonly second: string;
  readonly firstNonce: Uint8Array;
  readonly secondNonce: Uint8Array;
  /** The user a client claims to be; absent: none (a peer, or a client of the shared secret). */
  readonly user?: string | undefined;
}

/**
 * The label a signer's proofs are made under: the protocol, its `version` and the
 * signer. Distinct for every signer, so no proof crosses roles.
 */
function proofLabel(signer: ProofSigner, version: number): string {
  return `${protocolOf[signer]} v${version} ${signer}`;
}

/**
 * HMAC-SHA256 of `secret` over `c`, labelled for `signer` at protocol `version`. Every
 * field is length-prefixed, so no two contexts encode alike. @internal
 */
export function proofOf(secret: Uint8Array, signer: ProofSigner, version: number, c: ProofContext): Uint8Array {
  const w = new Writer(256);
  w.string(proofLabel(signer, version));
  w.string(c.cluster);
  w.string(c.first);
  w.string(c.second);
  w.bytesOf(c.firstNonce);
  w.bytesOf(c.secondNonce);
  // Bound into the proof, so an answer cannot be replayed under another user's name.
  if (c.user !== undefined) w.string(`user ${c.user}`);
  return createHmac('sha256', secret).update(w.finish()).digest();
}

/** Compares a proof received with the one expected, in constant time. @internal */
export function proofMatches(expected: Uint8Array, got: Uint8Array): boolean {
  return got.byteLength === expected.byteLength && timingSafeEqual(expected, got);
}

/** A fresh nonce, from the system's secure random source. @internal */
export function newNonce(): Uint8Array {
  return randomBytes(nonceBytes);
}
