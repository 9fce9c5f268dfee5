/**
 * The applier on its own, through a fake host: each request applied at most once
 * (a retry gets the first outcome), reads run again and keep no entry, a malformed slot
 * is skipped alike everywhere, and a snapshot's exactly-once table carries over.
 */
import { describe, expect, it } from 'vitest';
import type { CommittedEntry } from '../../src/core/index.js';
import { jsonCodec, silentLogger } from '../../src/index.js';
import { Applier } from '../../src/runtime/applier.js';
import { type Outcome, defaultDedupLimits } from '../../src/runtime/dedup-table.js';
import { encodeEnvelope } from '../../src/runtime/envelope.js';
import { ApplyError, ResultExpiredError } from '../../src/runtime/errors.js';
import { MetricsRecorder } from '../../src/runtime/metrics.js';
import type { ApplyMeta, StateMachine } from '../../src/runtime/state-machine.js';
import { VirtualClock } from '../../src/testing/index.js';

type Command = { readonly add: number } | { readonly get: true } | { readonly fail: true };

/** A counter; `get` only reads; `fail` throws. Remembers every call to apply. */
class Counter implements StateMachine<Command, number> {
  total = 0;
  readonly calls: ApplyMeta[] = [];
  apply(command: Command, meta: ApplyMeta): number {
    this.calls.push(meta);
    if ('fail' in command) throw new Error('refused by the state machine');
    if ('add' in command) this.total += command.add;
    return this.total;
  }
  readOnly(command: Command): boolean {
    return 'get' in command;
  }
  /** The state as bytes (what a snapshot capture would write). */
  bytes(): Uint8Array {
    return jsonCodec.encode(this.total);
  }
  restore(bytes: Uint8Array): void {
    this.total = jsonCodec.decode(bytes) as number;
  }
}

function harness() {
  const clock = new VirtualClock();
  const machine = new Counter();
  const settled: { clientId: string; seq: number; outcome: Outcome<number> }[] = [];
  const problems: Error[] = [];
  const recorder = new MetricsRecorder();
  const applier = new Applier<Command, number>(
    { id: 'a', stateMachine: machine, codec: jsonCodec as never, dedup: defaultDedupLimits, clock, logger: silentLogger },
    recorder,
    { settle: (clientId, seq, outcome) => settled.push({ clientId, seq, outcome }), problem: (e) => problems.push(e) },
  );
  applier.start(0, 0);
  return { clock, machine, settled, problems, recorder, applier };
}

let createdAt = 1_000;
function envelope(clientId: string, seq: number, command: Command, timestamp = 5_000, ackedBelow = 0): Uint8Array {
  return encodeEnvelope({ clientId, seq, ackedBelow, timestamp, createdAt: createdAt++, origin: 'b', payload: jsonCodec.encode(command) });
}
const slot = (n: number, ...commands: Uint8Array[]): CommittedEntry => ({ slot: n, value: { kind: 'batch', commands } });

describe('Applier', () => {
  it('applies a retried request once, and gives the retry the first outcome', () => {
    const h = harness();
    const first = envelope('c1', 7, { add: 5 });
    h.applier.apply([slot(1, first), slot(2, envelope('c2', 1, { add: 1 })), slot(3, envelope('c1', 7, { add: 5 }))]);
    expect(h.machine.total).toBe(6);
    expect(h.machine.calls.map((m) => [m.slot, m.clientId, m.seq])).toEqual([
      [1, 'c1', 7],
      [2, 'c2', 1],
    ]);
    // Both copies of the request settle, with the one outcome.
    expect(h.settled.filter((s) => s.clientId === 'c1')).toEqual([
      { clientId: 'c1', seq: 7, outcome: { ok: true, value: 5 } },
      { clientId: 'c1', seq: 7, outcome: { ok: true, value: 5 } },
    ]);
    expect(h.applier.known('c1', 7)).toEqual({ ok: true, value: 5 });
    expect(h.applier.appliedIndex).toBe(3);
    expect(h.recorder.duplicates).toBe(1);
    expect(h.recorder.slots).toBe(3);
  });

  it('runs a read-only command again on a retry, and keeps no entry for it', () => {
    const h = harness();
    h.applier.apply([slot(1, envelope('c1', 1, { add: 2 }), envelope('c1', 2, { get: true }))]);
    h.applier.apply([slot(2, envelope('c1', 3, { add: 1 }), envelope('c1', 2, { get: true }))]);
    // The read ran twice, and saw the state of its time each time.
    const reads = h.settled.filter((s) => s.seq === 2).map((s) => s.outcome);
    expect(reads).toEqual([
      { ok: true, value: 2 },
      { ok: true, value: 3 },
    ]);
    expect(h.machine.calls).toHaveLength(4);
    expect(h.applier.known('c1', 2)).toBeUndefined();
    expect(h.recorder.readOnly).toBe(2);
    expect(h.applier.isReadOnlyPayload(jsonCodec.encode({ get: true }))).toBe(true);
    expect(h.applier.isReadOnlyPayload(new Uint8Array([0xff]))).toBe(false);
  });

  it('keeps what the state machine threw as the outcome, and a retry gets it without running again', () => {
    const h = harness();
    h.applier.apply([slot(1, envelope('c1', 1, { fail: true })), slot(2, envelope('c1', 1, { fail: true }))]);
    expect(h.machine.calls).toHaveLength(1);
    const [a, b] = h.settled.map((s) => s.outcome);
    expect(a?.ok).toBe(false);
    expect(b).toBe(a);
    expect(a?.ok === false && a.error).toBeInstanceOf(ApplyError);
  });

  it('refuses a request below its client’s ackedBelow as expired, without running it', () => {
    const h = harness();
    h.applier.apply([slot(1, envelope('c1', 5, { add: 1 }, 5_000, 5)), slot(2, envelope('c1', 3, { add: 100 }))]);
    expect(h.machine.total).toBe(1);
    const late = h.settled[1]!.outcome;
    expect(late.ok === false && late.error).toBeInstanceOf(ResultExpiredError);
  });

  it('skips a slot’s malformed envelope, reports it, and applies the rest', () => {
    const h = harness();
    h.applier.apply([slot(1, new Uint8Array([1, 2, 3]), envelope('c1', 1, { add: 4 })), { slot: 2, value: { kind: 'noop' } }]);
    expect(h.machine.total).toBe(4);
    expect(h.problems).toHaveLength(1);
    expect(h.problems[0]!.message).toContain('slot 1');
    expect(h.recorder.malformed).toBe(1);
    expect(h.applier.appliedIndex).toBe(2);
  });

  it('never hands the state machine a timestamp that goes back', () => {
    const h = harness();
    h.applier.apply([slot(1, envelope('c1', 1, { add: 1 }, 9_000)), slot(2, envelope('c1', 2, { add: 1 }, 8_000))]);
    expect(h.machine.calls.map((m) => m.timestamp)).toEqual([9_000, 9_000]);
    expect(h.applier.state.lastTimestamp).toBe(9_000);
    // A leader stamps no earlier than the log's last time.
    expect(h.applier.stamp()).toBeGreaterThanOrEqual(9_000);
  });

  it('carries the exactly-once table over a snapshot: a retry of a request inside it is not applied again', async () => {
    const h = harness();
    h.applier.apply([slot(1, envelope('c1', 1, { add: 3 }))]);
    const state = h.applier.state;
    const machine = h.machine.bytes();
    const other = harness();
    await other.applier.restore(state, machine);
    other.applier.installed(1);
    expect(other.applier.appliedIndex).toBe(1);
    expect(other.applier.known('c1', 1)).toEqual({ ok: true, value: 3 });
    other.applier.apply([slot(2, envelope('c1', 1, { add: 3 }))]);
    expect(other.machine.total).toBe(3);
    expect(other.machine.calls).toHaveLength(0);
  });

  it('refuses to apply a slot at or below the last one applied', () => {
    const h = harness();
    h.applier.apply([slot(1, envelope('c1', 1, { add: 1 }))]);
    expect(() => h.applier.apply([slot(1, envelope('c1', 2, { add: 1 }))])).toThrow(/slot 1 handed out to apply after slot 1/);
  });
});
