import { describe, expect, it } from 'vitest';
import { type Message, type Value, valueBytes } from '../../src/core/index.js';
import { ManualCluster } from '../../src/testing/index.js';

// Bug: accept, chosen and promise messages were bounded in slots only (512 by default).
// A member joining a cluster holding 64 KiB values was pushed chosen messages of 512
// slots, 33.6 MB, over a transport that takes frames of 16 MiB at most: each was
// dropped ("could not be encoded"), again at every retry, and the member never caught
// up (seen in the membership benchmark with no load running). Now each message carries
// at most `messageBytesMax` of values, one value always.

/** The payload bytes of the values `m` carries, and how many it carries. */
function carried(m: Message): { bytes: number; values: number } {
  const values: Value[] =
    m.type === 'accept' || m.type === 'chosen'
      ? [...m.values]
      : m.type === 'promise'
        ? [...m.accepted.map((e) => e.value), ...m.chosen.map((e) => e.value)]
        : [];
  return { bytes: values.reduce((n, v) => n + valueBytes(v), 0), values: values.length };
}

const limits = { batchBytesMax: 1_000, messageBytesMax: 3_000 };

/** Checks every message `c` delivers from now on against the bound; returns the largest seen. */
function watchSizes(c: ManualCluster): { bytes: number; values: number; type: string } {
  const largest = { bytes: 0, values: 0, type: '' };
  const inject = c.inject.bind(c);
  c.inject = (m: Message): void => {
    const { bytes, values } = carried(m);
    if (values > 1) expect(bytes, `${m.type} from ${m.from} to ${m.to} with ${values} values`).toBeLessThanOrEqual(limits.messageBytesMax);
    if (bytes > largest.bytes) Object.assign(largest, { bytes, values, type: m.type });
    inject(m);
  };
  return largest;
}

describe('regression: large values are split by bytes, not only by slots', () => {
  it('a lagging follower and an observer catch up through messages within messageBytesMax', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], observers: ['o'], limits });
    c.elect('a', ['a', 'b']);
    const commands = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(3, '0')}${'x'.repeat(990)}`);
    for (const command of commands) {
      c.propose('a', command);
      c.deliverWithin(['a', 'b']);
    }
    c.take((m) => m.to === 'c' || m.to === 'o');
    expect(c.status('a').commitIndex).toBeGreaterThanOrEqual(20);
    const largest = watchSizes(c);
    for (let round = 0; round < 200 && (c.applied('c').length < commands.length || c.applied('o').length < commands.length); round++) {
      c.tick();
      c.deliver();
    }
    expect(c.applied('c')).toEqual(commands);
    expect(c.applied('o')).toEqual(commands);
    // Messages did fill up to the bound: several values each.
    expect(largest.values).toBeGreaterThan(1);
  });
});
