import { describe, expect, it } from 'vitest';
import { type Configuration, canonical } from '../../src/core/configuration/configuration.js';
import { type Value, batch, noop, valueBytes, valueEquals } from '../../src/core/value.js';

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
