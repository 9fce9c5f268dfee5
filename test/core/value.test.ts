import { describe, expect, it } from 'vitest';
import { type Configuration, canonical } from '../../src/core/configuration/configuration.js';
import { type Value, batch, noop, valueBytes, valueEquals, valueMayBe } from '../../src/core/value.js';

// A slot's value one function at a time: its size against the byte limits, and the
// equality the replica checks chosen values with (by content, never by identity).

const config: Configuration = { id: 2, voters: ['a', 'b', 'c'], quorum: 'majority', observers: [], addresses: {}, windowSlots: 4 };
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

describe('valueBytes', () => {
  it('is 0 for a no-op, the canonical form for a configuration, the commands summed for a batch', () => {
    expect(valueBytes(noop)).toBe(0);
    expect(valueBytes({ kind: 'config', config })).toBe(canonical(config).length);
    expect(canonical(config).length).toBeGreaterThan(0);
    expect(valueBytes(batch([]))).toBe(0);
    expect(valueBytes(batch([bytes(1, 2, 3), bytes(), bytes(4, 5)]))).toBe(5);
  });
});

describe('valueEquals', () => {
  const equal = (a: Value, b: Value, expected: boolean): void => {
    expect(valueEquals(a, b)).toBe(expected);
    expect(valueEquals(b, a)).toBe(expected);
  };

  it('no-ops equal each other and nothing else', () => {
    equal(noop, { kind: 'noop' }, true);
    equal(noop, batch([]), false);
    equal(noop, { kind: 'config', config }, false);
  });

  it('configurations equal by content', () => {
    equal({ kind: 'config', config }, { kind: 'config', config: { ...config, voters: ['a', 'b', 'c'] } }, true);
    equal({ kind: 'config', config }, { kind: 'config', config: { ...config, id: 3 } }, false);
    equal({ kind: 'config', config }, batch([]), false);
  });

  it('batches equal by their commands, byte for byte and in order', () => {
    const one = batch([bytes(1, 2), bytes(3)]);
    equal(one, one, true);
    equal(one, batch([bytes(1, 2), bytes(3)]), true);
    equal(batch([]), batch([]), true);
    // The same command object twice: equal without a byte compare.
    const shared = bytes(9);
    equal(batch([shared]), batch([shared]), true);
    equal(one, batch([bytes(1, 2)]), false);
    equal(one, batch([bytes(1, 2), bytes(3), bytes()]), false);
    equal(one, batch([bytes(3), bytes(1, 2)]), false);
    equal(one, batch([bytes(1, 2), bytes(4)]), false);
    equal(one, batch([bytes(1, 2), bytes(3, 0)]), false);
    equal(one, batch([bytes(1, 9), bytes(3)]), false);
    equal(one, batch([bytes(2, 2), bytes(3)]), false);
  });
});

describe('valueMayBe (a resent copy of a value one ballot proposed)', () => {
  const big = (fill: number, n = 5_000): Uint8Array => new Uint8Array(n).fill(fill);
  const changed = (b: Uint8Array, at: number): Uint8Array => {
    const c = b.slice();
    c[at] = c[at]! ^ 1;
    return c;
  };

  it('agrees with valueEquals on no-ops, configurations and small commands, every byte compared', () => {
    const small = bytes(...Array.from({ length: 1024 }, (_, i) => i & 0xff));
    expect(valueMayBe(batch([small]), batch([small.slice()]))).toBe(true);
    expect(valueMayBe(batch([small]), batch([changed(small, 512)]))).toBe(false);
    expect(valueMayBe(noop, noop)).toBe(true);
    expect(valueMayBe(noop, batch([small]))).toBe(false);
    expect(valueMayBe(batch([small]), noop)).toBe(false);
    expect(valueMayBe({ kind: 'config', config }, { kind: 'config', config: { ...config, id: 3 } })).toBe(false);
  });

  it('tells apart a different number of commands, a different length, and a difference at either end of a large command', () => {
    const a = big(7);
    expect(valueMayBe(batch([a]), batch([a.slice()]))).toBe(true);
    expect(valueMayBe(batch([a]), batch([a, a]))).toBe(false);
    expect(valueMayBe(batch([a]), batch([big(7, 5_001)]))).toBe(false);
    for (const at of [0, 63, a.byteLength - 64, a.byteLength - 1]) expect(valueMayBe(batch([a]), batch([changed(a, at)]))).toBe(false);
  });

  it('does not read the middle of a large command: the cost of a duplicate stays flat however large the value', () => {
    const a = big(7);
    expect(valueMayBe(batch([a]), batch([changed(a, 2_500)]))).toBe(true);
    // The ends are exactly 64 bytes: the 65th from either end is middle already.
    for (const at of [64, a.byteLength - 65]) expect(valueMayBe(batch([a]), batch([changed(a, at)]))).toBe(true);
  });
});
