/**
 * Every byte a KV server or client reads from the network is hostile until decoded:
 * random bytes, and valid encodings with bytes flipped, set, inserted, deleted or cut
 * off, fed to decodeClientRequest (the server's side), decodeServerFrame (the
 * client's) and decodeClientHandshake (both). Each either throws CodecError — nothing
 * else, ever — or decodes to a frame that encodes again, to the very same bytes (the
 * encoding is canonical; only over-long texts, which the encoder cuts, are exempt).
 *
 * 102,000 hostile inputs by default (3 decoders × (12k random + 22k mutations), about
 * 4 s here); SYNOD_FUZZ_SCALE=10 runs ten times as many. A failure prints fast-check's
 * seed and path: pass them back as `{ seed, path }` to replay it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  clientProtocolVersion,
  decodeClientRequest,
  decodeServerFrame,
  encodeClientRequest,
  encodeServerFrame,
} from '../../../src/kv/protocol/client-codec.js';
import type { ClientRequest, ServerFrame } from '../../../src/kv/protocol/client-frames.js';
import { decodeClientHandshake, encodeClientHandshake, type ClientHandshakeFrame } from '../../../src/kv/protocol/client-handshake.js';
import { CodecError } from '../../../src/encoding/codec-error.js';
import { clientRequestArbitrary, handshakeArbitrary, serverFrameArbitrary } from './client-arbitraries.js';

const scale = Number(process.env['SYNOD_FUZZ_SCALE'] ?? 1);
const randomRuns = Math.round(12_000 * scale);
const mutationRuns = Math.round(22_000 * scale);

interface Target<T> {
  readonly name: string;
  readonly decode: (bytes: Uint8Array) => T;
  readonly encode: (frame: T) => Uint8Array;
  readonly arbitrary: fc.Arbitrary<T>;
  /** The first bytes of a frame of each kind (0 and one past the last kind included), so random tails reach the fields. */
  readonly heads: readonly (readonly number[])[];
  /** A decoded frame whose text the encoder cuts, so it need not re-encode the same. */
  readonly trimmed: (frame: T) => boolean;
}

const kinds = (count: number, ...prefix: number[]) => Array.from({ length: count + 2 }, (_, kind) => [...prefix, kind]);

const targets = [
  {
    name: 'decodeClientRequest',
    decode: decodeClientRequest,
    encode: encodeClientRequest,
    arbitrary: clientRequestArbitrary(),
    heads: kinds(6, clientProtocolVersion),
    trimmed: () => false,
  } satisfies Target<ClientRequest>,
  {
    name: 'decodeServerFrame',
    decode: decodeServerFrame,
    encode: encodeServerFrame,
    arbitrary: serverFrameArbitrary(),
    heads: kinds(7, clientProtocolVersion),
    trimmed: (f) => f.kind === 'error' && f.error.message.length > 4096,
  } satisfies Target<ServerFrame>,
  {
    name: 'decodeClientHandshake',
    decode: decodeClientHandshake,
    encode: encodeClientHandshake,
    arbitrary: handshakeArbitrary(),
    heads: kinds(4, 0x53, 0x43, clientProtocolVersion),
    trimmed: (h) => h.kind === 'refuse' && h.reason.length > 200,
  } satisfies Target<ClientHandshakeFrame>,
] as Target<unknown>[];

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
}

interface Tally {
  decoded: number;
  refused: number;
  /** Refused for a field after the header: the input reached the kind's own fields. */
  pastHeader: number;
}

const headerRefusal = /version|unknown frame kind|unknown handshake kind|bad magic|(protocol version|frame kind|magic|kind): frame ends early/;

/** Decodes hostile `bytes`: CodecError passes, anything else thrown fails; what decodes must re-encode to the same bytes. */
function checkHostile(target: Target<unknown>, bytes: Uint8Array, tally: Tally): void {
  let decoded: unknown;
  try {
    decoded = target.decode(bytes);
  } catch (error) {
    if (!(error instanceof CodecError)) throw new Error(`[${[...bytes].join(', ')}] threw ${String(error)}, not a CodecError`, { cause: error });
    tally.refused++;
    if (!headerRefusal.test(error.message)) tally.pastHeader++;
    return;
  }
  tally.decoded++;
  const again = target.encode(decoded);
  if (!target.trimmed(decoded) && !sameBytes(again, bytes))
    throw new Error(`decoded bytes [${[...bytes].join(', ')}] re-encode differently: [${[...again].join(', ')}]`);
}

type Edit = { readonly kind: 'flip' | 'set' | 'insert' | 'delete'; readonly at: number; readonly byte: number };

const editArbitrary: fc.Arbitrary<Edit> = fc.record({ kind: fc.constantFrom('flip', 'set', 'insert', 'delete'), at: fc.nat(), byte: fc.nat(255) });

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

describe.each(targets)('$name on hostile bytes', (target) => {
  it(`random bytes, bare or behind a valid header: CodecError or a canonical frame (${randomRuns} runs)`, () => {
    const tally: Tally = { decoded: 0, refused: 0, pastHeader: 0 };
    const head = fc.oneof(fc.constant([] as readonly number[]), fc.constantFrom(...target.heads));
    fc.assert(
      fc.property(head, fc.uint8Array({ maxLength: 64 }), (h, tail) => {
        const bytes = new Uint8Array(h.length + tail.byteLength);
        bytes.set(h);
        bytes.set(tail, h.length);
        checkHostile(target, bytes, tally);
      }),
      { numRuns: randomRuns },
    );
    expect(tally.decoded + tally.refused).toBe(randomRuns);
    // Random bytes are refused nearly always, but not all by the header, or the fuzz tests little.
    expect(tally.pastHeader + tally.decoded).toBeGreaterThan(randomRuns / 10);
  });

  it(`mutations of valid encodings (flip, set, insert, delete, cut): CodecError or a canonical frame (${mutationRuns} runs)`, () => {
    const tally: Tally = { decoded: 0, refused: 0, pastHeader: 0 };
    fc.assert(
      fc.property(target.arbitrary, fc.array(editArbitrary, { minLength: 1, maxLength: 4 }), fc.option(fc.nat(), { freq: 4 }), (frame, edits, cut) => {
        checkHostile(target, mutate(target.encode(frame), edits, cut), tally);
      }),
      { numRuns: mutationRuns },
    );
    expect(tally.decoded + tally.refused).toBe(mutationRuns);
    expect(tally.decoded).toBeGreaterThan(mutationRuns / 100);
    expect(tally.refused).toBeGreaterThan(mutationRuns / 10);
  });
});
