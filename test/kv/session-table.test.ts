/**
 * Session owners in the replicated state: a `session-create` for a user is refused at
 * the user's `sessionsMax` (and only for that user), every way a session ends gives
 * its place back, and every replica, applying the same log, refuses alike.
 */
import { describe, expect, it } from 'vitest';
import type { KvCommand } from '../../src/kv/index.js';
import { KvStateMachine } from '../../src/kv/index.js';

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
