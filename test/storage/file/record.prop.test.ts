import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AcceptedEntry, type Ballot, type ChosenEntry, DurableStateBuilder, type PersistBatch, type Value, noop } from '../../../src/core/index.js';
import { RecordType, decodeBatch, encodeBatch, encodeRecord, mergeBatch, readRecord } from '../../../src/storage/file/record.js';

const numRuns = 200;

// Node ids: mostly short ASCII (encoded directly), sometimes any string (UTF-8 through Buffer).
const nodeArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('a', 'b', 'n1', 'node-7') },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }) },
);
// Rounds often equal, so that ballots differing only in their node meet.
const ballotArb: fc.Arbitrary<Ballot> = fc.record({ round: fc.oneof(fc.nat({ max: 2 }), fc.nat({ max: 2 ** 40 })), node: nodeArb });
// Commands small and large: frames up to 4 KiB share a slab, larger ones get their own buffer.
const largeCommandArb = fc
  .tuple(fc.integer({ min: 3000, max: 6000 }), fc.integer({ min: 1, max: 255 }))
  .map(([length, step]) => Uint8Array.from({ length }, (_, i) => (i * step) & 0xff));
const commandArb = fc.oneof({ weight: 8, arbitrary: fc.uint8Array({ maxLength: 40 }) }, { weight: 1, arbitrary: largeCommandArb });
const valueArb: fc.Arbitrary<Value> = fc.oneof(
  fc.constant(noop),
  fc.array(commandArb, { minLength: 1, maxLength: 4 }).map((commands): Value => ({ kind: 'batch', commands })),
);
// Slots as large as the format allows: past 2^30 the decoder keeps them as doubles.
const slotArb = fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 2 ** 30 - 4, max: 2 ** 30 + 4 }), fc.constant(Number.MAX_SAFE_INTEGER));
const slotsArb = fc.uniqueArray(slotArb, { maxLength: 12 }).map((slots) => slots.sort((a, b) => a - b));

const batchArb: fc.Arbitrary<PersistBatch> = fc
  .record({
    promised: fc.option(ballotArb, { nil: undefined }),
    // Runs of one ballot, as a leader writes them (the decoder shares the repeated ballot).
    acceptedBallots: fc.array(ballotArb, { minLength: 1, maxLength: 2 }),
    acceptedSlots: slotsArb,
    acceptedValues: fc.array(valueArb, { minLength: 12, maxLength: 12 }),
    chosenSlots: slotsArb,
    chosenValues: fc.array(valueArb, { minLength: 12, maxLength: 12 }),
    commitIndex: fc.option(fc.nat(), { nil: undefined }),
  })
  .map(({ promised, acceptedBallots, acceptedSlots, acceptedValues, chosenSlots, chosenValues, commitIndex }) => {
    const accepted: AcceptedEntry[] = acceptedSlots.map((slot, i) => ({
      slot,
      ballot: acceptedBallots[Math.floor((i * acceptedBallots.length) / acceptedSlots.length)]!,
      value: acceptedValues[i]!,
    }));
    const chosen: ChosenEntry[] = chosenSlots.map((slot, i) => ({ slot, value: chosenValues[i]! }));
    return {
      ...(promised !== undefined ? { promised } : {}),
      accepted,
      chosen,
      ...(commitIndex !== undefined ? { commitIndex } : {}),
    };
  });

/** A value with its commands as hex: quick to compare, and readable in a failure. */
type Plain<T> = T extends Uint8Array ? string : T extends readonly (infer U)[] ? Plain<U>[] : T extends object ? { [K in keyof T]: Plain<T[K]> } : T;

function plain<T>(x: T): Plain<T> {
  if (x instanceof Uint8Array) return Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('hex') as Plain<T>;
  if (Array.isArray(x)) return x.map(plain) as Plain<T>;
  if (typeof x === 'object' && x !== null) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)])) as Plain<T>;
  return x as Plain<T>;
}

/** `batch` with node ids as UTF-8 round-trips them (a lone surrogate becomes U+FFFD), in plain form. */
function canonical(batch: PersistBatch): Plain<PersistBatch> {
  const node = (b: Ballot): Ballot => ({ round: b.round, node: Buffer.from(b.node, 'utf8').toString('utf8') });
  return plain({
    ...(batch.promised !== undefined ? { promised: node(batch.promised) } : {}),
    accepted: batch.accepted.map((e) => ({ ...e, ballot: node(e.ballot) })),
    chosen: batch.chosen,
    ...(batch.commitIndex !== undefined ? { commitIndex: batch.commitIndex } : {}),
  });
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

describe('record (properties)', () => {
  it('decodeBatch(encodeBatch(b)) is b, also when the next batch is encoded in between (reused scratch)', () => {
    fc.assert(
      fc.property(batchArb, batchArb, (first, second) => {
        const payload = encodeBatch(first);
        const copy = payload.slice();
        encodeBatch(second);
        expect(hex(payload)).toBe(hex(copy));
        expect(plain(decodeBatch(payload))).toEqual(canonical(first));
      }),
      { numRuns },
    );
  });

  it('mergeBatch(payload, state) is state.merge(decodeBatch(payload)) (differential)', () => {
    fc.assert(
      fc.property(batchArb, batchArb, (before, batch) => {
        const payload = encodeBatch(batch);
        const fast = new DurableStateBuilder();
        fast.merge(before);
        mergeBatch(payload, fast);
        const oracle = new DurableStateBuilder();
        oracle.merge(before);
        oracle.merge(decodeBatch(payload));
        expect(plain(fast.build())).toEqual(plain(oracle.build()));
      }),
      { numRuns },
    );
  });

  it('what decodes shares no bytes with the payload: changing the payload afterwards changes nothing', () => {
    fc.assert(
      fc.property(batchArb, (batch) => {
        const payload = encodeBatch(batch).slice();
        const decoded = decodeBatch(payload);
        const merged = new DurableStateBuilder();
        mergeBatch(payload, merged);
        payload.fill(0xee);
        expect(plain(decoded)).toEqual(canonical(batch));
        const expected = new DurableStateBuilder();
        expected.merge(decodeBatch(encodeBatch(batch)));
        expect(plain(merged.build())).toEqual(plain(expected.build()));
      }),
      { numRuns },
    );
  });

  it('a frame is the same bytes whether encodeRecord frames the fresh payload in place or a copy, and framing twice leaves the first frame alone', () => {
    fc.assert(
      fc.property(batchArb, fc.constantFrom(RecordType.batch, RecordType.base), (batch, type) => {
        const payload = encodeBatch(batch);
        const inPlace = encodeRecord(type, payload);
        const snapshot = inPlace.slice();
        const copied = encodeRecord(type, payload.slice());
        const again = encodeRecord(type === RecordType.batch ? RecordType.base : RecordType.batch, payload);
        expect(hex(inPlace)).toBe(hex(copied));
        expect(hex(inPlace)).toBe(hex(snapshot));
        expect(again[4]).not.toBe(inPlace[4]);
        const read = readRecord(inPlace, 0);
        expect(read.kind).toBe('record');
        if (read.kind === 'record') expect(hex(read.payload)).toBe(hex(payload));
      }),
      { numRuns },
    );
  });
});
