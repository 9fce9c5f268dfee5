import { describe, expect, it } from 'vitest';
import { kvCommandCodec, kvResultCodec } from '../../src/kv/kv-codec.js';
import type { KvCommand, KvResult } from '../../src/kv/kv-command.js';
import { kvLimits } from '../../src/kv/kv-limits.js';
import type { KeyValue } from '../../src/kv/kv-types.js';
import { CodecError } from '../../src/encoding/codec-error.js';

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const big = 2 ** 53 - 1;
const kv: KeyValue = { key: 'a/1', value: text('one'), version: 3, createRevision: 4, modRevision: 9 };
const ephemeralKv: KeyValue = { key: 'a/2', value: bytes(), version: 1, createRevision: 10, modRevision: 10, session: 77 };

/** Every command variant, each optional field both absent and present, with edge values. */
const commands: KvCommand[] = [
  { type: 'put', key: 'k', value: text('v') },
  { type: 'put', key: '', value: bytes() },
  { type: 'put', key: 'k', value: text('v'), expectedVersion: 0 },
  { type: 'put', key: 'k', value: text('v'), session: 12 },
  { type: 'put', key: 'seq/', value: text('v'), sequential: true },
  { type: 'put', key: 'seq/', value: text('v'), sequential: false },
  { type: 'put', key: 'ключ/日本/😀', value: bytes(0, 255, 128), expectedVersion: big, session: big, sequential: true },
  { type: 'put', key: '\uFEFFbom', value: bytes(1) },
  { type: 'delete', key: 'k' },
  { type: 'delete', key: 'k', expectedVersion: 5 },
  { type: 'txn', compare: [], success: [], failure: [] },
  {
    type: 'txn',
    compare: [
      { key: 'a', target: 'version', op: '==', value: 0 },
      { key: 'b', target: 'createRevision', op: '!=', value: 300 },
      { key: 'c', target: 'modRevision', op: '<', value: big },
      { key: 'd', target: 'version', op: '>', value: 1 },
      { key: 'e', target: 'value', op: '==', value: text('x') },
      { key: 'f', target: 'value', op: '!=', value: bytes() },
    ],
    success: [
      { op: 'put', key: 'a', value: text('1') },
      { op: 'put', key: 'b', value: text('2'), session: 3 },
      { op: 'delete', key: 'c' },
      { op: 'range', range: { key: 'a' } },
      { op: 'range', range: { prefix: 'a/' }, limit: 10 },
      { op: 'range', range: { start: 'a', end: 'b' }, limit: 0 },
    ],
    failure: [{ op: 'range', range: { start: '', end: '' } }],
  },
  { type: 'session-create', ttlMs: 10_000 },
  { type: 'session-create', ttlMs: 10_000, owner: { user: 'alice', sessionsMax: 1_000 } },
  { type: 'auth-user-put', user: { name: 'alice', secret: new Uint8Array(32).fill(7), certificateNames: [], roles: ['app', 'root'] } },
  { type: 'auth-user-put', user: { name: 'ops', certificateNames: ['ops.example.com', 'spiffe://x/ops'], roles: [] } },
  { type: 'auth-user-delete', name: 'alice' },
  {
    type: 'auth-role-put',
    role: {
      name: 'app',
      permissions: [
        { prefix: 'app/', access: 'readwrite' },
        { key: 'config', access: 'read' },
        { prefix: '', access: 'write' },
      ],
    },
  },
  { type: 'auth-role-put', role: { name: 'none', permissions: [] } },
  { type: 'auth-role-delete', name: 'app' },
  { type: 'auth-list' },
  { type: 'session-keepalive', session: 1 },
  { type: 'session-close', session: big },
  { type: 'session-expire', sessions: [], decidedAtSlot: 0 },
  { type: 'session-expire', sessions: [1, 300, big], decidedAtSlot: big },
  { type: 'session-renew' },
  { type: 'session-renew', decidedAtSlot: 41 },
  { type: 'session-expire-by-log-time' },
  { type: 'compact', revision: 42 },
];

/** Every result variant, with empty and full lists and optional fields absent and present. */
const results: KvResult[] = [
  { type: 'quota-exceeded', quota: 'sessionsMax', limit: 1_000 },
  { type: 'wrong-range', key: 'm/1', start: '', end: 'm' },
  { type: 'wrong-range', key: '', start: 'm' },
  { type: 'auth', revision: 3, existed: true },
  { type: 'permission-denied', user: 'alice', access: 'write', resource: 'key "other"' },
  { type: 'auth-list', revision: 0, users: [], roles: [] },
  {
    type: 'auth-list',
    revision: 9,
    users: [
      { name: 'alice', hasSecret: true, certificateNames: ['a.example.com'], roles: ['app'] },
      { name: 'ops', hasSecret: false, certificateNames: ['ops'], roles: ['root'] },
    ],
    roles: [{ name: 'app', permissions: [{ prefix: 'app/', access: 'readwrite' }] }],
  },
  { type: 'put', key: 'k', version: 1, revision: 2 },
  { type: 'delete', deleted: true, revision: 3 },
  { type: 'delete', deleted: false, revision: 0 },
  { type: 'txn', succeeded: false, results: [], revision: 5 },
  {
    type: 'txn',
    succeeded: true,
    results: [
      { op: 'put', key: 'a', version: 2 },
      { op: 'delete', key: 'b', deleted: true },
      { op: 'delete', key: 'c', deleted: false },
      { op: 'range', kvs: [], more: false, count: 0 },
      { op: 'range', kvs: [kv, ephemeralKv], more: false, count: 2 },
      { op: 'range', kvs: [kv], more: true, count: big },
    ],
    revision: 6,
  },
  { type: 'session', session: { id: 9, ttlMs: 5000, expiresAt: 1_700_000_000_000 } },
  { type: 'session-closed', keysDeleted: 4, revision: 8 },
  { type: 'expired', sessions: [], revision: 9 },
  { type: 'expired', sessions: [1, 2, big], revision: 10 },
  { type: 'renewed', sessions: 3 },
  { type: 'compacted', revision: 11 },
  { type: 'conflict', key: 'k', version: 0, revision: 12 },
  { type: 'no-session', session: 13 },
  { type: 'compacted-revision', revision: 3, compactRevision: 14 },
  { type: 'invalid', reason: 'key longer than 4096 bytes' },
  { type: 'invalid', reason: '' },
];

/** `decode(bytes)` throws a CodecError whose message matches `message`. */
function refused(decode: (b: Uint8Array) => unknown, b: Uint8Array, message: RegExp): void {
  let thrown: unknown;
  try {
    decode(b);
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `decoding [${[...b.subarray(0, 40)].join(', ')}${b.byteLength > 40 ? ', …' : ''}] should throw`).toBeInstanceOf(CodecError);
  expect((thrown as CodecError).message).toMatch(message);
}

const decodeCommand = (b: Uint8Array): KvCommand => kvCommandCodec.decode(b);
const decodeResult = (b: Uint8Array): KvResult => kvResultCodec.decode(b);

/** A varint, as the wire writes it. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

describe('kvCommandCodec and kvResultCodec round trips', () => {
  it.each(commands.map((c) => [JSON.stringify(c, (_, v: unknown) => (v instanceof Uint8Array ? [...v] : v)), c] as const))('command %s', (_, command) => {
    const encoded = kvCommandCodec.encode(command);
    const decoded = kvCommandCodec.decode(encoded);
    // toStrictEqual: an absent optional field must come back absent, not `undefined`.
    expect(decoded).toStrictEqual(command);
    expect(kvCommandCodec.encode(decoded)).toEqual(encoded);
  });

  it.each(results.map((r) => [JSON.stringify(r, (_, v: unknown) => (v instanceof Uint8Array ? [...v] : v)), r] as const))('result %s', (_, result) => {
    const encoded = kvResultCodec.encode(result);
    const decoded = kvResultCodec.decode(encoded);
    expect(decoded).toStrictEqual(result);
    expect(kvResultCodec.encode(decoded)).toEqual(encoded);
  });

  it('pins the format: version, tag, fields, flags', () => {
    // version 1, tag put (1), key "k", value [7, 8], flags expectedVersion|sequential present|sequential (0b1101), expectedVersion 300.
    const put = kvCommandCodec.encode({ type: 'put', key: 'k', value: bytes(7, 8), expectedVersion: 300, sequential: true });
    expect([...put]).toEqual([1, 1, 1, 0x6b, 2, 7, 8, 0b1101, 0xac, 0x02]);
    // The legacy expiry keeps the bytes of the session-expire that logs written before expiry was elapsed time hold.
    expect([...kvCommandCodec.encode({ type: 'session-expire-by-log-time' })]).toEqual([1, 7]);
    expect(kvCommandCodec.decode(bytes(1, 7))).toStrictEqual({ type: 'session-expire-by-log-time' });
    // tag 10, decidedAtSlot 300, 2 sessions: 1 and 5.
    expect([...kvCommandCodec.encode({ type: 'session-expire', sessions: [1, 5], decidedAtSlot: 300 })]).toEqual([1, 10, 0xac, 0x02, 2, 1, 5]);
    expect([...kvResultCodec.encode({ type: 'delete', deleted: true, revision: 5 })]).toEqual([1, 2, 1, 5]);
  });

  it('keeps a key that starts with a byte order mark, and keys at exactly the limit', () => {
    for (const key of [
      '\uFEFF',
      '\uFEFF\uFEFFk',
      'a'.repeat(kvLimits.keyBytesMax),
      'é'.repeat(kvLimits.keyBytesMax / 2),
      '😀'.repeat(kvLimits.keyBytesMax / 4),
    ]) {
      expect(kvCommandCodec.decode(kvCommandCodec.encode({ type: 'delete', key }))).toStrictEqual({ type: 'delete', key });
    }
  });

  it('takes a value of exactly the limit, and a value that is a view at an offset', () => {
    const value = new Uint8Array(kvLimits.valueBytesMax).fill(5);
    value[kvLimits.valueBytesMax - 1] = 6;
    const decoded = kvCommandCodec.decode(kvCommandCodec.encode({ type: 'put', key: 'k', value }));
    // Compared as a Buffer: vitest's deep equality walks a 1 MiB array element by element, for seconds.
    expect(decoded.type === 'put' && Buffer.from(decoded.value).equals(value)).toBe(true);
    const view = bytes(9, 9, 1, 2, 3, 9).subarray(2, 5);
    expect(kvCommandCodec.decode(kvCommandCodec.encode({ type: 'put', key: 'k', value: view }))).toStrictEqual({
      type: 'put',
      key: 'k',
      value: bytes(1, 2, 3),
    });
  });

  it('takes lists of exactly the limit', () => {
    const compare = Array.from({ length: kvLimits.txnOpsMax }, (_, i) => ({ key: `k${i}`, target: 'version' as const, op: '==' as const, value: i }));
    const ops = Array.from({ length: kvLimits.txnOpsMax }, (_, i) => ({ op: 'delete' as const, key: `k${i}` }));
    const txn: KvCommand = { type: 'txn', compare, success: ops, failure: ops };
    expect(kvCommandCodec.decode(kvCommandCodec.encode(txn))).toStrictEqual(txn);
    const kvs = Array.from({ length: kvLimits.rangeKeysMax }, () => kv);
    const range: KvResult = { type: 'txn', succeeded: true, results: [{ op: 'range', kvs, more: false, count: kvs.length }], revision: 1 };
    expect(kvResultCodec.decode(kvResultCodec.encode(range))).toStrictEqual(range);
  });

  it('decodes values as views into the bytes given (documented: no copies)', () => {
    const encoded = kvCommandCodec.encode({ type: 'put', key: 'k', value: text('value') });
    const decoded = kvCommandCodec.decode(encoded);
    expect(decoded.type === 'put' && decoded.value.buffer).toBe(encoded.buffer);
  });

  it('returns bytes of its own from every encode, though one writer is shared', () => {
    const first = kvCommandCodec.encode({ type: 'put', key: 'first', value: text('1') });
    const copy = first.slice();
    kvCommandCodec.encode({ type: 'put', key: 'second', value: text('22222222') });
    expect(first).toEqual(copy);
    expect(first.buffer.byteLength).toBe(first.byteLength);
    // A failed encode leaves the writer usable, with nothing of the failed record in it.
    expect(() => kvCommandCodec.encode({ type: 'put', key: 'k', value: text('v'), session: -1 })).toThrow(CodecError);
    expect(kvCommandCodec.encode({ type: 'compact', revision: 1 })).toEqual(bytes(1, 9, 1));
    // A large value grows a writer that is then let go; the next encode is still right.
    kvCommandCodec.encode({ type: 'put', key: 'k', value: new Uint8Array(200_000) });
    expect(kvCommandCodec.encode({ type: 'compact', revision: 2 })).toEqual(bytes(1, 9, 2));
  });

  it('stays right when an encode runs inside an encode (a getter that encodes)', () => {
    let inner: Uint8Array | undefined;
    const command = {
      type: 'put' as const,
      get key(): string {
        inner = kvCommandCodec.encode({ type: 'compact', revision: 7 });
        return 'outer';
      },
      value: text('v'),
    };
    const outer = kvCommandCodec.encode(command);
    expect(inner).toEqual(bytes(1, 9, 7));
    expect(kvCommandCodec.decode(outer)).toStrictEqual({ type: 'put', key: 'outer', value: text('v') });
  });
});

describe('decoding malformed bytes throws CodecError, with a message that says what is wrong', () => {
  it('refuses empty bytes and a wrong format version', () => {
    refused(decodeCommand, bytes(), /format version: frame ends early/);
    refused(decodeResult, bytes(), /format version: frame ends early/);
    refused(decodeCommand, bytes(2, 7), /KV format version 2; this build reads 1/);
    refused(decodeResult, bytes(0, 7, 1), /KV format version 0/);
  });

  it('refuses an unknown type tag', () => {
    refused(decodeCommand, bytes(1), /command type: frame ends early/);
    refused(decodeCommand, bytes(1, 0), /unknown command type tag 0/);
    refused(decodeCommand, bytes(1, 22), /unknown command type tag 22/);
    refused(decodeResult, bytes(1, 22), /unknown result type tag 22/);
    refused(decodeResult, bytes(1, 255), /unknown result type tag 255/);
  });

  it('refuses every truncation of every example', () => {
    for (const command of commands) {
      const encoded = kvCommandCodec.encode(command);
      for (let n = 0; n < encoded.byteLength; n++) refused(decodeCommand, encoded.subarray(0, n), /frame ends early|bytes, but \d+ are left|cannot fit/);
    }
    for (const result of results) {
      const encoded = kvResultCodec.encode(result);
      for (let n = 0; n < encoded.byteLength; n++) refused(decodeResult, encoded.subarray(0, n), /frame ends early|bytes, but \d+ are left|cannot fit/);
    }
    refused(decodeCommand, bytes(1, 1, 5, 0x61), /put key: 5 bytes, but 1 are left/);
  });

  it('refuses trailing bytes after every example', () => {
    for (const command of commands) refused(decodeCommand, new Uint8Array([...kvCommandCodec.encode(command), 0]), /1 bytes after the message/);
    for (const result of results) refused(decodeResult, new Uint8Array([...kvResultCodec.encode(result), 1, 2]), /2 bytes after the message/);
  });

  it('refuses a bad enum, boolean or flags byte', () => {
    // txn with one compare on key "a": target, op, value 0; then empty success and failure.
    const txn = (target: number, op: number): Uint8Array => bytes(1, 3, 1, 1, 0x61, target, op, 0, 0, 0);
    expect(kvCommandCodec.decode(txn(2, 3))).toStrictEqual({
      type: 'txn',
      compare: [{ key: 'a', target: 'modRevision', op: '>', value: 0 }],
      success: [],
      failure: [],
    });
    refused(decodeCommand, txn(4, 0), /unknown compare target 4/);
    refused(decodeCommand, txn(0, 4), /unknown compare op 4/);
    refused(decodeCommand, txn(3, 2), /compare op 2 does not apply to target value/);
    refused(decodeCommand, bytes(1, 3, 0, 1, 3, 1, 0x61, 0), /unknown txn op 3/);
    refused(decodeCommand, bytes(1, 3, 0, 1, 2, 3, 1, 0x61, 0, 0), /unknown range kind 3/);
    refused(decodeCommand, bytes(1, 3, 0, 1, 2, 0, 1, 0x61, 2, 0), /txn range flags: unknown bits/);
    refused(decodeResult, bytes(1, 2, 2, 0), /delete result deleted: 2 is not a boolean/);
    refused(decodeResult, bytes(1, 3, 0, 1, 3, 0, 0, 0, 0), /unknown txn op result 3/);
    refused(decodeCommand, bytes(1, 1, 1, 0x6b, 0, 0x10), /put flags: unknown bits in 0b10000/);
    refused(decodeCommand, bytes(1, 1, 1, 0x6b, 0, 0b1000), /sequential set without its presence bit/);
    refused(decodeCommand, bytes(1, 2, 1, 0x6b, 2), /delete flags: unknown bits/);
    // KeyValue flags: a range result with one kv whose flags byte is 2.
    refused(decodeResult, bytes(1, 3, 1, 1, 2, 1, 1, 0x6b, 0, 1, 1, 1, 2, 0, 1, 0), /kv flags: unknown bits in 0b10/);
  });

  it('refuses a varint that is not in its shortest form or is beyond 2^53', () => {
    refused(decodeCommand, bytes(1, 9, 0x80, 0x00), /compact revision: varint not in its shortest form/);
    refused(decodeCommand, bytes(1, 9, ...Array<number>(8).fill(0xff)), /compact revision: varint longer than 8 bytes/);
    refused(decodeCommand, bytes(1, 9, ...Array<number>(7).fill(0xff), 0x7f), /compact revision: .* is beyond 2\^53/);
    expect(kvCommandCodec.decode(bytes(1, 9, ...varint(big)))).toStrictEqual({ type: 'compact', revision: big });
  });

  it('refuses a key or value over its limit, before reading it', () => {
    const key = (n: number): Uint8Array => bytes(1, 2, ...varint(n), ...Array<number>(n).fill(0x61), 0);
    expect(kvCommandCodec.decode(key(kvLimits.keyBytesMax))).toStrictEqual({ type: 'delete', key: 'a'.repeat(kvLimits.keyBytesMax) });
    refused(decodeCommand, key(kvLimits.keyBytesMax + 1), /delete key: 4097 bytes, more than the limit 4096/);
    // The length alone is refused, with no bytes behind it.
    refused(decodeCommand, bytes(1, 1, 1, 0x6b, ...varint(kvLimits.valueBytesMax + 1)), /put value: 1048577 bytes, more than the limit 1048576/);
    refused(decodeResult, bytes(1, 9, ...varint(kvLimits.keyBytesMax + 1)), /conflict key: 4097 bytes, more than the limit 4096/);
  });

  it('refuses a count over its limit, and a count that cannot fit in the bytes left', () => {
    const compare = [1, 0x61, 0, 0, 0]; // key "a", version == 0
    const compares = (n: number): Uint8Array => bytes(1, 3, ...varint(n), ...Array.from({ length: n }, () => compare).flat(), 0, 0);
    const decoded = kvCommandCodec.decode(compares(kvLimits.txnOpsMax));
    expect(decoded.type === 'txn' && decoded.compare.length).toBe(kvLimits.txnOpsMax);
    refused(decodeCommand, compares(kvLimits.txnOpsMax + 1), /txn compare: 129 items, more than the limit 128/);
    refused(decodeCommand, bytes(1, 3, 0, ...varint(kvLimits.txnOpsMax + 1), ...Array<number>(400).fill(0)), /txn success: 129 items, more than the limit 128/);
    refused(decodeCommand, bytes(1, 3, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20), /txn compare: \d+ items cannot fit in the 0 bytes left/);
    // A range result with rangeKeysMax + 1 kvs, each the smallest KeyValue (6 bytes).
    const kvs = (n: number): Uint8Array => bytes(1, 3, 1, 1, 2, ...varint(n), ...Array<number>(n * 6).fill(0), 0, ...varint(n), 0);
    expect(kvResultCodec.decode(kvs(kvLimits.rangeKeysMax))).toMatchObject({ type: 'txn', results: [{ op: 'range', count: kvLimits.rangeKeysMax }] });
    refused(decodeResult, kvs(kvLimits.rangeKeysMax + 1), /txn range result kvs: 10001 items, more than the limit 10000/);
    refused(
      decodeResult,
      bytes(1, 6, ...varint(kvLimits.sessionsMax + 1), ...Array<number>(kvLimits.sessionsMax + 1).fill(1), 0),
      /expired sessions: 100001 items, more than the limit 100000/,
    );
    refused(decodeResult, bytes(1, 6, 5, 1, 2, 3), /expired sessions: 5 items cannot fit in the 3 bytes left/);
    refused(
      decodeCommand,
      bytes(1, 10, 0, ...varint(kvLimits.sessionsMax + 1), ...Array<number>(kvLimits.sessionsMax + 1).fill(1)),
      /session-expire sessions: 100001 items, more than the limit 100000/,
    );
    refused(decodeCommand, bytes(1, 10, 0, 5, 1, 2, 3), /session-expire sessions: 5 items cannot fit in the 3 bytes left/);
  });

  it('refuses a range result whose count and more disagree with its keys', () => {
    const range = (kvCount: number, more: number, count: number): Uint8Array =>
      bytes(1, 3, 1, 1, 2, kvCount, ...Array<number>(kvCount * 6).fill(0), more, count, 0);
    expect(kvResultCodec.decode(range(1, 1, 5))).toMatchObject({ results: [{ more: true, count: 5 }] });
    refused(decodeResult, range(2, 0, 1), /count 1 is below the 2 keys returned/);
    refused(decodeResult, range(1, 1, 1), /more is true with count 1 and 1 keys returned/);
    refused(decodeResult, range(1, 0, 3), /more is false with count 3 and 1 keys returned/);
  });

  it('refuses invalid UTF-8 in a key or reason', () => {
    for (const bad of [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0x61, 0x80, ...Array<number>(40).fill(0x61)]]) {
      refused(decodeCommand, bytes(1, 2, bad.length, ...bad, 0), /delete key: not valid UTF-8/);
    }
    refused(decodeResult, bytes(1, 12, 2, 0xc3, 0x28), /invalid reason: not valid UTF-8/);
  });
});

describe('encoding checks the record too (pair checks across boundaries)', () => {
  const refusedEncode = (encode: () => unknown, message: RegExp): void => {
    expect(encode).toThrow(CodecError);
    expect(encode).toThrow(message);
  };

  it('refuses a key, value or reason over its limit', () => {
    refusedEncode(
      () => kvCommandCodec.encode({ type: 'delete', key: 'a'.repeat(kvLimits.keyBytesMax + 1) }),
      /delete key: 4097 UTF-8 bytes, more than the limit 4096/,
    );
    refusedEncode(() => kvCommandCodec.encode({ type: 'delete', key: `${'é'.repeat(kvLimits.keyBytesMax / 2)}a` }), /4097 UTF-8 bytes/);
    refusedEncode(
      () => kvCommandCodec.encode({ type: 'put', key: 'k', value: new Uint8Array(kvLimits.valueBytesMax + 1) }),
      /put value: 1048577 bytes, more than the limit 1048576/,
    );
    refusedEncode(
      () => kvCommandCodec.encode({ type: 'txn', compare: [], success: [{ op: 'range', range: { prefix: 'p'.repeat(5000) } }], failure: [] }),
      /range prefix: 5000 UTF-8 bytes/,
    );
    refusedEncode(
      () =>
        kvResultCodec.encode({
          type: 'txn',
          succeeded: true,
          results: [{ op: 'range', kvs: [{ ...kv, value: new Uint8Array(kvLimits.valueBytesMax + 1) }], more: false, count: 1 }],
          revision: 1,
        }),
      /kv value: 1048577 bytes/,
    );
    refusedEncode(
      () => kvResultCodec.encode({ type: 'invalid', reason: 'x'.repeat(16 * 1024 + 1) }),
      /invalid reason: 16385 UTF-8 bytes, more than the limit 16384/,
    );
  });

  it('refuses a key with a lone surrogate (UTF-8 cannot carry it back)', () => {
    refusedEncode(() => kvCommandCodec.encode({ type: 'delete', key: 'a\uD800' }), /delete key: a lone surrogate at index 1/);
    refusedEncode(() => kvCommandCodec.encode({ type: 'delete', key: '\uDC00b' }), /lone surrogate at index 0/);
    refusedEncode(() => kvResultCodec.encode({ type: 'conflict', key: '\uDBFF\uDBFF\uDFFF', version: 0, revision: 0 }), /lone surrogate at index 0/);
  });

  it('refuses lists over their limits', () => {
    const compare = Array.from({ length: kvLimits.txnOpsMax + 1 }, () => ({ key: 'a', target: 'version' as const, op: '==' as const, value: 0 }));
    refusedEncode(() => kvCommandCodec.encode({ type: 'txn', compare, success: [], failure: [] }), /txn compare: 129 items, more than the limit 128/);
    const ops = Array.from({ length: kvLimits.txnOpsMax + 1 }, () => ({ op: 'delete' as const, key: 'a' }));
    refusedEncode(() => kvCommandCodec.encode({ type: 'txn', compare: [], success: [], failure: ops }), /txn failure: 129 items/);
    const opResults = Array.from({ length: kvLimits.txnOpsMax + 1 }, () => ({ op: 'delete' as const, key: 'a', deleted: true }));
    refusedEncode(() => kvResultCodec.encode({ type: 'txn', succeeded: true, results: opResults, revision: 1 }), /txn results: 129 items/);
    const kvs = Array.from({ length: kvLimits.rangeKeysMax + 1 }, () => kv);
    refusedEncode(
      () => kvResultCodec.encode({ type: 'txn', succeeded: true, results: [{ op: 'range', kvs, more: false, count: kvs.length }], revision: 1 }),
      /txn range result kvs: 10001 items/,
    );
    const sessions = Array.from({ length: kvLimits.sessionsMax + 1 }, (_, i) => i);
    refusedEncode(() => kvResultCodec.encode({ type: 'expired', sessions, revision: 1 }), /expired sessions: 100001 items/);
    refusedEncode(() => kvCommandCodec.encode({ type: 'session-expire', sessions, decidedAtSlot: 1 }), /session-expire sessions: 100001 items/);
  });

  it('refuses a number that is not an unsigned safe integer, naming the field', () => {
    refusedEncode(() => kvCommandCodec.encode({ type: 'compact', revision: -1 }), /compact revision: cannot encode -1/);
    refusedEncode(() => kvCommandCodec.encode({ type: 'session-create', ttlMs: 1.5 }), /session-create ttlMs: cannot encode 1.5/);
    refusedEncode(
      () => kvCommandCodec.encode({ type: 'put', key: 'k', value: bytes(), expectedVersion: 2 ** 53 }),
      /put expectedVersion: cannot encode 9007199254740992/,
    );
    refusedEncode(() => kvResultCodec.encode({ type: 'session', session: { id: 1, ttlMs: 1, expiresAt: Number.NaN } }), /session expiresAt: cannot encode NaN/);
    refusedEncode(() => kvResultCodec.encode({ type: 'expired', sessions: [1, Infinity], revision: 1 }), /expired session: cannot encode Infinity/);
  });

  it('refuses a range result whose count and more disagree with its keys', () => {
    refusedEncode(
      () => kvResultCodec.encode({ type: 'txn', succeeded: true, results: [{ op: 'range', kvs: [kv], more: false, count: 0 }], revision: 1 }),
      /count 0 is below the 1 keys/,
    );
    refusedEncode(
      () => kvResultCodec.encode({ type: 'txn', succeeded: true, results: [{ op: 'range', kvs: [kv], more: true, count: 1 }], revision: 1 }),
      /more is true/,
    );
  });

  it('refuses a record the type system would (from untyped callers): unknown type, op, target, range shape', () => {
    const command = (c: unknown): KvCommand => c as KvCommand;
    refusedEncode(() => kvCommandCodec.encode(command({ type: 'get', key: 'k' })), /unknown command type get/);
    refusedEncode(() => kvResultCodec.encode({ type: 'nope' } as unknown as KvResult), /unknown result type nope/);
    const txn = (compare: unknown, op: unknown): KvCommand => command({ type: 'txn', compare: [compare], success: [op], failure: [] });
    const ok = { key: 'a', target: 'version', op: '==', value: 1 };
    refusedEncode(() => kvCommandCodec.encode(txn({ ...ok, target: 'lease' }, { op: 'delete', key: 'a' })), /unknown compare target lease/);
    refusedEncode(() => kvCommandCodec.encode(txn({ ...ok, op: '<=' }, { op: 'delete', key: 'a' })), /unknown compare op <=/);
    refusedEncode(
      () => kvCommandCodec.encode(txn({ key: 'a', target: 'value', op: '<', value: bytes() }, { op: 'delete', key: 'a' })),
      /compare op < does not apply to target value/,
    );
    refusedEncode(() => kvCommandCodec.encode(txn(ok, { op: 'get', key: 'a' })), /unknown txn op get/);
    refusedEncode(() => kvCommandCodec.encode(txn(ok, { op: 'range', range: { key: 'a', prefix: 'b' } })), /range: both a key and a prefix or span/);
    refusedEncode(() => kvCommandCodec.encode(txn(ok, { op: 'range', range: { prefix: 'a', start: 'b', end: 'c' } })), /range: both a prefix and a span/);
    refusedEncode(
      () => kvResultCodec.encode({ type: 'txn', succeeded: true, results: [{ op: 'get' }], revision: 1 } as unknown as KvResult),
      /unknown txn op result get/,
    );
  });
});
