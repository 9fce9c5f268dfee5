/**
 * The envelope built around a payload its codec wrote in place is the envelope built
 * around a copy of it; and a stamp in place sets the timestamp as a stamped copy does.
 */
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, encodeEnvelopeAround, envelopeOverhead, stampEnvelope, stampEnvelopeInPlace } from '../../src/runtime/envelope.js';

const head = { clientId: 'client-é', seq: 17, ackedBelow: 12, timestamp: 0, createdAt: 1_700_000_000_123, origin: 'node-b' };
const payloads = [new Uint8Array(0), Uint8Array.of(1, 2, 3), new Uint8Array(100_000).map((_, i) => i)];

describe('encodeEnvelopeAround', () => {
  it.each(payloads.map((p) => [p.byteLength, p] as const))('gives the bytes encodeEnvelope gives (a payload of %i bytes)', (_n, payload) => {
    let asked = -1;
    const around = encodeEnvelopeAround(head, (headBytes, allocate) => {
      asked = headBytes;
      const bytes = allocate(headBytes + payload.byteLength);
      bytes.set(payload, headBytes);
      return bytes;
    });
    expect(asked).toBe(envelopeOverhead(head.clientId, head.origin));
    expect(around).toEqual(encodeEnvelope({ ...head, payload }));
    expect(decodeEnvelope(around)).toEqual({ ...head, payload });
  });

  it('refuses an encoding shorter than the room it was given for the header', () => {
    expect(() => encodeEnvelopeAround(head, () => new Uint8Array(3))).toThrow(RangeError);
  });
});

describe('stampEnvelopeInPlace', () => {
  it('sets the timestamp in the bytes themselves, as stampEnvelope does in a copy', () => {
    const envelope = encodeEnvelope({ ...head, payload: payloads[1]! });
    const copy = stampEnvelope(envelope, 1_800_000_000_000)!;
    expect(decodeEnvelope(envelope).timestamp).toBe(0);
    expect(stampEnvelopeInPlace(envelope, 1_800_000_000_000)).toBe(true);
    expect(envelope).toEqual(copy);
    expect(decodeEnvelope(envelope).timestamp).toBe(1_800_000_000_000);
  });

  it('leaves a malformed header alone', () => {
    const bad = Uint8Array.of(9, 0, 0, 0);
    expect(stampEnvelopeInPlace(bad, 5)).toBe(false);
    expect(bad).toEqual(Uint8Array.of(9, 0, 0, 0));
  });
});
