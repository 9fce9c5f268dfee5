import { describe, expect, it } from 'vitest';
import { DedupTable, type Outcome, defaultDedupLimits } from '../../src/runtime/dedup-table.js';
import { ApplyError, ResultExpiredError, SnapshotError } from '../../src/runtime/errors.js';
import { decodeSnapshot, decodeSnapshotInSteps, encodeRuntimeState, encodeRuntimeStateInSteps, encodeSnapshot } from '../../src/runtime/snapshot-format.js';
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

/**
 * `bytes` (a snapshot written now) with the header of an older version: its number,
 * and for versions 1 and 2 the length big-endian. Its runtime part must be one JSON
 * document, as those versions wrote it ({@link oldRuntime}).
 */
function asVersion(bytes: Uint8Array, version: 1 | 2 | 3): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  out[4] = version;
  if (version < 3) view.setUint32(8, view.getUint32(8, true), false);
  return out;
}

/** A table's state as versions 2 and 3 wrote it: one JSON document (results as JSON, base64). */
function oldRuntime(lastTimestamp: number, t: DedupTable<unknown>): Uint8Array {
  const state = t.exportState();
  const outcome = (o: Outcome<unknown> | undefined) => {
    if (o === undefined) return { d: 1 };
    if (!o.ok) return { e: String((o.error as ApplyError).cause), slot: (o.error as ApplyError).slot };
    return typeof o.value === 'bigint' ? { x: 1 } : { v: btoa(JSON.stringify(o.value) ?? '') };
  };
  return new TextEncoder().encode(
    JSON.stringify({
      t: lastTimestamp,
      c: state.clients.map((c) => [c.id, c.floor, c.lastActive, c.results.map((r) => [r.seq, outcome(r.outcome), r.bytes])]),
      b: state.tombstones,
      f: null,
      s: null,
    }),
  );
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

  it("writes version 4: the magic, the version byte, the runtime state's length little-endian, then its lines", async () => {
    const runtime = encodeRuntimeState({ lastTimestamp: 1, dedup: table().exportState() }, codec);
    const bytes = await encodeSnapshot(runtime, Uint8Array.of(1, 2, 3));
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('SYNS');
    expect([...bytes.subarray(4, 8)]).toEqual([4, 0, 0, 0]);
    expect(new DataView(bytes.buffer).getUint32(8, true)).toBe(runtime.byteLength);
    expect([...bytes.subarray(12 + runtime.byteLength)]).toEqual([1, 2, 3]);
    // A head, then a line per client (two here), each ending with a newline.
    const lines = new TextDecoder().decode(runtime).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('');
    expect(JSON.parse(lines[0]!)).toMatchObject({ t: 1, n: 2, m: 0 });
  });

  it('still reads versions 2 and 3, one JSON document (2: its length big-endian; what synod wrote until 2026-12)', async () => {
    const runtime = oldRuntime(42, table());
    for (const version of [2, 3] as const) {
      const old = asVersion(await encodeSnapshot(runtime, Uint8Array.of(7, 8)), version);
      expect(new DataView(old.buffer).getUint32(8, version === 3)).toBe(runtime.byteLength);
      const { state, machine } = decodeSnapshot(old, codec);
      expect(state.lastTimestamp).toBe(42);
      expect([...machine]).toEqual([7, 8]);
      const restored = new DedupTable<unknown>(defaultDedupLimits);
      restored.importState(state.dedup);
      expect(restored.known('a', 1)).toEqual({ ok: true, value: { n: 1 } });
      expect(restored.stats.bytes).toBe(table().stats.bytes);
    }
    // Read as version 3, version 2's bytes are damage: the version decides the byte order.
    const misread = asVersion(await encodeSnapshot(runtime, Uint8Array.of(7, 8)), 2);
    misread[4] = 3;
    expect(() => decodeSnapshot(misread, codec)).toThrow(SnapshotError);
  });

  it('encodes and decodes a table of many clients in steps, pausing between them, to the same bytes and state as at once', async () => {
    const t = new DedupTable<unknown>({ ...defaultDedupLimits, clientsMax: 4_000 });
    for (let i = 0; i < 6_000; i++) {
      t.check(`client-${i}`, 1, 0, i, i);
      t.record(`client-${i}`, 1, { ok: true, value: { i, pad: 'p'.repeat(i % 50) } });
    }
    const state = { lastTimestamp: 6_000, dedup: t.captured() };
    // Forgetting 2,000 clients left tombstones: they travel too.
    expect([...state.dedup.tombstones]).toHaveLength(2_000);
    let encodePauses = 0;
    const pieces = await encodeRuntimeStateInSteps(state, codec, async () => {
      encodePauses++;
    });
    const atOnce = encodeRuntimeState(state, codec);
    expect(encodePauses).toBeGreaterThan(2);
    // A piece per step: no copy of the whole is made.
    expect(pieces.length).toBeGreaterThanOrEqual(encodePauses);
    expect(Buffer.compare(Buffer.concat(pieces), atOnce)).toBe(0);
    const bytes = await encodeSnapshot(pieces, Uint8Array.of(5));
    let decodePauses = 0;
    const decoded = await decodeSnapshotInSteps(bytes, codec, async () => {
      decodePauses++;
    });
    expect(decodePauses).toBeGreaterThan(2);
    expect(decoded).toEqual(decodeSnapshot(bytes, codec));
    const restored = new DedupTable<unknown>({ ...defaultDedupLimits, clientsMax: 4_000 });
    restored.importState(decoded.state.dedup);
    expect(restored.exportState()).toEqual(t.exportState());
  });

  it('refuses a version 4 runtime state with a line missing, a line too many, or counts that disagree', async () => {
    const runtime = new TextDecoder().decode(encodeRuntimeState({ lastTimestamp: 1, dedup: table().captured() }, codec));
    const lines = runtime.split('\n').slice(0, -1);
    const snapshot = (text: string) => encodeSnapshot(new TextEncoder().encode(text), new Uint8Array(0));
    expect(decodeSnapshot(await snapshot(runtime), codec).state.dedup.clients).toHaveLength(2);
    const head = JSON.parse(lines[0]!) as Record<string, unknown>;
    const damaged = [
      `${lines.slice(0, -1).join('\n')}\n`, // a client missing
      `${runtime}${lines[1]}\n`, // a line after the last
      runtime.slice(0, -1), // the last newline missing
      [JSON.stringify({ ...head, m: 1 }), ...lines.slice(1), ''].join('\n'), // a tombstone announced, none there
      [JSON.stringify({ ...head, n: -1 }), ...lines.slice(1), ''].join('\n'),
      [JSON.stringify({ ...head, m: 1 }), ...lines.slice(1), '[1,2,3,4]', ''].join('\n'), // more tombstones than announced
      [JSON.stringify({ ...head, m: 1 }), ...lines.slice(1), '[1]', ''].join('\n'),
    ];
    for (const text of damaged) await expect(decodeSnapshotInSteps(await snapshot(text), codec, async () => {})).rejects.toThrow(SnapshotError);
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
    expect([...state.dedup.clients[0]!.results].map((r) => r.bytes)).toEqual([undefined, undefined]);
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
    const encode = async (result: unknown[]) =>
      asVersion(
        await encodeSnapshot(new TextEncoder().encode(JSON.stringify({ t: 5, c: [['a', 0, 5, [result]]], b: [], f: null, s: 5 })), new Uint8Array(0)),
        3,
      );
    const [small, large, exact] = await Promise.all([encode([1, { v: btoa('1') }, 10]), encode([1, { d: 1 }, 500]), encode([1, { d: 1 }, 64])]);
    expect(() => decodeSnapshot(small, codec)).toThrow(SnapshotError);
    expect(() => decodeSnapshot(large, codec)).toThrow(SnapshotError);
    expect([...decodeSnapshot(exact, codec).state.dedup.clients[0]!.results][0]!.outcome).toBeUndefined();
  });
});
