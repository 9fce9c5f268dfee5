/**
 * Properties of the KV codec: every record round-trips exactly, and hostile bytes
 * (random, or valid encodings with bytes flipped, set, inserted, deleted, cut off)
 * either decode to a record that re-encodes to the very same bytes or throw
 * CodecError, never anything else.
 *
 * 120,000 fuzz inputs by default (about 4 s here); SYNOD_FUZZ_SCALE=10 runs ten times as
 * many. A failure prints fast-check's seed and path: pass them back as `{ seed, path }`
 * to replay it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kvCommandCodec, kvResultCodec } from '../../src/kv/kv-codec.js';
import type { Codec } from '../../src/runtime/index.js';
import { CodecError } from '../../src/encoding/codec-error.js';
import { kvCommandArbitrary, kvResultArbitrary } from './kv-arbitraries.js';

const scale = Number(process.env['SYNOD_FUZZ_SCALE'] ?? 1);
/** Per codec: random inputs, and mutations of valid encodings. Both codecs: 2 × (20k + 40k) = 120k. */
const randomRuns = Math.round(20_000 * scale);
const mutationRuns = Math.round(40_000 * scale);
const roundTripRuns = Math.round(3_000 * scale);

const codecs = [
  { name: 'kvCommandCodec', codec: kvCommandCodec as Codec<unknown>, arbitrary: kvCommandArbitrary() as fc.Arbitrary<unknown>, tags: 9 },
  { name: 'kvResultCodec', codec: kvResultCodec as Codec<unknown>, arbitrary: kvResultArbitrary() as fc.Arbitrary<unknown>, tags: 12 },
] as const;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** What one run of hostile inputs saw: how many decoded, how many were refused. */
interface Tally {
  decoded: number;
  refused: number;
}

/**
 * Decodes hostile `bytes`: a CodecError is a pass; anything else thrown fails. What
 * decodes must re-encode without error, to the same bytes (the encoding is canonical).
 */
function checkHostile(codec: Codec<unknown>, bytes: Uint8Array, tally: Tally): void {
  let decoded: unknown;
  try {
    decoded = codec.decode(bytes);
  } catch (error) {
    if (!(error instanceof CodecError)) throw error;
    tally.refused++;
    return;
  }
  tally.decoded++;
  const again = codec.encode(decoded);
  if (!sameBytes(again, bytes)) throw new Error(`decoded bytes [${[...bytes].join(', ')}] re-encode differently: [${[...again].join(', ')}]`);
}

type Edit = { readonly kind: 'flip' | 'set' | 'insert' | 'delete'; readonly at: number; readonly byte: number };

const editArbitrary: fc.Arbitrary<Edit> = fc.record({
  kind: fc.constantFrom('flip', 'set', 'insert', 'delete'),
  at: fc.nat(),
  byte: fc.nat(255),
});

/** `encoded` with `edits` applied in order, then cut to `cut` bytes (if given). */
function mutate(encoded: Uint8Array, edits: readonly Edit[], cut: number | null): Uint8Array {
  const bytes = [...encoded];
  for (const e of edits) {
    const at = e.at % (bytes.length + 1);
    if (e.kind === 'insert') bytes.splice(at, 0, e.byte);
    else if (at === bytes.length) continue;
    else if (e.kind === 'flip') bytes[at] = bytes[at]! ^ (1 << (e.byte & 7));
    else if (e.kind === 'set') bytes[at] = e.byte;
    else bytes.splice(at, 1);
  }
  return new Uint8Array(cut === null ? bytes : bytes.slice(0, cut % (bytes.length + 1)));
}

describe.each(codecs)('$name', ({ codec, arbitrary, tags }) => {
  it('decode(encode(x)) is x, every variant, optional fields absent or present; and it re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(arbitrary, (x) => {
        const encoded = codec.encode(x);
        const decoded = codec.decode(encoded);
        expect(decoded).toStrictEqual(x);
        expect(sameBytes(codec.encode(decoded), encoded)).toBe(true);
      }),
      { numRuns: roundTripRuns },
    );
  });

  it(`hostile random bytes: CodecError or a canonical record (${randomRuns} runs)`, () => {
    const tally: Tally = { decoded: 0, refused: 0 };
    // Fully random, or behind a right version byte and a known type tag, so the fuzz reaches the fields.
    const prefix = fc.oneof(
      fc.constant([]),
      fc.nat({ max: tags + 1 }).map((tag) => [1, tag]),
    );
    fc.assert(
      fc.property(prefix, fc.uint8Array({ maxLength: 48 }), (head, tail) => {
        const bytes = new Uint8Array(head.length + tail.byteLength);
        bytes.set(head);
        bytes.set(tail, head.length);
        checkHostile(codec, bytes, tally);
      }),
      { numRuns: randomRuns },
    );
    expect(tally.decoded + tally.refused).toBe(randomRuns);
    // The fuzz must get past the header sometimes, or it tests little.
    expect(tally.decoded).toBeGreaterThan(randomRuns / 100);
  });

  it(`hostile mutations of valid encodings (flip, set, insert, delete, truncate): CodecError or a canonical record (${mutationRuns} runs)`, () => {
    const tally: Tally = { decoded: 0, refused: 0 };
    fc.assert(
      fc.property(arbitrary, fc.array(editArbitrary, { minLength: 1, maxLength: 4 }), fc.option(fc.nat(), { freq: 4 }), (x, edits, cut) => {
        checkHostile(codec, mutate(codec.encode(x), edits, cut), tally);
      }),
      { numRuns: mutationRuns },
    );
    expect(tally.decoded + tally.refused).toBe(mutationRuns);
    expect(tally.decoded).toBeGreaterThan(mutationRuns / 100);
    expect(tally.refused).toBeGreaterThan(mutationRuns / 10);
  });
});
