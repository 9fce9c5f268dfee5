/**
 * Naive, definition-level models of the quorum systems for the property tests: a quorum
 * system is a predicate on sets of voters, a vote is decided by trying every way the
 * silent voters could still answer, and the committed slot is found by trying every
 * candidate. Slow on purpose; nothing here shares code with src/core/quorum.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import type { NodeId } from '../../../src/core/node-id.js';
import type { Quorum, VoteResult } from '../../../src/core/quorum/quorum.js';

export type Phase = 1 | 2;

/** A quorum system by definition: its voters and which sets are quorums in each phase. */
export interface QuorumSpec {
  readonly voters: readonly NodeId[];
  isQuorum(phase: Phase, members: ReadonlySet<NodeId>): boolean;
}

const present = (voters: readonly NodeId[], members: ReadonlySet<NodeId>) => voters.filter((v) => members.has(v)).length;

/** More than half of the voters (Paxos Made Simple), counted without floor(). */
export function majoritySpec(voters: readonly NodeId[]): QuorumSpec {
  return { voters, isQuorum: (_, members) => 2 * present(voters, members) > voters.length };
}

/** At least `phase1` / `phase2` voters (Flexible Paxos). */
export function flexibleSpec(voters: readonly NodeId[], phase1: number, phase2: number): QuorumSpec {
  return { voters, isQuorum: (phase, members) => present(voters, members) >= (phase === 1 ? phase1 : phase2) };
}

/** A quorum of both configurations. */
export function jointSpec(old: QuorumSpec, next: QuorumSpec): QuorumSpec {
  const voters = [...new Set([...old.voters, ...next.voters])];
  return { voters, isQuorum: (phase, members) => old.isQuorum(phase, members) && next.isQuorum(phase, members) };
}

/** Won if every completion of the silent voters' answers wins, lost if none does. */
function voteOracle(spec: QuorumSpec, phase: Phase, vote: (v: NodeId) => boolean | undefined): VoteResult {
  const yes = spec.voters.filter((v) => vote(v) === true);
  const silent = spec.voters.filter((v) => vote(v) === undefined);
  let wins = 0;
  const completions = 2 ** silent.length;
  for (let mask = 0; mask < completions; mask++) {
    const members = new Set([...yes, ...silent.filter((_, i) => (mask >> i) & 1)]);
    if (spec.isQuorum(phase, members)) wins++;
  }
  return wins === completions ? 'won' : wins === 0 ? 'lost' : 'pending';
}

/** The largest s, among 0 and the acknowledged slots, that a phase-2 quorum acknowledged. */
export function committedOracle(spec: QuorumSpec, acknowledged: (v: NodeId) => number): number {
  const candidates = [0, ...spec.voters.map(acknowledged)];
  const reached = candidates.filter((s) => spec.isQuorum(2, new Set(spec.voters.filter((v) => acknowledged(v) >= s))));
  return Math.max(...reached);
}

/** Every set of `quorum`'s voters that wins `phase` when its members say yes and the rest no. */
export function winningSets(quorum: Quorum, phase: Phase): ReadonlySet<NodeId>[] {
  const { voters } = quorum;
  const sets: ReadonlySet<NodeId>[] = [];
  for (let mask = 0; mask < 2 ** voters.length; mask++) {
    const members = new Set(voters.filter((_, i) => (mask >> i) & 1));
    const result = (phase === 1 ? quorum.phase1 : quorum.phase2).call(quorum, (v) => members.has(v));
    if (result === 'won') sets.push(members);
  }
  return sets;
}

/** Whether every set in `a` shares a member with every set in `b`. */
export function allMeet(a: readonly ReadonlySet<NodeId>[], b: readonly ReadonlySet<NodeId>[]): boolean {
  return a.every((x) => b.every((y) => [...x].some((v) => y.has(v))));
}

/** Node ids the arbitraries draw from; lookups answer for all of them, voters or not. */
export const pool: readonly NodeId[] = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];

/** A voter list: 1 to `max` distinct ids from {@link pool}, in any order. */
export const votersArb = (max: number) => fc.shuffledSubarray([...pool], { minLength: 1, maxLength: max });

/** An answer for every id in {@link pool}, so that lookups also answer for non-voters. */
export const answersArb = fc
  .array(fc.constantFrom(true, false, undefined), { minLength: pool.length, maxLength: pool.length })
  .map((answers) => new Map(pool.map((id, i) => [id, answers[i]])));

/** An acknowledged slot for every id in {@link pool}; small, so ties are common. */
export const acknowledgedArb = fc
  .array(fc.nat({ max: 12 }), { minLength: pool.length, maxLength: pool.length })
  .map((slots) => new Map(pool.map((id, i) => [id, slots[i] ?? 0])));

/** A lookup over `answers` that records whom it was asked about. */
export function recording<T>(answers: ReadonlyMap<NodeId, T>): { lookup: (v: NodeId) => T; asked: NodeId[] } {
  const asked: NodeId[] = [];
  return { asked, lookup: (v) => (asked.push(v), answers.get(v) as T) };
}

/**
 * Checks both phases' vote results against the brute-force oracle, and that exactly the
 * spec's voters are asked.
 */
export function expectVotesMatchOracle(quorum: Quorum, spec: QuorumSpec, answers: ReadonlyMap<NodeId, boolean | undefined>): void {
  for (const phase of [1, 2] as const) {
    const { lookup, asked } = recording(answers);
    const result = phase === 1 ? quorum.phase1(lookup) : quorum.phase2(lookup);
    expect(result).toBe(voteOracle(spec, phase, (v) => answers.get(v)));
    expect(new Set(asked)).toEqual(new Set(spec.voters));
  }
}
