/**
 * Leadership transfers on their own, through a fake host: a transfer resolves when its
 * target is heard leading (not when it merely campaigns), and fails when another node
 * takes over, when a newer transfer supersedes it, or when this node leads on.
 */
import { describe, expect, it } from 'vitest';
import type { ReplicaStatus, Role, TransferResult } from '../../src/core/index.js';
import { ClosedError, NotLeaderError, TransferError } from '../../src/runtime/errors.js';
import { LeadershipTransfers } from '../../src/runtime/leadership-transfers.js';
import { VirtualClock, settlePromises } from '../../src/testing/index.js';

function harness(answer: TransferResult = { ok: true }, role: Role = 'leader') {
  const clock = new VirtualClock();
  const state = { drains: 0, asked: [] as string[] };
  const transfers = new LeadershipTransfers('a', clock, 40, {
    core: () => ({
      role,
      transferLeadership: (to: string) => {
        state.asked.push(to);
        return answer;
      },
    }),
    drainSoon: () => state.drains++,
  });
  return { clock, state, transfers };
}

function watch(promise: Promise<void>): { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } {
  const w: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' };
  promise.then(
    () => (w.state = 'resolved'),
    (error: unknown) => Object.assign(w, { state: 'rejected', error }),
  );
  return w;
}

type Seen = Pick<ReplicaStatus, 'heardLeader' | 'role' | 'transferTarget'>;
const campaigning: Seen = { heardLeader: undefined, role: 'follower', transferTarget: undefined };
const heard = (node: string): Seen => ({ heardLeader: { round: 2, node }, role: 'follower', transferTarget: undefined });

describe('LeadershipTransfers', () => {
  it('resolves when the target is heard leading, not when it merely becomes the leader hint', async () => {
    const h = harness();
    const t = watch(h.transfers.transfer('b', {}, 1_000));
    expect(h.state.asked).toEqual(['b']);
    expect(h.state.drains).toBe(1);
    h.transfers.leaderChanged('b');
    h.transfers.observe(campaigning);
    await settlePromises();
    expect(t.state).toBe('pending');
    h.transfers.observe(heard('b'));
    await settlePromises();
    expect(t.state).toBe('resolved');
  });

  it('fails when another node takes over, when superseded, and when this node leads on', async () => {
    const h = harness();
    const first = watch(h.transfers.transfer('b', {}, 1_000));
    const second = watch(h.transfers.transfer('c', {}, 1_000));
    await settlePromises();
    expect(first.error).toBeInstanceOf(TransferError);
    expect(String(first.error)).toContain('superseded by a transfer to c');
    h.transfers.leaderChanged('d');
    await settlePromises();
    expect(String(second.error)).toContain('d took over instead');
    const third = watch(h.transfers.transfer('b', {}, 1_000));
    h.transfers.observe({ heardLeader: undefined, role: 'leader', transferTarget: undefined });
    await settlePromises();
    expect(String(third.error)).toContain('within 40 ticks; this node leads on');
  });

  it('resolves at once a transfer to itself as leader; throws the core’s refusals; closes what waits', async () => {
    await expect(harness().transfers.transfer('a', {}, 1_000)).resolves.toBeUndefined();
    expect(() => harness({ ok: false, reason: 'not-voter' }).transfers.transfer('o', {}, 1_000)).toThrow(/not a voting member/);
    expect(() => harness({ ok: false, reason: 'not-leader', leaderHint: 'b' }, 'follower').transfers.transfer('c', {}, 1_000)).toThrow(NotLeaderError);
    const h = harness();
    const t = watch(h.transfers.transfer('b', {}, 1_000));
    h.transfers.close(() => new ClosedError());
    await settlePromises();
    expect(t.error).toBeInstanceOf(ClosedError);
  });
});
