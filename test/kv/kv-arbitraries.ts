/**
 * fast-check arbitraries of the KV's records: every {@link KvCommand} and
 * {@link KvResult} variant, each optional field absent or present (absent meaning no
 * property at all), with edge values: empty and multi-byte keys, keys starting with a
 * BOM, values that are views at an offset, integers up to 2^53 - 1. Lists stay short
 * (the limits are tested by hand); every record is within the limits, so it encodes.
 */
import fc from 'fast-check';
import type { KvCommand, KvResult } from '../../src/kv/kv-command.js';
import type { Compare, KeyRange, KeyValue, SessionInfo, TxnOp, TxnOpResult } from '../../src/kv/kv-types.js';

/** Records with Object's prototype, like the decoder's (toStrictEqual compares prototypes). */
const plain = { noNullPrototype: true } as const;

/** An unsigned safe integer, biased to small ones and to the varint byte boundaries. */
export function uintArbitrary(): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.nat(300) },
    { weight: 2, arbitrary: fc.maxSafeNat() },
    { weight: 1, arbitrary: fc.constantFrom(0, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 32, 2 ** 53 - 1) },
  );
}

/** A key: short ASCII mostly, any code point (no lone surrogates) often, and some edge cases. */
export function keyArbitrary(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 20 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 100, maxLength: 300 }) },
    { weight: 1, arbitrary: fc.constantFrom('', '\uFEFF', '\uFEFFkey', 'é', '日本語', '😀', '\u0000', 'a'.repeat(33)) },
  );
}

/** A value: a fresh array, or a view at an offset into a larger buffer. */
function valueArbitrary(): fc.Arbitrary<Uint8Array> {
  const bytes = fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 120, maxLength: 300 }) },
  );
  return fc.oneof(
    { weight: 3, arbitrary: bytes },
    {
      weight: 1,
      arbitrary: fc.tuple(bytes, fc.nat(16)).map(([b, offset]) => {
        const buffer = new Uint8Array(offset + b.byteLength + 7).fill(0xee);
        buffer.set(b, offset);
        return buffer.subarray(offset, offset + b.byteLength);
      }),
    },
  );
}

function compareArbitrary(): fc.Arbitrary<Compare> {
  return fc.oneof(
    fc.record(
      {
        key: keyArbitrary(),
        target: fc.constantFrom('version', 'createRevision', 'modRevision'),
        op: fc.constantFrom('==', '!=', '<', '>'),
        value: uintArbitrary(),
      },
      plain,
    ),
    fc.record({ key: keyArbitrary(), target: fc.constant('value'), op: fc.constantFrom('==', '!='), value: valueArbitrary() }, plain),
  );
}

export function keyRangeArbitrary(): fc.Arbitrary<KeyRange> {
  return fc.oneof(
    fc.record({ key: keyArbitrary() }, plain),
    fc.record({ prefix: keyArbitrary() }, plain),
    fc.record({ start: keyArbitrary(), end: keyArbitrary() }, plain),
  );
}

function txnOpArbitrary(): fc.Arbitrary<TxnOp> {
  return fc.oneof(
    fc.record(
      { op: fc.constant('put'), key: keyArbitrary(), value: valueArbitrary(), session: uintArbitrary() },
      { noNullPrototype: true, requiredKeys: ['op', 'key', 'value'] },
    ),
    fc.record({ op: fc.constant('delete'), key: keyArbitrary() }, plain),
    fc.record({ op: fc.constant('range'), range: keyRangeArbitrary(), limit: uintArbitrary() }, { noNullPrototype: true, requiredKeys: ['op', 'range'] }),
  );
}

export function keyValueArbitrary(): fc.Arbitrary<KeyValue> {
  return fc.record(
    {
      key: keyArbitrary(),
      value: valueArbitrary(),
      version: uintArbitrary(),
      createRevision: uintArbitrary(),
      modRevision: uintArbitrary(),
      session: uintArbitrary(),
    },
    { noNullPrototype: true, requiredKeys: ['key', 'value', 'version', 'createRevision', 'modRevision'] },
  );
}

/** An op result; a range's `count` is its keys plus some left out, and `more` says whether any were. */
function txnOpResultArbitrary(): fc.Arbitrary<TxnOpResult> {
  return fc.oneof(
    fc.record({ op: fc.constant('put'), key: keyArbitrary(), version: uintArbitrary() }, plain),
    fc.record({ op: fc.constant('delete'), key: keyArbitrary(), deleted: fc.boolean() }, plain),
    fc.tuple(fc.array(keyValueArbitrary(), { maxLength: 4 }), fc.oneof(fc.constant(0), uintArbitrary())).map(([kvs, leftOut]): TxnOpResult => {
      const left = Math.min(leftOut, Number.MAX_SAFE_INTEGER - kvs.length);
      return { op: 'range', kvs, more: left > 0, count: kvs.length + left };
    }),
  );
}

function sessionInfoArbitrary(): fc.Arbitrary<SessionInfo> {
  return fc.record({ id: uintArbitrary(), ttlMs: uintArbitrary(), expiresAt: uintArbitrary() }, plain);
}

/** Every {@link KvCommand} variant, about equally often. */
export function kvCommandArbitrary(): fc.Arbitrary<KvCommand> {
  const ops = fc.array(txnOpArbitrary(), { maxLength: 4 });
  return fc.oneof(
    fc.record(
      {
        type: fc.constant('put'),
        key: keyArbitrary(),
        value: valueArbitrary(),
        expectedVersion: uintArbitrary(),
        session: uintArbitrary(),
        sequential: fc.boolean(),
      },
      { noNullPrototype: true, requiredKeys: ['type', 'key', 'value'] },
    ),
    fc.record({ type: fc.constant('delete'), key: keyArbitrary(), expectedVersion: uintArbitrary() }, { noNullPrototype: true, requiredKeys: ['type', 'key'] }),
    fc.record({ type: fc.constant('txn'), compare: fc.array(compareArbitrary(), { maxLength: 4 }), success: ops, failure: ops }, plain),
    fc.record({ type: fc.constant('session-create'), ttlMs: uintArbitrary() }, plain),
    fc.record({ type: fc.constant('session-keepalive'), session: uintArbitrary() }, plain),
    fc.record({ type: fc.constant('session-close'), session: uintArbitrary() }, plain),
    fc.record({ type: fc.constant('session-expire'), sessions: fc.array(uintArbitrary(), { maxLength: 8 }), decidedAtSlot: uintArbitrary() }, plain),
    fc.constant({ type: 'session-renew' } as const),
    fc.constant({ type: 'session-expire-by-log-time' } as const),
    fc.record({ type: fc.constant('compact'), revision: uintArbitrary() }, plain),
    fc.record({ type: fc.constantFrom('range-freeze' as const, 'range-release' as const), at: keyArbitrary() }, plain),
    fc.record(
      {
        type: fc.constant('range-seed'),
        revision: uintArbitrary(),
        after: fc.oneof(keyArbitrary(), fc.constant('')),
        records: fc.array(keyValueArbitrary(), { maxLength: 3 }),
        last: fc.boolean(),
        sequences: fc.array(fc.tuple(keyArbitrary(), uintArbitrary()), { maxLength: 2 }),
      },
      plain,
    ),
  );
}

/** Every {@link KvResult} variant, about equally often. */
export function kvResultArbitrary(): fc.Arbitrary<KvResult> {
  return fc.oneof(
    fc.record({ type: fc.constant('put'), key: keyArbitrary(), version: uintArbitrary(), revision: uintArbitrary() }, plain),
    fc.record({ type: fc.constant('delete'), deleted: fc.boolean(), revision: uintArbitrary() }, plain),
    fc.record(
      { type: fc.constant('txn'), succeeded: fc.boolean(), results: fc.array(txnOpResultArbitrary(), { maxLength: 4 }), revision: uintArbitrary() },
      plain,
    ),
    fc.record({ type: fc.constant('session'), session: sessionInfoArbitrary() }, plain),
    fc.record({ type: fc.constant('session-closed'), keysDeleted: uintArbitrary(), revision: uintArbitrary() }, plain),
    fc.record({ type: fc.constant('expired'), sessions: fc.array(uintArbitrary(), { maxLength: 8 }), revision: uintArbitrary() }, plain),
    fc.record({ type: fc.constant('renewed'), sessions: uintArbitrary() }, plain),
    fc.record({ type: fc.constant('compacted'), revision: uintArbitrary() }, plain),
    fc.record({ type: fc.constant('conflict'), key: keyArbitrary(), version: uintArbitrary(), revision: uintArbitrary() }, plain),
    fc.record({ type: fc.constant('no-session'), session: uintArbitrary() }, plain),
    fc.record({ type: fc.constant('compacted-revision'), revision: uintArbitrary(), compactRevision: uintArbitrary() }, plain),
    fc.record({ type: fc.constant('invalid'), reason: fc.string({ unit: 'binary', maxLength: 60 }) }, plain),
    fc.record(
      {
        type: fc.constant('wrong-range'),
        key: fc.oneof(keyArbitrary(), fc.constant('')),
        start: fc.oneof(keyArbitrary(), fc.constant('')),
        end: keyArbitrary(),
      },
      { noNullPrototype: true, requiredKeys: ['type', 'key', 'start'] },
    ),
    fc.record({ type: fc.constant('range-frozen'), at: keyArbitrary(), revision: uintArbitrary() }, plain),
    fc.record({ type: fc.constant('range-released'), keys: uintArbitrary() }, plain),
    fc.record({ type: fc.constant('range-seeded'), cursor: fc.oneof(keyArbitrary(), fc.constant('')), done: fc.boolean() }, plain),
  );
}
