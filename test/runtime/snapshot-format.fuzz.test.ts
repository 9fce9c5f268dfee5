/**
 * The runtime snapshot's decoder against hostile bytes: valid snapshots (of exactly-once
 * tables built by random requests) with bytes of their runtime part flipped, set,
 * inserted, deleted or cut off either decode or throw SnapshotError, never anything
 * else; decoded in steps or at once, they decode alike.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DedupTable, defaultDedupLimits } from '../../src/runtime/dedup-table.js';
import { SnapshotError } from '../../src/runtime/errors.js';
import { decodeSnapshot, decodeSnapshotInSteps, encodeRuntimeState, encodeSnapshot } from '../../src/runtime/snapshot-format.js';
import { type Codec, resultJsonCodec } from '../../src/runtime/state-machine.js';

const codec = resultJsonCodec as Codec<unknown>;
const runs = Math.round(20_000 * Number(process.env['SYNOD_FUZZ_SCALE'] ?? 1));

const limits = { ...defaultDedupLimits, clientsMax: 3, resultsPerClientMax: 4 };

/** A valid snapshot of the table that `requests` build, and its runtime part's length. */
async function snapshotOf(requests: readonly { client: number; seq: number; value: string }[]): Promise<{ bytes: Uint8Array; runtimeBytes: number }> {
  const t = new DedupTable<unknown>(limits);
  let now = 1_000;
  for (const r of requests) {
    now += 10;
    if (t.check(`c${r.client}`, r.seq, 0, now, now).kind === 'new') t.record(`c${r.client}`, r.seq, { ok: true, value: r.value });
  }
  const runtime = encodeRuntimeState({ lastTimestamp: now, dedup: t.captured() }, codec);
  return { bytes: await encodeSnapshot(runtime, Uint8Array.of(1, 2)), runtimeBytes: runtime.byteLength };
}

const requests = fc.array(fc.record({ client: fc.integer({ min: 0, max: 4 }), seq: fc.integer({ min: 1, max: 8 }), value: fc.string({ maxLength: 12 }) }), {
  maxLength: 20,
});
/** Where (a fraction of the runtime part) and what: a flip, a byte set, one inserted, one deleted, or the runtime part cut off there. */
const damage = fc.record({
  at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  kind: fc.constantFrom('flip', 'set', 'insert', 'delete', 'cut'),
  byte: fc.integer({ min: 0, max: 255 }),
});

function damaged(bytes: Uint8Array, runtimeBytes: number, d: { at: number; kind: string; byte: number }): Uint8Array {
  const i = 12 + Math.floor(d.at * runtimeBytes);
  const b = Array.from(bytes);
  if (d.kind === 'flip') b[i] = b[i]! ^ (1 << (d.byte % 8));
  else if (d.kind === 'set') b[i] = d.byte;
  else if (d.kind === 'insert') b.splice(i, 0, d.byte);
  else if (d.kind === 'delete') b.splice(i, 1);
  else b.splice(i);
  // The header's length stays as it was: a part that grew or shrank is damage too.
  return Uint8Array.from(b);
}

describe('runtime snapshot decoding (fuzz)', () => {
  it(`decodes or throws SnapshotError on damaged runtime parts, in steps as at once (${runs} inputs)`, async () => {
    const seen = { decoded: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(requests, damage, async (rs, d) => {
        const { bytes, runtimeBytes } = await snapshotOf(rs);
        const input = damaged(bytes, runtimeBytes, d);
        let atOnce: unknown;
        try {
          atOnce = decodeSnapshot(input, codec);
        } catch (error) {
          expect(error).toBeInstanceOf(SnapshotError);
          await expect(decodeSnapshotInSteps(input, codec, async () => {})).rejects.toBeInstanceOf(SnapshotError);
          seen.refused++;
          return;
        }
        expect(await decodeSnapshotInSteps(input, codec, async () => {})).toEqual(atOnce);
        seen.decoded++;
      }),
      { numRuns: runs },
    );
    // Both outcomes happen, or the property proved little.
    expect(seen.refused).toBeGreaterThan(runs / 2);
    expect(seen.decoded).toBeGreaterThan(0);
  }, 120_000);
});
