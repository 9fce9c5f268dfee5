import { describe, expect, it } from 'vitest';
import { KvStateMachine } from '../../src/kv/index.js';

// A new leader's session-renew renews what it saw silent, as of the slot it had applied
// (`decidedAtSlot`): a renew from a leader deposed meanwhile, forwarded after its
// step-down and applied late, renews nothing the next leader's renew covered, so it
// cannot stretch a silent session's life (found by test/kv/session-clock.test.ts with
// seed -632095396: a session expired 408 ms past its bound, with no fault at all).
const at = (slot: number) => ({ slot, timestamp: 1_700_000_000_000 + slot, clientId: 'c', seq: slot, origin: 'a' });

describe('session-renew', () => {
  it('with decidedAtSlot, renews only the sessions not renewed after it', () => {
    const m = new KvStateMachine();
    m.apply({ type: 'session-create', ttlMs: 1_000 }, at(1));
    m.apply({ type: 'session-create', ttlMs: 1_000 }, at(2));
    // The next leader's renew, decided at slot 4, lands at 5 and renews both.
    expect(m.apply({ type: 'session-renew', decidedAtSlot: 4 }, at(5))).toEqual({ type: 'renewed', sessions: 2 });
    m.apply({ type: 'session-keepalive', session: 2 }, at(6));
    // The deposed leader's renew, decided at 3, lands late at 7: nothing to renew.
    expect(m.apply({ type: 'session-renew', decidedAtSlot: 3 }, at(7))).toEqual({ type: 'renewed', sessions: 0 });
    expect(m.sessionTable.all().map((s) => s.renewedSlot)).toEqual([5, 6]);
    // Decided at 5 (after the first renew, before the keepalive): session 1 only.
    expect(m.apply({ type: 'session-renew', decidedAtSlot: 5 }, at(8))).toEqual({ type: 'renewed', sessions: 1 });
    expect(m.sessionTable.all().map((s) => s.renewedSlot)).toEqual([8, 6]);
  });

  it('without decidedAtSlot (logs written before it), renews every session', () => {
    const m = new KvStateMachine();
    m.apply({ type: 'session-create', ttlMs: 1_000 }, at(1));
    m.apply({ type: 'session-keepalive', session: 1 }, at(3));
    expect(m.apply({ type: 'session-renew' }, at(4))).toEqual({ type: 'renewed', sessions: 1 });
    expect(m.sessionTable.all().map((s) => s.renewedSlot)).toEqual([4]);
  });

  it('refuses a decision at or after its own slot, renewing nothing', () => {
    const m = new KvStateMachine();
    m.apply({ type: 'session-create', ttlMs: 1_000 }, at(1));
    expect(m.apply({ type: 'session-renew', decidedAtSlot: 2 }, at(2))).toMatchObject({ type: 'invalid' });
    expect(m.apply({ type: 'session-renew', decidedAtSlot: -1 }, at(3))).toMatchObject({ type: 'invalid' });
    expect(m.sessionTable.all().map((s) => s.renewedSlot)).toEqual([1]);
  });
});
