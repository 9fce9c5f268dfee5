/**
 * The steps of a range split, each safe to repeat, so that any member may run them, and
 * two at once: record the intent in the meta group; freeze the keys from the point in
 * the old range (one slot of its log), once the new group has a leader; copy them, through the new group's log, into the
 * new range; switch the map and drop the intent in one meta transaction; release the
 * frozen keys in the old range. A freeze the old range refuses abandons the split.
 */
import type { NodeId } from '../../core/index.js';
import { KvRequestError } from '../errors.js';
import type { KvNode } from '../kv-node.js';
import { kvLimits } from '../kv-limits.js';
import type { KeyBounds } from '../key-bounds.js';
import type { MvccStore } from '../mvcc-store.js';
import type { KeyValue } from '../kv-types.js';
import { RangeMap, type ShardRange } from './range-map.js';
import { type SplitIntent, decodeSplitIntent, encodeSplitIntent } from './split-intent.js';
import { closeLedger, openLedger } from './group-births.js';

/** The meta group's key holding the encoded {@link RangeMap}. */
export const rangeMapKey = 'range-map';
/** The meta group's key holding the encoded {@link SplitIntent}, while a split is under way. */
const splitIntentKey = 'split-intent';
/** The meta group's key holding the next group id a split may take: ids are never reused. */
const nextGroupKey = 'next-group';

/** Keys per chunk of the copy, at most; a chunk is cut sooner by its bytes. */
const chunkKeysMax = 1_000;
/** A chunk's keys and values, at most, in bytes: a chunk must fit one command. */
const chunkBytesMax = kvLimits.valueBytesMax;
/** What a record adds to a chunk besides its key and value (versions, lengths). */
const recordOverheadBytes = 64;

/** The meta group's state, read at one linearizable point. */
export interface MetaState {
  readonly map: RangeMap;
  /** The version of the map's key. */
  readonly mapVersion: number;
  /** The split under way, and its bytes as stored. */
  readonly intent?: { readonly intent: SplitIntent; readonly bytes: Uint8Array };
  readonly nextGroup: number;
  readonly nextGroupVersion: number;
}

/** What a member running a split provides: its meta node, its nodes of the two groups, and its map. */
export interface SplitMember {
  readonly meta: KvNode;
  /** Every member of the cluster (each hosts every group). */
  readonly members: readonly NodeId[];
  /** This member's node of range `group`. */
  node(group: number): KvNode;
  /** Hosts the new group of a split here (if not yet), made for `range`; its node. */
  host(range: ShardRange): Promise<KvNode>;
  /** Routes by `map` from now on, if it is newer than the member's. */
  adopt(map: RangeMap): void;
}

/** How a split ended. */
export type SplitOutcome = { readonly result: 'split'; readonly map: RangeMap } | { readonly result: 'abandoned'; readonly reason: string };

/** Reads the meta group's map, intent and next group id at one linearizable point; undefined before the map is written. */
export async function readMetaState(meta: KvNode): Promise<MetaState | undefined> {
  // Only the map's and the split's keys (the ledgers of first starts sort before them).
  const { kvs } = await meta.range({ start: nextGroupKey, end: `${splitIntentKey}\u0000` });
  return metaStateOf((key) => kvs.find((kv) => kv.key === key));
}

/** The meta group's state as this member's replica holds it (no read point: possibly stale, never torn). */
export function localMetaState(meta: KvNode): MetaState | undefined {
  return metaStateOf((key) => meta.machine.view.latest(key) ?? undefined);
}

function metaStateOf(find: (key: string) => { readonly value: Uint8Array | null; readonly version: number } | undefined): MetaState | undefined {
  const mapKv = find(rangeMapKey);
  if (mapKv?.value == null) return undefined;
  const map = RangeMap.decode(mapKv.value);
  const intentKv = find(splitIntentKey);
  const nextKv = find(nextGroupKey);
  const highest = Math.max(...map.ranges.map((r) => r.group));
  const stored = nextKv?.value == null ? 0 : Number(new TextDecoder().decode(nextKv.value));
  return {
    map,
    mapVersion: mapKv.version,
    ...(intentKv?.value == null ? {} : { intent: { intent: decodeSplitIntent(intentKv.value), bytes: intentKv.value } }),
    nextGroup: Math.max(highest + 1, Number.isSafeInteger(stored) ? stored : 0),
    nextGroupVersion: nextKv?.version ?? 0,
  };
}

/** The range the new group of `intent` is made for: from the point to where the old range ends, awaiting its keys. */
export function rangeOfSplit(map: RangeMap, intent: SplitIntent): ShardRange {
  return map.split(intent.at, intent.group).rangeOfGroup(intent.group)!;
}

/**
 * Records a split of the range holding `at` in the meta group, if no split is under way
 * and the map is still the one `state` read: the intent (and its bytes as stored), or
 * undefined if the meta group changed meanwhile (read again).
 *
 * @throws {@link KvRequestError} if `at` is not a valid key strictly inside a range.
 */
export async function beginSplit(meta: KvNode, state: MetaState, at: string): Promise<MetaState['intent']> {
  const group = state.nextGroup;
  // Checks the point: a valid key, strictly inside a range.
  state.map.split(at, group);
  const intent: SplitIntent = { at, from: state.map.rangeOf(at).group, group, mapVersion: state.mapVersion };
  const bytes = encodeSplitIntent(intent);
  const { succeeded } = await meta.txn({
    compare: [
      { key: rangeMapKey, target: 'version', op: '==', value: state.mapVersion },
      { key: splitIntentKey, target: 'version', op: '==', value: 0 },
      { key: nextGroupKey, target: 'version', op: '==', value: state.nextGroupVersion },
    ],
    success: [
      { op: 'put', key: splitIntentKey, value: bytes },
      { op: 'put', key: nextGroupKey, value: new TextEncoder().encode(String(group + 1)) },
      openLedger(group),
    ],
  });
  return succeeded ? { intent, bytes } : undefined;
}

/**
 * Runs the split `state.intent` records to its end: the keys from its point served by
 * its new group, under the map's next generation; or the split abandoned, if the old
 * range refuses the freeze (a session owns a key past the point, or the point falls
 * among a sequential prefix's keys). Every step may be run again, by this member or
 * another, with the same result.
 */
export async function finishSplit(member: SplitMember, state: MetaState & { readonly intent: NonNullable<MetaState['intent']> }): Promise<SplitOutcome> {
  const { intent, bytes } = state.intent;
  const from = member.node(intent.from);
  const to = await member.host(rangeOfSplit(state.map, intent));
  // Nothing is frozen until the new group can take the keys: it has a leader (elected
  // by the members that put their first start in it on record, see group-births.ts).
  // Without a majority of them, this waits, and the keys stay writable where they are.
  await to.node.read();
  const frozen = await from.node.propose({ type: 'range-freeze', at: intent.at });
  if (frozen.type !== 'range-frozen') {
    const reason = frozen.type === 'invalid' ? frozen.reason : `range-freeze answered ${frozen.type}`;
    // Refused at the old range's log: nothing moved; the new group is forgotten.
    const { succeeded } = await member.meta.txn({
      compare: [{ key: splitIntentKey, target: 'value', op: '==', value: bytes }],
      success: [{ op: 'delete', key: splitIntentKey }, ...closeLedger(intent.group, member.members)],
    });
    return succeeded ? { result: 'abandoned', reason } : settled(member, intent);
  }
  await copyFrozenKeys(from, to, intent.at, frozen.revision);
  const next = state.map.split(intent.at, intent.group, frozen.revision);
  const { succeeded } = await member.meta.txn({
    compare: [
      { key: rangeMapKey, target: 'version', op: '==', value: intent.mapVersion },
      { key: splitIntentKey, target: 'value', op: '==', value: bytes },
    ],
    success: [
      { op: 'put', key: rangeMapKey, value: next.encode() },
      { op: 'delete', key: splitIntentKey },
    ],
  });
  if (!succeeded) return settled(member, intent);
  member.adopt(next);
  await releaseFrozenKeys(from, intent.at);
  return { result: 'split', map: next };
}

/** Forgets the keys `from` froze at `at`, once the map no longer routes them there; a repeat forgets nothing. */
export async function releaseFrozenKeys(from: KvNode, at: string): Promise<void> {
  const released = await from.node.propose({ type: 'range-release', at });
  if (released.type !== 'range-released' && released.type !== 'invalid') throw new KvRequestError('splitRange', `range-release answered ${released.type}`);
}

/**
 * Copies the keys `from` froze at `at` (as of `revision`) into `to`, chunk by chunk
 * through `to`'s log, from where its seeding is: another copy of the same split may run
 * at once, and whichever enters a chunk first moves the seeding on.
 */
async function copyFrozenKeys(from: KvNode, to: KvNode, at: string, revision: number): Promise<void> {
  // The freeze is chosen; reading after a barrier sees it applied here.
  await from.node.read();
  let after = '';
  for (;;) {
    const frozen = from.machine.frozen;
    if (frozen === undefined || frozen.start !== at) {
      // Released already: another copy finished this split, and the map moved on. Any
      // other way, the keys are not where the copy needs them, and it must not go on.
      await to.node.read();
      if (!to.machine.awaitingSeed) return;
      throw new KvRequestError('splitRange', `the range no longer holds the keys frozen from ${JSON.stringify(at)}, and the new range awaits them`);
    }
    const chunk = chunkOf(from.machine.frozenChunk(after, chunkKeysMax));
    const seeded = await to.node.propose({ type: 'range-seed', revision, after, ...chunk });
    if (seeded.type === 'range-seeded') {
      if (seeded.done) return;
      after = seeded.cursor;
      continue;
    }
    // The seeding ended before this chunk (another copy ended it): a barrier shows it here.
    await to.node.read();
    if (!to.machine.awaitingSeed) return;
    throw new KvRequestError('splitRange', `range-seed answered ${seeded.type === 'invalid' ? seeded.reason : seeded.type}`);
  }
}

/** A chunk cut to fit one command: the records up to `chunkBytesMax` (at least one), and not the last if cut. */
function chunkOf(chunk: ReturnType<KvNode['machine']['frozenChunk']>): { records: KeyValue[]; last: boolean; sequences: [string, number][] } {
  let bytes = 0;
  let n = 0;
  for (const record of chunk.records) {
    bytes += record.key.length * 3 + record.value.byteLength + recordOverheadBytes;
    if (n > 0 && bytes > chunkBytesMax) break;
    n++;
  }
  if (n === chunk.records.length) return { records: chunk.records, last: chunk.last, sequences: chunk.sequences };
  return { records: chunk.records.slice(0, n), last: false, sequences: [] };
}

/**
 * Where to split a range that grew too large: the first key at which the live values
 * before it reach half of the range's, so each side holds about half; undefined if no
 * key strictly inside the range does (one key, or nothing but its first).
 */
export function splitPoint(store: MvccStore, range: KeyBounds): string | undefined {
  let total = 0;
  store.keysFrom(range.start, range.end, (key) => {
    total += store.latest(key)?.value?.byteLength ?? 0;
    return true;
  });
  let before = 0;
  let point: string | undefined;
  store.keysFrom(range.start, range.end, (key) => {
    if (before * 2 >= total && key > range.start) {
      point = key;
      return false;
    }
    before += store.latest(key)?.value?.byteLength ?? 0;
    return true;
  });
  return point;
}

/** After a meta transaction of `intent` found the meta group changed: how the split ended, by another member's hand. */
async function settled(member: SplitMember, intent: SplitIntent): Promise<SplitOutcome> {
  const state = await readMetaState(member.meta);
  if (state !== undefined && state.map.rangeOfGroup(intent.group) !== undefined) {
    member.adopt(state.map);
    return { result: 'split', map: state.map };
  }
  return { result: 'abandoned', reason: 'another member abandoned this split' };
}
