import { describe, expect, it } from 'vitest';
import type { MessageType } from '../../src/core/messages.js';
import { type Output, isEmptyOutput, mayPrecedePersist } from '../../src/core/output.js';

// The two rules a driver reads an output by: when the replica is idle, and which
// messages may leave before the output's persist is durable.

const empty: Output = { persist: undefined, persistSeq: 0, messages: [], committed: [], dropped: [], reads: [], snapshotsTo: [] };

describe('isEmptyOutput', () => {
  it('is true for an output with nothing in it', () => {
    expect(isEmptyOutput(empty)).toBe(true);
  });

  const work: ReadonlyArray<readonly [string, Partial<Output>]> = [
    ['a persist', { persist: { accepted: [], chosen: [], commitIndex: 1 } }],
    ['a message', { messages: [{ type: 'heartbeat' } as unknown as Output['messages'][number]] }],
    ['a committed slot', { committed: [{ slot: 1, value: { kind: 'noop' } }] }],
    ['a dropped command', { dropped: [new Uint8Array(1)] }],
    ['a settled read', { reads: [{ id: 1, ok: true, index: 0 }] }],
    ['a peer needing a snapshot', { snapshotsTo: ['b'] }],
  ];
  it.each(work)('is false for an output holding only %s', (_, field) => {
    expect(isEmptyOutput({ ...empty, ...field })).toBe(false);
  });
});

describe('mayPrecedePersist', () => {
  // Every message type: those that speak for the sender's durable state must wait.
  const types: Record<MessageType, boolean> = {
    accept: true,
    heartbeat: true,
    commit: true,
    chosen: true,
    catchUp: true,
    precheck: false,
    precheckReply: false,
    prepare: false,
    promise: false,
    accepted: false,
    reject: false,
    heartbeatReply: false,
    timeoutNow: false,
    probe: false,
    probeReply: false,
    // Rare (an idle group's last word, a follower's nudge): they wait, as any other.
    quiesce: false,
    wake: false,
  };
  it.each(Object.entries(types))('%s: may precede its persist is %s', (type, may) => {
    expect(mayPrecedePersist({ type })).toBe(may);
  });
});
