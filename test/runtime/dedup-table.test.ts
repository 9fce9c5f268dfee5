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
