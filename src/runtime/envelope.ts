import type { NodeId } from '../core/index.js';

/**
 * How the runtime wraps each command before it enters the log: who sent it (client id
 * and sequence number, for exactly-once), which requests that client no longer waits
 * for, the leader's timestamp, the node that first proposed it, then the user's bytes.
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
const createdAtOffset = 28;
const timestampOffset = 20;
/** Longest client id or origin, in UTF-8 bytes. */
export const envelopeIdBytesMax = 255;
/** Random characters after `<node id>/` in a node's default client id. */
export const clientSuffixLength = 10;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Bytes the envelope adds around a payload for these ids. */
export function envelopeOverhead(clientId: string, origin: NodeId): number {
  return fixedBytes + encoder.encode(clientId).byteLength + encoder.encode(origin).byteLength;
}

export function encodeEnvelope(e: Envelope): Uint8Array {
  const id = encoder.encode(e.clientId);
  const origin = encoder.encode(e.origin);
  if (id.byteLength > envelopeIdBytesMax || origin.byteLength > envelopeIdBytesMax) throw new RangeError('client id or origin longer than 255 bytes');
  const bytes = new Uint8Array(fixedBytes + id.byteLength + origin.byteLength + e.payload.byteLength);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, version);
  view.setUint16(1, id.byteLength, true);
  view.setUint8(3, origin.byteLength);
  view.setFloat64(4, e.seq, true);
  view.setFloat64(12, e.ackedBelow, true);
  view.setFloat64(timestampOffset, e.timestamp, true);
  view.setFloat64(createdAtOffset, e.createdAt, true);
  bytes.set(id, fixedBytes);
  bytes.set(origin, fixedBytes + id.byteLength);
  bytes.set(e.payload, fixedBytes + id.byteLength + origin.byteLength);
  return bytes;
}

/** Why `bytes` is not a valid envelope, or undefined. Checked before a leader takes a forwarded command. */
function invalid(bytes: Uint8Array): string | undefined {
  if (bytes.byteLength < fixedBytes) return `${bytes.byteLength} bytes is shorter than the envelope header`;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint8(0) !== version) return `unknown envelope version ${view.getUint8(0)}`;
  const ids = view.getUint16(1, true) + view.getUint8(3);
  if (fixedBytes + ids > bytes.byteLength) return 'ids run past the end';
  for (const offset of [4, 12]) {
    const n = view.getFloat64(offset, true);
    if (!Number.isSafeInteger(n) || n < 0) return `bad sequence number ${n}`;
  }
  for (const offset of [timestampOffset, createdAtOffset]) {
    const t = view.getFloat64(offset, true);
    if (!Number.isFinite(t) || t < 0) return `bad timestamp ${t}`;
  }
  return undefined;
}

/** Reads an envelope; throws `RangeError` (or a `TypeError` for bad UTF-8) on malformed bytes. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  const why = invalid(bytes);
  if (why !== undefined) throw new RangeError(`malformed command envelope: ${why}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const idLength = view.getUint16(1, true);
  const originLength = view.getUint8(3);
  const idEnd = fixedBytes + idLength;
  const originEnd = idEnd + originLength;
  return {
    clientId: decoder.decode(bytes.subarray(fixedBytes, idEnd)),
    seq: view.getFloat64(4, true),
    ackedBelow: view.getFloat64(12, true),
    timestamp: view.getFloat64(timestampOffset, true),
    createdAt: view.getFloat64(createdAtOffset, true),
    origin: decoder.decode(bytes.subarray(idEnd, originEnd)),
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
 * A copy of a valid envelope with the leader's `timestamp`, or undefined if `bytes` is
 * malformed (a forwarded command from a buggy or hostile peer never enters the log).
 */
export function stampEnvelope(bytes: Uint8Array, timestamp: number): Uint8Array | undefined {
  try {
    decodeEnvelope(bytes);
  } catch {
    return undefined;
  }
  const copy = bytes.slice();
  new DataView(copy.buffer).setFloat64(timestampOffset, timestamp, true);
  return copy;
}
