/**
 * When `/readyz` says a member is not ready, and why: one line, naming the bound.
 * The endpoint itself is exercised over HTTP in metrics.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { notReadyBecause, readyLagSlotsMaxDefault } from '../../src/cli/metrics-endpoint.js';
import type { NodeMetrics } from '../../src/runtime/index.js';

const healthy = { role: 'follower', leader: 'a', leaderLive: true, leaderSilentMs: 100, leaderCommitIndex: 50, lag: 0 } as const;
const metrics = (m: Partial<NodeMetrics>): NodeMetrics => ({ ...healthy, ...m }) as NodeMetrics;

describe('notReadyBecause', () => {
  it('a running member with a live leader, within the lag bound, is ready', () => {
    expect(notReadyBecause('running', metrics({}), 10)).toBeUndefined();
    expect(notReadyBecause('running', metrics({ role: 'leader', leader: 'b', leaderSilentMs: 0, lag: 10 }), 10)).toBeUndefined();
  });

  it('says why not: starting, stopping, removed, no leader, a silent leader, too far behind', () => {
    expect(notReadyBecause('starting', undefined, 10)).toMatch(/^starting/);
    expect(notReadyBecause('stopping', metrics({}), 10)).toBe('stopping');
    expect(notReadyBecause('running', metrics({ role: 'removed' }), 10)).toMatch(/not in the configuration/);
    expect(notReadyBecause('running', metrics({ leader: undefined, leaderLive: false }), 10)).toBe('no leader');
    expect(notReadyBecause('running', metrics({ leaderLive: false, leaderSilentMs: 1_234.5 }), 10)).toBe('no leader: nothing heard from a for 1235 ms');
    expect(notReadyBecause('running', metrics({ lag: 11 }), 10)).toBe("11 slots behind the leader's commit index 50, over --ready-lag-max 10");
    for (const m of [metrics({ lag: 11 }), metrics({ leaderLive: false })]) expect(notReadyBecause('running', m, 10)).not.toContain('\n');
  });

  it('defaults to a lag bound of 1,000 slots', () => {
    expect(readyLagSlotsMaxDefault).toBe(1_000);
  });
});
