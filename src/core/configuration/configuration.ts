import { assert } from '../assert.js';
import { ConfigError } from '../errors.js';
import type { NodeId } from '../node-id.js';
import { flexible } from '../quorum/flexible.js';
import { joint } from '../quorum/joint.js';
import { majority } from '../quorum/majority.js';
import type { Quorum } from '../quorum/quorum.js';

/** How a set of voters forms quorums: a majority in both phases, or Flexible Paxos sizes. */
export type QuorumRule = 'majority' | { readonly phase1: number; readonly phase2: number };

/** A set of voters and the rule their quorums follow. */
export interface VoterSet {
  readonly voters: readonly NodeId[];
  readonly quorum: QuorumRule;
}

/**
 * Who votes, who observes, and where each member can be reached: the cluster's
 * configuration, chosen through the log like any command. A configuration chosen at
 * slot `i` governs the slots from `i + windowSlots` on (see `docs/protocol.md`,
 * "Membership changes").
 */
export interface Configuration {
  /** Counts the changes: the initial configuration is 0, each change adds one. */
  readonly id: number;
  /** The voters, in a stable order, and how they form quorums. */
  readonly voters: readonly NodeId[];
  readonly quorum: QuorumRule;
  /**
   * Set during the first step of a change whose old and new quorums need not
   * intersect: the voters being left. Until the next configuration governs, every
   * decision needs a quorum of `leaving` and a quorum of `voters` (joint consensus).
   */
  readonly leaving?: VoterSet;
  /** Members that learn every chosen value but never vote. */
  readonly observers: readonly NodeId[];
  /**
   * Each member's address, an opaque string the runtime gives meaning to (the TCP
   * transport reads `host:port`). Members without one are absent.
   */
  readonly addresses: Readonly<Record<NodeId, string>>;
  /**
   * The slots between a configuration being chosen and governing (Lamport's α): a
   * leader never proposes a slot more than this beyond its commit index, so it always
   * knows which configuration governs a slot it proposes. The same in every
   * configuration of a cluster.
   */
  readonly windowSlots: number;
}

/** The default {@link Configuration.windowSlots}: 256 slots. */
export const windowSlotsDefault = 256;

/** The most voters, observers or address bytes a configuration may hold. */
const membersMax = 64;
export const addressBytesMax = 256;

/** The quorum system of `config`: joint while a change is half done. */
export function quorumOf(config: Configuration): Quorum {
  const next = quorumOfSet(config);
  return config.leaving === undefined ? next : joint(quorumOfSet(config.leaving), next);
}

function quorumOfSet(set: VoterSet): Quorum {
  return set.quorum === 'majority' ? majority(set.voters) : flexible(set.voters, set.quorum);
}

/** Every voter of `config`: the new voters, then those only in `leaving`. */
export function votersOf(config: Configuration): readonly NodeId[] {
  if (config.leaving === undefined) return config.voters;
  return [...config.voters, ...config.leaving.voters.filter((v) => !config.voters.includes(v))];
}

/** Whether `id` is a voter or an observer of `config`. */
export function isMember(config: Configuration, id: NodeId): boolean {
  return votersOf(config).includes(id) || config.observers.includes(id);
}

/**
 * Why `config` is not a well-formed configuration, as `[field, why]`, or undefined.
 * Checked where a configuration is built and again where one arrives from the log.
 */
export function configurationProblem(config: Configuration): [string, string] | undefined {
  if (!Number.isSafeInteger(config.id) || config.id < 0) return ['id', `must be an integer >= 0, got ${String(config.id)}`];
  if (!Number.isSafeInteger(config.windowSlots) || config.windowSlots < 1)
    return ['windowSlots', `must be a positive integer, got ${String(config.windowSlots)}`];
  for (const [field, set] of [
    ['voters', config as VoterSet],
    ['leaving', config.leaving],
  ] as const) {
    if (set === undefined) continue;
    const bad = voterSetProblem(set);
    if (bad !== undefined) return [`${field}${bad[0]}`, bad[1]];
  }
  if (!Array.isArray(config.observers) || config.observers.length > membersMax) return ['observers', `must be a list of at most ${membersMax} ids`];
  const voters = new Set(votersOf(config));
  const seen = new Set<NodeId>();
  for (const o of config.observers) {
    if (typeof o !== 'string' || o === '') return ['observers', 'must hold non-empty string ids'];
    if (voters.has(o)) return ['observers', `must not include the voter ${JSON.stringify(o)}`];
    if (seen.has(o)) return ['observers', `lists ${JSON.stringify(o)} twice`];
    seen.add(o);
  }
  if (typeof config.addresses !== 'object' || config.addresses === null) return ['addresses', 'must be an object'];
  for (const [id, address] of Object.entries(config.addresses)) {
    if (!voters.has(id) && !seen.has(id)) return ['addresses', `names ${JSON.stringify(id)}, who is not a member`];
    if (typeof address !== 'string' || address === '' || address.length > addressBytesMax)
      return ['addresses', `of ${JSON.stringify(id)} must be a non-empty string of at most ${addressBytesMax} characters`];
  }
  return undefined;
}

function voterSetProblem(set: VoterSet): [string, string] | undefined {
  if (!Array.isArray(set.voters) || set.voters.length === 0 || set.voters.length > membersMax) return ['', `must list 1 to ${membersMax} voters`];
  const seen = new Set<NodeId>();
  for (const v of set.voters) {
    if (typeof v !== 'string' || v === '') return ['', 'must hold non-empty string ids'];
    if (seen.has(v)) return ['', `lists ${JSON.stringify(v)} twice`];
    seen.add(v);
  }
  const n = set.voters.length;
  if (set.quorum === 'majority') return undefined;
  const q = set.quorum as { phase1?: unknown; phase2?: unknown } | null;
  if (typeof q !== 'object' || q === null) return ['.quorum', "must be 'majority' or { phase1, phase2 }"];
  const { phase1, phase2 } = q;
  if (!Number.isInteger(phase1) || !Number.isInteger(phase2)) return ['.quorum', 'phase sizes must be integers'];
  const [p1, p2] = [phase1 as number, phase2 as number];
  if (p1 < 1 || p2 < 1 || p1 > n || p2 > n) return ['.quorum', `phase sizes must be from 1 to ${n} (the number of voters)`];
  if (p1 + p2 <= n) return ['.quorum', `needs phase1 + phase2 > ${n}, or quorums may not intersect`];
  return undefined;
}

/** Throws {@link ConfigError} (naming `api`) if `config` is malformed; returns it frozen. */
export function checkConfiguration(api: string, config: Configuration): Configuration {
  const bad = configurationProblem(config);
  if (bad !== undefined) throw new ConfigError(api, bad[0], bad[1]);
  return freezeConfiguration(config);
}

function freezeConfiguration(config: Configuration): Configuration {
  const copy: Configuration = {
    id: config.id,
    voters: Object.freeze([...config.voters]),
    quorum: config.quorum === 'majority' ? 'majority' : Object.freeze({ phase1: config.quorum.phase1, phase2: config.quorum.phase2 }),
    ...(config.leaving !== undefined ? { leaving: Object.freeze({ voters: Object.freeze([...config.leaving.voters]), quorum: config.leaving.quorum }) } : {}),
    observers: Object.freeze([...config.observers]),
    addresses: Object.freeze({ ...config.addresses }),
    windowSlots: config.windowSlots,
  };
  return Object.freeze(copy);
}

/** Structural equality of two configurations. */
export function configurationEquals(a: Configuration, b: Configuration): boolean {
  if (a === b) return true;
  return canonical(a) === canonical(b);
}

/** One string per configuration, the same for equal ones (keys in a fixed order). */
export function canonical(config: Configuration): string {
  const addresses = Object.keys(config.addresses)
    .sort()
    .map((id) => [id, config.addresses[id]]);
  return JSON.stringify([config.id, config.voters, config.quorum, config.leaving ?? null, config.observers, addresses, config.windowSlots]);
}

/**
 * Whether every phase-1 quorum of `from` meets every phase-2 quorum of `to`: then a
 * leader that still believes `from` governs cannot be elected or confirm a read
 * without some voter of `to`'s quorums hearing of it (see "Membership changes" in
 * `docs/protocol.md`). Exact for plain voter sets; for joint ones it asks that one
 * side meets, which is sufficient.
 */
export function quorumsMeet(from: Configuration, to: Configuration): boolean {
  const fromSets = from.leaving === undefined ? [from as VoterSet] : [from, from.leaving];
  const toSets = to.leaving === undefined ? [to as VoterSet] : [to, to.leaving];
  // A joint phase-1 quorum holds a phase-1 quorum of each side; a joint phase-2 quorum
  // holds a phase-2 quorum of each side: one meeting pair is enough.
  for (const a of fromSets) for (const b of toSets) if (setsMeet(a, b)) return true;
  return false;
}

/** Whether every phase-1 quorum of `a` meets every phase-2 quorum of `b`. */
function setsMeet(a: VoterSet, b: VoterSet): boolean {
  const q1 = phaseSize(a, 1);
  const q2 = phaseSize(b, 2);
  const inB = new Set(b.voters);
  const shared = a.voters.filter((v) => inB.has(v)).length;
  const onlyA = a.voters.length - shared;
  const onlyB = b.voters.length - shared;
  // Disjoint quorums exist iff both can be drawn with the shared voters split between them.
  const needShared = Math.max(0, q1 - onlyA) + Math.max(0, q2 - onlyB);
  return needShared > shared;
}

function phaseSize(set: VoterSet, phase: 1 | 2): number {
  if (set.quorum === 'majority') return Math.floor(set.voters.length / 2) + 1;
  const size = phase === 1 ? set.quorum.phase1 : set.quorum.phase2;
  assert(size >= 1 && size <= set.voters.length, () => `phase-${phase} size ${size} outside 1..${set.voters.length}`);
  return size;
}

/** The byte form of a configuration that every codec and storage writes: canonical JSON. */
export function encodeConfiguration(config: Configuration): Uint8Array {
  return new TextEncoder().encode(canonical(config));
}

/**
 * Reads {@link encodeConfiguration}'s bytes back, validated field by field.
 * @throws {@link ConfigError} (api `decodeConfiguration`) naming what is wrong.
 */
export function decodeConfiguration(bytes: Uint8Array): Configuration {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new ConfigError('decodeConfiguration', 'bytes', 'are not a configuration (not UTF-8 JSON)');
  }
  if (!Array.isArray(parsed) || parsed.length !== 7) throw new ConfigError('decodeConfiguration', 'bytes', 'are not a configuration (expected 7 fields)');
  const [id, voters, quorum, leaving, observers, addresses, windowSlots] = parsed as unknown[];
  if (!Array.isArray(addresses) || !addresses.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string')) {
    throw new ConfigError('decodeConfiguration', 'addresses', 'must be a list of [id, address] pairs');
  }
  const config = {
    id,
    voters,
    quorum,
    ...(leaving !== null ? { leaving } : {}),
    observers,
    addresses: Object.fromEntries(addresses as [string, string][]),
    windowSlots,
  } as Configuration;
  const checked = checkConfiguration('decodeConfiguration', config);
  // One configuration, one byte form: anything else (spaces, reordered fields) is refused.
  const canonicalBytes = encodeConfiguration(checked);
  if (canonicalBytes.byteLength !== bytes.byteLength || canonicalBytes.some((b, i) => b !== bytes[i])) {
    throw new ConfigError('decodeConfiguration', 'bytes', 'are not in the canonical form');
  }
  return checked;
}
