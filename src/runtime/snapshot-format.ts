/**
 * The bytes of a runtime snapshot: the runtime's own replicated state (the
 * exactly-once table and the log's last timestamp) ahead of the state machine's bytes.
 * A snapshot from a peer is input like any message, so decoding checks everything.
 */
import { type ConfigurationState, decodeConfiguration, encodeConfiguration } from '../core/index.js';
import { getU32, setU32 } from '../encoding/little-endian.js';
import type { DedupState, KeptResult, Outcome } from './dedup-table.js';
import { resultEntryBytes } from './result-bytes.js';
import { ApplyError, ResultExpiredError, SnapshotError } from './errors.js';
import type { Codec } from './state-machine.js';

/** What a snapshot holds besides the state machine's bytes. @internal */
export interface RuntimeState<R> {
  /** The leader timestamp of the last command applied (timestamps never go back). */
  readonly lastTimestamp: number;
  readonly dedup: DedupState<R>;
  /**
   * The configurations that govern the slots after the snapshot's. Absent in snapshots
   * of a cluster whose members never changed (and in those older synods wrote).
   */
  readonly configuration?: ConfigurationState;
}

/** "SYNS": a synod runtime snapshot. */
const magic = Uint8Array.of(0x53, 0x59, 0x4e, 0x53);
/**
 * 3: the header's length is little-endian, like every other synod format (the runtime
 * state and what follows it are as in version 2). 2: each kept result carries the bytes
 * the table charged for it, and a result may be kept as dropped. Versions 1 and 2 (whose
 * length is big-endian) are still read; version 1's results (no byte bounds yet) have
 * their bytes estimated again when the table is rebuilt.
 */
const version = 3;
const versionsRead: readonly number[] = [1, 2, 3];
/** Versions whose header's length is big-endian. */
const bigEndianVersions: readonly number[] = [1, 2];
/** magic (4 bytes), version u8, 3 reserved bytes, runtime-state length u32. */
const headerBytes = 12;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * A result as stored: its codec's bytes (base64), what the state machine threw, lost
 * (the codec could not encode it), or dropped (too large for the table's bounds).
 */
type StoredOutcome = { readonly v: string } | { readonly e: string; readonly slot: number } | { readonly x: 1 } | { readonly d: 1 };

/**
 * The runtime's part of a snapshot, encoded at once (results are encoded before any
 * caller can change them). A result the codec cannot encode is stored as lost: a retry
 * of it gets `ResultExpiredError`, never a second apply. Each result keeps the bytes
 * the table charged for it, so a restored table counts exactly as the live one did.
 * @internal
 */
export function encodeRuntimeState<R>(state: RuntimeState<R>, resultCodec: Codec<R>): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      t: state.lastTimestamp,
      c: state.dedup.clients.map((c) => [c.id, c.floor, c.lastActive, c.results.map((r) => [r.seq, storeOutcome(r.outcome, resultCodec), r.bytes ?? null])]),
      b: state.dedup.tombstones,
      f: finiteOrNull(state.dedup.forgottenThrough),
      s: finiteOrNull(state.dedup.lastSweep),
      ...(state.configuration !== undefined ? { g: state.configuration.map((e) => [e.from, e.source, toBase64(encodeConfiguration(e.config))]) } : {}),
    }),
  );
}

/** Bytes of the state machine's part copied (or written) between two pauses of {@link encodeSnapshot}: about 1 ms. @internal */
export const copyBytesPerStep = 2 * 1024 * 1024;

/**
 * The bytes of a snapshot before the state machine's: the header and the runtime's part
 * (from {@link encodeRuntimeState}). Followed by the state machine's bytes, they are
 * the snapshot {@link encodeSnapshot} makes, written in pieces without a copy of the
 * whole. @internal
 */
export function encodeSnapshotHead(runtime: Uint8Array): Uint8Array {
  const head = new Uint8Array(headerBytes + runtime.byteLength);
  head.set(magic);
  head[4] = version;
  setU32(head, 8, runtime.byteLength);
  head.set(runtime, headerBytes);
  return head;
}

/**
 * A whole snapshot: the runtime's part (from {@link encodeRuntimeState}), then the state
 * machine's bytes, copied {@link copyBytesPerStep} at a time with `pause()` awaited
 * between (a 1 GB snapshot is a copy of a third of a second or more). @internal
 */
export async function encodeSnapshot(runtime: Uint8Array, machine: Uint8Array, pause: () => Promise<void> = async () => {}): Promise<Uint8Array> {
  const head = encodeSnapshotHead(runtime);
  const bytes = new Uint8Array(head.byteLength + machine.byteLength);
  bytes.set(head);
  const start = head.byteLength;
  for (let at = 0; at < machine.byteLength; at += copyBytesPerStep) {
    if (at > 0) await pause();
    bytes.set(machine.subarray(at, Math.min(machine.byteLength, at + copyBytesPerStep)), start + at);
  }
  return bytes;
}

/**
 * Reads a snapshot made by {@link encodeSnapshot}.
 * @throws {@link SnapshotError} if the bytes are damaged or of another format version.
 * @internal
 */
export function decodeSnapshot<R>(bytes: Uint8Array, resultCodec: Codec<R>): { state: RuntimeState<R>; machine: Uint8Array } {
  if (bytes.byteLength < headerBytes) throw new SnapshotError(`${bytes.byteLength} bytes, shorter than the header`);
  for (let i = 0; i < magic.byteLength; i++) if (bytes[i] !== magic[i]) throw new SnapshotError('bad magic: not a synod snapshot');
  const v = bytes[4]!;
  if (!versionsRead.includes(v)) throw new SnapshotError(`format version ${v}; this synod reads versions ${versionsRead.join(', ')}`);
  const length = bigEndianVersions.includes(v) ? ((bytes[8]! << 24) | (bytes[9]! << 16) | (bytes[10]! << 8) | bytes[11]!) >>> 0 : getU32(bytes, 8);
  if (length > bytes.byteLength - headerBytes) throw new SnapshotError(`runtime state of ${length} bytes overruns the snapshot`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes.subarray(headerBytes, headerBytes + length)));
  } catch (error) {
    throw new SnapshotError('runtime state is not valid JSON', { cause: error });
  }
  const state = readState(parsed, resultCodec, v);
  return { state, machine: bytes.subarray(headerBytes + length) };
}

function storeOutcome<R>(outcome: Outcome<R> | undefined, codec: Codec<R>): StoredOutcome {
  if (outcome === undefined) return { d: 1 };
  if (!outcome.ok) {
    if (outcome.error instanceof ApplyError) return { e: messageOf(outcome.error.cause), slot: outcome.error.slot };
    return { x: 1 };
  }
  try {
    return { v: toBase64(codec.encode(outcome.value)) };
  } catch {
    return { x: 1 };
  }
}

function readState<R>(raw: unknown, codec: Codec<R>, format: number): RuntimeState<R> {
  const o = raw as { t?: unknown; c?: unknown; b?: unknown; f?: unknown; s?: unknown; g?: unknown } | null;
  if (typeof o !== 'object' || o === null) throw new SnapshotError('runtime state is not an object');
  const lastTimestamp = finite(o.t, 'last timestamp');
  if (!Array.isArray(o.c) || !Array.isArray(o.b)) throw new SnapshotError('exactly-once table is malformed');
  const clients = o.c.map((entry: unknown) => {
    if (!Array.isArray(entry) || entry.length !== 4 || typeof entry[0] !== 'string' || !Array.isArray(entry[3])) {
      throw new SnapshotError('exactly-once client record is malformed');
    }
    const id = entry[0];
    const results = (entry[3] as unknown[]).map((r): KeptResult<R> => {
      if (!Array.isArray(r) || r.length !== (format === 1 ? 2 : 3)) throw new SnapshotError(`result of client ${id} is malformed`);
      const seq = finite(r[0], 'sequence number');
      const outcome = readOutcome(r[1], id, seq, codec, format);
      if (format === 1) return { seq, outcome, bytes: undefined };
      const bytes = finite(r[2], 'result bytes');
      if (!Number.isSafeInteger(bytes) || bytes < resultEntryBytes)
        throw new SnapshotError(`result ${id}/${seq} is charged ${bytes} bytes, below an entry's ${resultEntryBytes}`);
      if (outcome === undefined && bytes !== resultEntryBytes)
        throw new SnapshotError(`dropped result ${id}/${seq} is charged ${bytes} bytes, not ${resultEntryBytes}`);
      return { seq, outcome, bytes };
    });
    return { id, floor: finite(entry[1], 'floor'), lastActive: finite(entry[2], 'last activity'), results };
  });
  const tombstones = o.b.map((t: unknown): readonly [number, number] => {
    if (!Array.isArray(t) || t.length !== 2) throw new SnapshotError('tombstone is malformed');
    return [finite(t[0], 'tombstone hash'), finite(t[1], 'tombstone time')];
  });
  return {
    lastTimestamp,
    dedup: { clients, tombstones, forgottenThrough: nullToLowest(o.f), lastSweep: nullToLowest(o.s) },
    ...(o.g !== undefined ? { configuration: readConfigurationState(o.g) } : {}),
  };
}

function readConfigurationState(raw: unknown): ConfigurationState {
  if (!Array.isArray(raw) || raw.length === 0) throw new SnapshotError('configuration state is malformed');
  let previous = 0;
  return raw.map((e: unknown) => {
    if (!Array.isArray(e) || e.length !== 3 || typeof e[2] !== 'string') throw new SnapshotError('configuration record is malformed');
    const from = finite(e[0], 'configuration slot');
    const source = finite(e[1], 'configuration source slot');
    if (!Number.isSafeInteger(from) || from <= previous || !Number.isSafeInteger(source) || source < 0)
      throw new SnapshotError(`configuration from slot ${from} is out of order`);
    previous = from;
    try {
      return { from, source, config: decodeConfiguration(fromBase64(e[2])) };
    } catch (error) {
      throw new SnapshotError('configuration does not decode', { cause: error });
    }
  });
}

function readOutcome<R>(raw: unknown, clientId: string, seq: number, codec: Codec<R>, format: number): Outcome<R> | undefined {
  const o = raw as { v?: unknown; e?: unknown; slot?: unknown; x?: unknown; d?: unknown } | null;
  if (typeof o !== 'object' || o === null) throw new SnapshotError(`result ${clientId}/${seq} is malformed`);
  if (typeof o.v === 'string') {
    let value: R;
    try {
      value = codec.decode(fromBase64(o.v));
    } catch (error) {
      throw new SnapshotError(`result ${clientId}/${seq} does not decode`, { cause: error });
    }
    return { ok: true, value };
  }
  if (typeof o.e === 'string') return { ok: false, error: new ApplyError(finite(o.slot, 'slot'), new Error(o.e)) };
  if (o.x === 1) return { ok: false, error: new ResultExpiredError(clientId, seq) };
  if (o.d === 1 && format >= 2) return undefined;
  throw new SnapshotError(`result ${clientId}/${seq} is malformed`);
}

function finite(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new SnapshotError(`${what} is not a number`);
  return value;
}

/** JSON has no -Infinity: "never" travels as null. */
function finiteOrNull(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}

function nullToLowest(value: unknown): number {
  return value === null ? -Infinity : finite(value, 'table watermark');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}
