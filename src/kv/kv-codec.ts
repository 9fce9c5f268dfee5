/**
 * The binary encoding of the KV's log commands ({@link KvCommand}) and of what applying
 * them answers ({@link KvResult}).
 *
 * An encoding is a format version byte (1), a type tag byte, then the variant's fields
 * in a fixed order:
 * - integers (versions, revisions, session ids, `ttlMs`, `expiresAt`): unsigned varints
 *   up to 2^53 - 1, in their shortest form;
 * - keys (and range prefixes and ends): UTF-8 strings with a varint length, at most
 *   `kvLimits.keyBytesMax` bytes; values: byte strings, at most `kvLimits.valueBytesMax`;
 * - booleans: one byte, 0 or 1; enums (compare target and op, txn op, range kind): one
 *   byte each;
 * - optional fields: a flags byte (one presence bit per field, unknown bits refused),
 *   then the fields present, in order;
 * - lists: a varint count, checked against the bytes left and against its limit
 *   (`txnOpsMax` for compares, ops and op results, `rangeKeysMax` for a range's keys,
 *   `sessionsMax` for the sessions of a `session-expire` and for expired sessions)
 *   before anything is allocated for them.
 *
 * Every record has one encoding, so a decoded record re-encodes to the very same bytes.
 * Encoding checks the limits too (a record the decoder would refuse is never written),
 * and both directions throw {@link CodecError} and nothing else for a malformed record.
 *
 * Decoded values (`Uint8Array`s) are views into the bytes given to `decode`, not
 * copies. That is safe for the state machine to keep: the runtime decodes each command
 * from its own chosen entry, whose bytes are never reused or written over. A view keeps
 * its whole underlying buffer alive, though: a state machine that holds values for long
 * may `slice()` them to let a large frame go.
 */
import type { Codec } from '../runtime/index.js';
import { CodecError } from '../encoding/codec-error.js';
import { Reader } from '../encoding/reader.js';
import { Writer } from '../encoding/writer.js';
import { authLimits, type KvPermission, type KvRoleRecord, type KvUserRecord, type KvUserView } from './kv-auth.js';
import type { KvCommand, KvResult } from './kv-command.js';
import { kvLimits } from './kv-limits.js';
import type { Compare, KeyRange, KeyValue, SessionInfo, TxnOp, TxnOpResult } from './kv-types.js';

/** The format version written first; a decoder refuses any other. */
const formatVersion = 1;

/**
 * The longest `reason` of an `invalid` result, in UTF-8 bytes. Not in `kvLimits` (yet):
 * it bounds only the codec.
 */
const reasonBytesMax = 16 * 1024;

/** Type tags of the commands. Never reuse a number. */
const commandTag = {
  put: 1,
  delete: 2,
  txn: 3,
  'session-create': 4,
  'session-keepalive': 5,
  'session-close': 6,
  'session-expire-by-log-time': 7,
  'session-renew': 8,
  compact: 9,
  'session-expire': 10,
  // 11: a session-create with an owner.
  'auth-user-put': 12,
  'auth-user-delete': 13,
  'auth-role-put': 14,
  'auth-role-delete': 15,
  'auth-list': 16,
  extension: 17,
  // 18: a session-renew with decidedAtSlot.
  'range-freeze': 19,
  'range-release': 20,
  'range-seed': 21,
} as const satisfies Record<KvCommand['type'], number>;

/** Largest `extension` command or result, in bytes: what a put of a key and a value at their limits may take. */
const extensionBytesMax = kvLimits.valueBytesMax + kvLimits.keyBytesMax;

/**
 * The tag of a `session-create` with an owner: tag 4 stays the encoding of one without,
 * so the logs written before owners read (and re-encode) as they were.
 */
const sessionCreateOwnedTag = 11;
/** The tag of a `session-renew` with `decidedAtSlot`: tag 8 stays the encoding of one without (logs written before). */
const sessionRenewDecidedTag = 18;
/** Longest session owner (a user name), in UTF-8 bytes. */
const ownerBytesMax = 255;
/** Longest user or role name the codec carries, in UTF-8 bytes (the records' own check is stricter). */
const authNameBytesMax = 255;
const userHasSecret = 1;
const permissionKinds = ['key', 'prefix'] as const;
const accesses = ['read', 'write', 'readwrite'] as const;

/** A user record: name, flags (secret), secret, certificate names, roles. @internal */
export function writeUserRecord(w: Writer, u: KvUserRecord): void {
  writeString(w, 'user name', u.name, authNameBytesMax);
  w.u8(u.secret === undefined ? 0 : userHasSecret);
  if (u.secret !== undefined) {
    if (u.secret.byteLength > authLimits.secretBytesMax) throw new CodecError(`user secret: ${u.secret.byteLength} bytes, over ${authLimits.secretBytesMax}`);
    w.bytesOf(u.secret);
  }
  writeCount(w, 'user certificate names', u.certificateNames.length, authLimits.certificateNamesPerUserMax);
  for (const n of u.certificateNames) writeString(w, 'user certificate name', n, authLimits.certificateNameBytesMax);
  writeCount(w, 'user roles', u.roles.length, authLimits.rolesPerUserMax);
  for (const role of u.roles) writeString(w, 'user role', role, authNameBytesMax);
}

/** @internal */
export function readUserRecord(r: Reader): KvUserRecord {
  const name = readString(r, 'user name', authNameBytesMax);
  const flags = readFlags(r, 'user flags', userHasSecret);
  const secret = flags === 0 ? undefined : r.bytesOf('user secret', authLimits.secretBytesMax).slice();
  const certificateNames: string[] = [];
  for (let n = readCount(r, 'user certificate names', 1, authLimits.certificateNamesPerUserMax); n > 0; n--)
    certificateNames.push(readString(r, 'user certificate name', authLimits.certificateNameBytesMax));
  const roles: string[] = [];
  for (let n = readCount(r, 'user roles', 1, authLimits.rolesPerUserMax); n > 0; n--) roles.push(readString(r, 'user role', authNameBytesMax));
  return { name, ...(secret === undefined ? {} : { secret }), certificateNames, roles };
}

/** A role record: name, then each permission as kind, key or prefix, access. @internal */
export function writeRoleRecord(w: Writer, role: KvRoleRecord): void {
  writeString(w, 'role name', role.name, authNameBytesMax);
  writeCount(w, 'role permissions', role.permissions.length, authLimits.permissionsPerRoleMax);
  for (const p of role.permissions) {
    const access = accesses.indexOf(p.access);
    if (access < 0) throw new CodecError(`permission access ${String(p.access)}`);
    w.u8('key' in p ? 0 : 1);
    writeKey(w, 'permission key', 'key' in p ? p.key : p.prefix);
    w.u8(access);
  }
}

/** @internal */
export function readRoleRecord(r: Reader): KvRoleRecord {
  const name = readString(r, 'role name', authNameBytesMax);
  const permissions: KvPermission[] = [];
  for (let n = readCount(r, 'role permissions', 3, authLimits.permissionsPerRoleMax); n > 0; n--) {
    const kind = permissionKinds[r.u8('permission kind')];
    if (kind === undefined) throw new CodecError('unknown permission kind');
    const text = readKey(r, 'permission key');
    const access = accesses[r.u8('permission access')];
    if (access === undefined) throw new CodecError('unknown permission access');
    permissions.push(kind === 'key' ? { key: text, access } : { prefix: text, access });
  }
  return { name, permissions };
}

/** Type tags of the results. Never reuse a number. */
const resultTag = {
  put: 1,
  delete: 2,
  txn: 3,
  session: 4,
  'session-closed': 5,
  expired: 6,
  renewed: 7,
  compacted: 8,
  conflict: 9,
  'no-session': 10,
  'compacted-revision': 11,
  invalid: 12,
  'quota-exceeded': 13,
  auth: 14,
  'auth-list': 15,
  'permission-denied': 16,
  extension: 17,
  'wrong-range': 18,
  'range-frozen': 19,
  'range-released': 20,
  'range-seeded': 21,
} as const satisfies Record<KvResult['type'], number>;

// Flag bits of the optional fields.
const putHasExpectedVersion = 1;
const putHasSession = 2;
const putHasSequential = 4;
const putSequential = 8;
const deleteHasExpectedVersion = 1;
const opPutHasSession = 1;
const opRangeHasLimit = 1;
const kvHasSession = 1;

/** Enum bytes; the index is the byte. Never reorder. */
const numberTargets = ['version', 'createRevision', 'modRevision'] as const;
const valueTarget = 3;
const compareOps = ['==', '!=', '<', '>'] as const;
const txnOps = ['put', 'delete', 'range'] as const;
const rangeKey = 0;
const rangePrefix = 1;
const rangeSpan = 2;

// Fewest bytes an item of each list takes, so a count is checked against what is left.
const compareBytesMin = 4; // key length, target, op, value
const txnOpBytesMin = 2; // op, key length (a delete)
const txnOpResultBytesMin = 3; // op, key length, version or deleted
const keyValueBytesMin = 6; // key length, value length, 3 integers, flags
const sessionIdBytesMin = 1;

type Variant<U, T> = Extract<U, { readonly type: T }>;
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The codec of {@link KvCommand}s, the records the KV's log carries. */
export const kvCommandCodec: Codec<KvCommand> = Object.freeze({
  /** @throws {@link CodecError} if a field breaks a limit or is not an unsigned safe integer. */
  encode(command: KvCommand): Uint8Array {
    return encodeCommandAfter(command, 0, (bytes) => new Uint8Array(bytes));
  },
  /**
   * {@link encode}'s bytes after `headBytes` free ones. A command read from a client's
   * frame ({@link readCommandWithBytes}) is the bytes it was read from, copied once; a
   * put of a large value is written in place; anything else is encoded, then copied.
   * @throws {@link CodecError} as {@link encode} does.
   */
  encodeAfter: encodeCommandAfter,
  /**
   * Decodes all of `bytes`; values are views into them.
   * @throws {@link CodecError} for anything malformed, and only that.
   */
  decode(bytes: Uint8Array): KvCommand {
    const r = new Reader(bytes);
    readVersion(r);
    const command = readCommand(r);
    r.end();
    return command;
  },
});

/** The codec of {@link KvResult}s, what applying a command answers. */
export const kvResultCodec: Codec<KvResult> = Object.freeze({
  /** @throws {@link CodecError} if a field breaks a limit or is not an unsigned safe integer. */
  encode(result: KvResult): Uint8Array {
    const w = takeWriter();
    try {
      w.u8(formatVersion);
      writeResult(w, result);
      return w.finish().slice();
    } finally {
      releaseWriter(w);
    }
  },
  /**
   * Decodes all of `bytes`; values are views into them.
   * @throws {@link CodecError} for anything malformed, and only that.
   */
  decode(bytes: Uint8Array): KvResult {
    const r = new Reader(bytes);
    readVersion(r);
    const result = readResult(r);
    r.end();
    return result;
  },
});

// ------------------------------------------------------------------ the shared writer

/**
 * One writer serves every encode (encoding is synchronous, and each encode returns a
 * copy of exactly its bytes, so nothing keeps a view of it). A writer grown beyond this
 * by a large value is let go rather than kept.
 */
const sharedWriterBytesMax = 64 * 1024;
let sharedWriter: Writer | undefined = new Writer(1024);

function takeWriter(): Writer {
  const w = sharedWriter;
  if (w === undefined) return new Writer(); // Re-entered (an encode within an encode): no sharing.
  sharedWriter = undefined;
  w.truncate(0);
  return w;
}

function releaseWriter(w: Writer): void {
  sharedWriter = w.length > sharedWriterBytesMax ? new Writer(1024) : w;
}

// ------------------------------------------------------------ commands encoded once

/**
 * Commands read from a client's frame, with the bytes each was read from. A record has
 * one encoding, so a command read from bytes re-encodes to those very bytes: a server
 * that checked and authorized the command enters them as they came, without encoding
 * the command (and copying its values) again. Keyed by the object: a command the
 * server rewrites (a session-create given its owner) is a new object, encoded anew.
 */
const bytesRead = new WeakMap<KvCommand, Uint8Array>();

/**
 * Reads a command (as {@link readCommand}) from `frame`, which `r` reads, and keeps a
 * view of the bytes it was read from for {@link kvCommandCodec}'s `encodeAfter`. The
 * command must not be changed after (its fields are `readonly`). @internal
 */
export function readCommandWithBytes(r: Reader, frame: Uint8Array): KvCommand {
  const start = r.position;
  const command = readCommand(r);
  bytesRead.set(command, frame.subarray(start, r.position));
  return command;
}

/** Puts of a value of at least this many bytes are encoded in place (smaller ones are cheaper through the shared writer and the runtime's slab). */
const inPlaceValueBytesMin = 4 * 1024;

function encodeCommandAfter(command: KvCommand, headBytes: number, allocate: (bytes: number) => Uint8Array): Uint8Array {
  const read = bytesRead.get(command);
  if (read !== undefined) {
    const bytes = allocate(headBytes + 1 + read.byteLength);
    bytes[headBytes] = formatVersion;
    bytes.set(read, headBytes + 1);
    return bytes;
  }
  if (command.type === 'put' && command.value.byteLength >= inPlaceValueBytesMin) {
    // At most: version and tag, the key (a varint and 3 UTF-8 bytes per UTF-16 unit), the value's length and bytes, flags, two integers.
    const bound = 2 + 8 + 3 * command.key.length + 8 + command.value.byteLength + 1 + 8 + 8;
    const bytes = allocate(headBytes + bound);
    const w = new Writer(bytes.subarray(headBytes));
    w.u8(formatVersion);
    writeCommand(w, command);
    // The bound held, so the writer never grew away from `bytes`.
    if (w.capacity === bound) return bytes.subarray(0, headBytes + w.length);
  }
  const w = takeWriter();
  try {
    w.u8(formatVersion);
    writeCommand(w, command);
    const bytes = allocate(headBytes + w.length);
    bytes.set(w.finish(), headBytes);
    return bytes;
  } finally {
    releaseWriter(w);
  }
}

// ---------------------------------------------------------------------- commands

/** @internal */
export function writeCommand(w: Writer, c: KvCommand): void {
  switch (c.type) {
    case 'put': {
      w.u8(commandTag.put);
      writeKey(w, 'put key', c.key);
      writeValue(w, 'put value', c.value);
      let flags = 0;
      if (c.expectedVersion !== undefined) flags |= putHasExpectedVersion;
      if (c.session !== undefined) flags |= putHasSession;
      if (c.sequential !== undefined) flags |= c.sequential ? putHasSequential | putSequential : putHasSequential;
      w.u8(flags);
      if (c.expectedVersion !== undefined) writeUint(w, 'put expectedVersion', c.expectedVersion);
      if (c.session !== undefined) writeUint(w, 'put session', c.session);
      return;
    }
    case 'delete':
      w.u8(commandTag.delete);
      writeKey(w, 'delete key', c.key);
      w.u8(c.expectedVersion !== undefined ? deleteHasExpectedVersion : 0);
      if (c.expectedVersion !== undefined) writeUint(w, 'delete expectedVersion', c.expectedVersion);
      return;
    case 'txn':
      w.u8(commandTag.txn);
      writeCount(w, 'txn compare', c.compare.length, kvLimits.txnOpsMax);
      for (const compare of c.compare) writeCompare(w, compare);
      writeTxnOps(w, 'txn success', c.success);
      writeTxnOps(w, 'txn failure', c.failure);
      return;
    case 'session-create':
      w.u8(c.owner === undefined ? commandTag['session-create'] : sessionCreateOwnedTag);
      writeUint(w, 'session-create ttlMs', c.ttlMs);
      if (c.owner !== undefined) {
        if (c.owner.user.length === 0) throw new CodecError('session-create owner: empty');
        writeString(w, 'session-create owner', c.owner.user, ownerBytesMax);
        writeUint(w, 'session-create owner sessionsMax', c.owner.sessionsMax);
      }
      return;
    case 'session-keepalive':
      w.u8(commandTag['session-keepalive']);
      writeUint(w, 'session-keepalive session', c.session);
      return;
    case 'session-close':
      w.u8(commandTag['session-close']);
      writeUint(w, 'session-close session', c.session);
      return;
    case 'session-expire':
      w.u8(commandTag['session-expire']);
      writeUint(w, 'session-expire decidedAtSlot', c.decidedAtSlot);
      writeCount(w, 'session-expire sessions', c.sessions.length, kvLimits.sessionsMax);
      for (const session of c.sessions) writeUint(w, 'session-expire session', session);
      return;
    case 'session-expire-by-log-time':
      w.u8(commandTag['session-expire-by-log-time']);
      return;
    case 'session-renew':
      if (c.decidedAtSlot === undefined) {
        w.u8(commandTag['session-renew']);
        return;
      }
      w.u8(sessionRenewDecidedTag);
      writeUint(w, 'session-renew decidedAtSlot', c.decidedAtSlot);
      return;
    case 'compact':
      w.u8(commandTag.compact);
      writeUint(w, 'compact revision', c.revision);
      return;
    case 'auth-user-put':
      w.u8(commandTag['auth-user-put']);
      writeUserRecord(w, c.user);
      return;
    case 'auth-role-put':
      w.u8(commandTag['auth-role-put']);
      writeRoleRecord(w, c.role);
      return;
    case 'auth-list':
      w.u8(commandTag['auth-list']);
      return;
    case 'extension':
      if (c.data.byteLength > extensionBytesMax) throw new CodecError(`an extension command of ${c.data.byteLength} bytes (at most ${extensionBytesMax})`);
      w.u8(commandTag.extension);
      w.bytesOf(c.data);
      return;
    case 'auth-user-delete':
    case 'auth-role-delete':
      w.u8(commandTag[c.type]);
      writeString(w, `${c.type} name`, c.name, authNameBytesMax);
      return;
    case 'range-freeze':
    case 'range-release':
      w.u8(commandTag[c.type]);
      writeKey(w, `${c.type} at`, c.at);
      return;
    case 'range-seed':
      w.u8(commandTag['range-seed']);
      writeUint(w, 'range-seed revision', c.revision);
      writeString(w, 'range-seed after', c.after, kvLimits.keyBytesMax);
      w.bool(c.last);
      w.uint(c.records.length);
      for (const kv of c.records) writeKeyValue(w, kv);
      w.uint(c.sequences.length);
      for (const [prefix, next] of c.sequences) {
        writeKey(w, 'range-seed sequence prefix', prefix);
        writeUint(w, 'range-seed sequence counter', next);
      }
      return;
    default:
      throw new CodecError(`unknown command type ${String((c as { type: unknown }).type)}`);
  }
}

/** @internal */
function readCommand(r: Reader): KvCommand {
  const tag = r.u8('command type');
  switch (tag) {
    case commandTag.put: {
      const key = readKey(r, 'put key');
      const value = readValue(r, 'put value');
      const flags = readFlags(r, 'put flags', putHasExpectedVersion | putHasSession | putHasSequential | putSequential);
      if ((flags & (putHasSequential | putSequential)) === putSequential) throw new CodecError('put flags: sequential set without its presence bit');
      const put: Mutable<Variant<KvCommand, 'put'>> = { type: 'put', key, value };
      if ((flags & putHasExpectedVersion) !== 0) put.expectedVersion = r.uint('put expectedVersion');
      if ((flags & putHasSession) !== 0) put.session = r.uint('put session');
      if ((flags & putHasSequential) !== 0) put.sequential = (flags & putSequential) !== 0;
      return put;
    }
    case commandTag.delete: {
      const key = readKey(r, 'delete key');
      const flags = readFlags(r, 'delete flags', deleteHasExpectedVersion);
      return flags === 0 ? { type: 'delete', key } : { type: 'delete', key, expectedVersion: r.uint('delete expectedVersion') };
    }
    case commandTag.txn: {
      const compare: Compare[] = [];
      for (let n = readCount(r, 'txn compare', compareBytesMin, kvLimits.txnOpsMax); n > 0; n--) compare.push(readCompare(r));
      const success = readTxnOps(r, 'txn success');
      const failure = readTxnOps(r, 'txn failure');
      return { type: 'txn', compare, success, failure };
    }
    case commandTag['session-create']:
      return { type: 'session-create', ttlMs: r.uint('session-create ttlMs') };
    case sessionCreateOwnedTag: {
      const ttlMs = r.uint('session-create ttlMs');
      const user = readString(r, 'session-create owner', ownerBytesMax);
      if (user.length === 0) throw new CodecError('session-create owner: empty');
      return { type: 'session-create', ttlMs, owner: { user, sessionsMax: r.uint('session-create owner sessionsMax') } };
    }
    case commandTag['session-keepalive']:
      return { type: 'session-keepalive', session: r.uint('session-keepalive session') };
    case commandTag['session-close']:
      return { type: 'session-close', session: r.uint('session-close session') };
    case commandTag['session-expire']: {
      const decidedAtSlot = r.uint('session-expire decidedAtSlot');
      const sessions: number[] = [];
      for (let n = readCount(r, 'session-expire sessions', sessionIdBytesMin, kvLimits.sessionsMax); n > 0; n--)
        sessions.push(r.uint('session-expire session'));
      return { type: 'session-expire', sessions, decidedAtSlot };
    }
    case commandTag['session-expire-by-log-time']:
      return { type: 'session-expire-by-log-time' };
    case commandTag['session-renew']:
      return { type: 'session-renew' };
    case sessionRenewDecidedTag:
      return { type: 'session-renew', decidedAtSlot: r.uint('session-renew decidedAtSlot') };
    case commandTag.compact:
      return { type: 'compact', revision: r.uint('compact revision') };
    case commandTag['auth-user-put']:
      return { type: 'auth-user-put', user: readUserRecord(r) };
    case commandTag['auth-role-put']:
      return { type: 'auth-role-put', role: readRoleRecord(r) };
    case commandTag['auth-user-delete']:
      return { type: 'auth-user-delete', name: readString(r, 'auth-user-delete name', authNameBytesMax) };
    case commandTag['auth-list']:
      return { type: 'auth-list' };
    case commandTag.extension:
      return { type: 'extension', data: r.bytesOf('extension command', extensionBytesMax) };
    case commandTag['auth-role-delete']:
      return { type: 'auth-role-delete', name: readString(r, 'auth-role-delete name', authNameBytesMax) };
    case commandTag['range-freeze']:
      return { type: 'range-freeze', at: readKey(r, 'range-freeze at') };
    case commandTag['range-release']:
      return { type: 'range-release', at: readKey(r, 'range-release at') };
    case commandTag['range-seed']: {
      const revision = r.uint('range-seed revision');
      const after = readString(r, 'range-seed after', kvLimits.keyBytesMax);
      const last = r.bool('range-seed last');
      const records: KeyValue[] = [];
      for (let n = r.count('range-seed records', keyValueBytesMin); n > 0; n--) records.push(readKeyValue(r));
      const sequences: [string, number][] = [];
      for (let n = r.count('range-seed sequences', 2); n > 0; n--)
        sequences.push([readKey(r, 'range-seed sequence prefix'), r.uint('range-seed sequence counter')]);
      return { type: 'range-seed', revision, after, last, records, sequences };
    }
    default:
      throw new CodecError(`unknown command type tag ${tag}`);
  }
}

function writeCompare(w: Writer, c: Compare): void {
  writeKey(w, 'compare key', c.key);
  if (c.target === 'value') {
    w.u8(valueTarget);
    if (c.op !== '==' && c.op !== '!=') throw new CodecError(`compare op ${String(c.op)} does not apply to target value`);
    w.u8(c.op === '==' ? 0 : 1);
    writeValue(w, 'compare value', c.value);
    return;
  }
  const target = numberTargets.indexOf(c.target);
  if (target < 0) throw new CodecError(`unknown compare target ${String(c.target)}`);
  const op = compareOps.indexOf(c.op);
  if (op < 0) throw new CodecError(`unknown compare op ${String(c.op)}`);
  w.u8(target);
  w.u8(op);
  writeUint(w, 'compare value', c.value);
}

function readCompare(r: Reader): Compare {
  const key = readKey(r, 'compare key');
  const targetByte = r.u8('compare target');
  const opByte = r.u8('compare op');
  if (targetByte === valueTarget) {
    if (opByte > 1) throw new CodecError(`compare op ${opByte} does not apply to target value`);
    return { key, target: 'value', op: opByte === 0 ? '==' : '!=', value: readValue(r, 'compare value') };
  }
  const target = numberTargets[targetByte];
  if (target === undefined) throw new CodecError(`unknown compare target ${targetByte}`);
  const op = compareOps[opByte];
  if (op === undefined) throw new CodecError(`unknown compare op ${opByte}`);
  return { key, target, op, value: r.uint('compare value') };
}

function writeTxnOps(w: Writer, what: string, ops: readonly TxnOp[]): void {
  writeCount(w, what, ops.length, kvLimits.txnOpsMax);
  for (const op of ops) writeTxnOp(w, op);
}

function readTxnOps(r: Reader, what: string): TxnOp[] {
  const ops: TxnOp[] = [];
  for (let n = readCount(r, what, txnOpBytesMin, kvLimits.txnOpsMax); n > 0; n--) ops.push(readTxnOp(r));
  return ops;
}

function writeTxnOp(w: Writer, op: TxnOp): void {
  switch (op.op) {
    case 'put':
      w.u8(0);
      writeKey(w, 'txn put key', op.key);
      writeValue(w, 'txn put value', op.value);
      w.u8(op.session !== undefined ? opPutHasSession : 0);
      if (op.session !== undefined) writeUint(w, 'txn put session', op.session);
      return;
    case 'delete':
      w.u8(1);
      writeKey(w, 'txn delete key', op.key);
      return;
    case 'range':
      w.u8(2);
      writeRange(w, op.range);
      w.u8(op.limit !== undefined ? opRangeHasLimit : 0);
      if (op.limit !== undefined) writeUint(w, 'txn range limit', op.limit);
      return;
    default:
      throw new CodecError(`unknown txn op ${String((op as { op: unknown }).op)}`);
  }
}

function readTxnOp(r: Reader): TxnOp {
  const opByte = r.u8('txn op');
  switch (txnOps[opByte]) {
    case 'put': {
      const key = readKey(r, 'txn put key');
      const value = readValue(r, 'txn put value');
      const flags = readFlags(r, 'txn put flags', opPutHasSession);
      return flags === 0 ? { op: 'put', key, value } : { op: 'put', key, value, session: r.uint('txn put session') };
    }
    case 'delete':
      return { op: 'delete', key: readKey(r, 'txn delete key') };
    case 'range': {
      const range = readRange(r);
      const flags = readFlags(r, 'txn range flags', opRangeHasLimit);
      return flags === 0 ? { op: 'range', range } : { op: 'range', range, limit: r.uint('txn range limit') };
    }
    default:
      throw new CodecError(`unknown txn op ${opByte}`);
  }
}

/** A range is one of three shapes with no tag of its own: an object with fields of two shapes is refused, not half written. */
/** @internal */
export function writeRange(w: Writer, range: KeyRange): void {
  if ('key' in range) {
    if ('prefix' in range || 'start' in range || 'end' in range) throw new CodecError('range: both a key and a prefix or span');
    w.u8(rangeKey);
    writeKey(w, 'range key', range.key);
  } else if ('prefix' in range) {
    if ('start' in range || 'end' in range) throw new CodecError('range: both a prefix and a span');
    w.u8(rangePrefix);
    writeKey(w, 'range prefix', range.prefix);
  } else {
    w.u8(rangeSpan);
    writeKey(w, 'range start', range.start);
    writeKey(w, 'range end', range.end);
  }
}

/** @internal */
export function readRange(r: Reader): KeyRange {
  const kind = r.u8('range kind');
  switch (kind) {
    case rangeKey:
      return { key: readKey(r, 'range key') };
    case rangePrefix:
      return { prefix: readKey(r, 'range prefix') };
    case rangeSpan: {
      const start = readKey(r, 'range start');
      return { start, end: readKey(r, 'range end') };
    }
    default:
      throw new CodecError(`unknown range kind ${kind}`);
  }
}

// ----------------------------------------------------------------------- results

/** @internal */
export function writeResult(w: Writer, res: KvResult): void {
  switch (res.type) {
    case 'put':
      w.u8(resultTag.put);
      writeKey(w, 'put result key', res.key);
      writeUint(w, 'put result version', res.version);
      writeUint(w, 'put result revision', res.revision);
      return;
    case 'delete':
      w.u8(resultTag.delete);
      w.bool(res.deleted);
      writeUint(w, 'delete result revision', res.revision);
      return;
    case 'txn':
      w.u8(resultTag.txn);
      w.bool(res.succeeded);
      writeCount(w, 'txn results', res.results.length, kvLimits.txnOpsMax);
      for (const opResult of res.results) writeTxnOpResult(w, opResult);
      writeUint(w, 'txn result revision', res.revision);
      return;
    case 'session':
      w.u8(resultTag.session);
      writeSessionInfo(w, res.session);
      return;
    case 'session-closed':
      w.u8(resultTag['session-closed']);
      writeUint(w, 'session-closed keysDeleted', res.keysDeleted);
      writeUint(w, 'session-closed revision', res.revision);
      return;
    case 'expired':
      w.u8(resultTag.expired);
      writeCount(w, 'expired sessions', res.sessions.length, kvLimits.sessionsMax);
      for (const session of res.sessions) writeUint(w, 'expired session', session);
      writeUint(w, 'expired revision', res.revision);
      return;
    case 'renewed':
      w.u8(resultTag.renewed);
      writeUint(w, 'renewed sessions', res.sessions);
      return;
    case 'compacted':
      w.u8(resultTag.compacted);
      writeUint(w, 'compacted revision', res.revision);
      return;
    case 'conflict':
      w.u8(resultTag.conflict);
      writeKey(w, 'conflict key', res.key);
      writeUint(w, 'conflict version', res.version);
      writeUint(w, 'conflict revision', res.revision);
      return;
    case 'no-session':
      w.u8(resultTag['no-session']);
      writeUint(w, 'no-session session', res.session);
      return;
    case 'compacted-revision':
      w.u8(resultTag['compacted-revision']);
      writeUint(w, 'compacted-revision revision', res.revision);
      writeUint(w, 'compacted-revision compactRevision', res.compactRevision);
      return;
    case 'auth-list':
      w.u8(resultTag['auth-list']);
      writeUint(w, 'auth-list revision', res.revision);
      writeCount(w, 'auth-list users', res.users.length, authLimits.usersMax);
      for (const u of res.users) {
        // As a user record, with a secret's presence for its secret (never sent).
        writeUserRecord(w, { name: u.name, certificateNames: u.certificateNames, roles: u.roles });
        w.bool(u.hasSecret);
      }
      writeCount(w, 'auth-list roles', res.roles.length, authLimits.rolesMax);
      for (const role of res.roles) writeRoleRecord(w, role);
      return;
    case 'extension':
      if (res.data.byteLength > extensionBytesMax) throw new CodecError(`an extension result of ${res.data.byteLength} bytes (at most ${extensionBytesMax})`);
      w.u8(resultTag.extension);
      w.bytesOf(res.data);
      return;
    case 'permission-denied':
      w.u8(resultTag['permission-denied']);
      writeString(w, 'permission-denied user', res.user, authNameBytesMax);
      writeString(w, 'permission-denied access', res.access, authNameBytesMax);
      writeString(w, 'permission-denied resource', res.resource, reasonBytesMax);
      return;
    case 'auth':
      w.u8(resultTag.auth);
      writeUint(w, 'auth revision', res.revision);
      w.bool(res.existed);
      return;
    case 'quota-exceeded':
      w.u8(resultTag['quota-exceeded']);
      writeString(w, 'quota-exceeded quota', res.quota, ownerBytesMax);
      writeUint(w, 'quota-exceeded limit', res.limit);
      return;
    case 'invalid':
      w.u8(resultTag.invalid);
      writeString(w, 'invalid reason', res.reason, reasonBytesMax);
      return;
    case 'wrong-range':
      w.u8(resultTag['wrong-range']);
      writeString(w, 'wrong-range key', res.key, kvLimits.keyBytesMax);
      writeString(w, 'wrong-range start', res.start, kvLimits.keyBytesMax);
      w.bool(res.end !== undefined);
      if (res.end !== undefined) writeString(w, 'wrong-range end', res.end, kvLimits.keyBytesMax);
      return;
    case 'range-frozen':
      w.u8(resultTag['range-frozen']);
      writeKey(w, 'range-frozen at', res.at);
      writeUint(w, 'range-frozen revision', res.revision);
      return;
    case 'range-released':
      w.u8(resultTag['range-released']);
      writeUint(w, 'range-released keys', res.keys);
      return;
    case 'range-seeded':
      w.u8(resultTag['range-seeded']);
      writeString(w, 'range-seeded cursor', res.cursor, kvLimits.keyBytesMax);
      w.bool(res.done);
      return;
    default:
      throw new CodecError(`unknown result type ${String((res as { type: unknown }).type)}`);
  }
}

/** @internal */
export function readResult(r: Reader): KvResult {
  const tag = r.u8('result type');
  switch (tag) {
    case resultTag.put: {
      const key = readKey(r, 'put result key');
      const version = r.uint('put result version');
      return { type: 'put', key, version, revision: r.uint('put result revision') };
    }
    case resultTag.delete: {
      const deleted = r.bool('delete result deleted');
      return { type: 'delete', deleted, revision: r.uint('delete result revision') };
    }
    case resultTag.txn: {
      const succeeded = r.bool('txn result succeeded');
      const results: TxnOpResult[] = [];
      for (let n = readCount(r, 'txn results', txnOpResultBytesMin, kvLimits.txnOpsMax); n > 0; n--) results.push(readTxnOpResult(r));
      return { type: 'txn', succeeded, results, revision: r.uint('txn result revision') };
    }
    case resultTag.session:
      return { type: 'session', session: readSessionInfo(r) };
    case resultTag['session-closed']: {
      const keysDeleted = r.uint('session-closed keysDeleted');
      return { type: 'session-closed', keysDeleted, revision: r.uint('session-closed revision') };
    }
    case resultTag.expired: {
      const sessions: number[] = [];
      for (let n = readCount(r, 'expired sessions', sessionIdBytesMin, kvLimits.sessionsMax); n > 0; n--) sessions.push(r.uint('expired session'));
      return { type: 'expired', sessions, revision: r.uint('expired revision') };
    }
    case resultTag.renewed:
      return { type: 'renewed', sessions: r.uint('renewed sessions') };
    case resultTag.compacted:
      return { type: 'compacted', revision: r.uint('compacted revision') };
    case resultTag.conflict: {
      const key = readKey(r, 'conflict key');
      const version = r.uint('conflict version');
      return { type: 'conflict', key, version, revision: r.uint('conflict revision') };
    }
    case resultTag['no-session']:
      return { type: 'no-session', session: r.uint('no-session session') };
    case resultTag['compacted-revision']: {
      const revision = r.uint('compacted-revision revision');
      return { type: 'compacted-revision', revision, compactRevision: r.uint('compacted-revision compactRevision') };
    }
    case resultTag.invalid:
      return { type: 'invalid', reason: readString(r, 'invalid reason', reasonBytesMax) };
    case resultTag['auth-list']: {
      const revision = r.uint('auth-list revision');
      const users: KvUserView[] = [];
      for (let n = readCount(r, 'auth-list users', 4, authLimits.usersMax); n > 0; n--) {
        const u = readUserRecord(r);
        if (u.secret !== undefined) throw new CodecError('auth-list: a user listed with its secret');
        users.push({ name: u.name, hasSecret: r.bool('auth-list user has secret'), certificateNames: u.certificateNames, roles: u.roles });
      }
      const roles: KvRoleRecord[] = [];
      for (let n = readCount(r, 'auth-list roles', 2, authLimits.rolesMax); n > 0; n--) roles.push(readRoleRecord(r));
      return { type: 'auth-list', revision, users, roles };
    }
    case resultTag['permission-denied']:
      return {
        type: 'permission-denied',
        user: readString(r, 'permission-denied user', authNameBytesMax),
        access: readString(r, 'permission-denied access', authNameBytesMax),
        resource: readString(r, 'permission-denied resource', reasonBytesMax),
      };
    case resultTag.extension:
      return { type: 'extension', data: r.bytesOf('extension result', extensionBytesMax) };
    case resultTag.auth:
      return { type: 'auth', revision: r.uint('auth revision'), existed: r.bool('auth existed') };
    case resultTag['quota-exceeded']:
      return { type: 'quota-exceeded', quota: readString(r, 'quota-exceeded quota', ownerBytesMax), limit: r.uint('quota-exceeded limit') };
    case resultTag['wrong-range']: {
      const key = readString(r, 'wrong-range key', kvLimits.keyBytesMax);
      const start = readString(r, 'wrong-range start', kvLimits.keyBytesMax);
      return r.bool('wrong-range has end')
        ? { type: 'wrong-range', key, start, end: readString(r, 'wrong-range end', kvLimits.keyBytesMax) }
        : { type: 'wrong-range', key, start };
    }
    case resultTag['range-frozen']:
      return { type: 'range-frozen', at: readKey(r, 'range-frozen at'), revision: r.uint('range-frozen revision') };
    case resultTag['range-released']:
      return { type: 'range-released', keys: r.uint('range-released keys') };
    case resultTag['range-seeded']:
      return { type: 'range-seeded', cursor: readString(r, 'range-seeded cursor', kvLimits.keyBytesMax), done: r.bool('range-seeded done') };
    default:
      throw new CodecError(`unknown result type tag ${tag}`);
  }
}

function writeTxnOpResult(w: Writer, res: TxnOpResult): void {
  switch (res.op) {
    case 'put':
      w.u8(0);
      writeKey(w, 'txn put result key', res.key);
      writeUint(w, 'txn put result version', res.version);
      return;
    case 'delete':
      w.u8(1);
      writeKey(w, 'txn delete result key', res.key);
      w.bool(res.deleted);
      return;
    case 'range':
      w.u8(2);
      checkRangeCounts(res.kvs.length, res.more, res.count);
      writeCount(w, 'txn range result kvs', res.kvs.length, kvLimits.rangeKeysMax);
      for (const kv of res.kvs) writeKeyValue(w, kv);
      w.bool(res.more);
      writeUint(w, 'txn range result count', res.count);
      return;
    default:
      throw new CodecError(`unknown txn op result ${String((res as { op: unknown }).op)}`);
  }
}

function readTxnOpResult(r: Reader): TxnOpResult {
  const opByte = r.u8('txn op result');
  switch (txnOps[opByte]) {
    case 'put': {
      const key = readKey(r, 'txn put result key');
      return { op: 'put', key, version: r.uint('txn put result version') };
    }
    case 'delete': {
      const key = readKey(r, 'txn delete result key');
      return { op: 'delete', key, deleted: r.bool('txn delete result deleted') };
    }
    case 'range': {
      const kvs: KeyValue[] = [];
      for (let n = readCount(r, 'txn range result kvs', keyValueBytesMin, kvLimits.rangeKeysMax); n > 0; n--) kvs.push(readKeyValue(r));
      const more = r.bool('txn range result more');
      const count = r.uint('txn range result count');
      checkRangeCounts(kvs.length, more, count);
      return { op: 'range', kvs, more, count };
    }
    default:
      throw new CodecError(`unknown txn op result ${opByte}`);
  }
}

/**
 * `count` holds the keys returned and those left out; `more` says whether any were left
 * out. So `more` is exactly `count > kvs`.
 */
export function checkRangeCounts(kvs: number, more: boolean, count: number): void {
  if (count < kvs) throw new CodecError(`txn range result: count ${count} is below the ${kvs} keys returned`);
  if (more !== count > kvs) throw new CodecError(`txn range result: more is ${more} with count ${count} and ${kvs} keys returned`);
}

/** @internal */
export function writeKeyValue(w: Writer, kv: KeyValue): void {
  writeKey(w, 'kv key', kv.key);
  writeValue(w, 'kv value', kv.value);
  writeUint(w, 'kv version', kv.version);
  writeUint(w, 'kv createRevision', kv.createRevision);
  writeUint(w, 'kv modRevision', kv.modRevision);
  w.u8(kv.session !== undefined ? kvHasSession : 0);
  if (kv.session !== undefined) writeUint(w, 'kv session', kv.session);
}

/** @internal */
export function readKeyValue(r: Reader): KeyValue {
  const key = readKey(r, 'kv key');
  const value = readValue(r, 'kv value');
  const version = r.uint('kv version');
  const createRevision = r.uint('kv createRevision');
  const modRevision = r.uint('kv modRevision');
  const flags = readFlags(r, 'kv flags', kvHasSession);
  return flags === 0
    ? { key, value, version, createRevision, modRevision }
    : { key, value, version, createRevision, modRevision, session: r.uint('kv session') };
}

function writeSessionInfo(w: Writer, s: SessionInfo): void {
  writeUint(w, 'session id', s.id);
  writeUint(w, 'session ttlMs', s.ttlMs);
  writeUint(w, 'session expiresAt', s.expiresAt);
}

function readSessionInfo(r: Reader): SessionInfo {
  const id = r.uint('session id');
  const ttlMs = r.uint('session ttlMs');
  return { id, ttlMs, expiresAt: r.uint('session expiresAt') };
}

// -------------------------------------------------------------------- primitives

/** @internal */
function readVersion(r: Reader): void {
  const version = r.u8('format version');
  if (version !== formatVersion) throw new CodecError(`KV format version ${version}; this build reads ${formatVersion}`);
}

/** @internal */
export function writeUint(w: Writer, what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new CodecError(`${what}: cannot encode ${n}, not an unsigned safe integer`);
  w.uint(n);
}

/** @internal */
export function writeCount(w: Writer, what: string, n: number, max: number): void {
  if (n > max) throw new CodecError(`${what}: ${n} items, more than the limit ${max}`);
  w.uint(n);
}

/** A list's count: it must fit in the bytes left (each item taking `itemBytesMin`) and stay within `max`. */
/** @internal */
export function readCount(r: Reader, what: string, itemBytesMin: number, max: number): number {
  const n = r.count(what, itemBytesMin);
  if (n > max) throw new CodecError(`${what}: ${n} items, more than the limit ${max}`);
  return n;
}

/** @internal */
export function readFlags(r: Reader, what: string, known: number): number {
  const flags = r.u8(what);
  if ((flags & ~known) !== 0) throw new CodecError(`${what}: unknown bits in 0b${flags.toString(2)}`);
  return flags;
}

/** @internal */
export function writeKey(w: Writer, what: string, key: string): void {
  writeString(w, what, key, kvLimits.keyBytesMax);
}

/** @internal */
export function readKey(r: Reader, what: string): string {
  return readString(r, what, kvLimits.keyBytesMax);
}

/** @internal */
function writeValue(w: Writer, what: string, value: Uint8Array): void {
  if (value.byteLength > kvLimits.valueBytesMax) throw new CodecError(`${what}: ${value.byteLength} bytes, more than the limit ${kvLimits.valueBytesMax}`);
  w.bytesOf(value);
}

/** @internal */
function readValue(r: Reader, what: string): Uint8Array {
  return r.bytesOf(what, kvLimits.valueBytesMax);
}

/** Refuses a string with a lone surrogate: UTF-8 cannot carry it, so it would not come back the same. */
/** @internal */
export function writeString(w: Writer, what: string, s: string, max: number): void {
  const bytes = utf8Length(s);
  if (bytes < 0) throw new CodecError(`${what}: a lone surrogate at index ${~bytes}, not encodable as UTF-8`);
  if (bytes > max) throw new CodecError(`${what}: ${bytes} UTF-8 bytes, more than the limit ${max}`);
  w.string(s);
}

/** The UTF-8 length of `s`, or `~i` if index `i` holds a lone surrogate. @internal */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      n += 1;
    } else if (c < 0xd800 || c > 0xdfff) {
      n += 2;
    } else if (c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return ~i;
      n += 2; // Two UTF-16 units, four UTF-8 bytes.
      i++;
    } else {
      return ~i;
    }
  }
  return n;
}

/**
 * `ignoreBOM`: a key may begin with U+FEFF, and must come back with it. (wire.ts's
 * `Reader.string` decodes without it, so it would drop the BOM; hence this reader.)
 */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const asciiFastBytesMax = 32;

/** @internal */
export function readString(r: Reader, what: string, max: number): string {
  const raw = r.bytesOf(what, max);
  if (raw.byteLength <= asciiFastBytesMax) {
    // Short ASCII keys, the common case, skip TextDecoder.
    let out = '';
    let i = 0;
    for (; i < raw.byteLength; i++) {
      const c = raw[i]!;
      if (c >= 0x80) break;
      out += String.fromCharCode(c);
    }
    if (i === raw.byteLength) return out;
  }
  try {
    return utf8.decode(raw);
  } catch {
    throw new CodecError(`${what}: not valid UTF-8`);
  }
}
