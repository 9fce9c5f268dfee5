/**
 * The store's size gauges (keys, versions, value bytes) are kept as it changes, not
 * counted at each scrape: every write, compaction, copy and restore must keep them
 * equal to a count of what it holds.
 */
import { describe, expect, it } from 'vitest';
import { KvStateMachine } from '../../src/kv/index.js';

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
