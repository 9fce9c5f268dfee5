/**
 * A range's state machine only ever holds keys of its range: random writes,
 * transactions and sessions applied to a machine with bounds and, for every command it
 * did not refuse as `wrong-range`, to a machine without. The bounded machine's store,
 * at every revision, holds no key outside its bounds; a refused command changed
 * nothing and did name a key outside; every other command answered exactly as on the
 * unbounded machine, which ends with the same store. So bounds only filter.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { type KeyBounds, type KeyRange, type KvCommand, KvStateMachine, type TxnOp } from '../../src/kv/index.js';
import { boundsHold, keyOutside } from '../../src/kv/key-bounds.js';

const runs = Number(process.env['SYNOD_KV_RUNS'] ?? 300);
// Keys on both sides of every bound below, and at them.
const keys = ['a', 'b', 'b/1', 'f', 'g', 'g/1', 'h', 'l', 'm', 'm/1', 'o', 'p', 'p/1', 'z'] as const;
const prefixes = ['', 'b', 'g/', 'm', 'p', 'z/'] as const;
const value = new Uint8Array([1]);

const key = fc.constantFrom(...keys);
const range: fc.Arbitrary<KeyRange> = fc.oneof(
  key.map((k) => ({ key: k })),
  fc.constantFrom(...prefixes).map((p) => ({ prefix: p })),
  fc.tuple(key, key).map(([start, end]) => ({ start, end })),
);
const op: fc.Arbitrary<TxnOp> = fc.oneof(
  key.map((k): TxnOp => ({ op: 'put', key: k, value })),
  key.map((k): TxnOp => ({ op: 'delete', key: k })),
  range.map((r): TxnOp => ({ op: 'range', range: r })),
);
const command: fc.Arbitrary<KvCommand> = fc.oneof(
  { weight: 4, arbitrary: key.map((k): KvCommand => ({ type: 'put', key: k, value })) },
  { weight: 1, arbitrary: fc.tuple(key, fc.nat(2)).map(([k, v]): KvCommand => ({ type: 'put', key: k, value, expectedVersion: v })) },
  { weight: 2, arbitrary: fc.constantFrom(...prefixes.filter((p) => p !== '')).map((p): KvCommand => ({ type: 'put', key: p, value, sequential: true })) },
  { weight: 1, arbitrary: fc.tuple(key, fc.constantFrom(1, 2)).map(([k, s]): KvCommand => ({ type: 'put', key: k, value, session: s })) },
  { weight: 2, arbitrary: key.map((k): KvCommand => ({ type: 'delete', key: k })) },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.array(key, { maxLength: 2 }), fc.array(op, { maxLength: 3 }), fc.array(op, { maxLength: 2 })).map(
      ([compared, success, failure]): KvCommand => ({
        type: 'txn',
        compare: compared.map((k) => ({ key: k, target: 'version', op: '==', value: 0 })),
        // A key written twice in a branch is invalid: keep the first.
        success: success.filter((o, i) => o.op === 'range' || success.findIndex((p) => p.op !== 'range' && p.key === o.key) === i),
        failure: failure.filter((o, i) => o.op === 'range' || failure.findIndex((p) => p.op !== 'range' && p.key === o.key) === i),
      }),
    ),
  },
  { weight: 1, arbitrary: fc.constant<KvCommand>({ type: 'session-create', ttlMs: 10_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(1, 2).map((s): KvCommand => ({ type: 'session-close', session: s })) },
);
const bounds: fc.Arbitrary<KeyBounds> = fc
  .tuple(fc.constantFrom('', 'b', 'g'), fc.constantFrom(undefined, 'm', 'p'))
  .map(([start, end]) => (end === undefined ? { start } : { start, end }));

it('a bounded machine holds only keys of its bounds, refuses the rest unchanged, and otherwise answers as an unbounded one', () => {
  // Both kinds of command must come up, or the property says nothing.
  let refusedInAll = 0;
  let writtenInAll = 0;
  fc.assert(
    fc.property(bounds, fc.array(command, { minLength: 1, maxLength: 40 }), (b, commands) => {
      const bounded = new KvStateMachine({ bounds: b, historyRevisionsMax: 1_000 });
      const free = new KvStateMachine({ historyRevisionsMax: 1_000 });
      let slot = 0;
      for (const c of commands) {
        slot++;
        const meta = { slot, timestamp: 1_000 + slot, clientId: 'c', seq: slot, origin: 'a' };
        const before = bounded.revision;
        const got = bounded.apply(c, meta);
        if (got.type === 'wrong-range') {
          refusedInAll++;
          expect(bounded.revision).toBe(before);
          expect(got).toMatchObject({ start: b.start });
          expect(got.end).toBe(b.end);
          // It named a key outside: a key or range of the command, or the sequential key it would make.
          expect(!boundsHold(b, got.key) || keyOutside(b, c) !== undefined).toBe(true);
          if (c.type === 'put' && c.sequential === true) expect(got.key.startsWith(c.key)).toBe(true);
          else expect(keyOutside(b, c)).toBe(got.key);
          continue;
        }
        expect(keyOutside(b, c)).toBeUndefined();
        expect(got).toEqual(free.apply(c, meta));
        if (bounded.revision > before) writtenInAll++;
      }
      for (let revision = bounded.compactRevision; revision <= bounded.revision; revision++) {
        for (const kv of bounded.view.range({ prefix: '' }, 1_000, revision).kvs) expect(boundsHold(b, kv.key), `${kv.key} at revision ${revision}`).toBe(true);
      }
      expect(bounded.view.range({ prefix: '' }, 1_000)).toEqual(free.view.range({ prefix: '' }, 1_000));
    }),
    { numRuns: runs },
  );
  expect(refusedInAll).toBeGreaterThan(runs);
  expect(writtenInAll).toBeGreaterThan(runs);
});

it('with no bounds, nothing is ever refused as outside', () => {
  const machine = new KvStateMachine();
  expect(machine.keyBounds).toBeUndefined();
  for (const [slot, k] of keys.entries())
    expect(machine.apply({ type: 'put', key: k, value }, { slot: slot + 1, timestamp: 1, clientId: 'c', seq: slot, origin: 'a' }).type).toBe('put');
});
