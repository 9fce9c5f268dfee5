import { assert } from '../assert.js';
import { ConfigError } from '../errors.js';
import type { NodeId } from '../node-id.js';
import type { AcknowledgedLookup, Quorum, VoteLookup, VoteResult } from './quorum.js';
import { checkVoters } from './voters.js';

/**
 * A Flexible Paxos quorum system (Howard, Malkhi, Spiegelman, "Flexible Paxos:
 * Quorum intersection revisited", 2016): any `phase1` voters form a phase-1 quorum and
 * any `phase2` voters a phase-2 quorum. Safety only needs every phase-1 quorum to meet
 * every phase-2 quorum, which holds exactly when `phase1 + phase2 > n`; a small
 * `phase2` makes the steady state (accepts) cheaper at the price of a larger `phase1`
 * (elections).
 *
 * @param voters - The voting members, in a stable order, without duplicates.
 * @param sizes - `phase1`: the size of a phase-1 (prepare/promise) quorum;
 *   `phase2`: the size of a phase-2 (accept/accepted) quorum. Integers from 1 to the
 *   number of voters, with `phase1 + phase2` greater than the number of voters.
 * @throws {@link ConfigError} with field `voters`, `sizes`, `sizes.phase1` or
 *   `sizes.phase2`.
 *
 * @example
 * ```ts
 * // Five voters: elections need 4 promises, each slot is chosen by 2 accepts.
 * const quorum = flexible(['a', 'b', 'c', 'd', 'e'], { phase1: 4, phase2: 2 });
 * quorum.phase2((voter) => (voter === 'a' || voter === 'b' ? true : undefined)); // 'won'
 * quorum.committedSlot((voter) => ({ a: 7, b: 5 })[voter] ?? 0); // 5
 * ```
 */
export function flexible(voters: readonly NodeId[], sizes: { phase1: number; phase2: number }): Quorum {
  const ids = checkVoters('flexible', voters);
  const n = ids.length;
  if (typeof sizes !== 'object' || sizes === null) {
    throw new ConfigError('flexible', 'sizes', 'must be an object { phase1, phase2 }');
  }
  const { phase1, phase2 } = sizes;
  for (const [field, size] of [
    ['sizes.phase1', phase1],
    ['sizes.phase2', phase2],
  ] as const) {
    if (!Number.isInteger(size) || size < 1 || size > n) {
      throw new ConfigError('flexible', field, `must be an integer from 1 to ${n} (the number of voters); got ${size}`);
    }
  }
  if (phase1 + phase2 <= n) {
    throw new ConfigError(
      'flexible',
      'sizes',
      `phase1 + phase2 must exceed ${n} (the number of voters) so that every phase-1 quorum meets every phase-2 quorum; got ${phase1} + ${phase2}`,
    );
  }
  return new ThresholdQuorum(ids, phase1, phase2, `flexible(phase1 ${phase1}, phase2 ${phase2} of ${n})`, false);
}

/**
 * A quorum system where any `phase1` voters form a phase-1 quorum and any `phase2`
 * voters a phase-2 quorum: {@link flexible}, and {@link majority} as its special case.
 * Takes validated, frozen voters.
 * @internal
 */
export class ThresholdQuorum implements Quorum {
  readonly voters: readonly NodeId[];
  readonly #members: ReadonlySet<NodeId>;
  readonly #phase1: number;
  readonly #phase2: number;
  readonly #description: string;
  /** Scratch space for {@link ThresholdQuorum.committedSlot}: one acknowledged slot per voter. */
  readonly #acknowledged: number[];

  /** The rule as a configuration records it: `'majority'`, or the two sizes. */
  readonly rule: 'majority' | { readonly phase1: number; readonly phase2: number };

  constructor(voters: readonly NodeId[], phase1: number, phase2: number, description: string, isMajority: boolean) {
    const n = voters.length;
    assert(Number.isInteger(phase1) && phase1 >= 1 && phase1 <= n, `${description}: phase-1 size ${phase1} outside 1..${n}`);
    assert(Number.isInteger(phase2) && phase2 >= 1 && phase2 <= n, `${description}: phase-2 size ${phase2} outside 1..${n}`);
    assert(phase1 + phase2 > n, `${description}: quorums ${phase1} + ${phase2} need not intersect among ${n} voters`);
    this.voters = voters;
    this.#members = new Set(voters);
    assert(this.#members.size === n, `${description}: ${n - this.#members.size} duplicate voters`);
    this.#phase1 = phase1;
    this.#phase2 = phase2;
    this.#description = description;
    this.rule = isMajority ? 'majority' : Object.freeze({ phase1, phase2 });
    this.#acknowledged = new Array<number>(n).fill(0);
  }

  isVoter(id: NodeId): boolean {
    return this.#members.has(id);
  }

  phase1(vote: VoteLookup): VoteResult {
    return tally(this.voters, vote, this.#phase1);
  }

  phase2(vote: VoteLookup): VoteResult {
    return tally(this.voters, vote, this.#phase2);
  }

  /** The `phase2`-th largest acknowledged slot. Allocates nothing: it runs on every accepted. */
  committedSlot(acknowledged: AcknowledgedLookup): number {
    const slots = this.#acknowledged;
    // Insertion sort, largest first, into the scratch array: n is a cluster's voter count.
    for (let i = 0; i < slots.length; i++) {
      const voter = this.voters[i]!;
      const slot = acknowledged(voter);
      // The message is built only on failure: no allocation on the hot path.
      if (!Number.isSafeInteger(slot) || slot < 0) assert(false, `committedSlot: voter ${voter} acknowledged slot ${String(slot)}`);
      let j = i;
      for (; j > 0 && slots[j - 1]! < slot; j--) slots[j] = slots[j - 1]!;
      slots[j] = slot;
    }
    return slots[this.#phase2 - 1]!;
  }

  describe(): string {
    return this.#description;
  }
}

/** Counts the voters' answers: `won` at `size` yeses, `lost` once `size` yeses are out of reach. */
function tally(voters: readonly NodeId[], vote: VoteLookup, size: number): VoteResult {
  let yes = 0;
  let no = 0;
  for (const voter of voters) {
    const answer = vote(voter);
    if (answer === true) yes++;
    else if (answer === false) no++;
  }
  if (yes >= size) return 'won';
  return no > voters.length - size ? 'lost' : 'pending';
}
