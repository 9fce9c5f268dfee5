/**
 * The drive loop on its own, through a fake host and a scripted core: each output's
 * work is done in the order the core's `Output` prescribes (committed slots applied
 * before the output's state and messages go to the persist pipeline), one drain per
 * turn however many ask, slots chosen while a peer's snapshot restores held back and
 * applied after it (those it covers dropped), ticks on the clock, and a bug in the core
 * fails the node.
 */
import { describe, expect, it } from 'vitest';
import type { CommittedEntry, Output } from '../../src/core/index.js';
import { DriveLoop } from '../../src/runtime/drive-loop.js';
import { MetricsRecorder } from '../../src/runtime/metrics.js';
import type { RuntimeState } from '../../src/runtime/snapshot-format.js';
import { VirtualClock, settlePromises } from '../../src/testing/index.js';

const empty: Output = { persist: undefined, persistSeq: 0, messages: [], committed: [], dropped: [], reads: [], snapshotsTo: [] };
const slots = (from: number, to: number): CommittedEntry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ slot: from + i, value: { kind: 'noop' } }) as CommittedEntry);
const heartbeat = { type: 'heartbeat', from: 'a', to: 'b', ballot: { round: 1, node: 'a' }, commitIndex: 0, seq: 1 } as const;
const state = {} as RuntimeState<number>;

function harness() {
  const clock = new VirtualClock();
  const calls: string[] = [];
  const outputs: Output[] = [];
  const s = {
    running: true,
    applied: 0,
    failures: [] as unknown[],
    takes: 0,
    throwOnTake: false,
    quiesced: false,
    idle: true,
    restore: undefined as { resolve: () => void; reject: (e: unknown) => void } | undefined,
  };
  const recorder = new MetricsRecorder();
  const loop = new DriveLoop<string, number>({ clock, tickMs: 10, retryTicks: 2 }, recorder, {
    running: () => s.running,
    core: () => ({
      takeOutput: () => {
        s.takes++;
        if (s.throwOnTake) throw new Error('broken invariant');
        return outputs.shift() ?? empty;
      },
      tick: () => calls.push('core.tick'),
      persisted: (seq) => calls.push(`core.persisted ${seq}`),
      applied: (slot) => calls.push(`core.applied ${slot}`),
      installSnapshot: (slot) => calls.push(`core.installSnapshot ${slot}`),
      get quiesced() {
        return s.quiesced;
      },
    }),
    idle: () => s.idle,
    applier: {
      apply: (committed) => {
        calls.push(`apply ${committed.map((e) => e.slot).join(',')}`);
        s.applied = committed[committed.length - 1]!.slot;
        return committed.length * 10;
      },
      get appliedIndex() {
        return s.applied;
      },
      restore: () => {
        calls.push('restore');
        return new Promise<void>((resolve, reject) => (s.restore = { resolve, reject }));
      },
      installed: (slot) => {
        calls.push(`installed ${slot}`);
        s.applied = slot;
      },
    },
    proposals: {
      dropped: (commands) => calls.push(`proposals.dropped ${commands.length}`),
      retryDue: (due) => calls.push(`proposals.retryDue ${due}`),
      flushForwards: () => calls.push('proposals.flushForwards'),
      applyStarted: () => calls.push('proposals.applyStarted'),
      applyEnded: () => calls.push('proposals.applyEnded'),
      installed: () => calls.push('proposals.installed'),
    },
    reads: {
      onReadIndex: (r) => calls.push(`reads.onReadIndex ${r.id}`),
      applied: (slot) => calls.push(`reads.applied ${slot}`),
      retryDue: (due) => calls.push(`reads.retryDue ${due}`),
    },
    snapshots: {
      sendTo: (to) => calls.push(`snapshots.sendTo ${to}`),
      applied: (n, bytes) => calls.push(`snapshots.applied ${n} ${bytes}`),
      tick: () => calls.push('snapshots.tick'),
    },
    pipeline: { push: (seq, batch, messages) => calls.push(`push ${seq} ${batch === undefined ? '-' : 'state'} ${messages.length}`) },
    drained: () => calls.push('drained'),
    applied: (slot) => calls.push(`node.applied ${slot}`),
    fail: (error) => s.failures.push(error),
  });
  return { clock, loop, calls, outputs, s, recorder };
}

describe('DriveLoop', () => {
  it("does an output's work in the order Output prescribes: apply, hand out, then persist and send", async () => {
    const h = harness();
    h.outputs.push({
      ...empty,
      persist: { accepted: [], chosen: [] },
      persistSeq: 7,
      messages: [heartbeat],
      committed: slots(1, 3),
      dropped: [new Uint8Array(1)],
      reads: [{ id: 4, ok: true, index: 3 }] as unknown as Output['reads'],
      snapshotsTo: ['c'],
    });
    h.loop.drainSoon();
    await settlePromises();
    expect(h.calls).toEqual([
      'proposals.applyStarted',
      'apply 1,2,3',
      'proposals.applyEnded',
      'core.applied 3',
      'snapshots.applied 3 30',
      'node.applied 3',
      'reads.applied 3',
      'proposals.dropped 1',
      'reads.onReadIndex 4',
      'snapshots.sendTo c',
      'push 7 state 1',
      'proposals.flushForwards',
      'drained',
    ]);
    expect(h.recorder.applyLatency.snapshot().count).toBe(1);
  });

  it('drains once per turn however many ask, taking outputs until the core has none', async () => {
    const h = harness();
    h.outputs.push({ ...empty, messages: [heartbeat] }, { ...empty, messages: [heartbeat] });
    h.loop.drainSoon();
    h.loop.drainSoon();
    h.loop.drainSoon();
    await settlePromises();
    expect(h.s.takes).toBe(3);
    expect(h.calls.filter((c) => c === 'drained')).toHaveLength(1);
    h.loop.drainAfterIo();
    h.loop.drainAfterIo();
    await settlePromises();
    expect(h.s.takes).toBe(3); // after this turn's I/O: the clock's next timer
    await h.clock.advance(0);
    await settlePromises();
    expect(h.s.takes).toBe(4);
  });

  it('holds the slots chosen while a snapshot restores, drops those it covers, and applies the rest after it', async () => {
    const h = harness();
    const installed = h.loop.install(10, state, new Uint8Array());
    h.outputs.push({ ...empty, committed: slots(5, 12) });
    h.loop.drainSoon();
    await settlePromises();
    expect(h.calls).toEqual(['restore', 'push 0 - 0', 'proposals.flushForwards', 'drained']);
    h.calls.length = 0;
    h.s.restore!.resolve();
    await installed;
    await settlePromises();
    expect(h.calls).toEqual([
      'installed 10',
      'core.installSnapshot 10',
      'proposals.installed',
      'node.applied 10',
      'reads.applied 10',
      'proposals.applyStarted',
      'apply 11,12',
      'proposals.applyEnded',
      'core.applied 12',
      'snapshots.applied 2 20',
      'node.applied 12',
      'reads.applied 12',
      'proposals.flushForwards',
      'drained',
    ]);
    // Nothing is held any more: the next slots apply at once.
    h.calls.length = 0;
    h.outputs.push({ ...empty, committed: slots(13, 13) });
    h.loop.drainSoon();
    await settlePromises();
    expect(h.calls).toContain('apply 13');
  });

  it('fails the node when a restore fails (and resolves), then applies at once again', async () => {
    const h = harness();
    const installed = h.loop.install(10, state, new Uint8Array());
    h.s.restore!.reject(new Error('restore threw'));
    await expect(installed).resolves.toBeUndefined();
    expect(h.s.failures.map(String)).toEqual(['Error: restore threw']);
    expect(h.calls).not.toContain('core.installSnapshot 10');
    h.outputs.push({ ...empty, committed: slots(1, 1) });
    h.loop.drainSoon();
    await settlePromises();
    expect(h.calls).toContain('apply 1');
  });

  it('ticks every tickMs: the core, the snapshot transfers, then the retries due retryTicks ago; none once stopped', async () => {
    const h = harness();
    h.loop.start();
    await h.clock.advance(30);
    expect(h.loop.ticks).toBe(3);
    expect(h.calls.filter((c) => c.startsWith('core.tick') || c.startsWith('snapshots.tick') || c.includes('retryDue'))).toEqual([
      'core.tick',
      'snapshots.tick',
      'proposals.retryDue -1',
      'reads.retryDue -1',
      'core.tick',
      'snapshots.tick',
      'proposals.retryDue 0',
      'reads.retryDue 0',
      'core.tick',
      'snapshots.tick',
      'proposals.retryDue 1',
      'reads.retryDue 1',
    ]);
    h.loop.stop();
    await h.clock.advance(100);
    expect(h.loop.ticks).toBe(3);
  });

  it('rests while the core is quiesced and nothing waits on a tick: no timer runs until a drain finds work or awake() is called', async () => {
    const h = harness();
    h.loop.start();
    await h.clock.advance(20);
    expect(h.loop.ticks).toBe(2);
    h.s.quiesced = true;
    await h.clock.advance(10);
    expect(h.loop.ticks).toBe(3);
    expect(h.loop.isResting).toBe(true);
    expect(h.clock.pendingTimers).toBe(0);
    await h.clock.advance(1_000);
    expect(h.loop.ticks).toBe(3);
    // A drain that finds the core roused (a message arrived) ticks again.
    h.s.quiesced = false;
    h.loop.drainSoon();
    await settlePromises();
    expect(h.loop.isResting).toBe(false);
    await h.clock.advance(20);
    expect(h.loop.ticks).toBe(5);
    // Quiesced again; then something waits on ticks (a proposal at a follower with no leader known): awake().
    h.s.quiesced = true;
    await h.clock.advance(10);
    expect(h.loop.isResting).toBe(true);
    h.s.idle = false;
    h.loop.awake();
    await h.clock.advance(30);
    expect(h.loop.ticks).toBe(9);
  });

  it('keeps ticking while the core is quiesced but a proposal, read or transfer waits on ticks', async () => {
    const h = harness();
    h.s.quiesced = true;
    h.s.idle = false;
    h.loop.start();
    await h.clock.advance(100);
    expect(h.loop.ticks).toBe(10);
    expect(h.loop.isResting).toBe(false);
    // And a drain finding work left while resting wakes it.
    h.s.idle = true;
    await h.clock.advance(10);
    expect(h.loop.isResting).toBe(true);
    h.s.idle = false;
    h.loop.drainSoon();
    await settlePromises();
    await h.clock.advance(10);
    expect(h.loop.ticks).toBe(12);
  });

  it('counts a write and tells the core it is durable, then drains', async () => {
    const h = harness();
    h.loop.persisted(9, 3, 1.5);
    expect(h.recorder.writes).toBe(1);
    expect(h.recorder.batches).toBe(3);
    expect(h.calls).toEqual(['core.persisted 9']);
    await settlePromises();
    expect(h.calls).toContain('drained');
    h.s.running = false;
    h.loop.persisted(10, 1, 1);
    expect(h.calls).not.toContain('core.persisted 10');
  });

  it('fails the node on an exception out of the core, and drives nothing while the node does not run', async () => {
    const h = harness();
    h.s.throwOnTake = true;
    h.loop.drainSoon();
    await settlePromises();
    expect(h.s.failures.map(String)).toEqual(['Error: broken invariant']);
    h.s.running = false;
    h.s.throwOnTake = false;
    h.loop.drainSoon();
    h.loop.drainAfterIo();
    await h.clock.advance(0);
    await settlePromises();
    expect(h.s.takes).toBe(1);
  });
});
