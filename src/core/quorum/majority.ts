import type { NodeId } from '../node-id.js';
import { ThresholdQuorum } from './flexible.js';
import type { Quorum } from './quorum.js';
import { checkVoters } from './voters.js';

/**
 * The classic quorum system (Lamport, "Paxos Made Simple"): any `floor(n / 2) + 1` of
 * the `n` voters form a quorum, in both phases. Tolerates `ceil(n / 2) - 1` failed
 * voters; an even `n` tolerates no more failures than `n - 1`.
 *
 * @param voters - The voting members, in a stable order, without duplicates.
 * @throws {@link ConfigError} with field `voters`.
 *
 * @example
 * ```ts
 * const quorum = majority(['a', 'b', 'c']);
 * quorum.describe(); // 'majority(2 of 3)'
 * quorum.phase1((voter) => (voter === 'a' ? true : voter === 'b' ? false : undefined)); // 'pending'
 * quorum.committedSlot((voter) => ({ a: 9, b: 4, c: 2 })[voter] ?? 0); // 4
 * ```
 */
export function majority(voters: readonly NodeId[]): Quorum {
  const ids = checkVoters('majority', voters);
  const size = Math.floor(ids.length / 2) + 1;
  return new ThresholdQuorum(ids, size, size, `majority(${size} of ${ids.length})`, true);
}
