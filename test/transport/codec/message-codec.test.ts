import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batch, noop } from '../../../src/core/index.js';
import { type GroupMemberMessage, type NodeMessage, groupIdMax, isCoreMessage } from '../../../src/runtime/index.js';
import { CodecError } from '../../../src/encoding/codec-error.js';
import { decodeMessage, encodeMessage, protocolVersion } from '../../../src/transport/codec/index.js';

const b = (round: number, node: string) => ({ round, node });
const cmd = (text: string): Uint8Array => new TextEncoder().encode(text);
const v1 = batch([cmd('x'), cmd(''), cmd('héllo')]);
const big = 2 ** 53 - 1;
const config = {
  kind: 'config' as const,
  config: {
    id: 3,
    voters: ['a', 'b', 'd'],
    quorum: 'majority' as const,
    leaving: { voters: ['a', 'b', 'c'], quorum: { phase1: 2, phase2: 2 } },
    observers: ['o'],
    addresses: { a: '127.0.0.1:7001', o: 'h:1' },
    windowSlots: 64,
  },
};

/** One example of every message type, with edge values (empty lists, the largest integers, missing hints). */
const examples: GroupMemberMessage[] = [
  { type: 'precheck', from: 'a', to: 'b', commitIndex: big },
  { type: 'precheckReply', from: 'b', to: 'a', granted: true, promised: b(0, '') },
  { type: 'prepare', from: 'a', to: 'b', ballot: b(7, 'a'), firstSlot: 1 },
  {
    type: 'promise',
    from: 'b',
    to: 'a',
    ballot: b(7, 'a'),
    accepted: [
      { slot: 3, ballot: b(2, 'c'), value: v1 },
      { slot: 4, ballot: b(2, 'c'), value: noop },
    ],
    chosen: [{ slot: 5, value: v1 }],
  },
  { type: 'promise', from: 'b', to: 'a', ballot: b(7, 'a'), accepted: [], chosen: [] },
  { type: 'accept', from: 'a', to: 'b', ballot: b(7, 'a'), firstSlot: 9, values: [v1, noop, config], commitIndex: 8 },
  { type: 'accepted', from: 'b', to: 'a', ballot: b(7, 'a'), firstSlot: 9, count: 2 },
  { type: 'reject', from: 'b', to: 'a', ballot: b(7, 'a'), promised: b(8, 'c') },
  { type: 'heartbeat', from: 'a', to: 'b', ballot: b(7, 'a'), commitIndex: 10, seq: 300 },
  { type: 'heartbeatReply', from: 'b', to: 'a', ballot: b(7, 'a'), commitIndex: 10, seq: 300 },
  { type: 'catchUp', from: 'b', to: 'a', firstSlot: 1, lastSlot: 512 },
  { type: 'chosen', from: 'a', to: 'b', firstSlot: 1, values: [noop, v1], commitIndex: 2 },
  { type: 'timeoutNow', from: 'a', to: 'b', ballot: b(7, 'a') },
  { type: 'commit', from: 'a', to: 'b', ballot: b(7, 'a'), commitIndex: 11 },
  { type: 'quiesce', from: 'a', to: 'b', ballot: b(7, 'a'), commitIndex: 11 },
  { type: 'wake', from: 'b', to: 'a', ballot: b(7, 'a') },
  { type: 'probe', from: 'c', to: 'a', fence: b(0, '') },
  { type: 'probeReply', from: 'a', to: 'c', fence: b(8, 'c'), promised: b(8, 'c'), commitIndex: 11, accepted: [{ slot: 12, ballot: b(7, 'a'), value: v1 }] },
  { type: 'forward', from: 'b', to: 'a', commands: [cmd('one'), cmd('two')] },
  {
    type: 'forwardRefused',
    from: 'a',
    to: 'b',
    requests: [
      ['client/1', 4],
      ['ü', big],
    ],
    reason: 'overloaded',
    leaderHint: undefined,
  },
  { type: 'forwardRefused', from: 'a', to: 'b', requests: [], reason: 'not-leader', leaderHint: 'c' },
  { type: 'readRequest', from: 'b', to: 'a', id: 5 },
  { type: 'readReply', from: 'a', to: 'b', id: 5, index: 11, leaderHint: 'a' },
  { type: 'readReply', from: 'a', to: 'b', id: 5, index: undefined, leaderHint: undefined },
  { type: 'snapshotChunk', from: 'a', to: 'b', transfer: 123456789, slot: 40, total: 3, offset: 0, crc: 0x55bc801d, data: new Uint8Array([1, 2, 3]) },
  { type: 'snapshotAck', from: 'b', to: 'a', transfer: 123456789, received: 3, status: 'done' },
  { type: 'snapshotAck', from: 'b', to: 'a', transfer: 1, received: 0, status: 'failed' },
];

/** `m` as group `group`'s message on a transport many groups share. */
const inGroup = (group: number, m: GroupMemberMessage): NodeMessage => ({ type: 'group', from: m.from, to: m.to, group, message: m });

/** Every example in a few groups: the smallest id, one-byte and two-byte varints, the largest. */
const groupExamples: NodeMessage[] = examples.map((m, i) => inGroup([0, 127, 128, 16_383, groupIdMax][i % 5]!, m));

/** A group host's own messages: never tagged with a group. */
const hostExamples: NodeMessage[] = [
  { type: 'hostPing', from: 'a', to: 'b' },
  {
    type: 'hostHeartbeats',
    from: 'a',
    to: 'b',
    beats: [
      { group: 0, reply: false, round: 7, commitIndex: 10, seq: 300 },
      { group: groupIdMax, reply: true, round: big, commitIndex: big, seq: big },
    ],
  },
  { type: 'hostHeartbeats', from: 'a', to: 'b', beats: [] },
];

/** Plain data for comparison: views of the frame become arrays. */
function plain(m: unknown): unknown {
  return JSON.parse(JSON.stringify(m, (_k, value: unknown) => (value instanceof Uint8Array ? [...value] : value)));
}

describe('message codec', () => {
  it('round-trips every message type', () => {
    const seen = new Set(examples.map((m) => m.type));
    expect(seen.size).toBe(23);
    for (const m of examples) {
      const decoded = decodeMessage(encodeMessage(m));
      expect(plain(decoded)).toEqual(plain(m));
      expect(isCoreMessage(decoded)).toBe(!['forward', 'forwardRefused', 'readRequest', 'readReply', 'snapshotChunk', 'snapshotAck'].includes(m.type));
    }
  });

  it("round-trips every message type as a group's message; the group id costs its varint's bytes and no more", () => {
    for (const m of groupExamples) {
      const decoded = decodeMessage(encodeMessage(m));
      expect(plain(decoded)).toEqual(plain(m));
      expect(isCoreMessage(decoded)).toBe(false);
    }
    const accept = examples.find((m) => m.type === 'accept')!;
    const alone = encodeMessage(accept).byteLength;
    expect(encodeMessage(inGroup(0, accept)).byteLength).toBe(alone + 1);
    expect(encodeMessage(inGroup(127, accept)).byteLength).toBe(alone + 1);
    expect(encodeMessage(inGroup(128, accept)).byteLength).toBe(alone + 2);
    expect(encodeMessage(inGroup(16_383, accept)).byteLength).toBe(alone + 2);
    expect(encodeMessage(inGroup(groupIdMax, accept)).byteLength).toBe(alone + 5);
  });

  it("refuses to encode a group's message with a bad group id, another message's ids, or a group's message inside", () => {
    const prepare = examples[2]!;
    for (const group of [-1, 1.5, groupIdMax + 1, Number.NaN]) expect(() => encodeMessage(inGroup(group, prepare))).toThrow(CodecError);
    expect(() => encodeMessage({ type: 'group', from: 'a', to: 'c', group: 1, message: prepare })).toThrow(/wraps one from a to b/);
    expect(() => encodeMessage({ type: 'group', from: 'a', to: 'b', group: 1, message: inGroup(2, prepare) as unknown as GroupMemberMessage })).toThrow(
      CodecError,
    );
  });

  it("round-trips a host's ping and heartbeats; refuses them tagged with a group, a bad group id in a heartbeat, and more heartbeats than the frame holds", () => {
    for (const m of hostExamples) {
      const decoded = decodeMessage(encodeMessage(m));
      expect(plain(decoded)).toEqual(plain(m));
      expect(isCoreMessage(decoded)).toBe(false);
    }
    // A heartbeat entry is 5 varints and a flag at least: 10 groups' cost 60 bytes over the header and ids.
    const ten = {
      type: 'hostHeartbeats' as const,
      from: 'a',
      to: 'b',
      beats: Array.from({ length: 10 }, (_, group) => ({ group, reply: false, round: 1, commitIndex: 2, seq: 3 })),
    };
    expect(encodeMessage(ten).byteLength).toBe(4 + 2 + 2 + 1 + 10 * 5);
    for (const group of [-1, 1.5, groupIdMax + 1]) {
      expect(() => encodeMessage({ type: 'hostHeartbeats', from: 'a', to: 'b', beats: [{ group, reply: false, round: 1, commitIndex: 2, seq: 3 }] })).toThrow(
        CodecError,
      );
    }
    for (const m of hostExamples) {
      // Set the group flag on the type byte, and put a group id after the ids.
      const frame = encodeMessage(m);
      const tagged = new Uint8Array([...frame.slice(0, 3), frame[3]! | 0x80, ...frame.slice(4, 8), 1, ...frame.slice(8)]);
      expect(() => decodeMessage(tagged)).toThrow(/tagged with a group/);
    }
    const one = encodeMessage({ type: 'hostHeartbeats', from: 'a', to: 'b', beats: [{ group: 1, reply: false, round: 1, commitIndex: 2, seq: 3 }] });
    const claimsTwo = one.slice();
    claimsTwo[8] = 2;
    expect(() => decodeMessage(claimsTwo)).toThrow(/heartbeats: 2 is more/);
    const badGroup = encodeMessage({
      type: 'hostHeartbeats',
      from: 'a',
      to: 'b',
      beats: [{ group: groupIdMax, reply: false, round: 1, commitIndex: 2, seq: 3 }],
    });
    const raised = badGroup.slice();
    expect(raised[13]).toBe(0x0f);
    raised[13] = 0x1f;
    expect(() => decodeMessage(raised)).toThrow(/group id/);
  });

  it('refuses a group id past the largest on decode', () => {
    const frame = encodeMessage(inGroup(groupIdMax, examples[2]!));
    // The varint of 2^32 - 1 is ff ff ff ff 0f, after the header and the ids 'a' and 'b': raise its last byte.
    const at = 4 + 2 + 2 + 4;
    expect(frame[at]).toBe(0x0f);
    const bad = frame.slice();
    bad[at] = 0x1f;
    expect(() => decodeMessage(bad)).toThrow(/group id/);
  });

  it('refuses bad magic, another version, an unknown type, trailing bytes and a frame over the limit', () => {
    const frame = encodeMessage(examples[2]!);
    const variants: Uint8Array[] = [];
    const withByte = (at: number, value: number): Uint8Array => {
      const copy = frame.slice();
      copy[at] = value;
      return copy;
    };
    variants.push(
      withByte(0, 0),
      withByte(2, protocolVersion + 1),
      withByte(2, protocolVersion - 1),
      withByte(3, 0),
      withByte(3, 99),
      new Uint8Array([...frame, 0]),
      frame.subarray(0, frame.byteLength - 1),
      new Uint8Array(0),
    );
    for (const bad of variants) expect(() => decodeMessage(bad)).toThrow(CodecError);
    expect(() => decodeMessage(frame, { frameBytesMax: frame.byteLength - 1, idBytesMax: 255 })).toThrow(CodecError);
    expect(() => decodeMessage(frame, { frameBytesMax: 1 << 20, idBytesMax: 0 })).toThrow(CodecError);
  });

  it('refuses a configuration value that is not one, with a CodecError', () => {
    const frame = encodeMessage({ type: 'chosen', from: 'a', to: 'b', firstSlot: 1, values: [config], commitIndex: 1 });
    // Turn the first voter's id 'a' into a second 'b': the configuration lists a voter twice.
    const text = new TextDecoder().decode(frame);
    const at = text.indexOf('["a","b","d"]');
    expect(at).toBeGreaterThan(0);
    const bad = frame.slice();
    bad[at + 2] = 'b'.charCodeAt(0);
    expect(() => decodeMessage(bad)).toThrow(/bad configuration value.*twice/);
  });

  it("checks an accept's and a chosen's values in full when the frame is decoded, before any is read", () => {
    for (const m of examples.filter((e) => e.type === 'accept' || e.type === 'chosen')) {
      const frame = encodeMessage(m);
      // Every cut short of the whole frame ends inside the value list or before it.
      for (let cut = 0; cut < frame.byteLength; cut++) expect(() => decodeMessage(frame.subarray(0, cut))).toThrow(CodecError);
      // The first command ('x') made longer than the frame, found without reading `values`.
      const long = frame.slice();
      const at = long.indexOf('x'.charCodeAt(0));
      expect(long[at - 1]).toBe(1);
      long[at - 1] = 0x81; // a varint continued by the 'x': 1 + 120 * 128
      expect(() => decodeMessage(long)).toThrow(/command: 15361 bytes/);
    }
  });

  it("cuts an accept's values from the frame on first read, once; a frame overwritten while its message lives is caught, not read as values", () => {
    const accept = examples.find((e) => e.type === 'accept')!;
    const frame = encodeMessage(accept).slice();
    const decoded = decodeMessage(frame);
    if (decoded.type !== 'accept') throw new Error('not an accept');
    const values = decoded.values;
    expect(decoded.values).toBe(values);
    expect(plain(values)).toEqual(plain((accept as typeof decoded).values));
    // Another decode of the same bytes, then the buffer reused for a frame laid out otherwise.
    const again = decodeMessage(frame);
    frame.set(encodeMessage({ ...accept, values: [noop, noop, noop] } as NodeMessage).subarray(0, 24));
    frame.fill(0, 24);
    expect(() => (again.type === 'accept' ? again.values : undefined)).toThrow(/a frame changed after it was decoded/);
  });

  it('refuses a count that cannot fit before allocating for it', () => {
    // A forward claiming 2^40 commands in a 20-byte frame.
    const w = [0x53, 0x59, protocolVersion, 16, 1, 0x62, 1, 0x61, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20];
    expect(() => decodeMessage(new Uint8Array(w))).toThrow(/cannot fit/);
  });

  it('decoding hostile bytes throws CodecError and nothing else (fuzz: random bytes, and mutations of valid frames)', () => {
    const frames = [...examples, ...groupExamples, ...hostExamples].map((m) => encodeMessage(m));
    const check = (bytes: Uint8Array): void => {
      let decoded: NodeMessage;
      try {
        decoded = decodeMessage(bytes, { frameBytesMax: 4096, idBytesMax: 255 });
      } catch (error) {
        if (!(error instanceof CodecError)) throw error;
        return;
      }
      // Whatever decodes re-encodes to a frame that decodes to the same message.
      expect(plain(decodeMessage(encodeMessage(decoded)))).toEqual(plain(decoded));
    };
    const runs = Number(process.env['SYNOD_FUZZ_RUNS'] ?? 50_000);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => check(bytes)),
      { numRuns: runs },
    );
    const mutation = fc.record({
      frame: fc.nat(frames.length - 1),
      edits: fc.array(fc.record({ at: fc.nat(), value: fc.nat(255), kind: fc.constantFrom('set', 'insert', 'delete') }), { minLength: 1, maxLength: 4 }),
      cut: fc.option(fc.nat(), { freq: 3 }),
    });
    fc.assert(
      fc.property(mutation, ({ frame, edits, cut }) => {
        const bytes = [...frames[frame]!];
        for (const e of edits) {
          const at = e.at % (bytes.length + 1);
          if (e.kind === 'set' && at < bytes.length) bytes[at] = e.value;
          else if (e.kind === 'insert') bytes.splice(at, 0, e.value);
          else if (e.kind === 'delete') bytes.splice(at, 1);
        }
        check(new Uint8Array(cut === null ? bytes : bytes.slice(0, cut % (bytes.length + 1))));
      }),
      { numRuns: runs },
    );
  });
});
