import type { NodeId } from '../core/index.js';
import { getF64, getU16, setF64, setU16 } from '../encoding/little-endian.js';
import { carve } from '../encoding/slab.js';

/**
 * How the runtime wraps each command before it enters the log: who sent it (client id
 * and sequence number, for exactly-once), which requests that client no longer waits
 * for, the leader's timestamp, when the request was made, the node that first proposed
 * it, then the user's bytes.
 *
 * Layout (little-endian): version u8 · clientId length u16 · origin length u8 · seq f64 ·
 * ackedBelow f64 · timestamp f64 · createdAt f64 · clientId · origin · payload: 36
 * bytes plus the two ids. The timestamp sits at a fixed offset so a leader stamps a
 * forwarded command without decoding it all.
 * @internal
 */
export interface Envelope {
  readonly clientId: string;
  readonly seq: number;
  /** The client waits for no request below this seq: their results may be forgotten. */
  readonly ackedBelow: number;
  /** Milliseconds since the epoch, set by the leader that proposes the command (0 until then). */
  readonly timestamp: number;
  /** Milliseconds since the epoch on the origin's clock when the request was first made; retries keep it. */
  readonly createdAt: number;
  readonly origin: NodeId;
  readonly payload: Uint8Array;
}

const version = 1;
const fixedBytes = 36;
const seqOffset = 4;
const ackedBelowOffset = 12;
const timestampOffset = 20;
const createdAtOffset = 28;
/** Longest client id or origin, in UTF-8 bytes. */
export const envelopeIdBytesMax = 255;
/** Random characters after `<node id>/` in a node's default client id. */
export const clientSuffixLength = 10;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes of an id; the few ids a node uses over and over are cached. */
const idBytesCache = new Map<string, Uint8Array>();
function idBytes(id: string): Uint8Array {
  let bytes = idBytesCache.get(id);
  if (bytes === undefined) {
    bytes = encoder.encode(id);
    if (idBytesCache.size >= 1024) idBytesCache.clear();
    idBytesCache.set(id, bytes);
  }
  return bytes;
}

// The ids a log carries over and over (client ids, node ids), decoded once: a decoded
// id is found again by a hash of its bytes, so many clients do not thrash a short list.
const knownIds = new Map<number, { bytes: Uint8Array; id: string }>();
const knownIdsMax = 4096;

/** An id from its UTF-8 bytes `bytes[start..end)`. */
function idString(bytes: Uint8Array, start: number, end: number): string {
  // FNV-1a: a collision only costs a decode.
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  const known = knownIds.get(hash);
  if (known !== undefined && known.bytes.length === end - start) {
    let same = true;
    for (let i = 0; i < known.bytes.length; i++) {
      if (known.bytes[i] !== bytes[start + i]) {
        same = false;
        break;
      }
    }
    if (same) return known.id;
  }
  const id = decoder.decode(bytes.subarray(start, end));
  if (knownIds.size >= knownIdsMax) knownIds.clear();
  knownIds.set(hash, { bytes: bytes.slice(start, end), id });
  return id;
}

/** Bytes the envelope adds around a payload for these ids. */
export function envelopeOverhead(clientId: string, origin: NodeId): number {
  return fixedBytes + idBytes(clientId).byteLength + idBytes(origin).byteLength;
}

export function encodeEnvelope(e: Envelope): Uint8Array {
  const head = envelopeOverhead(e.clientId, e.origin);
  const bytes = carve(head + e.payload.byteLength);
  bytes.set(e.payload, head);
  writeEnvelopeHead(bytes, e);
  return bytes;
}

/**
 * An envelope around a payload its codec encoded in place: `encodeAfter` wrote it after
 * {@link envelopeOverhead} bytes, into a buffer carved from the slab, and the
 * header goes in front of it (no copy of the payload).
 */
export function encodeEnvelopeAround(
  e: Omit<Envelope, 'payload'>,
  encodeAfter: (headBytes: number, allocate: (bytes: number) => Uint8Array) => Uint8Array,
): Uint8Array {
  const head = envelopeOverhead(e.clientId, e.origin);
  const bytes = encodeAfter(head, carve);
  if (bytes.byteLength < head) throw new RangeError(`an encoded command of ${bytes.byteLength} bytes leaves no room for its ${head}-byte envelope header`);
  writeEnvelopeHead(bytes, e);
  return bytes;
}

/** Writes the header of `e` in front of the payload in `bytes`. */
function writeEnvelopeHead(bytes: Uint8Array, e: Omit<Envelope, 'payload'>): void {
  const id = idBytes(e.clientId);
  const origin = idBytes(e.origin);
  if (id.byteLength > envelopeIdBytesMax || origin.byteLength > envelopeIdBytesMax) throw new RangeError('client id or origin longer than 255 bytes');
  bytes[0] = version;
  setU16(bytes, 1, id.byteLength);
  bytes[3] = origin.byteLength;
  setF64(bytes, seqOffset, e.seq);
  setF64(bytes, ackedBelowOffset, e.ackedBelow);
  setF64(bytes, timestampOffset, e.timestamp);
  setF64(bytes, createdAtOffset, e.createdAt);
  bytes.set(id, fixedBytes);
  bytes.set(origin, fixedBytes + id.byteLength);
}

/** Why the header of `bytes` is not a valid envelope's, or undefined. */
function invalid(bytes: Uint8Array): string | undefined {
  if (bytes.byteLength < fixedBytes) return `${bytes.byteLength} bytes is shorter than the envelope header`;
  if (bytes[0] !== version) return `unknown envelope version ${bytes[0]}`;
  const ids = getU16(bytes, 1) + bytes[3]!;
  if (fixedBytes + ids > bytes.byteLength) return 'ids run past the end';
  const seq = getF64(bytes, seqOffset);
  if (!Number.isSafeInteger(seq) || seq < 0) return `bad sequence number ${seq}`;
  const ackedBelow = getF64(bytes, ackedBelowOffset);
  if (!Number.isSafeInteger(ackedBelow) || ackedBelow < 0) return `bad ackedBelow ${ackedBelow}`;
  const timestamp = getF64(bytes, timestampOffset);
  if (!Number.isFinite(timestamp) || timestamp < 0) return `bad timestamp ${timestamp}`;
  const createdAt = getF64(bytes, createdAtOffset);
  if (!Number.isFinite(createdAt) || createdAt < 0) return `bad creation time ${createdAt}`;
  return undefined;
}

/** Reads an envelope; throws `RangeError` (or a `TypeError` for bad UTF-8) on malformed bytes. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  const why = invalid(bytes);
  if (why !== undefined) throw new RangeError(`malformed command envelope: ${why}`);
  const idEnd = fixedBytes + getU16(bytes, 1);
  const originEnd = idEnd + bytes[3]!;
  return {
    clientId: idString(bytes, fixedBytes, idEnd),
    seq: getF64(bytes, seqOffset),
    ackedBelow: getF64(bytes, ackedBelowOffset),
    timestamp: getF64(bytes, timestampOffset),
    createdAt: getF64(bytes, createdAtOffset),
    origin: idString(bytes, idEnd, originEnd),
    payload: bytes.subarray(originEnd),
  };
}

/** The request key of an envelope (`clientId` and `seq`), or undefined if malformed. */
export function envelopeKey(bytes: Uint8Array): string | undefined {
  try {
    const e = decodeEnvelope(bytes);
    return requestKey(e.clientId, e.seq);
  } catch {
    return undefined;
  }
}

export function requestKey(clientId: string, seq: number): string {
  return `${seq}\u0000${clientId}`;
}

/**
 * Sets the leader's `timestamp` in `bytes` itself: only for an envelope nothing else
 * holds yet (a proposal's own, before its first submission), sparing the copy
 * {@link stampEnvelope} makes. False if its header is malformed.
 */
export function stampEnvelopeInPlace(bytes: Uint8Array, timestamp: number): boolean {
  if (invalid(bytes) !== undefined) return false;
  setF64(bytes, timestampOffset, timestamp);
  return true;
}

/**
 * A copy of an envelope with the leader's `timestamp`, or undefined if its header is
 * malformed (a forwarded command from a buggy peer never enters the log that way). Ids
 * that are not UTF-8 are caught at apply, where every replica skips them alike.
 */
export function stampEnvelope(bytes: Uint8Array, timestamp: number): Uint8Array | undefined {
  if (invalid(bytes) !== undefined) return undefined;
  const copy = carve(bytes.byteLength);
  copy.set(bytes);
  setF64(copy, timestampOffset, timestamp);
  return copy;
}
