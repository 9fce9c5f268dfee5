/**
 * The persist pipeline: persist before you speak (architecture rule 3) and group commit. A
 * write resolves only when the test says so, to look at every moment in between.
 */
import { describe, expect, it } from 'vitest';
import type { PersistBatch } from '../../src/index.js';
import { PersistPipeline } from '../../src/runtime/persist-pipeline.js';
import type { NodeMessage } from '../../src/runtime/runtime-messages.js';

function harness() {
  const writes: { batch: PersistBatch; resolve: () => void; reject: (e: unknown) => void }[] = [];
  const sent: string[] = [];
  const persisted: { seq: number; outputs: number }[] = [];
  const failures: unknown[] = [];
  const pipeline = new PersistPipeline({
    write: (batch) => new Promise<void>((resolve, reject) => writes.push({ batch, resolve, reject })),
    persisted: (seq, outputs) => persisted.push({ seq, outputs }),
    send: (m) => sent.push(`${m.type}:${m.to}`),
    failed: (e) => failures.push(e),
    now: () => 0,
  });
  return { pipeline, writes, sent, persisted, failures };
}

/** An acceptor's report: it must wait for the write. */
const msg = (to: string): NodeMessage => ({ type: 'accepted', from: 'a', to, ballot: { round: 1, node: 'a' }, firstSlot: 1, count: 1 });
/** A leader's accept: it may leave before the write. */
const accept = (to: string): NodeMessage => ({ type: 'accept', from: 'a', to, ballot: { round: 1, node: 'a' }, firstSlot: 1, values: [], commitIndex: 0 });
const accepted = (slot: number): PersistBatch => ({ accepted: [{ slot, ballot: { round: 1, node: 'a' }, value: { kind: 'noop' } }], chosen: [] });
const settle = () => new Promise((r) => setTimeout(r, 0));

describe('PersistPipeline', () => {
  it("sends an output's messages only after its write, and merges what queues meanwhile into one write", async () => {
    const h = harness();
    h.pipeline.push(1, accepted(1), [msg('b')]);
    expect(h.writes).toHaveLength(1);
    expect(h.sent).toEqual([]);
    // While write 1 is in flight: two more outputs with state, one without.
    h.pipeline.push(2, accepted(2), [msg('c')]);
    h.pipeline.push(0, undefined, [msg('d')]);
    h.pipeline.push(3, { promised: { round: 2, node: 'x' }, accepted: [], chosen: [] }, [msg('e')]);
    expect(h.writes).toHaveLength(1);
    expect(h.sent).toEqual([]);
    h.writes[0]!.resolve();
    await settle();
    expect(h.sent).toEqual(['accepted:b']);
    expect(h.persisted).toEqual([{ seq: 1, outputs: 1 }]);
    // Group commit: outputs 2 and 3 in one write, their state merged.
    expect(h.writes).toHaveLength(2);
    expect(h.writes[1]!.batch.accepted.map((e) => e.slot)).toEqual([2]);
    expect(h.writes[1]!.batch.promised).toEqual({ round: 2, node: 'x' });
    h.writes[1]!.resolve();
    await settle();
    expect(h.sent).toEqual(['accepted:b', 'accepted:c', 'accepted:d', 'accepted:e']);
    expect(h.persisted).toEqual([
      { seq: 1, outputs: 1 },
      { seq: 3, outputs: 2 },
    ]);
  });

  it("sends a leader's messages at once, ahead of the write, while an acceptor's reports wait for it", async () => {
    const h = harness();
    h.pipeline.push(1, accepted(1), [accept('b'), msg('c')]);
    expect(h.sent).toEqual(['accept:b']);
    h.pipeline.push(0, undefined, [accept('d'), msg('e')]);
    expect(h.sent).toEqual(['accept:b', 'accept:d']);
    h.writes[0]!.resolve();
    await settle();
    expect(h.sent).toEqual(['accept:b', 'accept:d', 'accepted:c', 'accepted:e']);
  });

  it('sends at once what needs no write when nothing waits', () => {
    const h = harness();
    h.pipeline.push(0, undefined, [msg('b')]);
    expect(h.sent).toEqual(['accepted:b']);
    expect(h.writes).toHaveLength(0);
  });

  it('a failed write sends nothing more and reports the failure once', async () => {
    const h = harness();
    h.pipeline.push(1, accepted(1), [msg('b')]);
    h.pipeline.push(2, accepted(2), [msg('c')]);
    h.writes[0]!.reject(new Error('EIO'));
    await settle();
    expect(h.failures).toHaveLength(1);
    expect(h.sent).toEqual([]);
    expect(h.persisted).toEqual([]);
    h.pipeline.push(3, accepted(3), [msg('d')]);
    expect(h.writes).toHaveLength(1);
    expect(h.sent).toEqual([]);
  });
});
