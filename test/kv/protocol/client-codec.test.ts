/**
 * The client protocol's codec (client-codec.ts) and handshake frames
 * (client-handshake.ts): every kind round-trips to the very same record and bytes,
 * and hand-made malformed frames — another version, an unknown kind, cut short, bytes
 * left over, events out of order, `through` below the last event, a range whose
 * `count` and `more` disagree, counts over their limits — each give CodecError, the
 * only error a decoder throws. The encoder refuses what the decoder would (DESIGN:
 * pair checks across boundaries), so a server never sends a frame its clients refuse.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kvLimits } from '../../../src/kv/kv-limits.js';
import { writeCommand, writeKeyValue, writeRange, writeString } from '../../../src/kv/kv-codec.js';
import type { KeyValue, WatchEvent } from '../../../src/kv/kv-types.js';
import {
  clientProtocolVersion,
  decodeClientRequest,
  decodeServerFrame,
  encodeClientRequest,
  encodeServerFrame,
  eventsPerFrameMax,
  frameClientRequest,
} from '../../../src/kv/protocol/client-codec.js';
import { prefixFrame } from '../../../src/encoding/frame-reader.js';
import type { ClientRequest, ServerFrame, ServerStatus } from '../../../src/kv/protocol/client-frames.js';
import { clientHandshakeBytesMax, decodeClientHandshake, encodeClientHandshake, type ClientHandshakeFrame } from '../../../src/kv/protocol/client-handshake.js';
import { CodecError } from '../../../src/encoding/codec-error.js';
import { Writer } from '../../../src/encoding/writer.js';
import { clientRequestArbitraries, handshakeArbitraries, serverFrameArbitraries } from './client-arbitraries.js';

const runs = 300;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
}

/** Bytes written by `build` into a fresh writer. */
function bytesOf(build: (w: Writer) => void): Uint8Array {
  const w = new Writer(64);
  build(w);
  return w.finish().slice();
}

/** `decode(bytes)` throws CodecError whose message matches `why`. */
function refused(decode: (bytes: Uint8Array) => unknown, bytes: Uint8Array, why: RegExp): void {
  let thrown: unknown;
  try {
    decode(bytes);
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `[${[...bytes.subarray(0, 24)].join(', ')}${bytes.byteLength > 24 ? ', …' : ''}] decoded`).toBeInstanceOf(CodecError);
  expect((thrown as Error).message).toMatch(why);
}

const enum RequestKind {
  Command = 1,
  Range = 2,
  Watch = 3,
  Unwatch = 4,
  Status = 5,
}

const enum FrameKind {
  Result = 1,
  Range = 2,
  Watching = 3,
  Events = 4,
  Status = 5,
  Error = 6,
}

/** A request or frame header: this version, `kind`, request id 7. */
const header = (w: Writer, kind: number) => {
  w.u8(clientProtocolVersion);
  w.u8(kind);
  w.uint(7);
};

/** The smallest key value: empty key and value, small numbers, no session (6 bytes). */
const tiny = (revision: number, key = ''): KeyValue => ({ key, value: new Uint8Array(0), version: 1, createRevision: revision, modRevision: revision });
const put = (revision: number, key = ''): WatchEvent => ({ type: 'put', revision, kv: tiny(revision, key) });

/** An events frame written by hand (the encoder refuses the bad ones). */
function eventsFrame(
  events: readonly (WatchEvent | { typeByte: number; revision: number; kv: KeyValue })[],
  through: number,
  count = events.length,
): Uint8Array {
  return bytesOf((w) => {
    header(w, FrameKind.Events);
    w.uint(count);
    for (const e of events) {
      w.u8('typeByte' in e ? e.typeByte : e.type === 'put' ? 1 : 2);
      w.uint(e.revision);
      writeKeyValue(w, e.kv);
    }
    w.uint(through);
  });
}

/** A range frame written by hand. */
function rangeFrame(kvs: readonly KeyValue[], more: boolean, count: number, count0 = kvs.length): Uint8Array {
  return bytesOf((w) => {
    header(w, FrameKind.Range);
    w.uint(count0);
    for (const kv of kvs) writeKeyValue(w, kv);
    w.bool(more);
    w.uint(count);
    w.uint(9);
  });
}

describe('client requests round-trip', () => {
  it.each(Object.keys(clientRequestArbitraries) as ClientRequest['kind'][])('%s: decode(encode(q)) is q, and re-encodes to the same bytes', (kind) => {
    fc.assert(
      fc.property(clientRequestArbitraries[kind] as fc.Arbitrary<ClientRequest>, (q) => {
        const bytes = encodeClientRequest(q);
        const decoded = decodeClientRequest(bytes);
        expect(decoded).toStrictEqual(q);
        expect(sameBytes(encodeClientRequest(decoded), bytes)).toBe(true);
      }),
      { numRuns: runs },
    );
  });

  it.each(Object.keys(clientRequestArbitraries) as ClientRequest['kind'][])(
    '%s: frameClientRequest(q) is encodeClientRequest(q) with its length prefix',
    (kind) => {
      fc.assert(
        fc.property(clientRequestArbitraries[kind] as fc.Arbitrary<ClientRequest>, (q) => {
          expect(sameBytes(frameClientRequest(q), prefixFrame(encodeClientRequest(q)))).toBe(true);
        }),
        { numRuns: runs },
      );
    },
  );
});

describe('server frames round-trip', () => {
  it.each(Object.keys(serverFrameArbitraries) as ServerFrame['kind'][])('%s: decode(encode(f)) is f, and re-encodes to the same bytes', (kind) => {
    fc.assert(
      fc.property(serverFrameArbitraries[kind] as fc.Arbitrary<ServerFrame>, (f) => {
        const bytes = encodeServerFrame(f);
        const decoded = decodeServerFrame(bytes);
        expect(decoded).toStrictEqual(f);
        expect(sameBytes(encodeServerFrame(decoded), bytes)).toBe(true);
      }),
      { numRuns: runs },
    );
  });

  // Regression: the decoder checked a range's count at 8 bytes a key and an events
  // count at 9 bytes an event, more than the smallest ones take (6 and 8), so it
  // refused valid frames of short keys with empty values — and the client, taking
  // the server for a liar, dropped the connection and retried the read forever.
  it('a range of many short keys with empty values, and events of empty keys (regression: list counts overstated an item)', () => {
    const range: ServerFrame = {
      kind: 'range',
      id: 1,
      result: { kvs: ['a', 'b', 'c', 'd'].map((k, i) => tiny(i + 1, k)), more: false, count: 4, revision: 4 },
    };
    expect(decodeServerFrame(encodeServerFrame(range))).toStrictEqual(range);
    const events: ServerFrame = { kind: 'events', id: 1, events: [put(1), put(2), put(2)], through: 2 };
    expect(decodeServerFrame(encodeServerFrame(events))).toStrictEqual(events);
  });

  it('frames at their limits: eventsPerFrameMax of the smallest events, rangeKeysMax of the smallest keys', () => {
    const events: ServerFrame = { kind: 'events', id: 1, events: Array.from({ length: eventsPerFrameMax }, () => put(5)), through: 5 };
    expect(decodeServerFrame(encodeServerFrame(events))).toStrictEqual(events);
    const kvs = Array.from({ length: kvLimits.rangeKeysMax }, () => tiny(5));
    const range: ServerFrame = { kind: 'range', id: 1, result: { kvs, more: true, count: kvs.length + 1, revision: 5 } };
    expect(decodeServerFrame(encodeServerFrame(range))).toStrictEqual(range);
  });
});

describe('handshake frames round-trip', () => {
  it.each(Object.keys(handshakeArbitraries) as ClientHandshakeFrame['kind'][])('%s: decode(encode(h)) is h', (kind) => {
    fc.assert(
      fc.property(handshakeArbitraries[kind] as fc.Arbitrary<ClientHandshakeFrame>, (h) => {
        const bytes = encodeClientHandshake(h);
        expect(bytes.byteLength).toBeLessThanOrEqual(clientHandshakeBytesMax);
        expect(decodeClientHandshake(bytes)).toStrictEqual(h);
      }),
      { numRuns: runs },
    );
  });
});

const validStatus: ServerStatus = {
  node: 'a',
  leader: 'b',
  role: 'follower',
  members: ['a', 'b', 'c'],
  commitIndex: 3,
  appliedIndex: 3,
  revision: 2,
  compactRevision: 0,
};

/** One valid encoding of each kind, to cut short and to extend. */
const validRequests: ClientRequest[] = [
  {
    kind: 'command',
    id: 300,
    command: { type: 'put', key: 'k', value: new Uint8Array([1, 2]) },
    request: { clientId: 'c', seq: 5, ackedBelow: 3 },
    timeoutMs: 200,
  },
  { kind: 'command', id: 1, command: { type: 'delete', key: 'k' }, request: undefined, timeoutMs: 0 },
  { kind: 'range', id: 2, range: { prefix: 'p' }, limit: 10, revision: 0, linearizable: true },
  { kind: 'watch', id: 3, range: { start: 'a', end: 'z' }, fromRevision: 1 },
  { kind: 'unwatch', id: 3 },
  { kind: 'status', id: 128 },
  { kind: 'member', id: 9, action: 'addObserver', target: 'd', argument: '127.0.0.1:7004,127.0.0.1:7104', timeoutMs: 5000 },
  { kind: 'member', id: 10, action: 'replace', target: 'c', argument: 'd', timeoutMs: 0 },
  { kind: 'snapshot', id: 11, timeoutMs: 60_000 },
  { kind: 'sessions', id: 12, linearizable: true },
];
const validFrames: ServerFrame[] = [
  { kind: 'result', id: 1, result: { type: 'put', key: 'k', version: 2, revision: 9 } },
  { kind: 'range', id: 2, result: { kvs: [tiny(3, 'k')], more: true, count: 2, revision: 9 } },
  { kind: 'watching', id: 3, fromRevision: 4 },
  { kind: 'events', id: 3, events: [put(4, 'k'), { type: 'delete', revision: 6, kv: tiny(6, 'k') }], through: 8 },
  { kind: 'events', id: 3, events: [], through: 8 },
  { kind: 'status', id: 4, status: validStatus },
  { kind: 'error', id: 5, error: { code: 'VERSION_CONFLICT', message: 'no', key: 'k', number: 1, revision: 2, leaderHint: 'b' } },
  {
    kind: 'members',
    id: 6,
    configuration: { id: 2, voters: ['a', 'b', 'd'], quorum: 'majority', observers: [], addresses: { d: '127.0.0.1:7004,127.0.0.1:7104' }, windowSlots: 256 },
    from: 300,
  },
  { kind: 'snapshotChunk', id: 7, slot: 40, totalBytes: 10, offset: 7, sha256: new Uint8Array(32).fill(9), data: new Uint8Array([1, 2, 3]) },
  { kind: 'sessions', id: 8, list: { sessions: [{ id: 3, ttlMs: 10_000, expiresAt: 1_700_000_000_000, keys: 2 }], count: 5, revision: 9 } },
  {
    kind: 'ranges',
    id: 9,
    ranges: [
      { group: 1, start: '', end: 'm', leader: 'b', revision: 40, keys: 3, valueBytes: 300 },
      { group: 2, start: 'm', revision: 0, keys: 0, valueBytes: 0 },
    ],
  },
  {
    kind: 'rangeWatching',
    id: 10,
    from: [
      { group: 1, revision: 41 },
      { group: 2, revision: 1 },
    ],
  },
  { kind: 'rangeEvents', id: 10, group: 2, events: [put(4, 'k')], through: 5 },
];
const validHandshakes: ClientHandshakeFrame[] = [
  { kind: 'challenge', cluster: 'c', node: 'a', nonce: new Uint8Array(32).fill(1) },
  { kind: 'hello', clientId: 'me', nonce: new Uint8Array(32).fill(2), proof: new Uint8Array(32).fill(3) },
  { kind: 'hello', clientId: 'me', nonce: new Uint8Array(32).fill(2), proof: new Uint8Array(32).fill(3), user: 'alice' },
  { kind: 'welcome', proof: new Uint8Array(32).fill(4) },
  { kind: 'refuse', reason: 'no' },
];

describe('malformed client requests: CodecError', () => {
  it.each(validRequests.map((q) => [q.kind, q] as const))('%s cut short at every length', (_, q) => {
    const bytes = encodeClientRequest(q);
    for (let n = 0; n < bytes.byteLength; n++) refused(decodeClientRequest, bytes.subarray(0, n), /ends early|cannot fit|bytes, but/);
  });

  it.each(validRequests.map((q) => [q.kind, q] as const))('%s with a byte left over', (_, q) => {
    const bytes = encodeClientRequest(q);
    refused(decodeClientRequest, new Uint8Array([...bytes, 0]), /1 bytes after the message/);
  });

  it('another protocol version, or an unknown kind', () => {
    for (const version of [0, 2, 255])
      refused(decodeClientRequest, new Uint8Array([version, RequestKind.Status, 1]), new RegExp(`client protocol version ${version}`));
    for (const kind of [0, 11, 255]) refused(decodeClientRequest, new Uint8Array([clientProtocolVersion, kind, 1]), new RegExp(`unknown frame kind ${kind}`));
    // A server frame is not a request: 11 (rangeWatching) is no request kind.
    refused(decodeClientRequest, encodeServerFrame(validFrames[11]!), /unknown frame kind 11/);
  });

  it('a request id beyond 2^53, or not in its shortest form', () => {
    refused(decodeClientRequest, new Uint8Array([1, RequestKind.Status, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]), /beyond 2\^53/);
    refused(decodeClientRequest, new Uint8Array([1, RequestKind.Status, 0x81, 0x00]), /shortest form/);
    refused(decodeClientRequest, new Uint8Array([1, RequestKind.Status, ...new Array<number>(9).fill(0xff)]), /longer than 8 bytes/);
  });

  it('a command with a malformed request identity', () => {
    const command = (identity: (w: Writer) => void) =>
      bytesOf((w) => {
        header(w, RequestKind.Command);
        identity(w);
        w.uint(0);
        writeCommand(w, { type: 'delete', key: 'k' });
      });
    refused(
      decodeClientRequest,
      command((w) => w.u8(2)),
      /request flag: unknown bits/,
    );
    const identity = (clientId: string, seq: number, ackedBelow: number) => (w: Writer) => {
      w.u8(1);
      w.string(clientId);
      w.uint(seq);
      w.uint(ackedBelow);
    };
    refused(decodeClientRequest, command(identity('', 1, 0)), /request identity #1 .* is malformed/);
    refused(decodeClientRequest, command(identity('c', 1, 2)), /request identity c#1 \(ackedBelow 2\) is malformed/);
    refused(decodeClientRequest, command(identity('x'.repeat(256), 1, 0)), /client id: 256 bytes, more than the limit 255/);
    // A well-formed identity decodes (the check above is not a blanket refusal).
    expect(decodeClientRequest(command(identity('c', 2, 2)))).toMatchObject({ kind: 'command', request: { clientId: 'c', seq: 2, ackedBelow: 2 } });
  });

  it('a command whose log command is malformed, a range of an unknown kind, a boolean that is not one', () => {
    refused(
      decodeClientRequest,
      bytesOf((w) => {
        header(w, RequestKind.Command);
        w.u8(0);
        w.uint(0);
        w.u8(200); // no such command type
      }),
      /command type|unknown/,
    );
    refused(
      decodeClientRequest,
      bytesOf((w) => {
        header(w, RequestKind.Watch);
        w.u8(9); // no such range kind
        w.uint(1);
      }),
      /range/,
    );
    refused(
      decodeClientRequest,
      bytesOf((w) => {
        header(w, RequestKind.Range);
        writeRange(w, { key: 'k' });
        w.uint(0);
        w.uint(0);
        w.u8(2);
      }),
      /linearizable: 2 is not a boolean/,
    );
  });
});

describe('malformed server frames: CodecError', () => {
  it.each(validFrames.map((f, i) => [`${f.kind} #${i}`, f] as const))('%s cut short at every length', (_, f) => {
    const bytes = encodeServerFrame(f);
    for (let n = 0; n < bytes.byteLength; n++) refused(decodeServerFrame, bytes.subarray(0, n), /ends early|cannot fit|bytes, but/);
  });

  it.each(validFrames.map((f, i) => [`${f.kind} #${i}`, f] as const))('%s with a byte left over', (_, f) => {
    refused(decodeServerFrame, new Uint8Array([...encodeServerFrame(f), 0]), /1 bytes after the message/);
  });

  it('another protocol version, or an unknown kind', () => {
    for (const version of [0, 2, 255])
      refused(decodeServerFrame, new Uint8Array([version, FrameKind.Watching, 1, 1]), new RegExp(`client protocol version ${version}`));
    for (const kind of [0, 13, 255]) refused(decodeServerFrame, new Uint8Array([clientProtocolVersion, kind, 1]), new RegExp(`unknown frame kind ${kind}`));
  });

  it('a session list that counts fewer sessions than it lists, from either end', () => {
    const list = (count: number) => ({
      kind: 'sessions' as const,
      id: 1,
      list: { sessions: [{ id: 1, ttlMs: 1, expiresAt: 1, keys: 0 }], count, revision: 1 },
    });
    expect(() => encodeServerFrame(list(0))).toThrow(/sessions: count 0 with 1 listed/);
    const bytes = encodeServerFrame(list(1));
    bytes[bytes.byteLength - 2] = 0; // the count, before the revision
    refused(decodeServerFrame, bytes, /sessions: count 0 with 1 listed/);
  });

  it('a snapshot chunk that is empty, too large, overruns the whole, or carries a digest of the wrong size', () => {
    const chunk = (totalBytes: number, offset: number, sha256: Uint8Array, data: Uint8Array) =>
      bytesOf((w) => {
        header(w, 8);
        w.uint(40);
        w.uint(totalBytes);
        w.uint(offset);
        w.bytesOf(sha256);
        w.bytesOf(data);
      });
    const digest = new Uint8Array(32);
    expect(decodeServerFrame(chunk(3, 0, digest, new Uint8Array(3)))).toMatchObject({ kind: 'snapshotChunk', slot: 40, totalBytes: 3, offset: 0 });
    refused(decodeServerFrame, chunk(3, 0, digest, new Uint8Array(0)), /snapshot chunk of 0 bytes/);
    refused(decodeServerFrame, chunk(3 * 1024 * 1024, 0, digest, new Uint8Array(1024 * 1024 + 1)), /snapshot data: 1048577 bytes, more than the limit 1048576/);
    refused(decodeServerFrame, chunk(3, 1, digest, new Uint8Array(3)), /overruns the 3 in all/);
    refused(decodeServerFrame, chunk(3, 0, new Uint8Array(31), new Uint8Array(3)), /snapshot digest of 31 bytes/);
    refused(decodeServerFrame, chunk(3, 0, new Uint8Array(33), new Uint8Array(3)), /snapshot digest: 33 bytes, more than the limit 32/);
    expect(() => encodeServerFrame({ kind: 'snapshotChunk', id: 1, slot: 1, totalBytes: 2, offset: 0, sha256: digest, data: new Uint8Array(3) })).toThrow(
      /overruns/,
    );
  });

  it('events out of revision order', () => {
    refused(decodeServerFrame, eventsFrame([put(5), put(3)], 5), /events out of revision order: 3 after 5/);
    // The same revision twice is a transaction, not disorder.
    expect(decodeServerFrame(eventsFrame([put(3), put(3)], 3))).toMatchObject({ kind: 'events', through: 3 });
  });

  it('through more than one revision below the last event (one below is a frame cut inside that revision)', () => {
    refused(decodeServerFrame, eventsFrame([put(3), put(5)], 3), /events through 3, more than one revision below the last event's revision 5/);
    expect(decodeServerFrame(eventsFrame([put(3), put(5)], 4))).toMatchObject({ kind: 'events', through: 4 });
    expect(decodeServerFrame(eventsFrame([put(3), put(5)], 5))).toMatchObject({ kind: 'events', through: 5 });
  });

  it('an event of an unknown type, or whose key was modified at another revision', () => {
    refused(decodeServerFrame, eventsFrame([{ typeByte: 3, revision: 4, kv: tiny(4) }], 4), /unknown event type 3/);
    refused(decodeServerFrame, eventsFrame([{ typeByte: 0, revision: 4, kv: tiny(4) }], 4), /unknown event type 0/);
    refused(decodeServerFrame, eventsFrame([{ typeByte: 1, revision: 4, kv: tiny(3) }], 4), /event at revision 4 carries a key modified at 3/);
  });

  it('a range whose count and more disagree with its keys', () => {
    const two = [tiny(1, 'a'), tiny(2, 'b')];
    // The KV's own check of a range result (shared with the txn codec).
    refused(decodeServerFrame, rangeFrame(two, false, 1), /range result: count 1 is below the 2 keys returned/);
    refused(decodeServerFrame, rangeFrame(two, true, 2), /range result: more is true with count 2 and 2 keys returned/);
    refused(decodeServerFrame, rangeFrame(two, false, 3), /range result: more is false with count 3 and 2 keys returned/);
    expect(decodeServerFrame(rangeFrame(two, true, 3))).toMatchObject({ kind: 'range', result: { more: true, count: 3 } });
  });

  it('counts over their limits, refused before anything is allocated for them', () => {
    const events = Array.from({ length: eventsPerFrameMax + 1 }, () => put(5));
    refused(decodeServerFrame, eventsFrame(events, 5), new RegExp(`events: ${eventsPerFrameMax + 1} items, more than the limit ${eventsPerFrameMax}`));
    const kvs = Array.from({ length: kvLimits.rangeKeysMax + 1 }, () => tiny(5));
    refused(
      decodeServerFrame,
      rangeFrame(kvs, true, kvs.length + 1),
      new RegExp(`range keys: ${kvs.length} items, more than the limit ${kvLimits.rangeKeysMax}`),
    );
    const members = bytesOf((w) => {
      header(w, FrameKind.Status);
      w.string('a');
      w.u8(0);
      w.string('leader');
      w.uint(65);
      for (let i = 0; i < 65; i++) w.string(`m${i}`);
      for (let i = 0; i < 4; i++) w.uint(0);
    });
    refused(decodeServerFrame, members, /status members: 65 items, more than the limit 64/);
    // A count the bytes left cannot hold is refused from the count alone.
    refused(decodeServerFrame, eventsFrame([put(1)], 1, 2 ** 40), /events: 1099511627776 items cannot fit/);
    refused(decodeServerFrame, rangeFrame([], false, 0, 2 ** 52), /range keys: \d+ items cannot fit/);
  });

  it('an error with unknown flag bits or an overlong message; a status with a bad leader flag', () => {
    const error = (flags: number, message = 'm') =>
      bytesOf((w) => {
        header(w, FrameKind.Error);
        w.string('CODE');
        w.string(message);
        w.u8(flags);
      });
    refused(decodeServerFrame, error(16), /error flags: unknown bits in 0b10000/);
    refused(decodeServerFrame, error(0, 'x'.repeat(16 * 1024 + 1)), /error message: 16385 bytes, more than the limit 16384/);
    expect(decodeServerFrame(error(0))).toStrictEqual({ kind: 'error', id: 7, error: { code: 'CODE', message: 'm' } });
    refused(
      decodeServerFrame,
      bytesOf((w) => {
        header(w, FrameKind.Status);
        w.string('a');
        w.u8(2);
      }),
      /status leader flag: unknown bits/,
    );
  });

  it('a request is not a server frame it could pass for', () => {
    // kind 5 is a status request and a status frame: the request is cut short as a frame.
    refused(decodeServerFrame, encodeClientRequest({ kind: 'status', id: 1 }), /ends early/);
  });
});

describe('the encoder refuses what the decoder would', () => {
  it('events out of order, through below them, or a key modified at another revision', () => {
    expect(() => encodeServerFrame({ kind: 'events', id: 1, events: [put(5), put(3)], through: 5 })).toThrow(CodecError);
    expect(() => encodeServerFrame({ kind: 'events', id: 1, events: [put(3), put(5)], through: 3 })).toThrow(/through 3, more than one revision below/);
    expect(() => encodeServerFrame({ kind: 'events', id: 1, events: [{ type: 'put', revision: 4, kv: tiny(3) }], through: 4 })).toThrow(/modified at 3/);
    expect(() => encodeServerFrame({ kind: 'events', id: 1, events: Array.from({ length: eventsPerFrameMax + 1 }, () => put(5)), through: 5 })).toThrow(
      /more than the limit/,
    );
  });

  it('a range whose count and more disagree', () => {
    expect(() => encodeServerFrame({ kind: 'range', id: 1, result: { kvs: [tiny(1)], more: false, count: 2, revision: 1 } })).toThrow(CodecError);
    expect(() => encodeServerFrame({ kind: 'range', id: 1, result: { kvs: [tiny(1)], more: true, count: 1, revision: 1 } })).toThrow(CodecError);
  });

  it('ids over 255 bytes, numbers that are not unsigned safe integers', () => {
    expect(() => encodeClientRequest({ kind: 'status', id: -1 })).toThrow(CodecError);
    expect(() => encodeClientRequest({ kind: 'status', id: 2 ** 53 })).toThrow(CodecError);
    expect(() =>
      encodeClientRequest({
        kind: 'command',
        id: 1,
        command: { type: 'delete', key: 'k' },
        request: { clientId: 'x'.repeat(256), seq: 1, ackedBelow: 0 },
        timeoutMs: 0,
      }),
    ).toThrow(/client id: 256 UTF-8 bytes/);
    expect(() => encodeServerFrame({ kind: 'status', id: 1, status: { ...validStatus, members: Array.from({ length: 65 }, (_, i) => `m${i}`) } })).toThrow(
      /more than the limit 64/,
    );
  });

  it('an error message too long for a frame is cut, and a lone surrogate the cut leaves is replaced', () => {
    const message = `${'x'.repeat(4095)}😀tail`;
    const decoded = decodeServerFrame(encodeServerFrame({ kind: 'error', id: 1, error: { code: 'C', message } }));
    expect(decoded).toMatchObject({ kind: 'error', error: { message: `${'x'.repeat(4095)}\uFFFD` } });
  });
});

describe('malformed handshake frames: CodecError', () => {
  it.each(validHandshakes.map((h) => [h.kind, h] as const))('%s cut short at every length, or with a byte left over', (_, h) => {
    const bytes = encodeClientHandshake(h);
    // A hello without a user ends at its proof: a byte more starts a user, and cuts it short.
    const userless = h.kind === 'hello' && h.user === undefined;
    // A hello with a user cut right before it is the same hello without one: valid.
    const withoutUser =
      h.kind === 'hello' && !userless ? encodeClientHandshake({ kind: 'hello', clientId: h.clientId, nonce: h.nonce, proof: h.proof }).byteLength : -1;
    for (let n = 0; n < bytes.byteLength; n++) if (n !== withoutUser) refused(decodeClientHandshake, bytes.subarray(0, n), /ends early|bytes, but/);
    refused(decodeClientHandshake, new Uint8Array([...bytes, 0]), userless ? /empty user/ : /1 bytes after the message/);
    if (userless) refused(decodeClientHandshake, new Uint8Array([...bytes, 5]), /bytes, but/);
  });

  it('bad magic, another version, an unknown kind', () => {
    const hello = encodeClientHandshake(validHandshakes[1]!);
    refused(decodeClientHandshake, new Uint8Array([0x53, 0x59, ...hello.subarray(2)]), /bad magic/);
    refused(decodeClientHandshake, new Uint8Array([0x43, 0x53, ...hello.subarray(2)]), /bad magic/);
    refused(decodeClientHandshake, new Uint8Array([0x53, 0x43, 2, ...hello.subarray(3)]), /client protocol version 2/);
    for (const kind of [0, 5, 255]) refused(decodeClientHandshake, new Uint8Array([0x53, 0x43, clientProtocolVersion, kind, 0]), /unknown handshake kind/);
    // A request frame after the magic would be refused too: no request starts with it.
    refused(decodeClientHandshake, encodeClientRequest({ kind: 'status', id: 1 }), /bad magic/);
  });

  it('a nonce of another length, a proof over 32 bytes, an empty client id', () => {
    const hello = (clientId: string, nonce: number, proof: number) =>
      bytesOf((w) => {
        w.u8(0x53);
        w.u8(0x43);
        w.u8(clientProtocolVersion);
        w.u8(2);
        writeString(w, 'client id', clientId, 255);
        w.bytesOf(new Uint8Array(nonce));
        w.bytesOf(new Uint8Array(proof));
      });
    expect(decodeClientHandshake(hello('me', 32, 32))).toMatchObject({ kind: 'hello', clientId: 'me' });
    refused(decodeClientHandshake, hello('me', 31, 32), /nonce: 31 bytes, not 32/);
    refused(decodeClientHandshake, hello('me', 33, 32), /nonce: 33 bytes, more than the limit 32/);
    refused(decodeClientHandshake, hello('me', 32, 33), /proof: 33 bytes, more than the limit 32/);
    refused(decodeClientHandshake, hello('', 32, 32), /empty client id/);
  });

  it(`a frame over ${clientHandshakeBytesMax} bytes, whatever it holds`, () => {
    const refuse = encodeClientHandshake({ kind: 'refuse', reason: 'r' });
    const big = new Uint8Array(clientHandshakeBytesMax + 1);
    big.set(refuse);
    refused(decodeClientHandshake, big, new RegExp(`handshake frame of ${clientHandshakeBytesMax + 1} bytes, over ${clientHandshakeBytesMax}`));
  });
});
