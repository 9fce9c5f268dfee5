/**
 * Linearizable reads on their own, through a fake host: a read resolves only once the
 * slot of its confirmed read index is applied here (never on the index alone), a
 * follower asks the leader it knows, a refused read asks again, and a leader answers
 * followers' reads with its read index.
 */
import { describe, expect, it } from 'vitest';
import type { NodeId, ReadIndexRequestResult, Role } from '../../src/core/index.js';
import { ClosedError, OverloadedError, TimeoutError } from '../../src/runtime/errors.js';
import { MetricsRecorder } from '../../src/runtime/metrics.js';
import { Reads } from '../../src/runtime/reads.js';
import type { ReadReplyMessage, ReadRequestMessage } from '../../src/runtime/runtime-messages.js';
import { VirtualClock, settlePromises } from '../../src/testing/index.js';

function harness(options: { role?: Role; leader?: NodeId; pendingReadsMax?: number } = {}) {
  const clock = new VirtualClock();
  const core = {
    role: options.role ?? ('follower' as Role),
    asked: [] as number[],
    readIndex(id: number): ReadIndexRequestResult {
      if (this.role !== 'leader') return { ok: false, reason: 'not-leader', leaderHint: undefined };
      this.asked.push(id);
      return { ok: true };
    },
  };
  const state = { leader: options.leader, ticks: 0, applied: 0, drains: 0 };
  const sent: (ReadRequestMessage | ReadReplyMessage)[] = [];
  const dropped: unknown[] = [];
  const recorder = new MetricsRecorder();
  const reads = new Reads({ id: 'a', clock, pendingReadsMax: options.pendingReadsMax ?? 100 }, recorder, {
    core: () => core,
    leader: () => state.leader,
    ticks: () => state.ticks,
    appliedIndex: () => state.applied,
    send: (m) => sent.push(m),
    drainSoon: () => state.drains++,
    dropMalformed: (m) => dropped.push(m),
  });
  return { clock, core, state, sent, dropped, recorder, reads };
}

/** Whether `promise` has settled, and how. */
function watch(promise: Promise<void>): { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } {
  const w: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' };
  promise.then(
    () => (w.state = 'resolved'),
    (error: unknown) => {
      w.state = 'rejected';
      w.error = error;
    },
  );
  return w;
}

describe('Reads', () => {
  it('on the leader, waits for the confirmed read index and then for it to be applied here', async () => {
    const h = harness({ role: 'leader', leader: 'a' });
    h.state.applied = 3;
    const read = watch(h.reads.read({}, 1_000));
    expect(h.core.asked).toEqual([1]);
    expect(h.state.drains).toBe(1);
    h.reads.onReadIndex({ id: 1, ok: true, index: 5 });
    await settlePromises();
    expect(read.state).toBe('pending');
    h.state.applied = 4;
    h.reads.applied(4);
    await settlePromises();
    expect(read.state).toBe('pending');
    h.state.applied = 5;
    h.reads.applied(5);
    await settlePromises();
    expect(read.state).toBe('resolved');
    expect(h.reads.size).toBe(0);
    expect(h.recorder.readsServed).toBe(1);
  });

  it('resolves at once when the read index is applied already', async () => {
    const h = harness({ role: 'leader', leader: 'a' });
    h.state.applied = 9;
    const read = watch(h.reads.read({}, 1_000));
    h.reads.onReadIndex({ id: 1, ok: true, index: 9 });
    await settlePromises();
    expect(read.state).toBe('resolved');
  });

  it('on a follower, asks the leader it knows, and waits for the index it answers to be applied', async () => {
    const h = harness({ leader: 'b' });
    const read = watch(h.reads.read({}, 1_000));
    expect(h.sent).toEqual([{ type: 'readRequest', from: 'a', to: 'b', id: 1 }]);
    h.reads.onReadReply({ type: 'readReply', from: 'b', to: 'a', id: 1, index: 2, leaderHint: 'b' });
    await settlePromises();
    expect(read.state).toBe('pending');
    h.state.applied = 2;
    h.reads.applied(2);
    await settlePromises();
    expect(read.state).toBe('resolved');
  });

  it('without a leader waits; asks the next leader once one is known', () => {
    const h = harness();
    void h.reads.read({}, 1_000);
    expect(h.sent).toEqual([]);
    h.state.leader = 'c';
    h.reads.leaderChanged();
    expect(h.sent).toEqual([{ type: 'readRequest', from: 'a', to: 'c', id: 1 }]);
  });

  it('asks again after a refusal, on the next retry tick', () => {
    const h = harness({ leader: 'b' });
    void h.reads.read({}, 10_000);
    h.reads.onReadReply({ type: 'readReply', from: 'b', to: 'a', id: 1, index: undefined, leaderHint: 'b' });
    expect(h.recorder.readRetries).toBe(1);
    h.state.ticks = 10;
    h.reads.retryDue(5);
    expect(h.sent.map((m) => m.type)).toEqual(['readRequest', 'readRequest']);
    // An answered read is not asked again.
    h.reads.onReadReply({ type: 'readReply', from: 'b', to: 'a', id: 1, index: 1, leaderHint: 'b' });
    h.reads.retryDue(100);
    expect(h.sent).toHaveLength(2);
  });

  it('as leader, answers a follower with its read index once the core confirms it, or refuses with a hint', () => {
    const h = harness({ role: 'leader', leader: 'a', pendingReadsMax: 1 });
    h.reads.onReadRequest({ type: 'readRequest', from: 'b', to: 'a', id: 41 });
    expect(h.core.asked).toEqual([1]);
    expect(h.sent).toEqual([]);
    // Over pendingReadsMax: refused as if not leading.
    h.reads.onReadRequest({ type: 'readRequest', from: 'c', to: 'a', id: 7 });
    expect(h.sent).toEqual([{ type: 'readReply', from: 'a', to: 'c', id: 7, index: undefined, leaderHint: 'a' }]);
    h.reads.onReadIndex({ id: 1, ok: true, index: 12 });
    expect(h.sent[1]).toEqual({ type: 'readReply', from: 'a', to: 'b', id: 41, index: 12, leaderHint: 'a' });
    // It lost the leadership before confirming another: the follower hears the new hint.
    h.reads.onReadRequest({ type: 'readRequest', from: 'b', to: 'a', id: 42 });
    h.reads.onReadIndex({ id: h.core.asked.at(-1)!, ok: false, leaderHint: 'c' });
    expect(h.sent[2]).toEqual({ type: 'readReply', from: 'a', to: 'b', id: 42, index: undefined, leaderHint: 'c' });
  });

  it('drops a malformed reply, and a read request without an integer id', () => {
    const h = harness({ leader: 'b' });
    void h.reads.read({}, 1_000);
    h.reads.onReadReply({ type: 'readReply', from: 'b', to: 'a', id: 1, index: -1, leaderHint: 'b' });
    h.reads.onReadRequest({ type: 'readRequest', from: 'b', to: 'a', id: 1.5 });
    expect(h.dropped).toHaveLength(2);
    expect(h.reads.size).toBe(1);
  });

  it('times out, refuses beyond pendingReadsMax, and rejects what waits on close', async () => {
    const h = harness({ leader: 'b', pendingReadsMax: 2 });
    const first = watch(h.reads.read({}, 100));
    const second = watch(h.reads.read({}, 1_000));
    expect(() => h.reads.read({}, 1_000)).toThrow(OverloadedError);
    await h.clock.advance(100);
    expect(first.state).toBe('rejected');
    expect(first.error).toBeInstanceOf(TimeoutError);
    h.reads.close(() => new ClosedError());
    await settlePromises();
    expect(second.error).toBeInstanceOf(ClosedError);
    expect(h.reads.size).toBe(0);
    expect(h.recorder.readsFailed).toBe(2);
  });
});
