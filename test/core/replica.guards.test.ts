import { describe, expect, it } from 'vitest';
import { type Message, Replica, majority } from '../../src/core/index.js';

// architecture rule 7: a malformed message is dropped and counted, never crashes a node,
// never changes state. These shapes can only come from a buggy or hostile peer (or
// transport): the types forbid them, so each is cast.
const quorum = majority(['a', 'b', 'c']);
const ballot = { round: 1, node: 'b' };

/** An array of `length` slots holding `items` first and holes after. */
function holey<T>(items: T[], length: number): T[] {
  const list = [...items];
  list.length = length;
  return list;
}

const malformed: ReadonlyArray<readonly [string, unknown]> = [
  ['accept values not an array', { type: 'accept', from: 'b', to: 'a', ballot, firstSlot: 1, values: 'noop', commitIndex: 0 }],
  ['accept values with a hole', { type: 'accept', from: 'b', to: 'a', ballot, firstSlot: 1, values: holey([{ kind: 'noop' }], 2), commitIndex: 0 }],
  [
    'accept values beyond acceptSlotsMax',
    { type: 'accept', from: 'b', to: 'a', ballot, firstSlot: 1, values: new Array(513).fill({ kind: 'noop' }), commitIndex: 0 },
  ],
  [
    'batch commands not an array',
    { type: 'accept', from: 'b', to: 'a', ballot, firstSlot: 1, values: [{ kind: 'batch', commands: new Uint8Array(1) }], commitIndex: 0 },
  ],
  [
    'batch commands with a hole',
    { type: 'accept', from: 'b', to: 'a', ballot, firstSlot: 1, values: [{ kind: 'batch', commands: holey([new Uint8Array(1)], 2) }], commitIndex: 0 },
  ],
  ['promise entries not an array', { type: 'promise', from: 'b', to: 'a', ballot: { round: 1, node: 'a' }, accepted: {} }],
  ['promise entry null', { type: 'promise', from: 'b', to: 'a', ballot: { round: 1, node: 'a' }, accepted: [null] }],
  ['chosen values not an array', { type: 'chosen', from: 'b', to: 'a', firstSlot: 1, values: undefined, commitIndex: 1 }],
  ['chosen values with a hole', { type: 'chosen', from: 'b', to: 'a', firstSlot: 1, values: holey([{ kind: 'noop' }], 2), commitIndex: 2 }],
];

/** A voter of a running cluster: it has promised before, so it votes at once (no rejoin probing). */
function voter(): Replica {
  const r = new Replica({ id: 'a', quorum, random: () => 0, state: { promised: { round: 1, node: 'b' }, accepted: [], chosen: [], commitIndex: 0 } });
  expect(r.status.rejoining).toBeUndefined();
  return r;
}

describe('Replica input guards', () => {
  it.each(malformed)('drops %s without a throw or a state change', (_, message) => {
    const r = voter();
    expect(() => r.step(message as Message)).not.toThrow();
    expect(r.status.droppedMessages).toBe(1);
    expect(r.status.promised.round).toBe(1);
    expect(r.status.lastAcceptedSlot).toBe(0);
    expect(r.status.commitIndex).toBe(0);
    const out = r.takeOutput();
    expect(out.persist).toBeUndefined();
    expect(out.messages).toEqual([]);
  });

  it('still takes the well-formed version of each', () => {
    const r = voter();
    r.step({
      type: 'accept',
      from: 'b',
      to: 'a',
      ballot,
      firstSlot: 1,
      values: [{ kind: 'batch', commands: [new Uint8Array(1)] }, { kind: 'noop' }],
      commitIndex: 0,
    });
    expect(r.status.droppedMessages).toBe(0);
    expect(r.status.lastAcceptedSlot).toBe(2);
  });
});
