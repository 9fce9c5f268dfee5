import { describe, expect, it } from 'vitest';
import { DedupTable, defaultDedupLimits } from '../../src/runtime/dedup-table.js';

const ok = (value: number) => ({ ok: true as const, value });

describe('the deduplication table', () => {
  it('gives a duplicate the first outcome', () => {
    const t = new DedupTable<number>(defaultDedupLimits);
    expect(t.check('c', 1, 0, 100, 100)).toEqual({ kind: 'new' });
    t.record('c', 1, ok(7));
    expect(t.check('c', 1, 0, 100, 200)).toEqual({ kind: 'duplicate', outcome: ok(7) });
  });

  it('refuses requests below the floor the client moved with ackedBelow', () => {
    const t = new DedupTable<number>(defaultDedupLimits);
    t.check('c', 1, 0, 100, 100);
    t.record('c', 1, ok(1));
    t.check('c', 5, 5, 100, 100);
    t.record('c', 5, ok(5));
    expect(t.check('c', 1, 5, 100, 300)).toEqual({ kind: 'expired' });
    expect(t.check('c', 3, 5, 100, 300)).toEqual({ kind: 'expired' });
    expect(t.check('c', 6, 5, 100, 300)).toEqual({ kind: 'new' });
  });

  it('forgetting the oldest result raises the floor, so its retry is refused, never re-applied', () => {
    const t = new DedupTable<number>({ ...defaultDedupLimits, resultsPerClientMax: 2 });
    for (const seq of [1, 2, 3]) {
      expect(t.check('c', seq, 0, 100, 100)).toEqual({ kind: 'new' });
      t.record('c', seq, ok(seq));
    }
    expect(t.check('c', 1, 0, 100, 100)).toEqual({ kind: 'expired' });
    expect(t.check('c', 2, 0, 100, 100)).toEqual({ kind: 'duplicate', outcome: ok(2) });
  });

  it('a retry from a client forgotten for idleness is refused, a new client is not', () => {
    const hour = 3_600_000;
    const t = new DedupTable<number>(defaultDedupLimits);
    t.check('old', 1, 0, 1_000, 1_000);
    t.record('old', 1, ok(1));
    // Another client's request two hours later makes the table forget 'old'.
    expect(t.check('new', 1, 0, 1_000 + 2 * hour, 1_000 + 2 * hour)).toEqual({ kind: 'new' });
    expect(t.size).toBe(1);
    // The retry of old/1 carries its original creation time: refused, not applied twice.
    expect(t.check('old', 1, 0, 1_000, 1_000 + 2 * hour)).toEqual({ kind: 'expired' });
  });

  it('a retry from a client forgotten to stay within clientsMax is refused', () => {
    const t = new DedupTable<number>({ ...defaultDedupLimits, clientsMax: 1 });
    t.check('a', 1, 0, 1_000, 1_000);
    t.record('a', 1, ok(1));
    t.check('b', 1, 0, 1_010, 1_010);
    t.record('b', 1, ok(1));
    expect(t.size).toBe(1);
    expect(t.check('a', 1, 0, 1_000, 1_020)).toEqual({ kind: 'expired' });
    // A request made well after the watermark (beyond the skew allowance) is new.
    expect(t.check('a', 2, 0, 1_010 + defaultDedupLimits.clockSkewMaxMs + 1, 70_000)).toEqual({ kind: 'new' });
  });

  it('new clients are not refused after others were forgotten for size (tombstones are per client)', () => {
    const t = new DedupTable<number>({ ...defaultDedupLimits, clientsMax: 2 });
    for (let i = 1; i <= 5; i++) {
      const at = i * 1_000;
      expect(t.check(`c${i}`, 1, 0, at, at), `c${i}`).toEqual({ kind: 'new' });
      t.record(`c${i}`, 1, ok(i));
    }
    // c1..c3 were forgotten; their retries are refused, never applied again.
    for (let i = 1; i <= 3; i++) expect(t.check(`c${i}`, 1, 0, i * 1_000, 6_000)).toEqual({ kind: 'expired' });
  });

  it('known() tells what was applied, without changing anything', () => {
    const t = new DedupTable<number>(defaultDedupLimits);
    expect(t.known('c', 1)).toBeUndefined();
    t.check('c', 1, 0, 100, 100);
    expect(t.known('c', 1)).toBeUndefined();
    t.record('c', 1, ok(1));
    expect(t.known('c', 1)).toEqual(ok(1));
    expect(t.known('c', 2)).toBeUndefined();
    t.check('c', 3, 3, 100, 100);
    expect(t.known('c', 2)).toBe('expired');
  });
});

describe('the deduplication table’s byte bounds', () => {
  /** 1 KiB a client, 4 KiB in all. */
  const limits = { ...defaultDedupLimits, resultBytesPerClientMax: 1024, resultBytesMax: 4096 };
  /** A result the table charges `bytes` for: 64 for the entry, 16 for the string, 2 a character. */
  const sized = (bytes: number) => ({ ok: true as const, value: 'x'.repeat((bytes - 64 - 16) / 2) });
  const apply = (t: DedupTable<string>, client: string, seq: number, bytes: number, at = 100) => {
    expect(t.check(client, seq, 0, at, at), `${client}/${seq}`).toEqual({ kind: 'new' });
    t.record(client, seq, sized(bytes));
  };

  it('charges each kept result its estimate plus its entry', () => {
    const t = new DedupTable<string>(limits);
    apply(t, 'c', 1, 200);
    apply(t, 'c', 2, 300);
    expect(t.stats).toMatchObject({ clients: 1, results: 2, bytes: 500, tooLarge: 0 });
  });

  it('keeps a result larger than resultBytesPerClientMax as applied, result dropped: its retry is refused, not applied', () => {
    const trips: string[] = [];
    const t = new DedupTable<string>(limits, (trip) => trips.push(`${trip.bound} ${trip.clientId}/${trip.seq}`));
    apply(t, 'c', 1, 1024 + 2);
    expect(t.stats).toMatchObject({ results: 1, bytes: 64, tooLarge: 1 });
    expect(t.check('c', 1, 0, 100, 200)).toEqual({ kind: 'dropped' });
    expect(t.known('c', 1)).toBe('dropped');
    expect(trips).toEqual(['result c/1']);
    // One at the bound is kept.
    apply(t, 'c', 2, 1024 - 64);
    expect(t.known('c', 2)).toEqual(sized(1024 - 64));
  });

  it('a client over resultBytesPerClientMax has its oldest results dropped first, never forgotten while markers fit', () => {
    const t = new DedupTable<string>(limits);
    for (let seq = 1; seq <= 5; seq++) apply(t, 'c', seq, 400);
    // 5 × 400 is over 1,024: seq 1 to 3 are kept as dropped (64 each), 4 and 5 whole.
    expect(t.stats).toMatchObject({ results: 5, bytes: 3 * 64 + 2 * 400, evictedForClient: 3 });
    for (const seq of [1, 2, 3]) expect(t.check('c', seq, 0, 100, 200), `seq ${seq}`).toEqual({ kind: 'dropped' });
    for (const seq of [4, 5]) expect(t.check('c', seq, 0, 100, 200), `seq ${seq}`).toEqual({ kind: 'duplicate', outcome: sized(400) });
  });

  it('a table over resultBytesMax takes from the least recently active clients first', () => {
    const t = new DedupTable<string>(limits);
    for (const [i, client] of ['a', 'b', 'c', 'd'].entries()) apply(t, client, 1, 1000, 100 + i);
    expect(t.stats.bytes).toBe(4000);
    // 'a' is active again: 'b' is now the least recently active.
    expect(t.check('a', 1, 0, 100, 200)).toMatchObject({ kind: 'duplicate' });
    apply(t, 'e', 1, 1000, 300);
    expect(t.stats.bytes).toBeLessThanOrEqual(4096);
    expect(t.known('b', 1)).toBe('dropped');
    for (const client of ['a', 'c', 'd', 'e']) expect(t.known(client, 1), client).toEqual(sized(1000));
    expect(t.stats.evictedForTotal).toBe(1);
  });

  it('one client sending huge results and never moving ackedBelow stays within its bound; nothing applied is ever new again', () => {
    const t = new DedupTable<string>({ ...defaultDedupLimits, resultBytesPerClientMax: 64 * 1024, resultBytesMax: 256 * 1024 });
    const huge = { ok: true as const, value: 'y'.repeat(1 << 20) };
    for (let seq = 1; seq <= 2_000; seq++) {
      expect(t.check('attacker', seq, 0, 100, 100 + seq)).toEqual({ kind: 'new' });
      t.record('attacker', seq, seq % 3 === 0 ? huge : sized(10_000));
      expect(t.stats.bytes).toBeLessThanOrEqual(64 * 1024);
    }
    for (let seq = 1; seq <= 2_000; seq++) expect(t.check('attacker', seq, 0, 100, 5_000).kind, `seq ${seq}`).not.toBe('new');
  });

  it('the same requests rebuild the same table, and its state carries the bytes and the dropped markers', () => {
    const build = (): DedupTable<string> => {
      const t = new DedupTable<string>(limits);
      for (let i = 0; i < 60; i++) apply(t, `c${i % 7}`, 1 + Math.floor(i / 7), 100 + ((i * 37) % 900), 100 + i);
      return t;
    };
    const a = build();
    const b = build();
    expect(b.exportState()).toEqual(a.exportState());
    expect(b.stats).toEqual(a.stats);
    const restored = new DedupTable<string>(limits);
    restored.importState(a.exportState());
    expect({ ...restored.stats, tooLarge: 0, evictedForClient: 0, evictedForTotal: 0 }).toEqual({
      ...a.stats,
      tooLarge: 0,
      evictedForClient: 0,
      evictedForTotal: 0,
    });
    expect(restored.exportState()).toEqual(a.exportState());
    // And goes on the same way.
    apply(a, 'late', 1, 900, 1_000);
    apply(restored, 'late', 1, 900, 1_000);
    expect(restored.exportState()).toEqual(a.exportState());
  });

  it('a state over this table’s bounds (older snapshot, larger bounds) is brought within them on import', () => {
    const big = new DedupTable<string>({ ...defaultDedupLimits });
    for (let i = 0; i < 20; i++) {
      big.check(`c${i}`, 1, 0, 100, 100 + i);
      big.record(`c${i}`, 1, sized(2_000));
    }
    const state = big.exportState();
    const small = new DedupTable<string>(limits);
    small.importState(state);
    expect(small.stats.bytes).toBeLessThanOrEqual(4096);
    for (let i = 0; i < 20; i++) expect(small.check(`c${i}`, 1, 0, 100, 200)).toEqual({ kind: 'dropped' });
    // Bytes unknown (a snapshot from before byte bounds) are estimated again.
    const unknown = { ...state, clients: state.clients.map((c) => ({ ...c, results: c.results.map((r) => ({ ...r, bytes: undefined })) })) };
    const again = new DedupTable<string>({ ...defaultDedupLimits });
    again.importState(unknown);
    expect(again.stats.bytes).toBe(big.stats.bytes);
  });
});

describe('requests that take no entry (read-only)', () => {
  it('progress() adds no client and no result, but moves a known client’s floor', () => {
    const t = new DedupTable<number>(defaultDedupLimits);
    t.progress('reader', 5, 100);
    expect(t.stats).toMatchObject({ clients: 0, results: 0, bytes: 0 });
    t.check('c', 1, 0, 100, 100);
    t.record('c', 1, ok(1));
    t.check('c', 2, 0, 100, 100);
    t.record('c', 2, ok(2));
    t.progress('c', 2, 200);
    expect(t.stats).toMatchObject({ clients: 1, results: 1 });
    expect(t.known('c', 1)).toBe('expired');
    expect(t.known('c', 2)).toEqual(ok(2));
  });
});
