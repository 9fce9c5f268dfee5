/**
 * A split of a range under way, as the meta group keeps it until the map's next
 * generation replaces it: any member that finds it finishes it (or abandons it), so a
 * split outlives the member that began it.
 */
import { CodecError } from '../../encoding/codec-error.js';
import { Reader } from '../../encoding/reader.js';
import { Writer } from '../../encoding/writer.js';
import { isGroupId } from '../../runtime/index.js';
import { readString, writeString } from '../kv-codec.js';
import { kvLimits } from '../kv-limits.js';
import { metaGroup } from './range-map.js';

/** What a split does: cut group `from`'s range at `at`, the keys from there moving to the new group `group`. */
export interface SplitIntent {
  readonly at: string;
  /** The group whose range is cut. */
  readonly from: number;
  /** The group made for the keys from `at` to where `from`'s range ended. */
  readonly group: number;
  /** The version of the map in the meta group when the split began: only that map is replaced. */
  readonly mapVersion: number;
}

const formatVersion = 1;

/** The intent as bytes, for the meta group. */
export function encodeSplitIntent(intent: SplitIntent): Uint8Array {
  const w = new Writer(32);
  w.u8(formatVersion);
  writeString(w, 'split point', intent.at, kvLimits.keyBytesMax);
  w.uint(intent.from);
  w.uint(intent.group);
  w.uint(intent.mapVersion);
  return w.copy();
}

/** @throws {@link CodecError} for bytes that are not an intent of a format this build reads. */
export function decodeSplitIntent(bytes: Uint8Array): SplitIntent {
  const r = new Reader(bytes);
  const version = r.u8('split intent format version');
  if (version !== formatVersion) throw new CodecError(`split intent format version ${version}; this build reads ${formatVersion}`);
  const at = readString(r, 'split point', kvLimits.keyBytesMax);
  const from = r.uint('split source group');
  const group = r.uint('split new group');
  const mapVersion = r.uint('split map version');
  r.end();
  for (const [what, id] of [
    ['source', from],
    ['new', group],
  ] as const)
    if (!isGroupId(id) || id === metaGroup) throw new CodecError(`split intent: the ${what} group ${id} is not a range's group id`);
  if (from === group) throw new CodecError(`split intent: group ${group} would split into itself`);
  return { at, from, group, mapVersion };
}
