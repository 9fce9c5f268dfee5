/**
 * The bytes of a runtime snapshot: the runtime's own replicated state (the
 * exactly-once table and the log's last timestamp) ahead of the state machine's bytes.
 * A snapshot from a peer is input like any message, so decoding checks everything.
 */
import { type ConfigurationState, decodeConfiguration, encodeConfiguration } from '../core/index.js';
import { getU32, setU32 } from '../encoding/little-endian.js';
import type { DedupClientState, DedupState, KeptResult, Outcome } from './dedup-table.js';
import { resultEntryBytes } from './result-bytes.js';
import { ApplyError, ResultExpiredError, SnapshotError } from './errors.js';
import type { Codec } from './state-machine.js';
import { type Steps, runAtOnce, runInSteps } from './steps.js';

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
 * 4: the runtime state is lines of JSON (a head, then one line per client, then the
 * tombstones in lines of {@link tombstonesPerLine}), so it is written and read a piece at
 * a time; versions 1 to 3 hold one JSON document. 3: the header's length is little-endian, like every other synod format (the runtime
 * state and what follows it are as in version 2). 2: each kept result carries the bytes
 * the table charged for it, and a result may be kept as dropped. Versions 1 and 2 (whose
 * length is big-endian) are still read; version 1's results (no byte bounds yet) have
 * their bytes estimated again when the table is rebuilt.
 */
const version = 4;
const versionsRead: readonly number[] = [1, 2, 3, 4];
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

/** Tombstones (hash, time pairs) per line of a version 4 runtime state. */
const tombstonesPerLine = 4096;
/** Characters of JSON made or parsed between two pauses: well under a millisecond's work. */
const charsPerStep = 32 * 1024;

/**
 * The runtime's part of a snapshot, encoded at once. A result the codec cannot encode
 * is stored as lost: a retry of it gets `ResultExpiredError`, never a second apply.
 * Each result keeps the bytes the table charged for it, so a restored table counts
 * exactly as the live one did.
 * @internal
 */
export function encodeRuntimeState<R>(state: RuntimeState<R>, resultCodec: Codec<R>): Uint8Array {
  return concat(runAtOnce(runtimeStateSteps(state, resultCodec)));
}

/**
 * {@link encodeRuntimeState} in pieces, with `pause()` awaited between steps of about
 * {@link charsPerStep} characters, so a table of many clients never holds the event loop
 * long. `state` must not change meanwhile (a table's `captured()` does not); results
 * are read as the steps reach them. Resolves to the bytes in pieces, in order.
 * @internal
 */
export function encodeRuntimeStateInSteps<R>(state: RuntimeState<R>, resultCodec: Codec<R>, pause: () => Promise<void>): Promise<Uint8Array[]> {
  return runInSteps(runtimeStateSteps(state, resultCodec), pause);
}

function* runtimeStateSteps<R>(state: RuntimeState<R>, codec: Codec<R>): Steps<Uint8Array[]> {
  const pieces: Uint8Array[] = [];
  let lines: string[] = [];
  let chars = 0;
  const flush = (): void => {
    if (lines.length > 0) pieces.push(encoder.encode(lines.join('')));
    lines = [];
    chars = 0;
  };
  lines.push(
    `${JSON.stringify({
      t: state.lastTimestamp,
      f: finiteOrNull(state.dedup.forgottenThrough),
      s: finiteOrNull(state.dedup.lastSweep),
      n: state.dedup.clients.length,
      m: countOf(state.dedup.tombstones),
      ...(state.configuration !== undefined ? { g: state.configuration.map((e) => [e.from, e.source, toBase64(encodeConfiguration(e.config))]) } : {}),
    })}\n`,
  );
  for (const c of state.dedup.clients) {
    const results: unknown[] = [];
    for (const r of c.results) results.push([r.seq, storeOutcome(r.outcome, codec), r.bytes ?? null]);
    const line = `${JSON.stringify([c.id, c.floor, c.lastActive, results])}\n`;
    lines.push(line);
    chars += line.length;
    if (chars >= charsPerStep) {
      flush();
      yield;
    }
  }
  // Read as the steps reach them, a line at a time: a capture's list is walked, never copied whole.
  let pairs: number[] = [];
  const tombstoneLine = (): void => {
    const line = `${JSON.stringify(pairs)}\n`;
    pairs = [];
    lines.push(line);
    chars += line.length;
  };
  for (const [hash, at] of state.dedup.tombstones) {
    pairs.push(hash, at);
    if (pairs.length < 2 * tombstonesPerLine) continue;
    tombstoneLine();
    if (chars >= charsPerStep) {
      flush();
      yield;
    }
  }
  if (pairs.length > 0) tombstoneLine();
  flush();
  return pieces;
}

/** How many pairs `tombstones` holds: a capture and an array say so, anything else is counted. */
function countOf(tombstones: Iterable<unknown>): number {
  if (Array.isArray(tombstones)) return tombstones.length;
  const size: unknown = (tombstones as { size?: unknown }).size;
  if (typeof size === 'number') return size;
  let count = 0;
  for (const _ of tombstones) count++;
  return count;
}

function concat(pieces: readonly Uint8Array[]): Uint8Array {
  if (pieces.length === 1) return pieces[0]!;
  let length = 0;
  for (const p of pieces) length += p.byteLength;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Bytes of the state machine's part copied (or written) between two pauses of {@link encodeSnapshot}: about 1 ms. @internal */
export const copyBytesPerStep = 2 * 1024 * 1024;

/**
 * The bytes of a snapshot before the state machine's, in pieces: the header, then the
 * runtime's part (from {@link encodeRuntimeState}, or its pieces from
 * {@link encodeRuntimeStateInSteps}). Followed by the state machine's bytes, they are the
 * snapshot {@link encodeSnapshot} makes, written in pieces without a copy of the whole.
 * @internal
 */
export function encodeSnapshotHead(runtime: Uint8Array | readonly Uint8Array[]): Uint8Array[] {
  const pieces = runtime instanceof Uint8Array ? [runtime] : runtime;
  let length = 0;
  for (const p of pieces) length += p.byteLength;
  const header = new Uint8Array(headerBytes);
  header.set(magic);
  header[4] = version;
  setU32(header, 8, length);
  return [header, ...pieces];
}

/**
 * A whole snapshot: the runtime's part (as for {@link encodeSnapshotHead}), then the
 * state machine's bytes, copied {@link copyBytesPerStep} at a time with `pause()` awaited
 * between (a 1 GB snapshot is a copy of a third of a second or more). @internal
 */
export async function encodeSnapshot(
  runtime: Uint8Array | readonly Uint8Array[],
  machine: Uint8Array,
  pause: () => Promise<void> = async () => {},
): Promise<Uint8Array> {
  const head = encodeSnapshotHead(runtime);
  let start = 0;
  for (const p of head) start += p.byteLength;
  const bytes = new Uint8Array(start + machine.byteLength);
  let at = 0;
  for (const p of head) {
    bytes.set(p, at);
    at += p.byteLength;
  }
  for (let from = 0; from < machine.byteLength; from += copyBytesPerStep) {
    if (from > 0) await pause();
    bytes.set(machine.subarray(from, Math.min(machine.byteLength, from + copyBytesPerStep)), start + from);
  }
  return bytes;
}

/**
 * Reads a snapshot made by {@link encodeSnapshot}, at once.
 * @throws {@link SnapshotError} if the bytes are damaged or of another format version.
 * @internal
 */
export function decodeSnapshot<R>(bytes: Uint8Array, resultCodec: Codec<R>): DecodedSnapshot<R> {
  return runAtOnce(decodeSteps(bytes, resultCodec));
}

/**
 * {@link decodeSnapshot} with `pause()` awaited between steps of about
 * {@link charsPerStep} characters of the runtime's part (version 4; older versions are
 * one JSON document, read in one step).
 * @throws {@link SnapshotError} as {@link decodeSnapshot} does (the promise rejects).
 * @internal
 */
export function decodeSnapshotInSteps<R>(bytes: Uint8Array, resultCodec: Codec<R>, pause: () => Promise<void>): Promise<DecodedSnapshot<R>> {
  return runInSteps(decodeSteps(bytes, resultCodec), pause);
}

/** A snapshot's two parts. @internal */
export interface DecodedSnapshot<R> {
  readonly state: RuntimeState<R>;
  readonly machine: Uint8Array;
}

function* decodeSteps<R>(bytes: Uint8Array, codec: Codec<R>): Steps<DecodedSnapshot<R>> {
  if (bytes.byteLength < headerBytes) throw new SnapshotError(`${bytes.byteLength} bytes, shorter than the header`);
  for (let i = 0; i < magic.byteLength; i++) if (bytes[i] !== magic[i]) throw new SnapshotError('bad magic: not a synod snapshot');
  const v = bytes[4]!;
  if (!versionsRead.includes(v)) throw new SnapshotError(`format version ${v}; this synod reads versions ${versionsRead.join(', ')}`);
  const length = bigEndianVersions.includes(v) ? ((bytes[8]! << 24) | (bytes[9]! << 16) | (bytes[10]! << 8) | bytes[11]!) >>> 0 : getU32(bytes, 8);
  if (length > bytes.byteLength - headerBytes) throw new SnapshotError(`runtime state of ${length} bytes overruns the snapshot`);
  const runtime = bytes.subarray(headerBytes, headerBytes + length);
  const state = v >= 4 ? yield* readLines(runtime, codec) : readState(parseJson(runtime, 'runtime state'), codec, v);
  return { state, machine: bytes.subarray(headerBytes + length) };
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch (error) {
    throw new SnapshotError(`${what} is not valid JSON`, { cause: error });
  }
}

/** A version 4 runtime state: a head line, a line per client, then lines of tombstones; each line ends with a newline. */
function* readLines<R>(runtime: Uint8Array, codec: Codec<R>): Steps<RuntimeState<R>> {
  let at = 0;
  let chars = 0;
  const line = (what: string): unknown => {
    const end = runtime.indexOf(0x0a, at);
    if (end < 0) throw new SnapshotError(`runtime state ends before its ${what}`);
    const parsed = parseJson(runtime.subarray(at, end), what);
    chars += end + 1 - at;
    at = end + 1;
    return parsed;
  };
  const head = line('head') as { t?: unknown; f?: unknown; s?: unknown; n?: unknown; m?: unknown; g?: unknown } | null;
  if (typeof head !== 'object' || head === null) throw new SnapshotError('runtime state head is not an object');
  const lastTimestamp = finite(head.t, 'last timestamp');
  const clientCount = count(head.n, 'client count');
  const tombstoneCount = count(head.m, 'tombstone count');
  const clients: DedupClientState<R>[] = [];
  for (let i = 0; i < clientCount; i++) {
    clients.push(readClient(line('exactly-once client record'), codec, 4));
    if (chars >= charsPerStep) {
      chars = 0;
      yield;
    }
  }
  const hashes: number[] = [];
  const times: number[] = [];
  while (hashes.length < tombstoneCount) {
    const flat = line('tombstones');
    if (!Array.isArray(flat) || flat.length === 0 || flat.length % 2 !== 0 || hashes.length + flat.length / 2 > tombstoneCount)
      throw new SnapshotError('tombstones are malformed');
    for (let i = 0; i < flat.length; i += 2) {
      hashes.push(finite(flat[i], 'tombstone hash'));
      times.push(finite(flat[i + 1], 'tombstone time'));
    }
    if (chars >= charsPerStep) {
      chars = 0;
      yield;
    }
  }
  if (at !== runtime.byteLength) throw new SnapshotError(`runtime state has ${runtime.byteLength - at} bytes after its last line`);
  return {
    lastTimestamp,
    dedup: { clients, tombstones: pairs(hashes, times), forgottenThrough: nullToLowest(head.f), lastSweep: nullToLowest(head.s) },
    ...(head.g !== undefined ? { configuration: readConfigurationState(head.g) } : {}),
  };
}

/** Two arrays of the same length as an iterable of pairs that can be read more than once. */
function pairs(hashes: readonly number[], times: readonly number[]): Iterable<readonly [number, number]> {
  return {
    *[Symbol.iterator]() {
      for (let i = 0; i < hashes.length; i++) yield [hashes[i]!, times[i]!] as const;
    },
  };
}

function count(value: unknown, what: string): number {
  const n = finite(value, what);
  if (!Number.isSafeInteger(n) || n < 0) throw new SnapshotError(`${what} ${n} is not a count`);
  return n;
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
  const clients = o.c.map((entry: unknown) => readClient(entry, codec, format));
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

function readClient<R>(entry: unknown, codec: Codec<R>, format: number): DedupClientState<R> {
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

/** Node's Buffer where there is one: its base64 is native, and many times faster than `btoa`. */
const nodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;

function toBase64(bytes: Uint8Array): string {
  if (nodeBuffer !== undefined) return nodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(text: string): Uint8Array {
  // Buffer's decoder skips what is not base64; atob refuses it, and damage must not pass.
  const s = atob(text);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}
