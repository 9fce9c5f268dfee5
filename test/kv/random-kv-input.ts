/**
 * One operation of the randomized KV workloads whose histories are checked for
 * linearizability: gets, blind puts, compare-and-sets (mostly with the version the
 * client last saw, sometimes with a guess) and deletes (some conditional).
 */
import type { KvInput, Prng } from '../../src/testing/index.js';

/** A random operation on `key`, writing `value`; `lastSeen` is the key's version as this client last saw it. */
export function randomKvInput(random: Prng, lastSeen: number | undefined, value: string): KvInput {
  const roll = random.next();
  if (roll < 0.35) return { op: 'get' };
  if (roll < 0.6) return { op: 'put', value };
  if (roll < 0.85) return { op: 'put', value, expectedVersion: random.chance(0.7) ? (lastSeen ?? 0) : random.int(4) };
  return random.chance(0.5) ? { op: 'delete' } : { op: 'delete', expectedVersion: 1 + random.int(3) };
}
