import { describe, expect, it } from 'vitest';
import { DedupTable, defaultDedupLimits } from '../../src/runtime/dedup-table.js';
import { ApplyError, ResultExpiredError, SnapshotError } from '../../src/runtime/errors.js';
import { decodeSnapshot, encodeRuntimeState, encodeSnapshot } from '../../src/runtime/snapshot-format.js';
import { resultJsonCodec } from '../../src/runtime/state-machine.js';
import type { Codec } from '../../src/runtime/state-machine.js';

const codec = resultJsonCodec as Codec<unknown>;

function table(): DedupTable<unknown> {
  const t = new DedupTable<unknown>(defaultDedupLimits);
  t.check('a', 1, 0, 0, 1_000);
  t.record('a', 1, { ok: true, value: { n: 1 } });
  t.check('a', 2, 0, 0, 1_001);
  t.record('a', 2, { ok: true, value: undefined });
  t.check('b', 5, 0, 0, 1_002);
  t.record('b', 5, { ok: false, error: new ApplyError(9, new RangeError('negative')) });
  t.check('b', 6, 0, 0, 1_003);
  t.record('b', 6, { ok: true, value: 10n }); // JSON cannot hold a bigint
  return t;
}

/** `bytes` (a version 3 snapshot) with the header of an older version: its number, and the length big-endian. */
function asVersion(bytes: Uint8Array, version: 1 | 2): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  out[4] = version;
  view.setUint32(8, view.getUint32(8, true), false);
  return out;
}

describe('runtime snapshot format', () => {
  it('round-trips the exactly-once table, the last timestamp and the machine bytes', async () => {
    const t = table();
    const bytes = await encodeSnapshot(encodeRuntimeState({ lastTimestamp: 1_003, dedup: t.exportState() }, codec), new Uint8Array([1, 2, 3]));
    const { state, machine } = decodeSnapshot(bytes, codec);
    expect([...machine]).toEqual([1, 2, 3]);
    expect(state.lastTimestamp).toBe(1_003);
    const restored = new DedupTable<unknown>(defaultDedupLimits);
    restored.importState(state.dedup);
    expect(restored.known('a', 1)).toEqual({ ok: true, value: { n: 1 } });
    expect(restored.known('a', 2)).toEqual({ ok: true, value: undefined });
    const failed = restored.known('b', 5);
    expect(typeof failed === 'object' && !failed.ok && failed.error instanceof ApplyError && failed.error.slot === 9).toBe(true);
    // A result the codec cannot encode is kept as lost: a retry is refused, never re-applied.
    const lost = restored.known('b', 6);
    expect(typeof lost === 'object' && !lost.ok && lost.error instanceof ResultExpiredError).toBe(true);
    expect(restored.check('a', 1, 0, 0, 2_000)).toMatchObject({ kind: 'duplicate' });
  });

  it('round-trips the configurations that govern after the snapshot, and refuses a malformed one', async () => {
    const config = (id: number, voters: string[]) => ({ id, voters, quorum: 'majority' as const, observers: ['o'], addresses: { o: 'h:1' }, windowSlots: 8 });
    const configuration = [
      { from: 3, source: 0, config: config(1, ['a', 'b', 'c']) },
      { from: 12, source: 4, config: config(2, ['a', 'b']) },
    ];
    const dedup = new DedupTable<unknown>(defaultDedupLimits).exportState();
    const bytes = await encodeSnapshot(encodeRuntimeState({ lastTimestamp: 5, dedup, configuration }, codec), new Uint8Array(0));
    expect(decodeSnapshot(bytes, codec).state.configuration).toEqual(configuration);
    // Without one (a cluster whose members never changed, or an older synod): absent.
    const plain = await encodeSnapshot(encodeRuntimeState({ lastTimestamp: 5, dedup }, codec), new Uint8Array(0));
    expect(decodeSnapshot(plain, codec).state.configuration).toBeUndefined();
    // A configuration that lists a voter twice is refused, not installed.
    const twice = await encodeSnapshot(
      encodeRuntimeState({ lastTimestamp: 5, dedup, configuration: [{ from: 3, source: 0, config: config(1, ['a', 'a']) }] }, codec),
      new Uint8Array(0),
    );
    expect(() => decodeSnapshot(twice, codec)).toThrow(SnapshotError);
  });

  it('copies a large state machine part in 2 MiB steps, pausing between them', async () => {
    const machine = Uint8Array.from({ length: 20 * 1024 * 1024 + 3 }, (_, i) => (i * 13) >>> 3);
    const runtime = encodeRuntimeState({ lastTimestamp: 7, dedup: table().exportState() }, codec);
    let pauses = 0;
    const bytes = await encodeSnapshot(runtime, machine, async () => {
      pauses++;
    });
    // 20 MiB and 3 bytes: 11 steps, a pause between each two.
    expect(pauses).toBe(10);
    const decoded = decodeSnapshot(bytes, codec);
    expect(decoded.state.lastTimestamp).toBe(7);
    expect(Buffer.compare(decoded.machine, machine)).toBe(0);
  });

  it("writes version 3: the magic, the version byte, then the runtime state's length little-endian", async () => {
    const runtime = encodeRuntimeState({ lastTimestamp: 1, dedup: table().exportState() }, codec);
    const bytes = await encodeSnapshot(runtime, Uint8Array.of(1, 2, 3));
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('SYNS');
    expect([...bytes.subarray(4, 8)]).toEqual([3, 0, 0, 0]);
    expect(new DataView(bytes.buffer).getUint32(8, true)).toBe(runtime.byteLength);
    expect([...bytes.subarray(12 + runtime.byteLength)]).toEqual([1, 2, 3]);
  });

  it('still reads version 2, whose length is big-endian (what synod wrote until 2026-12)', async () => {
    const runtime = encodeRuntimeState({ lastTimestamp: 42, dedup: table().exportState() }, codec);
    const old = asVersion(await encodeSnapshot(runtime, Uint8Array.of(7, 8)), 2);
    expect(new DataView(old.buffer).getUint32(8, false)).toBe(runtime.byteLength);
    const { state, machine } = decodeSnapshot(old, codec);
    expect(state.lastTimestamp).toBe(42);
    expect([...machine]).toEqual([7, 8]);
    // Read as version 3, the same bytes are damage: the version decides the byte order.
    const misread = old.slice();
    misread[4] = 3;
    expect(() => decodeSnapshot(misread, codec)).toThrow(SnapshotError);
  });

  it('refuses damaged bytes and other versions with SnapshotError', async () => {
    const good = await encodeSnapshot(encodeRuntimeState({ lastTimestamp: 1, dedup: table().exportState() }, codec), new Uint8Array(4));
    const cases: Uint8Array[] = [new Uint8Array(3), good.slice(0, 20)];
    const badMagic = good.slice();
    badMagic[0] = 0;
    const badVersion = good.slice();
    badVersion[4] = 99;
    const badJson = good.slice();
    badJson[12] = 0x7b + 1;
    const overrun = good.slice();
    new DataView(overrun.buffer).setUint32(8, 1 << 30, true);
    cases.push(badMagic, badVersion, badJson, overrun);
    for (const bytes of cases) expect(() => decodeSnapshot(bytes, codec)).toThrow(SnapshotError);
  });

  it('keeps the bytes charged for each result and the dropped markers, so a restored table counts as the live one', async () => {
    const limits = { ...defaultDedupLimits, resultBytesPerClientMax: 1024, resultBytesMax: 4096 };
    const t = new DedupTable<unknown>(limits);
    t.check('a', 1, 0, 0, 1_000);
    t.record('a', 1, { ok: true, value: 'x'.repeat(5_000) }); // too large: dropped
    t.check('a', 2, 0, 0, 1_001);
    t.record('a', 2, { ok: true, value: { n: 2, pad: 'y'.repeat(100) } });
    const bytes = await encodeSnapshot(encodeRuntimeState({ lastTimestamp: 1_001, dedup: t.exportState() }, codec), new Uint8Array(0));
    const restored = new DedupTable<unknown>(limits);
    restored.importState(decodeSnapshot(bytes, codec).state.dedup);
    expect(restored.known('a', 1)).toBe('dropped');
    expect(restored.check('a', 1, 0, 0, 2_000)).toEqual({ kind: 'dropped' });
    expect(restored.known('a', 2)).toEqual({ ok: true, value: { n: 2, pad: 'y'.repeat(100) } });
    expect(restored.stats.bytes).toBe(t.stats.bytes);
    expect(restored.exportState().clients[0]!.results.map((r) => r.bytes)).toEqual(t.exportState().clients[0]!.results.map((r) => r.bytes));
  });

  it('still reads a version 1 snapshot (no bytes kept): results are charged again', async () => {
    const runtime = new TextEncoder().encode(
      JSON.stringify({
        t: 5,
        c: [
          [
            'a',
            0,
            5,
            [
              [1, { v: btoa('{"n":1}') }],
              [2, { x: 1 }],
            ],
          ],
        ],
        b: [[7, 3]],
        f: null,
        s: 5,
      }),
    );
    const bytes = asVersion(await encodeSnapshot(runtime, new Uint8Array([9])), 1);
    const { state, machine } = decodeSnapshot(bytes, codec);
    expect([...machine]).toEqual([9]);
    expect(state.dedup.clients[0]!.results.map((r) => r.bytes)).toEqual([undefined, undefined]);
    const restored = new DedupTable<unknown>(defaultDedupLimits);
    restored.importState(state.dedup);
    expect(restored.known('a', 1)).toEqual({ ok: true, value: { n: 1 } });
    expect(restored.stats.results).toBe(2);
    expect(restored.stats.bytes).toBeGreaterThan(2 * 64);
    // A dropped marker is version 2's: in a version 1 snapshot it is damage.
    const bad = await encodeSnapshot(
      new TextEncoder().encode(JSON.stringify({ t: 5, c: [['a', 0, 5, [[1, { d: 1 }]]]], b: [], f: null, s: 5 })),
      new Uint8Array(0),
    );
    expect(() => decodeSnapshot(asVersion(bad, 1), codec)).toThrow(SnapshotError);
  });

  it('refuses a result charged less than an entry, or a dropped one charged more', async () => {
    const encode = (result: unknown[]) =>
      encodeSnapshot(new TextEncoder().encode(JSON.stringify({ t: 5, c: [['a', 0, 5, [result]]], b: [], f: null, s: 5 })), new Uint8Array(0));
    const [small, large, exact] = await Promise.all([encode([1, { v: btoa('1') }, 10]), encode([1, { d: 1 }, 500]), encode([1, { d: 1 }, 64])]);
    expect(() => decodeSnapshot(small, codec)).toThrow(SnapshotError);
    expect(() => decodeSnapshot(large, codec)).toThrow(SnapshotError);
    expect(decodeSnapshot(exact, codec).state.dedup.clients[0]!.results[0]!.outcome).toBeUndefined();
  });
});
