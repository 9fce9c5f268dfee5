/**
 * The KV state machine's snapshot format: every key's retained history, the
 * sessions, the sequence counters, the revisions and the log time. Binary, versioned,
 * every length checked on the way in.
 *
 * Version 2 adds each session's renewal slot (after its expiry). Version 1 is still
 * read: its sessions get renewal slot 0, which decides nothing, because a leader
 * enters `session-renew` (renewing every session at its slot) before any
 * `session-expire` of its own. Version 3 adds each session's owner (a flag byte, then
 * the user's name if set), and after the sessions the users and roles of the
 * replicated state (their revision, the roles, then the users, each as the log encodes
 * them); versions 1 and 2 are still read, their sessions owned by no one and their
 * users and roles none (as they were then). Version 4 is version 3 followed by the
 * bytes of the machine's extension (see `KvExtension`), written only by a machine with
 * one; a machine with an extension restoring a version 1 to 3 snapshot starts its
 * extension empty. Version 5, written only by a range of a sharded KV, is version 3
 * followed by a flags byte, the range's bounds now, the keys it froze (see
 * `range-freeze`) or, while it awaits the keys a split moves to it, how far their copy
 * got (see `range-seed`), then the extension's bytes if the flags say so; a range restoring a
 * version 1 to 4 snapshot takes the bounds it was made with, as they were then.
 */
import { assert } from '../core/assert.js';
import { CodecError } from '../encoding/codec-error.js';
import { Reader } from '../encoding/reader.js';
import { Writer } from '../encoding/writer.js';
import { readFlags, readKey, readString, writeKey, writeString } from './kv-codec.js';
import { kvLimits } from './kv-limits.js';
import { type KeyRecord, MvccStore } from './mvcc-store.js';
import { type SessionRecord, type SessionRecords, SessionTable } from './session-table.js';
import { AuthTable } from './auth-table.js';
import { readRoleRecord, readUserRecord, writeRoleRecord, writeUserRecord } from './kv-codec.js';
import { authLimits, type KvRoleRecord, type KvUserRecord } from './kv-auth.js';
import { keptValue } from './kept-value.js';
import type { KeyBounds } from './key-bounds.js';

/** Keys a range gave up (`end` undefined: to the end of the keyspace), and the store's revision when it did. @internal */
export interface FrozenRange {
  readonly start: string;
  readonly end?: string;
  readonly revision: number;
}

/** A range's replicated bounds and the keys it froze, as a snapshot holds them. */
interface KvSnapshotRange {
  readonly bounds: KeyBounds;
  readonly frozen?: FrozenRange;
  /** While a new range awaits its keys: the last key seeded ('' before the first). */
  readonly seedCursor?: string;
}

/** What a snapshot holds. @internal */
export interface KvSnapshotState {
  readonly store: MvccStore;
  readonly sessions: SessionTable;
  readonly sequences: Map<string, number>;
  readonly time: number;
  readonly auth: AuthTable;
  /** The extension state machine's snapshot (format version 4), if the machine has one. */
  readonly extension?: Uint8Array;
  /** A range's bounds (format version 5), if the machine is one. */
  readonly range?: KvSnapshotRange;
}

/** What a snapshot is encoded from: the store may be a capture, read as the encoding goes. @internal */
export interface KvSnapshotSource {
  readonly store: Pick<MvccStore, 'revision' | 'compactRevision' | 'allHistories'>;
  readonly sessions: SessionRecords;
  readonly sequences: Map<string, number>;
  readonly time: number;
  readonly auth: AuthTable;
  readonly extension?: Uint8Array;
  readonly range?: KvSnapshotRange;
}

const magic = [0x53, 0x4b, 0x56] as const; // "SKV"
const formatVersion = 3;
/** Version 3 followed by the extension state machine's bytes: written only by a machine with an extension. */
const formatVersionWithExtension = 4;
/** Largest extension snapshot read, in bytes. */
const extensionBytesMax = 2 ** 31;
/** The first version, without the sessions' renewal slots: still read. */
const formatVersionWithoutRenewals = 1;
/** Version 3 followed by a range's bounds (and then, if flagged, the extension's bytes): written only by a range of a sharded KV. */
const formatVersionWithRange = 5;
const rangeHasExtension = 1;
const rangeHasEnd = 2;
const rangeHasFrozen = 4;
const rangeFrozenHasEnd = 8;
const rangeAwaitsSeed = 16;
/** The second, without the sessions' owners: still read. */
const formatVersionWithoutOwners = 2;
/** Longest session owner, in UTF-8 bytes (as in the log's encoding). */
const ownerBytesMax = 255;

/** Records encoded between two pauses of {@link encodeKvSnapshot}: about a millisecond of work here... */
const recordsPerStep = 2048;
/**
 * Records decoded between two pauses of {@link decodeKvSnapshotInSteps}: decoding makes
 * an object per record, about twice the encoder's work per record (2,048 took 2.4-3.5 ms
 * a step at a million keys, 1,024 about half).
 */
const decodeRecordsPerStep = 1024;
/** ...or value bytes, whichever comes first (2,048 values of 64 KiB are 128 MiB); a copy of 2 MiB is about 1 ms. */
const valueBytesPerStep = 2 * 1024 * 1024;
/** The most bytes an unsigned varint takes (up to 2^53). */
const uintBytesMax = 8;

/**
 * Encodes a captured state, awaiting `pause()` after every {@link recordsPerStep}
 * records or {@link valueBytesPerStep} bytes of values, so a large store's snapshot
 * (10 MB takes 30-40 ms) does not hold the event loop all at once while requests wait
 * behind it. The buffer is sized from a first pass, so it never grows (each growth
 * copied everything written so far); the bytes returned may be a view of it. @internal
 */
export async function encodeKvSnapshot(state: KvSnapshotSource, pause: () => Promise<void>): Promise<Uint8Array> {
  const sessions = state.sessions;
  const sequences = [...state.sequences].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const roles = state.auth.allRoles();
  const users = state.auth.allUsers();
  // The first pass, over every key, pauses too: with a million keys it alone is a second.
  const histories: [string, readonly KeyRecord[]][] = [];
  let bound =
    sizeBound([], sequences) +
    authBytesBound(roles, users) +
    (state.extension === undefined ? 0 : uintBytesMax + state.extension.byteLength) +
    (state.range === undefined ? 0 : 1 + 5 * (uintBytesMax + 3 * kvLimits.keyBytesMax));
  for (let i = 0; i < sessions.count; i++) {
    if (i > 0 && i % recordsPerStep === 0) await pause();
    bound += sessionBytesBound(sessions.record(i));
  }
  let counted = 0;
  for (const entry of state.store.allHistories()) {
    histories.push(entry);
    bound += historyBytesBound(entry[0], entry[1]);
    counted += entry[1].length;
    if (counted >= recordsPerStep) {
      counted = 0;
      await pause();
    }
  }
  const w = new Writer(bound);
  for (const b of magic) w.u8(b);
  w.u8(state.range !== undefined ? formatVersionWithRange : state.extension === undefined ? formatVersion : formatVersionWithExtension);
  w.uint(state.store.revision);
  w.uint(state.store.compactRevision);
  w.uint(state.time);
  w.uint(state.sessions.nextId);
  w.uint(sequences.length);
  for (const [prefix, next] of sequences) {
    writeKey(w, 'kv snapshot sequence prefix', prefix);
    w.uint(next);
  }
  w.uint(sessions.count);
  for (let i = 0; i < sessions.count; i++) {
    if (i > 0 && i % recordsPerStep === 0) await pause();
    const s = sessions.record(i);
    w.uint(s.id);
    w.uint(s.ttlMs);
    w.uint(s.expiresAt);
    w.uint(s.renewedSlot);
    w.u8(s.owner === undefined ? 0 : 1);
    if (s.owner !== undefined) writeString(w, 'kv snapshot session owner', s.owner, ownerBytesMax);
  }
  w.uint(state.auth.revision);
  w.uint(roles.length);
  for (const role of roles) writeRoleRecord(w, role);
  w.uint(users.length);
  for (const user of users) writeUserRecord(w, user);
  w.uint(histories.length);
  let records = 0;
  let valueBytes = 0;
  for (const [key, history] of histories) {
    writeKey(w, 'kv snapshot key', key);
    w.uint(history.length);
    for (const r of history) {
      if (++records === recordsPerStep || valueBytes >= valueBytesPerStep) {
        records = 0;
        valueBytes = 0;
        await pause();
      }
      w.uint(r.revision);
      if (r.value === null) {
        w.u8(0);
        continue;
      }
      w.u8(r.session === undefined ? 1 : 2);
      w.uint(r.version);
      w.uint(r.createRevision);
      w.bytesOf(r.value);
      valueBytes += r.value.byteLength;
      if (r.session !== undefined) w.uint(r.session);
    }
  }
  if (state.range !== undefined) writeRange(w, state.range, state.extension !== undefined);
  if (state.extension !== undefined) w.bytesOf(state.extension);
  const out = w.finish();
  assert(out.byteLength <= bound, () => `kv snapshot of ${out.byteLength} bytes, above its bound of ${bound}`);
  // A view when little of the buffer is left over; a copy of the bytes otherwise, made
  // in steps like the rest.
  if (out.byteLength >= bound * 0.75) return out;
  const copy = new Uint8Array(out.byteLength);
  for (let at = 0; at < out.byteLength; at += valueBytesPerStep) {
    if (at > 0) await pause();
    copy.set(out.subarray(at, Math.min(out.byteLength, at + valueBytesPerStep)), at);
  }
  return copy;
}

function writeRange(w: Writer, range: KvSnapshotRange, withExtension: boolean): void {
  const { bounds, frozen } = range;
  w.u8(
    (withExtension ? rangeHasExtension : 0) |
      (bounds.end === undefined ? 0 : rangeHasEnd) |
      (frozen === undefined ? 0 : rangeHasFrozen) |
      (frozen?.end === undefined ? 0 : rangeFrozenHasEnd) |
      (range.seedCursor === undefined ? 0 : rangeAwaitsSeed),
  );
  writeString(w, 'kv snapshot range start', bounds.start, kvLimits.keyBytesMax);
  if (bounds.end !== undefined) writeString(w, 'kv snapshot range end', bounds.end, kvLimits.keyBytesMax);
  if (range.seedCursor !== undefined) writeString(w, 'kv snapshot seed cursor', range.seedCursor, kvLimits.keyBytesMax);
  if (frozen === undefined) return;
  if (frozen.end !== undefined) writeString(w, 'kv snapshot frozen end', frozen.end, kvLimits.keyBytesMax);
  w.uint(frozen.revision);
}

/** Reads what {@link writeRange} wrote (the frozen keys start where the bounds end), and whether the extension's bytes follow. */
function readRange(r: Reader, revision: number): { range: KvSnapshotRange; withExtension: boolean } {
  const flags = readFlags(r, 'kv snapshot range flags', rangeHasExtension | rangeHasEnd | rangeHasFrozen | rangeFrozenHasEnd | rangeAwaitsSeed);
  const start = readString(r, 'kv snapshot range start', kvLimits.keyBytesMax);
  const end = (flags & rangeHasEnd) === 0 ? undefined : readString(r, 'kv snapshot range end', kvLimits.keyBytesMax);
  if (end !== undefined && end <= start) throw new CodecError(`kv snapshot: range [${start}, ${end}) is empty`);
  const bounds = end === undefined ? { start } : { start, end };
  const withExtension = (flags & rangeHasExtension) !== 0;
  const seedCursor = (flags & rangeAwaitsSeed) === 0 ? undefined : readString(r, 'kv snapshot seed cursor', kvLimits.keyBytesMax);
  const seeding = seedCursor === undefined ? {} : { seedCursor };
  if ((flags & rangeHasFrozen) === 0) {
    if ((flags & rangeFrozenHasEnd) !== 0) throw new CodecError('kv snapshot: a frozen end without frozen keys');
    return { range: { bounds, ...seeding }, withExtension };
  }
  if (seedCursor !== undefined) throw new CodecError('kv snapshot: a range awaiting its keys has frozen keys');
  if (end === undefined) throw new CodecError('kv snapshot: frozen keys after a range with no end');
  const frozenEnd = (flags & rangeFrozenHasEnd) === 0 ? undefined : readString(r, 'kv snapshot frozen end', kvLimits.keyBytesMax);
  if (frozenEnd !== undefined && frozenEnd <= end) throw new CodecError(`kv snapshot: frozen keys [${end}, ${frozenEnd}) are empty`);
  const frozenRevision = r.uint('kv snapshot frozen revision');
  if (frozenRevision > revision) throw new CodecError(`kv snapshot: keys frozen at revision ${frozenRevision}, above the store's ${revision}`);
  return { range: { bounds, frozen: { start: end, ...(frozenEnd === undefined ? {} : { end: frozenEnd }), revision: frozenRevision } }, withExtension };
}

/** At least the bytes {@link encodeKvSnapshot} writes for these parts (varints counted at their widest, keys at 3 bytes a UTF-16 unit). */
function sizeBound(histories: readonly [string, readonly KeyRecord[]][], sequences: readonly [string, number][]): number {
  let bound = magic.length + 1 + 6 * uintBytesMax;
  for (const [prefix] of sequences) bound += 2 * uintBytesMax + 3 * prefix.length;
  for (const [key, history] of histories) bound += historyBytesBound(key, history);
  return bound;
}

/** At least the bytes {@link encodeKvSnapshot} writes for one session. */
function sessionBytesBound(s: SessionRecord): number {
  return 4 * uintBytesMax + 1 + (s.owner === undefined ? 0 : uintBytesMax + 3 * s.owner.length);
}

/** At least the bytes {@link encodeKvSnapshot} writes for one key's history. */
function historyBytesBound(key: string, history: readonly KeyRecord[]): number {
  let bound = 2 * uintBytesMax + 3 * key.length;
  for (const r of history) bound += 1 + 5 * uintBytesMax + (r.value?.byteLength ?? 0);
  return bound;
}

/** At least the bytes the users and roles take (varints at their widest, strings at 3 bytes a UTF-16 unit). */
function authBytesBound(roles: readonly KvRoleRecord[], users: readonly KvUserRecord[]): number {
  const text = (s: string) => uintBytesMax + 3 * s.length;
  let bound = 3 * uintBytesMax;
  for (const role of roles) {
    bound += text(role.name) + uintBytesMax;
    for (const p of role.permissions) bound += 2 + text('key' in p ? p.key : p.prefix);
  }
  for (const user of users) {
    bound += text(user.name) + 1 + uintBytesMax + (user.secret?.byteLength ?? 0) + 2 * uintBytesMax;
    for (const n of user.certificateNames) bound += text(n);
    for (const r of user.roles) bound += text(r);
  }
  return bound;
}

/** Decodes a snapshot; throws {@link CodecError} on anything malformed. @internal */
export function decodeKvSnapshot(bytes: Uint8Array): KvSnapshotState {
  const steps = decodeSteps(bytes);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/**
 * Decodes a snapshot as {@link decodeKvSnapshot} does, awaiting `pause()` after every
 * {@link decodeRecordsPerStep} records or {@link valueBytesPerStep} bytes of values, so a large
 * store's restore (5 s at a million keys, most of it one object per record) does not
 * hold the event loop all at once. @internal
 */
export async function decodeKvSnapshotInSteps(bytes: Uint8Array, pause: () => Promise<void>): Promise<KvSnapshotState> {
  const steps = decodeSteps(bytes);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    await pause();
  }
}

/** The decoder, yielding between steps of about equal work. */
function* decodeSteps(bytes: Uint8Array): Generator<void, KvSnapshotState, void> {
  const r = new Reader(bytes);
  for (const b of magic) if (r.u8('kv snapshot magic') !== b) throw new CodecError('kv snapshot: not a KV snapshot (bad magic)');
  const read = r.u8('kv snapshot format version');
  // Versions 4 and 5 are version 3 and more after it.
  const version = read === formatVersionWithExtension || read === formatVersionWithRange ? formatVersion : read;
  if (version !== formatVersion && version !== formatVersionWithoutOwners && version !== formatVersionWithoutRenewals) {
    throw new CodecError(`kv snapshot: format version ${version}, this build reads ${formatVersionWithoutRenewals} to ${formatVersionWithRange}`);
  }
  const revision = r.uint('kv snapshot revision');
  const compactRevision = r.uint('kv snapshot compact revision');
  if (compactRevision > revision) throw new CodecError(`kv snapshot: compact revision ${compactRevision} above revision ${revision}`);
  const time = r.uint('kv snapshot time');
  const sessions = new SessionTable();
  sessions.nextId = r.uint('kv snapshot next session id');
  const sequences = new Map<string, number>();
  const sequenceCount = r.count('kv snapshot sequences', 2);
  for (let i = 0; i < sequenceCount; i++) sequences.set(readKey(r, 'kv snapshot sequence prefix'), r.uint('kv snapshot sequence counter'));
  const sessionCount = r.count('kv snapshot sessions', version === formatVersionWithoutRenewals ? 3 : 4);
  let lastId = 0;
  for (let i = 0; i < sessionCount; i++) {
    if (i > 0 && i % decodeRecordsPerStep === 0) yield;
    const id = r.uint('kv snapshot session id');
    if (id <= lastId || id >= sessions.nextId) throw new CodecError(`kv snapshot: session id ${id} out of order or not below ${sessions.nextId}`);
    lastId = id;
    const ttlMs = r.uint('kv snapshot session ttl');
    const expiresAt = r.uint('kv snapshot session expiry');
    const renewedSlot = version === formatVersionWithoutRenewals ? 0 : r.uint('kv snapshot session renewal slot');
    const owned = version === formatVersion && readFlags(r, 'kv snapshot session owner flag', 1) === 1;
    const owner = owned ? readString(r, 'kv snapshot session owner', ownerBytesMax) : undefined;
    if (owner === '') throw new CodecError(`kv snapshot: session ${id} has an empty owner`);
    sessions.restore({ id, ttlMs, expiresAt, renewedSlot, keys: new Set(), ...(owner === undefined ? {} : { owner }) });
  }
  const auth = new AuthTable();
  if (version === formatVersion) {
    const authRevision = r.uint('kv snapshot auth revision');
    const roles: KvRoleRecord[] = [];
    for (let n = r.count('kv snapshot roles', 2); n > 0; n--) roles.push(readRoleRecord(r));
    const users: KvUserRecord[] = [];
    for (let n = r.count('kv snapshot users', 4); n > 0; n--) users.push(readUserRecord(r));
    if (roles.length > authLimits.rolesMax || users.length > authLimits.usersMax)
      throw new CodecError(`kv snapshot: ${roles.length} roles and ${users.length} users, over the limits`);
    // Each record as the log would have accepted it, against what came before it.
    const check = new AuthTable();
    for (const role of roles) {
      const bad = check.refuseRole(role);
      if (bad !== undefined) throw new CodecError(`kv snapshot: role ${role.name}: ${bad}`);
      check.putRole(role);
    }
    for (const user of users) {
      const bad = check.refuseUser(user);
      if (bad !== undefined) throw new CodecError(`kv snapshot: user ${user.name}: ${bad}`);
      check.putUser(user);
    }
    auth.restore(roles, users, authRevision);
  }
  const keyCount = r.count('kv snapshot keys', 3);
  const store = MvccStore.building(compactRevision);
  let recordsSince = 0;
  let valueBytesSince = 0;
  for (let i = 0; i < keyCount; i++) {
    if (recordsSince >= decodeRecordsPerStep || valueBytesSince >= valueBytesPerStep) {
      yield;
      recordsSince = 0;
      valueBytesSince = 0;
    }
    const key = readKey(r, 'kv snapshot key');
    const recordCount = r.count('kv snapshot records', 2);
    if (recordCount === 0) throw new CodecError(`kv snapshot: key ${key} has no records`);
    const history: KeyRecord[] = [];
    for (let j = 0; j < recordCount; j++) {
      const at = r.uint('kv snapshot record revision');
      if (at > revision || (history.length > 0 && at <= history[history.length - 1]!.revision))
        throw new CodecError(`kv snapshot: key ${key} has record revision ${at} out of order`);
      const kind = r.u8('kv snapshot record kind');
      if (kind === 0) {
        history.push({ revision: at, version: 0, createRevision: 0, value: null, session: undefined });
        continue;
      }
      if (kind > 2) throw new CodecError(`kv snapshot: record kind ${kind}`);
      const recordVersion = r.uint('kv snapshot record version');
      const createRevision = r.uint('kv snapshot record create revision');
      const value = keptValue(r.bytesOf('kv snapshot value', kvLimits.valueBytesMax));
      const session = kind === 2 ? r.uint('kv snapshot record session') : undefined;
      if (recordVersion === 0 || createRevision > at)
        throw new CodecError(`kv snapshot: key ${key} record at ${at} has version ${recordVersion}, created at ${createRevision}`);
      history.push({ revision: at, version: recordVersion, createRevision, value, session });
      valueBytesSince += value.byteLength;
    }
    recordsSince += recordCount;
    if (!store.add(key, history)) throw new CodecError(`kv snapshot: key ${key} is named twice`);
    const last = history[history.length - 1]!;
    if (last.value !== null && last.session !== undefined) {
      const owner = sessions.get(last.session);
      if (owner === undefined) throw new CodecError(`kv snapshot: key ${key} owned by unknown session ${last.session}`);
      owner.keys.add(key);
    }
  }
  const ranged = read === formatVersionWithRange ? readRange(r, revision) : undefined;
  const withExtension = read === formatVersionWithExtension || ranged?.withExtension === true;
  const extension = withExtension ? r.bytesOf('kv snapshot extension', extensionBytesMax).slice() : undefined;
  r.end();
  yield;
  return {
    store: yield* store.finishInSteps(revision),
    sessions,
    sequences,
    time,
    auth,
    ...(extension === undefined ? {} : { extension }),
    ...(ranged === undefined ? {} : { range: ranged.range }),
  };
}
