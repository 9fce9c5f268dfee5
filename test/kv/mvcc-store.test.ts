/**
 * The store's size gauges (keys, versions, value bytes) are kept as it changes, not
 * counted at each scrape: every write, compaction, copy and restore must keep them
 * equal to a count of what it holds.
 */
import { describe, expect, it } from 'vitest';
import { KvStateMachine } from '../../src/kv/index.js';
import { type KeyRecord, MvccStore } from '../../src/kv/mvcc-store.js';
import { CodecError } from '../../src/encoding/codec-error.js';

const bytes = (n: number) => new Uint8Array(n);
let slot = 0;
const meta = () => ({ slot: ++slot, timestamp: 1_000 + slot, clientId: 'c', seq: slot, origin: 'a' });

/** What the store holds, counted record by record. */
function counted(m: KvStateMachine): { keys: number; versions: number; valueBytes: number; sessions: number } {
  const histories = [...m.view.allHistories()];
  const versions = histories.reduce((n, [, h]) => n + h.filter((r) => r.revision > m.compactRevision).length, 0);
  const valueBytes = histories.reduce((n, [, h]) => n + h.reduce((b, r) => b + (r.value?.byteLength ?? 0), 0), 0);
  return { keys: histories.length, versions, valueBytes, sessions: m.size.sessions };
}

describe('KvStateMachine.size', () => {
  it('follows puts, overwrites, deletes, compactions, snapshots and restores', async () => {
    const m = new KvStateMachine();
    expect(m.size).toEqual({ keys: 0, versions: 0, valueBytes: 0, sessions: 0 });
    m.apply({ type: 'put', key: 'a', value: bytes(10) }, meta());
    m.apply({ type: 'put', key: 'a', value: bytes(20) }, meta());
    m.apply({ type: 'put', key: 'b', value: bytes(5) }, meta());
    m.apply({ type: 'session-create', ttlMs: 10_000 }, meta());
    expect(m.size).toEqual({ keys: 2, versions: 3, valueBytes: 35, sessions: 1 });
    m.apply({ type: 'delete', key: 'b' }, meta());
    expect(m.size).toEqual({ keys: 2, versions: 4, valueBytes: 35, sessions: 1 });
    // Compaction to now: a's older version goes, and b (deleted) goes whole.
    m.apply({ type: 'compact', revision: m.revision }, meta());
    expect(m.size).toEqual({ keys: 1, versions: 0, valueBytes: 20, sessions: 1 });
    expect(m.size).toEqual(counted(m));
    m.apply({ type: 'put', key: 'c', value: bytes(7) }, meta());
    const restored = new KvStateMachine();
    restored.restore(await m.snapshot().write());
    expect(restored.size).toEqual({ keys: 2, versions: 1, valueBytes: 27, sessions: 1 });
    expect(restored.size).toEqual(counted(restored));
  });

  it('follows the automatic compaction of historyRevisionsMax', () => {
    const m = new KvStateMachine({ historyRevisionsMax: 3 });
    for (let i = 1; i <= 10; i++) m.apply({ type: 'put', key: 'k', value: bytes(i) }, meta());
    expect(m.size).toEqual(counted(m));
    expect(m.size.valueBytes).toBeLessThan(55);
  });
});

describe('MvccStore.restore', () => {
  const record = (revision: number): KeyRecord => ({ revision, version: 1, createRevision: revision, value: bytes(1), session: undefined });

  /** Every change the store holds, as (revision, key), in the order events() returns them. */
  const changes = (store: MvccStore): [number, string][] =>
    store.events(store.compactRevision + 1, store.revision, () => true, 1_000_000).events.map((e) => [e.revision, e.kv.key]);

  it('derives the change log in revision order, key order within a revision, from histories in any order, dense or sparse revisions', () => {
    for (const revisions of [
      [1, 2, 3, 3, 4, 6],
      [1, 5_000, 5_000, 90_000, 90_001, 200_000],
    ]) {
      const top = Math.max(...revisions);
      // Keys named so that key order and revision order disagree; a revision shared by two keys.
      const histories = revisions.map((revision, i): [string, KeyRecord[]] => [`k${String(revisions.length - i).padStart(2, '0')}`, [record(revision)]]);
      const expected = histories.map(([key, [r]]): [number, string] => [r!.revision, key]).sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1));
      for (const order of [histories, [...histories].reverse(), [...histories].sort(([a], [b]) => (a < b ? -1 : 1))]) {
        const store = MvccStore.restore(order, top, 0);
        expect(changes(store), `revisions ${revisions.join(',')}`).toEqual(expected);
        expect(store.range({ prefix: 'k' }, 100).kvs.map((kv) => kv.key)).toEqual(histories.map(([key]) => key).sort());
      }
    }
  });

  it('leaves out changes at or below the compaction revision', () => {
    const store = MvccStore.restore(
      [
        ['a', [record(2), record(7)]],
        ['b', [record(5)]],
      ],
      9,
      5,
    );
    expect(changes(store)).toEqual([[7, 'a']]);
  });

  it('a snapshot naming a key twice is refused with CodecError', async () => {
    const m = new KvStateMachine();
    m.apply({ type: 'put', key: 'a', value: bytes(1) }, meta());
    m.apply({ type: 'put', key: 'b', value: bytes(1) }, meta());
    const data = await m.snapshot().write();
    // The second key's name, "b", becomes "a": one byte, right before its history.
    const at = data.lastIndexOf(0x62);
    const twice = data.slice();
    twice[at] = 0x61;
    expect(() => new KvStateMachine().restore(twice)).toThrow(CodecError);
    expect(() => new KvStateMachine().restore(twice)).toThrow(/named twice/);
  });
});

describe('MvccStore.capture', () => {
  const put = (m: KvStateMachine, key: string, text: string): void => {
    m.apply({ type: 'put', key, value: new TextEncoder().encode(text) }, meta());
  };

  it('keeps reading the store as it was: writes, compactions that drop versions and keys, and new keys after it change nothing it writes', async () => {
    const m = new KvStateMachine();
    put(m, 'a', 'a1');
    put(m, 'a', 'a2');
    put(m, 'b', 'b1');
    m.apply({ type: 'delete', key: 'b' }, meta());
    const atOnce = await m.snapshot().write();
    const late = m.snapshot();
    put(m, 'a', 'a3');
    put(m, 'c', 'c1');
    // Drops a1, a2 and the whole of b (its last record is a delete).
    m.apply({ type: 'compact', revision: m.revision }, meta());
    expect(m.view.allHistories().next().value?.[1]).toHaveLength(1);
    expect(Buffer.from(await late.write()).equals(Buffer.from(atOnce))).toBe(true);
  });

  it('is released once written: compaction keeps nothing more for it', async () => {
    const m = new KvStateMachine();
    put(m, 'a', 'a1');
    const capture = m.snapshot();
    expect(m.view.capturesOpen).toBe(1);
    await capture.write();
    expect(m.view.capturesOpen).toBe(0);
  });
});

describe('MvccStore.range with a byte bound', () => {
  it('returns a prefix of the range: the first key always, none after the one that would pass the bound, and counts them all', () => {
    const m = new KvStateMachine();
    m.apply({ type: 'put', key: 'a', value: bytes(10) }, meta());
    m.apply({ type: 'put', key: 'b', value: bytes(100) }, meta());
    m.apply({ type: 'put', key: 'c', value: bytes(10) }, meta());
    const store = m.view;
    const cut = store.range({ prefix: '' }, 10, store.revision, 50);
    expect(cut.kvs.map((kv) => kv.key)).toEqual(['a']);
    expect(cut).toMatchObject({ more: true, count: 3 });
    // The first key goes even when it alone passes the bound.
    expect(store.range({ prefix: 'b' }, 10, store.revision, 50).kvs.map((kv) => kv.key)).toEqual(['b']);
    expect(store.range({ prefix: '' }, 10).kvs).toHaveLength(3);
  });
});
