import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodecError } from '../../src/encoding/codec-error.js';
import { getF64, getU16, getU32, setF64, setU16, setU32 } from '../../src/encoding/little-endian.js';
import { Reader } from '../../src/encoding/reader.js';
import { carve } from '../../src/encoding/slab.js';
import { Writer } from '../../src/encoding/writer.js';

describe('fixed-width numbers are little-endian, as DataView writes them', () => {
  it('u16, u32 and f64 agree with DataView both ways', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.double(), (a, b, c) => {
        const bytes = new Uint8Array(16);
        setU16(bytes, 1, a);
        setU32(bytes, 3, b);
        setF64(bytes, 7, c);
        const view = new DataView(bytes.buffer);
        expect(view.getUint16(1, true)).toBe(a);
        expect(view.getUint32(3, true)).toBe(b);
        expect(view.getFloat64(7, true)).toBe(c);
        view.setUint16(1, a ^ 0xff, true);
        view.setUint32(3, b ^ 0xff, true);
        view.setFloat64(7, -c, true);
        expect(getU16(bytes, 1)).toBe(a ^ 0xff);
        expect(getU32(bytes, 3)).toBe((b ^ 0xff) >>> 0);
        expect(getF64(bytes, 7)).toBe(-c);
      }),
    );
  });
});

describe('a Writer and a Reader agree', () => {
  it('on every kind of value, in any order', () => {
    const item = fc.oneof(
      fc.record({ k: fc.constant('uint' as const), v: fc.maxSafeNat() }),
      fc.record({ k: fc.constant('u16' as const), v: fc.integer({ min: 0, max: 0xffff }) }),
      fc.record({ k: fc.constant('u32' as const), v: fc.integer({ min: 0, max: 0xffffffff }) }),
      fc.record({ k: fc.constant('f64' as const), v: fc.double({ noNaN: true }) }),
      fc.record({ k: fc.constant('string' as const), v: fc.string({ unit: 'grapheme' }) }),
      fc.record({ k: fc.constant('u16String' as const), v: fc.string({ unit: 'grapheme' }) }),
    );
    fc.assert(
      fc.property(fc.array(item), (items) => {
        const w = new Writer(16);
        for (const i of items) {
          if (i.k === 'uint') w.uint(i.v);
          else if (i.k === 'u16') w.u16(i.v);
          else if (i.k === 'u32') w.u32(i.v);
          else if (i.k === 'f64') w.f64(i.v);
          else if (i.k === 'string') w.string(i.v);
          else w.u16String(i.v);
        }
        const r = new Reader(w.copy());
        for (const i of items) {
          if (i.k === 'uint') expect(r.uint('x')).toBe(i.v);
          else if (i.k === 'u16') expect(r.u16('x')).toBe(i.v);
          else if (i.k === 'u32') expect(r.u32('x')).toBe(i.v);
          else if (i.k === 'f64') expect(Object.is(r.f64('x'), i.v)).toBe(true);
          else if (i.k === 'string') expect(r.string('x', Number.MAX_SAFE_INTEGER)).toBe(i.v);
          else expect(r.u16String('x')).toBe(i.v);
        }
        r.end();
      }),
    );
  });

  it('a fixed-width value cut short is a CodecError naming it', () => {
    expect(() => new Reader(new Uint8Array(1)).u16('a port')).toThrow(/a port: frame ends early/);
    expect(() => new Reader(new Uint8Array(3)).u32('a length')).toThrow(CodecError);
    expect(() => new Reader(new Uint8Array(8), 1).f64('a slot')).toThrow(CodecError);
    expect(() => new Reader(Uint8Array.of(5, 0, 0x61)).u16String('a node id')).toThrow(/a node id: 5 bytes, but 1 are left/);
  });

  it('a string too long for a u16 length is refused, not cut', () => {
    expect(() => new Writer().u16String('x'.repeat(0x10000))).toThrow(CodecError);
    expect(() => new Writer().u16String('é'.repeat(0x8000))).toThrow(CodecError);
    const w = new Writer();
    w.u16String('x'.repeat(0xffff));
    expect(w.length).toBe(2 + 0xffff);
  });

  it('skip leaves room for a header written later in place', () => {
    const w = new Writer(16);
    const at = w.skip(4);
    w.string('payload');
    w.setU32(at, w.length - 4);
    const r = new Reader(w.finish());
    expect(r.u32('length')).toBe(8);
    expect(r.string('payload', 100)).toBe('payload');
  });
});

describe('the slab', () => {
  it('carves small pieces that never overlap, and gives a large one its own buffer', () => {
    const pieces = Array.from({ length: 200 }, (_, i) => carve(1 + ((i * 37) % 900)));
    pieces.forEach((p, i) => p.fill(i & 0xff));
    pieces.forEach((p, i) => expect(p.every((b) => b === (i & 0xff))).toBe(true));
    expect(pieces.some((p) => p.buffer.byteLength === 64 * 1024)).toBe(true);
    const large = carve(5000);
    expect(large.byteOffset).toBe(0);
    expect(large.buffer.byteLength).toBe(5000);
  });
});
