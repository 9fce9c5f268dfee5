import { describe, expect, it } from 'vitest';
import { type DurableState, type Message, Replica, majority } from '../../src/core/index.js';

// Every input guard of the replica, field by field and at its boundary: the message just
// inside is taken (not counted as dropped), the one just outside is dropped. Who may send
// what (voters, observers, non-members) is checked the same way. The types forbid most of
// these shapes, so each is cast: they come from a buggy or hostile peer.

const quorum = majority(['a', 'b', 'c']);
const state: DurableState = { promised: { round: 1, node: 'b' }, accepted: [], chosen: [], commitIndex: 0 };
const noop = { kind: 'noop' } as const;
const bytes = new Uint8Array([1]);
const config = { id: 1, voters: ['a', 'b', 'c'], quorum: 'majority', observers: [], addresses: {}, windowSlots: 4 };
const bb = { round: 2, node: 'b' };
const ba = { round: 2, node: 'a' };

/** Voter `a` (promise on record: it votes at once) of a, b, c with observer o. */
function voter(): Replica {
  const r = new Replica({ id: 'a', quorum, observers: ['o'], random: () => 0, state });
  r.takeOutput();
  return r;
}
/** Observer `o` of the same cluster. */
function observer(): Replica {
  const r = new Replica({ id: 'o', quorum, observers: ['o'], random: () => 0 });
  r.takeOutput();
  return r;
}

type Case = readonly [what: string, message: Record<string, unknown>, dropped: boolean];
const to = (m: Record<string, unknown>): Record<string, unknown> => ({ from: 'b', to: 'a', ...m });

const fields: Case[] = [
  // Envelope and type.
  ['an unknown type', to({ type: 'gossip' }), true],
  ['a ballot that is null', to({ type: 'heartbeat', ballot: null, commitIndex: 0, seq: 1 }), true],
  ['a ballot that is a string', to({ type: 'heartbeat', ballot: '2.b', commitIndex: 0, seq: 1 }), true],
  ['a ballot with a negative round', to({ type: 'heartbeat', ballot: { round: -1, node: 'b' }, commitIndex: 0, seq: 1 }), true],
  ['a ballot with a fractional round', to({ type: 'heartbeat', ballot: { round: 1.5, node: 'b' }, commitIndex: 0, seq: 1 }), true],
  ['a ballot with a string round', to({ type: 'heartbeat', ballot: { round: '2', node: 'b' }, commitIndex: 0, seq: 1 }), true],
  ['a ballot with a number node', to({ type: 'heartbeat', ballot: { round: 2, node: 7 }, commitIndex: 0, seq: 1 }), true],
  ['a heartbeat', to({ type: 'heartbeat', ballot: bb, commitIndex: 0, seq: 1 }), false],
  ['a heartbeat in round 0', to({ type: 'heartbeat', ballot: { round: 0, node: 'b' }, commitIndex: 0, seq: 0 }), false],
  ['a heartbeat with a negative seq', to({ type: 'heartbeat', ballot: bb, commitIndex: 0, seq: -1 }), true],
  ['a heartbeat with a negative commit index', to({ type: 'heartbeat', ballot: bb, commitIndex: -1, seq: 1 }), true],
  ['a heartbeat with an unsafe commit index', to({ type: 'heartbeat', ballot: bb, commitIndex: 2 ** 53, seq: 1 }), true],
  ['a heartbeat with a string commit index', to({ type: 'heartbeat', ballot: bb, commitIndex: '0', seq: 1 }), true],
  ['a heartbeat reply', to({ type: 'heartbeatReply', ballot: ba, commitIndex: 0, seq: 1 }), false],
  ['a heartbeat reply with a fractional seq', to({ type: 'heartbeatReply', ballot: ba, commitIndex: 0, seq: 0.5 }), true],
  ['a heartbeat reply with a negative commit index', to({ type: 'heartbeatReply', ballot: ba, commitIndex: -1, seq: 1 }), true],
  // Phase 1.
  ['a prepare from slot 1', to({ type: 'prepare', ballot: bb, firstSlot: 1 }), false],
  ['a prepare from slot 0', to({ type: 'prepare', ballot: bb, firstSlot: 0 }), true],
  ['a prepare from a fractional slot', to({ type: 'prepare', ballot: bb, firstSlot: 1.5 }), true],
  ['a prepare in a ballot of another node', to({ type: 'prepare', ballot: { round: 2, node: 'c' }, firstSlot: 1 }), true],
  ['an accept in a ballot of another node', to({ type: 'accept', ballot: { round: 2, node: 'c' }, firstSlot: 1, values: [noop], commitIndex: 0 }), true],
  ['a heartbeat in a ballot of another node', to({ type: 'heartbeat', ballot: { round: 2, node: 'c' }, commitIndex: 0, seq: 1 }), true],
  ['a promise', to({ type: 'promise', ballot: ba, accepted: [{ slot: 1, ballot: bb, value: noop }], chosen: [{ slot: 1, value: noop }] }), false],
  ['a promise for a ballot not ours', to({ type: 'promise', ballot: bb, accepted: [], chosen: [] }), true],
  ['a promise with chosen not an array', to({ type: 'promise', ballot: ba, accepted: [], chosen: {} }), true],
  ['a promise with a chosen entry at slot 0', to({ type: 'promise', ballot: ba, accepted: [], chosen: [{ slot: 0, value: noop }] }), true],
  ['a promise with a chosen entry that is a string', to({ type: 'promise', ballot: ba, accepted: [], chosen: ['x'] }), true],
  ['a promise with a chosen entry that is null', to({ type: 'promise', ballot: ba, accepted: [], chosen: [null] }), true],
  // A function carrying the fields is not an entry: only plain objects are.
  [
    'a promise with a chosen entry that is a function',
    to({ type: 'promise', ballot: ba, accepted: [], chosen: [Object.assign(() => undefined, { slot: 1, value: noop })] }),
    true,
  ],
  [
    'a promise with an accepted entry that is a function',
    to({ type: 'promise', ballot: ba, accepted: [Object.assign(() => undefined, { slot: 1, ballot: bb, value: noop })], chosen: [] }),
    true,
  ],
  ['a promise with a chosen entry without a value', to({ type: 'promise', ballot: ba, accepted: [], chosen: [{ slot: 1 }] }), true],
  ['a promise with an accepted entry at slot 0', to({ type: 'promise', ballot: ba, accepted: [{ slot: 0, ballot: bb, value: noop }], chosen: [] }), true],
  ['a promise with an accepted entry without a ballot', to({ type: 'promise', ballot: ba, accepted: [{ slot: 1, value: noop }], chosen: [] }), true],
  [
    'a promise with an accepted entry of a bad value',
    to({ type: 'promise', ballot: ba, accepted: [{ slot: 1, ballot: bb, value: { kind: 'x' } }], chosen: [] }),
    true,
  ],
  ['a promise with an accepted entry that is a number', to({ type: 'promise', ballot: ba, accepted: [3], chosen: [] }), true],
  ['a reject', to({ type: 'reject', ballot: ba, promised: bb }), false],
  ['a reject with a malformed promise', to({ type: 'reject', ballot: ba, promised: { round: 'x', node: 'b' } }), true],
  ['a precheck reply', to({ type: 'precheckReply', granted: true, promised: bb }), false],
  ['a precheck reply with a malformed promise', to({ type: 'precheckReply', granted: true, promised: null }), true],
  ['a precheck', to({ type: 'precheck', commitIndex: 0 }), false],
  ['a precheck with a negative commit index', to({ type: 'precheck', commitIndex: -1 }), true],
  // Phase 2.
  [
    'an accept of each kind of value',
    to({ type: 'accept', ballot: bb, firstSlot: 1, values: [noop, { kind: 'batch', commands: [bytes] }, { kind: 'config', config }], commitIndex: 0 }),
    false,
  ],
  ['an accept of acceptSlotsMax values', to({ type: 'accept', ballot: bb, firstSlot: 1, values: new Array(512).fill(noop), commitIndex: 0 }), false],
  ['an accept with a negative commit index', to({ type: 'accept', ballot: bb, firstSlot: 1, values: [noop], commitIndex: -1 }), true],
  ['an accept from slot 0', to({ type: 'accept', ballot: bb, firstSlot: 0, values: [noop], commitIndex: 0 }), true],
  ['an accept of a null value', to({ type: 'accept', ballot: bb, firstSlot: 1, values: [null], commitIndex: 0 }), true],
  ['an accept of a string value', to({ type: 'accept', ballot: bb, firstSlot: 1, values: ['noop'], commitIndex: 0 }), true],
  [
    'an accept of a value of an unknown kind with commands',
    to({ type: 'accept', ballot: bb, firstSlot: 1, values: [{ kind: 'blob', commands: [bytes] }], commitIndex: 0 }),
    true,
  ],
  ['an accept of an empty batch', to({ type: 'accept', ballot: bb, firstSlot: 1, values: [{ kind: 'batch', commands: [] }], commitIndex: 0 }), true],
  ['an accept of a batch without commands', to({ type: 'accept', ballot: bb, firstSlot: 1, values: [{ kind: 'batch' }], commitIndex: 0 }), true],
  ['an accept of a config value without a config', to({ type: 'accept', ballot: bb, firstSlot: 1, values: [{ kind: 'config' }], commitIndex: 0 }), true],
  [
    'an accept of a config value with a null config',
    to({ type: 'accept', ballot: bb, firstSlot: 1, values: [{ kind: 'config', config: null }], commitIndex: 0 }),
    true,
  ],
  [
    'an accept of a config value with a string config',
    to({ type: 'accept', ballot: bb, firstSlot: 1, values: [{ kind: 'config', config: 'x' }], commitIndex: 0 }),
    true,
  ],
  [
    'an accept of a config value with no voters',
    to({ type: 'accept', ballot: bb, firstSlot: 1, values: [{ kind: 'config', config: { ...config, voters: [] } }], commitIndex: 0 }),
    true,
  ],
  ['an accepted of 1 slot', to({ type: 'accepted', ballot: ba, firstSlot: 1, count: 1 }), false],
  ['an accepted of acceptSlotsMax slots', to({ type: 'accepted', ballot: ba, firstSlot: 1, count: 512 }), false],
  ['an accepted of 0 slots', to({ type: 'accepted', ballot: ba, firstSlot: 1, count: 0 }), true],
  ['an accepted of acceptSlotsMax + 1 slots', to({ type: 'accepted', ballot: ba, firstSlot: 1, count: 513 }), true],
  ['an accepted from slot 0', to({ type: 'accepted', ballot: ba, firstSlot: 0, count: 1 }), true],
  ['an accepted with a fractional count', to({ type: 'accepted', ballot: ba, firstSlot: 1, count: 1.5 }), true],
  ['an accepted for a ballot not ours', to({ type: 'accepted', ballot: bb, firstSlot: 1, count: 1 }), true],
  ['a commit', to({ type: 'commit', ballot: bb, commitIndex: 0 }), false],
  ['a commit with a negative commit index', to({ type: 'commit', ballot: bb, commitIndex: -1 }), true],
  ['a commit in a ballot of another node', to({ type: 'commit', ballot: { round: 2, node: 'c' }, commitIndex: 0 }), true],
  ['a quiesce', to({ type: 'quiesce', ballot: bb, commitIndex: 0 }), false],
  ['a quiesce with a negative commit index', to({ type: 'quiesce', ballot: bb, commitIndex: -1 }), true],
  ['a quiesce in a ballot of another node', to({ type: 'quiesce', ballot: { round: 2, node: 'c' }, commitIndex: 0 }), true],
  ['a wake', to({ type: 'wake', ballot: bb }), false],
  ['a wake with a malformed ballot', to({ type: 'wake', ballot: { round: -1, node: 'b' } }), true],
  ['a timeoutNow', to({ type: 'timeoutNow', ballot: bb }), false],
  ['a timeoutNow in a ballot of another node', to({ type: 'timeoutNow', ballot: { round: 2, node: 'c' } }), true],
  // Catch-up.
  ['a catchUp of one slot', to({ type: 'catchUp', firstSlot: 3, lastSlot: 3 }), false],
  ['a catchUp from slot 0', to({ type: 'catchUp', firstSlot: 0, lastSlot: 3 }), true],
  ['a catchUp to a fractional slot', to({ type: 'catchUp', firstSlot: 1, lastSlot: 2.5 }), true],
  ['a chosen of no values', to({ type: 'chosen', firstSlot: 1, values: [], commitIndex: 0 }), false],
  ['a chosen of catchUpSlotsMax values', to({ type: 'chosen', firstSlot: 1, values: new Array(512).fill(noop), commitIndex: 512 }), false],
  ['a chosen of catchUpSlotsMax + 1 values', to({ type: 'chosen', firstSlot: 1, values: new Array(513).fill(noop), commitIndex: 513 }), true],
  ['a chosen from slot 0', to({ type: 'chosen', firstSlot: 0, values: [noop], commitIndex: 1 }), true],
  ['a chosen with a negative commit index', to({ type: 'chosen', firstSlot: 1, values: [noop], commitIndex: -1 }), true],
  ['a chosen of a bad value', to({ type: 'chosen', firstSlot: 1, values: [{ kind: 'batch', commands: [[1]] }], commitIndex: 1 }), true],
  // Amnesia guard.
  ['a probe', to({ type: 'probe', fence: bb }), false],
  ['a probe with a malformed fence', to({ type: 'probe', fence: { round: 1 } }), true],
  ['a probe reply', to({ type: 'probeReply', fence: ba, promised: bb, commitIndex: 0, accepted: [] }), false],
  ['a probe reply with a malformed fence', to({ type: 'probeReply', fence: null, promised: bb, commitIndex: 0, accepted: [] }), true],
  ['a probe reply with a malformed promise', to({ type: 'probeReply', fence: ba, promised: 3, commitIndex: 0, accepted: [] }), true],
  ['a probe reply with a negative commit index', to({ type: 'probeReply', fence: ba, promised: bb, commitIndex: -1, accepted: [] }), true],
  ['a probe reply with accepted not an array', to({ type: 'probeReply', fence: ba, promised: bb, commitIndex: 0, accepted: 'x' }), true],
];

const senders: Case[] = [
  // From the observer o to voter a: it may only learn and answer heartbeats.
  // Each in a ballot of its own where it carries one, so only the sender's standing drops it.
  ...(
    [
      'precheck',
      'prepare',
      'accept',
      'timeoutNow',
      'precheckReply',
      'promise',
      'accepted',
      'reject',
      'heartbeat',
      'commit',
      'probe',
      'probeReply',
      'quiesce',
    ] as const
  ).map((type): Case => {
    const m: Record<string, unknown> = { ...fields.find(([, f, d]) => f.type === type && !d)![1], from: 'o' };
    if ((m.ballot as { node?: string } | undefined)?.node === 'b') m.ballot = { round: 2, node: 'o' };
    if (type === 'probe') m.fence = { round: 2, node: 'o' };
    return [`a ${type} from an observer`, m, true];
  }),
  ['a heartbeat reply from an observer', to({ type: 'heartbeatReply', from: 'o', ballot: ba, commitIndex: 0, seq: 1 }), false],
  // From a non-member: only facts about chosen values, and requests for them.
  ['a heartbeat reply from a non-member', to({ type: 'heartbeatReply', from: 'x', ballot: ba, commitIndex: 0, seq: 1 }), true],
  ['a catchUp from a non-member', to({ type: 'catchUp', from: 'x', firstSlot: 1, lastSlot: 1 }), false],
  ['a chosen from a non-member', to({ type: 'chosen', from: 'x', firstSlot: 1, values: [noop], commitIndex: 1 }), false],
  ['a probe reply from a non-member not asked', to({ type: 'probeReply', from: 'x', fence: ba, promised: bb, commitIndex: 0, accepted: [] }), true],
];

describe('Replica input guards, field by field', () => {
  it.each([...fields, ...senders])('%s: dropped is %s', (_, message, dropped) => {
    const r = voter();
    expect(() => r.step(message as unknown as Message)).not.toThrow();
    expect(r.status.droppedMessages).toBe(dropped ? 1 : 0);
  });
});

describe('Replica input guards, on an observer', () => {
  const toO = (m: Record<string, unknown>): Record<string, unknown> => ({ from: 'b', to: 'o', ...m });
  const cases: Case[] = [
    ['a precheck', toO({ type: 'precheck', commitIndex: 0 }), true],
    ['a prepare', toO({ type: 'prepare', ballot: bb, firstSlot: 1 }), true],
    ['an accept', toO({ type: 'accept', ballot: bb, firstSlot: 1, values: [noop], commitIndex: 0 }), true],
    ['a timeoutNow', toO({ type: 'timeoutNow', ballot: bb }), true],
    ['a commit', toO({ type: 'commit', ballot: bb, commitIndex: 0 }), true],
    ['a probe', toO({ type: 'probe', fence: bb }), true],
    ['a probe reply', toO({ type: 'probeReply', fence: bb, promised: bb, commitIndex: 0, accepted: [] }), true],
    ['a heartbeat', toO({ type: 'heartbeat', ballot: bb, commitIndex: 0, seq: 1 }), false],
    ['a chosen', toO({ type: 'chosen', firstSlot: 1, values: [noop], commitIndex: 1 }), false],
  ];
  it.each(cases)('%s: dropped is %s', (_, message, dropped) => {
    const r = observer();
    expect(() => r.step(message as unknown as Message)).not.toThrow();
    expect(r.status.droppedMessages).toBe(dropped ? 1 : 0);
  });
});

describe('Replica input guards, on a voter demoted after it voted', () => {
  // a was a voter and promised 1.b; the configuration it restarts with lists it as an
  // observer. It still answers for the slots it voted in: a leader may need its vote.
  const config = { id: 3, voters: ['b', 'c', 'd'], quorum: 'majority' as const, observers: ['a'], addresses: {}, windowSlots: 4 };
  const demoted = (): Replica => {
    const r = new Replica({ id: 'a', quorum, random: () => 0, configuration: [{ from: 1, source: 0, config }], state });
    r.takeOutput();
    return r;
  };
  const toA = (m: Record<string, unknown>): Record<string, unknown> => ({ from: 'b', to: 'a', ...m });
  const cases: Case[] = [
    ['a prepare', toA({ type: 'prepare', ballot: bb, firstSlot: 1 }), false],
    ['an accept', toA({ type: 'accept', ballot: bb, firstSlot: 1, values: [noop], commitIndex: 0 }), false],
    ['a probe', toA({ type: 'probe', fence: bb }), false],
    ['a timeoutNow', toA({ type: 'timeoutNow', ballot: bb }), true],
  ];
  it.each(cases)('%s: dropped is %s', (_, message, dropped) => {
    const r = demoted();
    expect(r.role).toBe('observer');
    r.step(message as unknown as Message);
    expect(r.status.droppedMessages).toBe(dropped ? 1 : 0);
  });
});

describe('Replica input guards, while rejoining', () => {
  it('takes the probe reply of a voter it asked that a change removed since, and nothing else from it', () => {
    const first = { id: 0, voters: ['a', 'b', 'c'], quorum: 'majority' as const, observers: [], addresses: {}, windowSlots: 2 };
    const next = { ...first, id: 1, voters: ['a', 'b'] };
    const r = new Replica({ id: 'a', quorum, random: () => 0, windowSlots: 2 });
    expect(r.status.rejoining).toBe('probing');
    r.takeOutput();
    // It learns that c was removed (chosen at slot 1, governing from slot 3 on) and the slots after.
    r.step({ type: 'chosen', from: 'b', to: 'a', firstSlot: 1, values: [{ kind: 'config', config: next }, noop, noop], commitIndex: 3 });
    expect(r.status.commitIndex).toBe(3);
    r.step({ type: 'probeReply', from: 'c', to: 'a', fence: { round: 0, node: '' }, promised: { round: 0, node: '' }, commitIndex: 0, accepted: [] });
    expect(r.status.droppedMessages).toBe(0);
    r.step({ type: 'heartbeatReply', from: 'c', to: 'a', ballot: ba, commitIndex: 0, seq: 1 });
    expect(r.status.droppedMessages).toBe(1);
  });
});
