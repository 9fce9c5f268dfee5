/**
 * The inbox on its own, through a fake host: a message reaches the part that handles
 * it only if it is addressed to this node by another; the runtime's snapshot messages
 * are validated before the transfer sees them (DESIGN rule 7: a malformed message is
 * dropped and counted, never acted on); a handler that throws fails the node, and a
 * drain follows every message taken.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/core/index.js';
import { Inbox } from '../../src/runtime/inbox.js';
import { MetricsRecorder } from '../../src/runtime/metrics.js';
import type { NodeMessage, SnapshotAckMessage, SnapshotChunkMessage } from '../../src/runtime/runtime-messages.js';

function harness() {
  const routed: string[] = [];
  const warnings: string[] = [];
  const state = { running: true, drains: 0, failures: [] as unknown[], stepThrows: false };
  const recorder = new MetricsRecorder();
  const logger = {
    debug: () => {},
    info: () => {},
    warn: (fields: Record<string, unknown>, message: string) => warnings.push(`${String(fields['type'])}: ${message}`),
    error: () => {},
  };
  const inbox = new Inbox({ id: 'a', logger }, recorder, {
    running: () => state.running,
    core: () => ({
      step: (m: Message) => {
        if (state.stepThrows) throw new Error('broken invariant');
        routed.push(`core:${m.type}`);
      },
    }),
    proposals: { onForward: (m) => routed.push(`proposals:${m.type}`), onForwardRefused: (m) => routed.push(`proposals:${m.type}`) },
    reads: { onReadRequest: (m) => routed.push(`reads:${m.type}`), onReadReply: (m) => routed.push(`reads:${m.type}`) },
    snapshots: { onChunk: (m) => routed.push(`snapshots:${m.type}`), onAck: (m) => routed.push(`snapshots:${m.type}`) },
    drainSoon: () => state.drains++,
    fail: (error) => state.failures.push(error),
  });
  return { inbox, routed, warnings, state, recorder };
}

const chunk: SnapshotChunkMessage = { type: 'snapshotChunk', from: 'b', to: 'a', transfer: 1, slot: 10, total: 3, offset: 0, crc: 7, data: new Uint8Array(3) };
const ack: SnapshotAckMessage = { type: 'snapshotAck', from: 'b', to: 'a', transfer: 1, received: 3, status: 'done' };
const heartbeat = { type: 'heartbeat', from: 'b', to: 'a', ballot: { round: 1, node: 'b' }, commitIndex: 0, seq: 1 } as NodeMessage;

describe('Inbox', () => {
  it('hands each kind of message to the part that handles it, and the protocol’s own to the core', () => {
    const h = harness();
    const messages: NodeMessage[] = [
      { type: 'forward', from: 'b', to: 'a', commands: [] },
      { type: 'forwardRefused', from: 'b', to: 'a', requests: [], reason: 'not-leader', leaderHint: undefined },
      { type: 'readRequest', from: 'b', to: 'a', id: 1 },
      { type: 'readReply', from: 'b', to: 'a', id: 1, index: 3, leaderHint: 'b' },
      chunk,
      ack,
      heartbeat,
    ];
    for (const m of messages) h.inbox.deliver(m);
    expect(h.routed).toEqual([
      'proposals:forward',
      'proposals:forwardRefused',
      'reads:readRequest',
      'reads:readReply',
      'snapshots:snapshotChunk',
      'snapshots:snapshotAck',
      'core:heartbeat',
    ]);
    expect(h.state.drains).toBe(messages.length);
    expect(h.recorder.messagesIn).toBe(messages.length);
    expect(h.recorder.messagesDropped).toBe(0);
  });

  it('drops, counts and never routes what is not addressed to this node by another', () => {
    const h = harness();
    const strays: unknown[] = [
      { ...heartbeat, to: 'c' },
      { ...heartbeat, from: 'a' },
      { ...heartbeat, from: '' },
      { ...heartbeat, from: 7 },
      { ...heartbeat, type: undefined },
      null,
      'heartbeat',
    ];
    for (const m of strays) h.inbox.deliver(m as NodeMessage);
    expect(h.routed).toEqual([]);
    expect(h.recorder.messagesIn).toBe(strays.length);
    expect(h.recorder.messagesDropped).toBe(strays.length);
    expect(h.state.drains).toBe(0);
  });

  it('drops and logs a snapshot chunk or ack with a field out of range before the transfer sees it', () => {
    const h = harness();
    const bad: NodeMessage[] = [
      { ...chunk, transfer: -1 },
      { ...chunk, slot: 0 },
      { ...chunk, total: 0 },
      { ...chunk, offset: 1.5 },
      { ...chunk, crc: 0x1_0000_0000 },
      { ...chunk, data: [1, 2, 3] as unknown as Uint8Array },
      { ...ack, received: Number.MAX_SAFE_INTEGER + 1 },
      { ...ack, status: 'maybe' as 'done' },
    ];
    for (const m of bad) h.inbox.deliver(m);
    expect(h.routed).toEqual([]);
    expect(h.recorder.messagesDropped).toBe(bad.length);
    expect(h.warnings).toHaveLength(bad.length);
    expect(h.warnings[0]).toBe('snapshotChunk: dropped a malformed message');
    // Edge values that are in range still go through.
    h.inbox.deliver({ ...chunk, crc: 0xffffffff, offset: 0 });
    h.inbox.deliver({ ...ack, received: 0, status: 'more' });
    expect(h.routed).toEqual(['snapshots:snapshotChunk', 'snapshots:snapshotAck']);
  });

  it('ignores everything while the node does not run', () => {
    const h = harness();
    h.state.running = false;
    h.inbox.deliver(heartbeat);
    expect(h.routed).toEqual([]);
    expect(h.recorder.messagesIn).toBe(0);
    expect(h.state.drains).toBe(0);
  });

  it('fails the node when a handler throws (a bug), and still drains', () => {
    const h = harness();
    h.state.stepThrows = true;
    h.inbox.deliver(heartbeat);
    expect(h.state.failures).toHaveLength(1);
    expect(String(h.state.failures[0])).toContain('broken invariant');
    expect(h.state.drains).toBe(1);
  });
});
