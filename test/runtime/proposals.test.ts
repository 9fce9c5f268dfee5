/**
 * Proposals on their own, through a fake host: a follower forwards to the leader it
 * knows, a leader proposes to its core, a retry of an applied request gets the first
 * outcome without entering the log again, waits time out, and a leader takes forwarded
 * commands once (but runs a read-only retry again).
 */
import { describe, expect, it } from 'vitest';
import { type NodeId, type ProposeResult, type Role, defaultLimits } from '../../src/core/index.js';
import { jsonCodec } from '../../src/index.js';
import type { Outcome } from '../../src/runtime/dedup-table.js';
import { decodeEnvelope, encodeEnvelope } from '../../src/runtime/envelope.js';
import { ClosedError, NotLeaderError, OverloadedError, ResultExpiredError, TimeoutError } from '../../src/runtime/errors.js';
import { MetricsRecorder } from '../../src/runtime/metrics.js';
import { Proposals } from '../../src/runtime/proposals.js';
import type { ForwardMessage, ForwardRefusedMessage } from '../../src/runtime/runtime-messages.js';
import { VirtualClock, settlePromises } from '../../src/testing/index.js';

type Command = { readonly add: number } | { readonly get: true };

function harness(options: { role?: Role; leader?: NodeId; followerProposals?: 'forward' | 'reject'; batchCommandsMax?: number } = {}) {
  const clock = new VirtualClock();
  const core = {
    role: options.role ?? ('follower' as Role),
    proposed: [] as Uint8Array[],
    /** What the next propose() answers, once. */
    next: undefined as ProposeResult | undefined,
    propose(commands: readonly Uint8Array[]): ProposeResult {
      if (this.role !== 'leader') return { ok: false, reason: 'not-leader', leaderHint: undefined };
      const answer = this.next ?? { ok: true };
      this.next = undefined;
      if (answer.ok) this.proposed.push(...commands);
      return answer;
    },
  };
  const known = new Map<string, Outcome<number> | 'expired' | 'dropped'>();
  const state = { leader: options.leader, ticks: 0, drains: 0, ioDrains: 0 };
  const sent: (ForwardMessage | ForwardRefusedMessage)[] = [];
  const dropped: unknown[] = [];
  const recorder = new MetricsRecorder();
  const isReadOnly = (c: Command) => 'get' in c;
  const proposals = new Proposals<Command, number>(
    {
      id: 'a',
      clock,
      codec: jsonCodec as never,
      commandBytesMax: 1024,
      pendingProposalsMax: 3,
      followerProposals: options.followerProposals ?? 'forward',
      limits: { ...defaultLimits, batchCommandsMax: options.batchCommandsMax ?? defaultLimits.batchCommandsMax },
      retryTicks: 5,
    },
    recorder,
    {
      core: () => core,
      leader: () => state.leader,
      ticks: () => state.ticks,
      applier: {
        known: (clientId, seq) => known.get(`${clientId}:${seq}`),
        isReadOnly,
        isReadOnlyPayload: (payload) => isReadOnly(jsonCodec.decode(payload) as Command),
        stamp: () => 777,
      },
      send: (m) => sent.push(m),
      drainSoon: () => state.drains++,
      drainAfterIo: () => state.ioDrains++,
      dropMalformed: (m) => dropped.push(m),
    },
  );
  proposals.start('a/own', 100);
  return { clock, core, known, state, sent, dropped, recorder, proposals };
}

function watch<T>(promise: Promise<T>): { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } {
  const w: { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } = { state: 'pending' };
  promise.then(
    (value) => {
      w.state = 'resolved';
      w.value = value;
    },
    (error: unknown) => {
      w.state = 'rejected';
      w.error = error;
    },
  );
  return w;
}

const forwarded = (sent: readonly (ForwardMessage | ForwardRefusedMessage)[]) =>
  sent.flatMap((m) => (m.type === 'forward' ? m.commands.map((c) => ({ to: m.to, ...decodeEnvelope(c) })) : []));

describe('Proposals', () => {
  it('on a follower, forwards to the leader it knows, and settles with the outcome the applier reports', async () => {
    const h = harness({ leader: 'b' });
    const p = watch(h.proposals.propose({ add: 1 }, {}, 1_000));
    expect(h.state.drains).toBe(1);
    expect(h.sent).toEqual([]);
    h.proposals.flushForwards();
    const [f] = forwarded(h.sent);
    expect(f).toMatchObject({ to: 'b', clientId: 'a/own', seq: 100, ackedBelow: 100, origin: 'a', timestamp: 0 });
    h.proposals.applied('a/own', 100, { ok: true, value: 41 });
    await settlePromises();
    expect(p).toMatchObject({ state: 'resolved', value: 41 });
    expect(h.proposals.size).toBe(0);
  });

  it('gathers forwards into messages of at most batchCommandsMax commands', () => {
    const h = harness({ leader: 'b', batchCommandsMax: 2 });
    for (let i = 0; i < 3; i++) void h.proposals.propose({ add: i }, {}, 1_000);
    h.proposals.flushForwards();
    expect(h.sent.map((m) => (m.type === 'forward' ? m.commands.length : -1))).toEqual([2, 1]);
    // Each own request tells the cluster the lowest one still waited for.
    expect(forwarded(h.sent).map((e) => [e.seq, e.ackedBelow])).toEqual([
      [100, 100],
      [101, 100],
      [102, 100],
    ]);
  });

  it('on the leader, proposes to its core with the log time stamped, once even if retried', () => {
    const h = harness({ role: 'leader', leader: 'a' });
    void h.proposals.propose({ add: 1 }, {}, 1_000);
    expect(h.core.proposed.map((c) => decodeEnvelope(c).timestamp)).toEqual([777]);
    expect(h.state.ioDrains).toBe(1);
    // Nothing heard for retryTicks: the copy in this leader's pipeline commits or comes back, no second copy.
    h.state.ticks = 50;
    h.proposals.retryDue(45);
    expect(h.core.proposed).toHaveLength(1);
    // Nor when a leader change hands every pending proposal over again.
    h.proposals.leaderChanged();
    expect(h.core.proposed).toHaveLength(1);
    // A new leadership holds none of the old one's requests.
    h.proposals.roleChanged();
    h.proposals.retryDue(50);
    expect(h.core.proposed).toHaveLength(2);
  });

  it('gives a retry of a request applied here its first outcome without proposing it again', async () => {
    const h = harness({ role: 'leader', leader: 'a' });
    h.known.set('c1:7', { ok: true, value: 5 });
    const retry = watch(h.proposals.propose({ add: 5 }, { request: { clientId: 'c1', seq: 7 } }, 1_000));
    await settlePromises();
    expect(retry).toMatchObject({ state: 'resolved', value: 5 });
    expect(h.core.proposed).toEqual([]);
    h.known.set('c1:8', 'expired');
    expect(() => h.proposals.propose({ add: 5 }, { request: { clientId: 'c1', seq: 8 } }, 1_000)).toThrow(ResultExpiredError);
    // A read keeps no entry: it runs again.
    h.known.set('c1:9', { ok: true, value: 1 });
    void h.proposals.propose({ get: true }, { request: { clientId: 'c1', seq: 9 } }, 1_000);
    expect(h.core.proposed).toHaveLength(1);
  });

  it('shares one entry between two waits on the same request', async () => {
    const h = harness({ leader: 'b' });
    const a = watch(h.proposals.propose({ add: 2 }, { request: { clientId: 'c1', seq: 1 } }, 1_000));
    const b = watch(h.proposals.propose({ add: 2 }, { request: { clientId: 'c1', seq: 1 } }, 1_000));
    expect(h.proposals.size).toBe(1);
    h.proposals.flushForwards();
    expect(forwarded(h.sent)).toHaveLength(1);
    h.proposals.applied('c1', 1, { ok: true, value: 2 });
    await settlePromises();
    expect([a.value, b.value]).toEqual([2, 2]);
  });

  it('hands pending proposals to the next leader, and again after retryTicks without news', () => {
    const h = harness();
    void h.proposals.propose({ add: 1 }, {}, 10_000);
    h.proposals.flushForwards();
    expect(h.sent).toEqual([]);
    h.state.leader = 'c';
    h.proposals.leaderChanged();
    h.proposals.flushForwards();
    expect(forwarded(h.sent).map((e) => e.to)).toEqual(['c']);
    h.state.ticks = 3;
    h.proposals.retryDue(-2);
    h.proposals.flushForwards();
    expect(forwarded(h.sent)).toHaveLength(1);
    h.state.ticks = 10;
    h.proposals.retryDue(5);
    h.proposals.flushForwards();
    expect(forwarded(h.sent).map((e) => e.to)).toEqual(['c', 'c']);
  });

  it('times its waits out on the retry ticks, and rejects what waits on close', async () => {
    const h = harness({ leader: 'b' });
    const first = watch(h.proposals.propose({ add: 1 }, {}, 100));
    const second = watch(h.proposals.propose({ add: 1 }, {}, 1_000));
    await h.clock.advance(100);
    h.proposals.retryDue(-1);
    await settlePromises();
    expect(first.error).toBeInstanceOf(TimeoutError);
    expect(h.proposals.size).toBe(1);
    h.proposals.close(() => new ClosedError());
    await settlePromises();
    expect(second.error).toBeInstanceOf(ClosedError);
    expect(h.proposals.size).toBe(0);
  });

  it('refuses at once beyond pendingProposalsMax, when overloaded on a first attempt, and on a follower set to reject', async () => {
    const h = harness({ role: 'leader', leader: 'a' });
    h.core.next = { ok: false, reason: 'overloaded', queued: 9, limit: 9 };
    const overloaded = watch(h.proposals.propose({ add: 1 }, {}, 1_000));
    await settlePromises();
    expect(overloaded.error).toBeInstanceOf(OverloadedError);
    for (let i = 0; i < 3; i++) void h.proposals.propose({ add: i }, {}, 1_000);
    expect(() => h.proposals.propose({ add: 9 }, {}, 1_000)).toThrow(OverloadedError);
    const f = harness({ leader: 'b', followerProposals: 'reject' });
    expect(() => f.proposals.propose({ add: 1 }, {}, 1_000)).toThrow(NotLeaderError);
  });

  it('as leader, proposes forwarded commands once: skips one queued or applied, but runs a read-only retry again', () => {
    const h = harness({ role: 'leader', leader: 'a' });
    const envelope = (clientId: string, seq: number, command: Command) =>
      encodeEnvelope({ clientId, seq, ackedBelow: 0, timestamp: 0, createdAt: 1, origin: 'b', payload: jsonCodec.encode(command) });
    h.known.set('c1:1', { ok: true, value: 1 });
    h.known.set('c1:2', { ok: true, value: 1 });
    const commands = [envelope('c1', 1, { add: 1 }), envelope('c1', 2, { get: true }), envelope('c1', 3, { add: 1 })];
    h.proposals.onForward({ type: 'forward', from: 'b', to: 'a', commands });
    expect(h.core.proposed.map((c) => decodeEnvelope(c).seq)).toEqual([2, 3]);
    expect(h.core.proposed.map((c) => decodeEnvelope(c).timestamp)).toEqual([777, 777]);
    // Sent again (the follower timed out): seq 3 is in the pipeline already.
    h.proposals.onForward({ type: 'forward', from: 'b', to: 'a', commands: [commands[2]!] });
    expect(h.core.proposed).toHaveLength(2);
    expect(h.sent).toEqual([]);
    // Once applied, it leaves the pipeline.
    h.proposals.applied('c1', 3, { ok: true, value: 2 });
    h.known.set('c1:3', { ok: true, value: 2 });
    h.proposals.onForward({ type: 'forward', from: 'b', to: 'a', commands: [commands[2]!] });
    expect(h.core.proposed).toHaveLength(2);
  });

  it('as follower, refuses forwarded commands with its leader hint; a sender fails a first attempt refused as overloaded', async () => {
    const h = harness({ leader: 'c' });
    const envelope = encodeEnvelope({ clientId: 'c1', seq: 1, ackedBelow: 0, timestamp: 0, createdAt: 1, origin: 'b', payload: jsonCodec.encode({ add: 1 }) });
    h.proposals.onForward({ type: 'forward', from: 'b', to: 'a', commands: [envelope, new Uint8Array([1])] });
    expect(h.sent).toEqual([{ type: 'forwardRefused', from: 'a', to: 'b', requests: [['c1', 1]], reason: 'not-leader', leaderHint: 'c' }]);
    expect(h.recorder.messagesDropped).toBe(1);
    const p = watch(h.proposals.propose({ add: 1 }, {}, 1_000));
    h.proposals.onForwardRefused({ type: 'forwardRefused', from: 'c', to: 'a', requests: [['a/own', 100]], reason: 'not-leader', leaderHint: 'c' });
    await settlePromises();
    expect(p.state).toBe('pending');
    h.proposals.onForwardRefused({ type: 'forwardRefused', from: 'c', to: 'a', requests: [['a/own', 100]], reason: 'overloaded', leaderHint: 'c' });
    await settlePromises();
    expect(p.error).toBeInstanceOf(OverloadedError);
    h.proposals.onForward({ type: 'forward', from: 'b', to: 'a', commands: 'nope' as never });
    expect(h.dropped).toHaveLength(1);
  });

  it('settles from the exactly-once table what a snapshot installed, and resubmits what a leader gave back', async () => {
    const h = harness({ leader: 'b' });
    const inside = watch(h.proposals.propose({ add: 1 }, { request: { clientId: 'c1', seq: 1 } }, 1_000));
    const after = watch(h.proposals.propose({ add: 1 }, { request: { clientId: 'c1', seq: 2 } }, 1_000));
    h.known.set('c1:1', { ok: true, value: 10 });
    h.proposals.installed();
    await settlePromises();
    expect(inside).toMatchObject({ state: 'resolved', value: 10 });
    expect(after.state).toBe('pending');
    h.proposals.flushForwards();
    const given = h.sent.flatMap((m) => (m.type === 'forward' ? m.commands : []));
    h.sent.length = 0;
    h.proposals.dropped(given);
    h.proposals.flushForwards();
    // Both go to the leader again: the pending one as a resubmission, the settled one as it came.
    expect(forwarded(h.sent).map((e) => e.seq)).toEqual([1, 2]);
  });
});
