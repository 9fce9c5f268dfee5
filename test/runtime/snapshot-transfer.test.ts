import { describe, expect, it } from 'vitest';
import type { SnapshotAckMessage, SnapshotChunkMessage } from '../../src/runtime/runtime-messages.js';
import { SnapshotReceiver, SnapshotSender } from '../../src/runtime/snapshot-transfer.js';

const data = Uint8Array.from({ length: 100 }, (_, i) => i);

function pair(chunkBytes = 30): { sender: SnapshotSender; receiver: SnapshotReceiver; sent: SnapshotChunkMessage[] } {
  const sent: SnapshotChunkMessage[] = [];
  const sender = new SnapshotSender('a', { chunkBytes, retryTicks: 2, retriesMax: 3 }, (m) => sent.push(m), () => 0.5);
  const receiver = new SnapshotReceiver('b', 1_000, 10);
  return { sender, receiver, sent };
}

describe('snapshot transfer', () => {
  it('streams bounded chunks one at a time and hands over the whole snapshot once', () => {
    const { sender, receiver, sent } = pair();
    sender.start('b', { slot: 40, data });
    let complete;
    while (complete === undefined) {
      const chunk = sent.shift()!;
      expect(chunk.data.byteLength).toBeLessThanOrEqual(30);
      expect(sent).toHaveLength(0); // nothing more until the ack
      const r = receiver.onChunk(chunk, 10);
      complete = r.complete;
      if (r.ack !== undefined) sender.onAck(r.ack);
    }
    expect(complete.slot).toBe(40);
    expect([...complete.data]).toEqual([...data]);
    expect(sender.onAck(receiver.finished(complete, 'done'))).toBe('done');
    expect(sender.busy('b')).toBe(false);
  });

  it('a lost chunk is sent again after retryTicks; a silent peer is given up after retriesMax', () => {
    const { sender, sent } = pair();
    sender.start('b', { slot: 40, data });
    sent.length = 0;
    sender.tick();
    expect(sent).toHaveLength(0);
    sender.tick();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.offset).toBe(0);
    let givenUp: string[] = [];
    for (let i = 0; i < 20 && givenUp.length === 0; i++) givenUp = sender.tick();
    expect(givenUp).toEqual(['b']);
    expect(sender.busy('b')).toBe(false);
  });

  it('the receiver refuses oversized snapshots, asks for the right offset, and restarts an unknown transfer from 0', () => {
    const { receiver } = pair();
    const chunk = (over: Partial<SnapshotChunkMessage>): SnapshotChunkMessage => ({
      type: 'snapshotChunk', from: 'a', to: 'b', transfer: 1, slot: 40, total: 100, offset: 0, data: data.subarray(0, 10), ...over,
    });
    expect(receiver.onChunk(chunk({ total: 5_000 }), 0).ack?.status).toBe('failed');
    expect(receiver.onChunk(chunk({ offset: 50 }), 0).ack).toMatchObject({ received: 0, status: 'more' });
    expect(receiver.onChunk(chunk({}), 0).ack).toMatchObject({ received: 10, status: 'more' });
    expect(receiver.onChunk(chunk({ offset: 30 }), 0).ack).toMatchObject({ received: 10, status: 'more' });
    // A chunk that would overrun the announced size ends the transfer.
    expect(receiver.onChunk(chunk({ offset: 10, data: new Uint8Array(95) }), 0).ack?.status).toBe('failed');
    // Not needed any more: the receiver applied past the snapshot.
    expect(receiver.onChunk(chunk({ transfer: 2 }), 40).ack).toMatchObject({ status: 'done' } satisfies Partial<SnapshotAckMessage>);
  });
});
