import { describe, expect, it } from 'vitest';
import { InvariantError, noop } from '../../../src/core/index.js';
import { MalformedPayloadError, RecordType, decodeBatch, encodeBatch, encodeRecord, readRecord, recordHeaderBytes } from '../../../src/storage/file/record.js';
import { accepted, ballot, chosen, command, write } from './helpers.js';

describe('record: batch payload', () => {
  it('round-trips every field', () => {
    const batch = write({
      promised: ballot(7, 'nödé'),
      accepted: [
        accepted(1, 3),
        { slot: 2, ballot: ballot(3), value: noop },
        { slot: 9, ballot: ballot(4), value: { kind: 'batch', commands: [command(''), command('xy')] } },
      ],
      chosen: [chosen(5)],
      commitIndex: 4,
    });
    expect(decodeBatch(encodeBatch(batch))).toEqual(batch);
  });

  it('round-trips a batch without the optional fields', () => {
    const batch = write({ accepted: [accepted(3, 1)] });
    const decoded = decodeBatch(encodeBatch(batch));
    expect(decoded).toEqual(batch);
    expect('promised' in decoded).toBe(false);
    expect('commitIndex' in decoded).toBe(false);
  });

  it('rejects every truncation of a payload with MalformedPayloadError', () => {
    const payload = encodeBatch(write({ promised: ballot(2), accepted: [accepted(1, 2), accepted(2, 2)], chosen: [chosen(1)], commitIndex: 1 }));
    for (let length = 0; length < payload.byteLength; length++) {
      expect(() => decodeBatch(payload.subarray(0, length)), `length ${length}`).toThrow(MalformedPayloadError);
    }
  });

  it('checks a count against the bytes left before allocating', () => {
    const payload = encodeBatch(write({}));
    // flags u8, then the accepted count u32: claim 2^32 - 1 entries.
    const bad = payload.slice();
    new DataView(bad.buffer).setUint32(1, 0xffffffff, true);
    expect(() => decodeBatch(bad)).toThrow(/accepted count 4294967295 needs at least/);
  });

  it('rejects trailing bytes, unknown flags, and a slot that is not a positive integer', () => {
    const payload = encodeBatch(write({ chosen: [chosen(1)] }));
    expect(() => decodeBatch(new Uint8Array([...payload, 0]))).toThrow(/1 bytes after the batch/);
    const flags = payload.slice();
    flags[0] = 0x80;
    expect(() => decodeBatch(flags)).toThrow(/unknown flags/);
    const slot = payload.slice();
    new DataView(slot.buffer).setFloat64(1 + 4 + 4, 0.5, true);
    expect(() => decodeBatch(slot)).toThrow(/chosen slot 0.5/);
  });

  it('refuses to encode what would not decode', () => {
    expect(() => encodeBatch(write({ accepted: [accepted(0, 1)] }))).toThrow(InvariantError);
    expect(() => encodeBatch(write({ commitIndex: -1 }))).toThrow(InvariantError);
    expect(() => encodeBatch(write({ promised: ballot(1.5) }))).toThrow(InvariantError);
  });
});

describe('record: framing', () => {
  it('reads back a framed record and detects a flipped bit and a cut frame', () => {
    const payload = encodeBatch(write({ commitIndex: 3 }));
    const record = encodeRecord(RecordType.batch, payload);
    expect(record.byteLength).toBe(recordHeaderBytes + payload.byteLength);
    const read = readRecord(record, 0);
    expect(read.kind).toBe('record');
    if (read.kind === 'record') {
      expect(read.type).toBe(RecordType.batch);
      expect(read.payload).toEqual(payload);
      expect(read.end).toBe(record.byteLength);
    }
    const flipped = record.slice();
    flipped[recordHeaderBytes] = flipped[recordHeaderBytes]! ^ 1;
    expect(readRecord(flipped, 0).kind).toBe('bad-crc');
    // The CRC covers the type byte too.
    const retyped = record.slice();
    retyped[4] = RecordType.base;
    expect(readRecord(retyped, 0).kind).toBe('bad-crc');
    for (let length = 0; length < record.byteLength; length++) expect(readRecord(record.subarray(0, length), 0).kind).toBe('truncated');
  });
});
