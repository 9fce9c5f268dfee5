/**
 * The values the store keeps: copies that share nothing with the bytes they came from,
 * small ones in shared slabs; or a larger value's own bytes, when they pin little more.
 */
import { describe, expect, it } from 'vitest';
import { keptValue, slabBytes, slabValueBytesMax } from '../../src/kv/kept-value.js';

describe('keptValue', () => {
  it('copies a small value into a slab it shares with the next ones; changing the source changes no copy', () => {
    const frame = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const a = keptValue(frame.subarray(10, 110));
    const b = keptValue(frame.subarray(200, 300));
    expect(a).toEqual(frame.subarray(10, 110));
    expect(b).toEqual(frame.subarray(200, 300));
    expect(a.buffer).not.toBe(frame.buffer);
    expect(a.buffer.byteLength).toBe(slabBytes);
    frame.fill(0);
    expect(a[0]).toBe(10);
    expect(b[99]).toBe(299 & 0xff);
  });

  it('starts a new slab when the value does not fit, and never overlaps two values', () => {
    const kept = Array.from({ length: 3 * (slabBytes / slabValueBytesMax) + 1 }, (_, i) => keptValue(new Uint8Array(slabValueBytesMax).fill(i & 0xff)));
    for (const [i, v] of kept.entries()) expect(v.every((x) => x === (i & 0xff))).toBe(true);
    expect(new Set(kept.map((v) => v.buffer)).size).toBeGreaterThanOrEqual(3);
  });

  it('gives a larger value a buffer of its own: a view is copied, a whole buffer kept as it is', () => {
    const frame = new Uint8Array(4 * slabValueBytesMax).fill(7);
    const view = frame.subarray(1, 1 + 2 * slabValueBytesMax);
    const copy = keptValue(view);
    expect(copy).toEqual(view);
    expect(copy.buffer).not.toBe(frame.buffer);
    expect(copy.buffer.byteLength).toBe(copy.byteLength);
    const whole = new Uint8Array(slabValueBytesMax + 1);
    expect(keptValue(whole)).toBe(whole);
  });

  it('keeps a larger view as it is when its buffer holds at most an eighth more, and 256 bytes (a large value in its own entry)', () => {
    const n = 16 * slabValueBytesMax;
    const entry = new Uint8Array(n + (n >>> 3) + 256);
    const view = entry.subarray(100, 100 + n);
    expect(keptValue(view)).toBe(view);
    const roomier = new Uint8Array(n + (n >>> 3) + 257).subarray(0, n);
    expect(keptValue(roomier)).not.toBe(roomier);
    expect(keptValue(roomier).buffer.byteLength).toBe(n);
  });

  it('keeps an empty value as an empty value', () => {
    expect(keptValue(new Uint8Array(10).subarray(3, 3)).byteLength).toBe(0);
  });
});
