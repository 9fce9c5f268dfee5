/**
 * The KV snapshot format: every kind of state survives a round trip (keys with a BOM
 * or outside ASCII, tombstones, ephemeral keys and their sessions, sequence counters,
 * compacted history), and damaged bytes fail with CodecError, never another error.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodecError } from '../../src/index.js';
import { KvStateMachine } from '../../src/kv/index.js';

const bytes = (s: string) => new TextEncoder().encode(s);
let slot = 0;
const meta = (timestamp: number) => ({ slot: ++slot, timestamp, clientId: 'c', seq: slot, origin: 'a' });

/** A machine that went through one of everything. */
function busyMachine(): KvStateMachine {
  const m = new KvStateMachine({ historyRevisionsMax: 5 });
  const session = m.apply({ type: 'session-create', ttlMs: 1_000 }, meta(10));
  expect(session.type).toBe('session');
  for (const key of ['\uFEFFbom', 'é', '日本', 'plain']) m.apply({ type: 'put', key, value: bytes(key) }, meta(20));
  m.apply({ type: 'put', key: 'eph', value: bytes('e'), session: 1 }, meta(30));
  m.apply({ type: 'put', key: 'q/', value: bytes('s'), sequential: true }, meta(40));
  m.apply({ type: 'put', key: 'q/', value: bytes('s'), sequential: true, session: 1 }, meta(40));
  m.apply({ type: 'delete', key: 'plain' }, meta(50));
  m.apply({ type: 'put', key: 'é', value: bytes('again') }, meta(60));
  return m;
}

describe('KV snapshots', () => {
  it('restore every key, tombstone, session, sequence counter and revision', async () => {
    const original = busyMachine();
    const data = await original.snapshot().write();
    const copy = new KvStateMachine({ historyRevisionsMax: 5 });
    copy.restore(data);
    expect(copy.revision).toBe(original.revision);
    expect(copy.compactRevision).toBe(original.compactRevision);
    expect(copy.view.range({ prefix: '' }, 100)).toEqual(original.view.range({ prefix: '' }, 100));
    expect(copy.view.range({ prefix: '' }, 100).kvs.map((kv) => kv.key)).toContain('\uFEFFbom');
    expect(await copy.snapshot().write()).toEqual(data);
    // The same next commands answer the same on both: the session owns its keys, the counter goes on.
    for (const m of [original, copy]) {
      expect(m.apply({ type: 'put', key: 'q/', value: bytes('s'), sequential: true }, meta(70))).toMatchObject({ type: 'put', key: 'q/0000000002' });
      expect(m.apply({ type: 'session-close', session: 1 }, meta(80))).toMatchObject({ type: 'session-closed', keysDeleted: 2 });
    }
    expect(copy.view.range({ prefix: '' }, 100)).toEqual(original.view.range({ prefix: '' }, 100));
  });

  it('a large store encodes in steps, pausing between them; writes applied during the pauses do not change the snapshot', async () => {
    let pauses = 0;
    let writesDuringPauses = 0;
    let m!: KvStateMachine;
    const pause = (): Promise<void> => {
      pauses++;
      m.apply({ type: 'put', key: `during/${writesDuringPauses++}`, value: bytes('later') }, meta(200));
      return Promise.resolve();
    };
    m = new KvStateMachine({ snapshotPause: pause });
    for (let i = 0; i < 20_000; i++) m.apply({ type: 'put', key: `k/${i % 50}`, value: bytes(`v${i}`) }, meta(100));
    const before = m.view.range({ prefix: '' }, 100);
    const revision = m.revision;
    const data = await m.snapshot().write();
    // 20,000 records of 50 keys (400 each). Sizing pauses once 2,048 records are counted,
    // at whole keys: after every 6th key, 8 times. Writing pauses before every 2,048th
    // record: 9 times.
    expect(pauses).toBe(17);
    expect(m.revision).toBe(revision + 17);
    const copy = new KvStateMachine();
    copy.restore(data);
    expect(copy.revision).toBe(revision);
    expect(copy.view.range({ prefix: '' }, 100)).toEqual(before);
  });

  it("keep each session's renewal slot and owner (format version 3)", async () => {
    const m = new KvStateMachine();
    m.apply({ type: 'session-create', ttlMs: 1_000 }, { slot: 5, timestamp: 10, clientId: 'c', seq: 1, origin: 'a' });
    m.apply({ type: 'session-create', ttlMs: 1_000, owner: { user: 'alice', sessionsMax: 2 } }, { slot: 6, timestamp: 10, clientId: 'c', seq: 2, origin: 'a' });
    m.apply({ type: 'session-keepalive', session: 1 }, { slot: 9, timestamp: 20, clientId: 'c', seq: 3, origin: 'a' });
    const data = await m.snapshot().write();
    expect(data[3], 'format version').toBe(3);
    const copy = new KvStateMachine();
    copy.restore(data);
    expect(copy.sessionTable.all().map((s) => [s.id, s.renewedSlot, s.owner])).toEqual([
      [1, 9, undefined],
      [2, 6, 'alice'],
    ]);
    // The owner's count is rebuilt: its quota holds on the copy as on the original.
    expect(copy.sessionTable.ownedBy('alice')).toBe(1);
    // A leader that decided at slot 8 expires the session silent since slot 6, not the one kept alive at 9: on both alike.
    for (const machine of [m, copy]) {
      expect(
        machine.apply({ type: 'session-expire', sessions: [1, 2], decidedAtSlot: 8 }, { slot: 10, timestamp: 30, clientId: 'c', seq: 4, origin: 'a' }),
      ).toMatchObject({ type: 'expired', sessions: [2] });
    }
  });

  it('still read format version 2, written before sessions had owners', () => {
    // Written by the version 2 encoder: session 1 (ttl 1 s, renewed at slot 9) and
    // session 2 (ttl 2 s, renewed at slot 6, owns "eph").
    const v2 = Uint8Array.from(Buffer.from('534b560201001403000201e807fc070902d00fda0f0601036570680101020101010102', 'hex'));
    const m = new KvStateMachine();
    m.restore(v2);
    expect(m.sessionTable.all().map((s) => ({ id: s.id, ttlMs: s.ttlMs, renewedSlot: s.renewedSlot, owner: s.owner, keys: [...s.keys] }))).toEqual([
      { id: 1, ttlMs: 1_000, renewedSlot: 9, owner: undefined, keys: [] },
      { id: 2, ttlMs: 2_000, renewedSlot: 6, owner: undefined, keys: ['eph'] },
    ]);
    expect(m.sessionTable.nextId).toBe(3);
  });

  it('still read format version 1, written before sessions had renewal slots', () => {
    // Written by the version 1 encoder: sessions 1 (ttl 1 s, kept alive at log time
    // 1,700,000,000,500, owns "eph") and 2 (ttl 5 s, owns "eph2"), and the key "plain".
    const v1 = Uint8Array.from(
      Buffer.from(
        '534b56010300f4d395ffbc3103000201e807dcdb95ffbc310288279cf795ffbc31030365706801010201010165010465706832010202010201660205706c61696e01030101030170',
        'hex',
      ),
    );
    const m = new KvStateMachine();
    m.restore(v1);
    expect(m.revision).toBe(3);
    expect(m.logTime).toBe(1_700_000_000_500);
    expect(m.sessionTable.all().map((s) => ({ id: s.id, ttlMs: s.ttlMs, expiresAt: s.expiresAt, renewedSlot: s.renewedSlot, keys: [...s.keys] }))).toEqual([
      { id: 1, ttlMs: 1_000, expiresAt: 1_700_000_001_500, renewedSlot: 0, keys: ['eph'] },
      { id: 2, ttlMs: 5_000, expiresAt: 1_700_000_005_020, renewedSlot: 0, keys: ['eph2'] },
    ]);
    expect(m.view.range({ prefix: '' }, 10).kvs.map((kv) => [kv.key, kv.session])).toEqual([
      ['eph', 1],
      ['eph2', 2],
      ['plain', undefined],
    ]);
    // A new leader's renew gives every session its slot; what it decides after that holds.
    const at = (slot: number) => ({ slot, timestamp: 1_700_000_000_600, clientId: 'c', seq: slot, origin: 'a' });
    m.apply({ type: 'session-renew' }, at(20));
    expect(m.sessionTable.all().map((s) => s.renewedSlot)).toEqual([20, 20]);
    m.apply({ type: 'session-keepalive', session: 2 }, at(22));
    expect(m.apply({ type: 'session-expire', sessions: [1, 2], decidedAtSlot: 21 }, at(23))).toMatchObject({ type: 'expired', sessions: [1] });
  });

  it('large values pause the encoding and the restore every 2 MiB of them, however few the records; nothing is lost or reordered, and the old state stays whole until the restore ends', async () => {
    let pauses = 0;
    const m = new KvStateMachine({
      snapshotPause: () => {
        pauses++;
        return Promise.resolve();
      },
    });
    const value = (i: number) => new Uint8Array(1024 * 1024).fill(i);
    for (let i = 0; i < 40; i++) m.apply({ type: 'put', key: `big/${i}`, value: value(i) }, meta(300));
    const data = await m.snapshot().write();
    // 40 values of 1 MiB: a pause once each 2 MiB was written, before the next record
    // (before the 3rd, the 5th, ..., the 39th).
    expect(pauses).toBe(19);
    expect(data.byteLength).toBeGreaterThan(40 * 1024 * 1024);
    // Restored in steps too; until it ends the copy holds its old state, whole.
    let restorePauses = 0;
    let restoringNow = false;
    const copy = new KvStateMachine({
      snapshotPause: () => {
        if (restoringNow) {
          restorePauses++;
          expect(copy.view.latest('big/0')).toBeUndefined();
          expect(copy.view.latest('old')).toBeDefined();
        }
        return Promise.resolve();
      },
    });
    copy.apply({ type: 'put', key: 'old', value: value(7) }, meta(1));
    restoringNow = true;
    const restoring = copy.restore(data);
    expect(restoring).toBeInstanceOf(Promise);
    await restoring;
    restoringNow = false;
    // As many as the encoding, and one more before the store is built from what was read.
    expect(restorePauses).toBe(20);
    expect(copy.view.latest('old')).toBeUndefined();
    for (let i = 0; i < 40; i++) expect(Buffer.compare(copy.view.latest(`big/${i}`)!.value!, value(i)), `big/${i}`).toBe(0);
    expect(Buffer.compare(await copy.snapshot().write(), data)).toBe(0);
  });

  it('refuse damaged bytes with CodecError only', async () => {
    const data = await busyMachine().snapshot().write();
    expect(() => new KvStateMachine().restore(data.subarray(0, data.length - 1))).toThrow(CodecError);
    expect(() => new KvStateMachine().restore(new Uint8Array([0x53, 0x4b, 0x56, 9]))).toThrow(/format version 9, this build reads 1 to 5/);
    fc.assert(
      fc.property(fc.nat(data.length - 1), fc.integer({ min: 1, max: 255 }), fc.boolean(), (at, xor, cut) => {
        const damaged = cut ? data.slice(0, at) : data.slice();
        if (!cut) damaged[at] = damaged[at]! ^ xor;
        try {
          new KvStateMachine().restore(damaged);
        } catch (e) {
          expect(e).toBeInstanceOf(CodecError);
        }
      }),
      { numRuns: 3_000 },
    );
  });
});
