import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodecError } from '../../../src/encoding/codec-error.js';
import { protocolVersion } from '../../../src/transport/codec/index.js';
import { newNonce, proofOf } from '../../../src/connection/proof.js';
import { decodeHandshake, type HandshakeFrame, handshakeBytes } from '../../../src/transport/tcp/handshake.js';

const nonce = new Uint8Array(32).fill(3);
const examples: HandshakeFrame[] = [
  { kind: 'hello', version: protocolVersion, cluster: 'c', from: 'a', to: 'b', nonce },
  { kind: 'welcome', version: protocolVersion, cluster: 'c', from: 'b', to: 'a', nonce, proof: new Uint8Array(32).fill(9) },
  { kind: 'welcome', version: protocolVersion, cluster: 'c', from: 'b', to: 'a', nonce, proof: new Uint8Array(0) },
  { kind: 'proof', version: protocolVersion, proof: new Uint8Array(32).fill(1) },
  { kind: 'ready', version: protocolVersion },
  { kind: 'refuse', version: protocolVersion, reason: 'wrong cluster id' },
  { kind: 'ping', version: protocolVersion },
];

/** A frame without its 4-byte length prefix. */
const body = (f: HandshakeFrame): Uint8Array => handshakeBytes(f).subarray(4);

describe('handshake frames', () => {
  it('round-trip every kind', () => {
    for (const f of examples) expect(decodeHandshake(body(f), 255)).toEqual(f);
  });

  it('cut a refusal reason to 200 bytes on a character boundary', () => {
    const f = decodeHandshake(body({ kind: 'refuse', version: protocolVersion, reason: 'é'.repeat(500) }), 255);
    expect(f).toEqual({ kind: 'refuse', version: protocolVersion, reason: 'é'.repeat(100) });
  });

  it('decoding hostile bytes throws CodecError and nothing else (random bytes and mutated frames)', () => {
    const check = (bytes: Uint8Array): void => {
      try {
        decodeHandshake(bytes, 255);
      } catch (error) {
        if (!(error instanceof CodecError)) throw error;
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => check(bytes)),
      { numRuns: 10_000 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...examples),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        (f, edits, cut) => {
          const bytes = body(f).slice();
          for (const [at, value] of edits) bytes[at % bytes.byteLength] = value;
          check(bytes);
          check(bytes.subarray(0, cut % (bytes.byteLength + 1)));
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it('a proof depends on the secret, the signer, both ids, both nonces and the cluster', () => {
    const secret = new TextEncoder().encode('a test secret of enough bytes');
    // The dialer speaks first, the acceptor answers.
    const c = { cluster: 'c', first: 'a', second: 'b', firstNonce: newNonce(), secondNonce: newNonce() };
    const v = protocolVersion;
    const base = Buffer.from(proofOf(secret, 'dialer', v, c)).toString('hex');
    const variants = [
      proofOf(new TextEncoder().encode('another secret of enough bytes'), 'dialer', v, c),
      proofOf(secret, 'acceptor', v, c),
      proofOf(secret, 'dialer', v, { ...c, cluster: 'd' }),
      proofOf(secret, 'dialer', v, { ...c, first: 'x' }),
      proofOf(secret, 'dialer', v, { ...c, second: 'x' }),
      proofOf(secret, 'dialer', v, { ...c, firstNonce: newNonce() }),
      proofOf(secret, 'dialer', v, { ...c, secondNonce: newNonce() }),
    ].map((p) => Buffer.from(p).toString('hex'));
    expect(new Set([base, ...variants]).size).toBe(8);
    expect(Buffer.from(proofOf(secret, 'dialer', v, c)).toString('hex')).toBe(base);
  });
});
