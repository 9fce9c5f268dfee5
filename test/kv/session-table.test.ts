/**
 * Session owners in the replicated state: a `session-create` for a user is refused at
 * the user's `sessionsMax` (and only for that user), every way a session ends gives
 * its place back, and every replica, applying the same log, refuses alike.
 */
import { describe, expect, it } from 'vitest';
import type { KvCommand } from '../../src/kv/index.js';
import { KvStateMachine } from '../../src/kv/index.js';
import { SessionTable } from '../../src/kv/session-table.js';

function replay(machine: KvStateMachine, commands: readonly KvCommand[]) {
  return commands.map((c, i) => machine.apply(c, { slot: i + 1, timestamp: 1_000 + i, clientId: 'c', seq: i + 1, origin: 'a' }));
}

const owned = (user: string, sessionsMax = 2): KvCommand => ({ type: 'session-create', ttlMs: 1_000, owner: { user, sessionsMax } });

describe('session owners', () => {
  it("refuses a create at the owner's sessionsMax, for that owner only; a close or an expiry gives the place back", () => {
    const log: KvCommand[] = [
      owned('alice'), // 1
      owned('alice'), // 2
      owned('alice'), // refused
      owned('bob'), // 3
      { type: 'session-create', ttlMs: 1_000 }, // 4, nobody's: not counted
      { type: 'session-close', session: 1 },
      owned('alice'), // 5
      { type: 'session-expire', sessions: [2], decidedAtSlot: 7 },
      owned('alice'), // 6
      owned('alice'), // refused
      owned('alice', 3), // 7: the quota is the command's, as the proposing server's configuration said
    ];
    const results = [new KvStateMachine(), new KvStateMachine()].map((m) => replay(m, log));
    expect(results[0]).toEqual(results[1]);
    expect(results[0]!.map((r) => (r.type === 'session' ? r.session.id : r.type))).toEqual([
      1,
      2,
      'quota-exceeded',
      3,
      4,
      'session-closed',
      5,
      'expired',
      6,
      'quota-exceeded',
      7,
    ]);
    expect(results[0]![2]).toEqual({ type: 'quota-exceeded', quota: 'sessionsMax', limit: 2 });
  });

  it('refuses an owner quota that is not a positive integer, changing nothing', () => {
    const m = new KvStateMachine();
    expect(replay(m, [owned('alice', 0)])[0]).toMatchObject({ type: 'invalid' });
    expect(m.size.sessions).toBe(0);
  });
});

describe("the sessions' capture for a snapshot", () => {
  it('reads the sessions as they were, in id order, whatever changed after it', () => {
    const table = new SessionTable();
    table.nextId = 10;
    // Restored out of id order: the capture still reads them by id.
    for (const id of [7, 2, 5])
      table.restore({ id, ttlMs: id * 100, expiresAt: id * 1_000, renewedSlot: id, keys: new Set(), ...(id === 5 ? { owner: 'ann' } : {}) });
    const capture = table.captured();
    table.renew(table.get(2)!, 50_000, 40);
    table.end(7);
    table.create(300, 60_000, 41, 'bob');
    expect(capture.nextId).toBe(10);
    // What a snapshot reads of each: the keys it owns are found from the keys' records.
    const read = (i: number) => {
      const { id, ttlMs, expiresAt, renewedSlot, owner } = capture.record(i);
      return { id, ttlMs, expiresAt, renewedSlot, ...(owner === undefined ? {} : { owner }) };
    };
    expect(Array.from({ length: capture.count }, (_, i) => read(i))).toEqual([
      { id: 2, ttlMs: 200, expiresAt: 2_000, renewedSlot: 2 },
      { id: 5, ttlMs: 500, expiresAt: 5_000, renewedSlot: 5, owner: 'ann' },
      { id: 7, ttlMs: 700, expiresAt: 7_000, renewedSlot: 7 },
    ]);
  });
});
