/**
 * The KV's writes as log commands, and their results as what the API returns: shared
 * by the embedded node and the remote client, so both behave alike.
 */
import { KvRequestError } from './errors.js';
import type { AuthChangeResult, AuthListing, KvPermission, UserDefinition } from './kv-auth.js';
import type { KvCommand, KvResult } from './kv-command.js';
import { kvLimits } from './kv-limits.js';
import { refusalError } from './kv-refusal.js';
import { invalidKey, invalidRange, invalidSessionTtl, refusedTxn } from './kv-state-machine.js';
import type {
  DeleteOptions,
  DeleteResult,
  KeyRange,
  PutOptions,
  PutResult,
  RangeOptions,
  RevokeResult,
  SessionInfo,
  TxnRequest,
  TxnResult,
} from './kv-types.js';
import type { SessionOptions, WatchOptions } from './kv-api.js';

const encoder = new TextEncoder();

/** The bytes of a value given as text or bytes. @internal */
function valueBytes(value: string | Uint8Array): Uint8Array {
  return typeof value === 'string' ? encoder.encode(value) : value;
}

/** Throws {@link KvRequestError} for a key the store would refuse, before any round trip. @internal */
export function checkKey(api: string, key: string): void {
  const bad = invalidKey(key);
  if (bad !== undefined) throw new KvRequestError(api, bad);
}

/**
 * Throws {@link KvRequestError} for a range read the store would refuse, before any
 * round trip or read point: the same checks for the embedded node and the client.
 * @internal
 */
export function checkRangeRequest(range: KeyRange, options: RangeOptions): void {
  checkKeyRange('range', range);
  if (options.limit !== undefined && !(Number.isSafeInteger(options.limit) && options.limit > 0))
    throw new KvRequestError('range', `limit must be a positive integer, not ${options.limit}`);
  // Revision 0 is the empty store before the first write.
  if (options.revision !== undefined && !(Number.isSafeInteger(options.revision) && options.revision >= 0))
    throw new KvRequestError('range', `revision must be a non-negative integer, not ${options.revision}`);
}

/** Throws {@link KvRequestError} for a watch the store would refuse (see {@link checkRangeRequest}). @internal */
export function checkWatchRequest(range: KeyRange, options: WatchOptions): void {
  checkKeyRange('watch', range);
  if (options.fromRevision !== undefined && !(Number.isSafeInteger(options.fromRevision) && options.fromRevision > 0)) {
    throw new KvRequestError('watch', `fromRevision must be a positive integer, not ${options.fromRevision}`);
  }
}

function checkKeyRange(api: string, range: KeyRange): void {
  const bad = typeof range === 'object' && range !== null ? invalidRange(range) : 'a range must be an object: { key }, { prefix } or { start, end }';
  if (bad !== undefined) throw new KvRequestError(api, bad);
}

/** @internal */
export function putCommand(key: string, value: string | Uint8Array, options: PutOptions): KvCommand {
  checkKey('put', key);
  const bytes = valueBytes(value);
  if (bytes.byteLength > kvLimits.valueBytesMax) throw new KvRequestError('put', `a value is at most ${kvLimits.valueBytesMax} bytes, not ${bytes.byteLength}`);
  return {
    type: 'put',
    key,
    value: bytes,
    ...(options.expectedVersion === undefined ? {} : { expectedVersion: options.expectedVersion }),
    ...(options.session === undefined ? {} : { session: options.session }),
    ...(options.sequential === true ? { sequential: true } : {}),
  };
}

/** @internal */
export function putResultOf(result: KvResult, options: PutOptions): PutResult {
  if (result.type === 'put') return { key: result.key, version: result.version, revision: result.revision };
  throw refusalError('put', result, options.expectedVersion);
}

/** @internal */
export function deleteCommand(key: string, options: DeleteOptions): KvCommand {
  checkKey('delete', key);
  return { type: 'delete', key, ...(options.expectedVersion === undefined ? {} : { expectedVersion: options.expectedVersion }) };
}

/** @internal */
export function deleteResultOf(result: KvResult, options: DeleteOptions): DeleteResult {
  if (result.type === 'delete') return { deleted: result.deleted, revision: result.revision };
  throw refusalError('delete', result, options.expectedVersion);
}

/**
 * The log command of a transaction, checked as applying it would check it (every
 * session taken to live: only the store knows which do). @internal
 */
export function txnCommand(request: TxnRequest): KvCommand {
  if (typeof request !== 'object' || request === null || !Array.isArray(request.compare) || !Array.isArray(request.success))
    throw new KvRequestError('txn', 'a transaction is { compare, success, failure? } with arrays');
  if (request.failure !== undefined && !Array.isArray(request.failure)) throw new KvRequestError('txn', 'failure must be an array');
  const command = { type: 'txn', compare: request.compare, success: request.success, failure: request.failure ?? [] } as const;
  const refused = refusedTxn(command, () => true);
  if (refused !== undefined) throw refusalError('txn', refused, undefined);
  return command;
}

/** @internal */
export function txnResultOf(result: KvResult): TxnResult {
  if (result.type === 'txn') return { succeeded: result.succeeded, results: result.results, revision: result.revision };
  throw refusalError('txn', result, undefined);
}

/** The session a create or keepalive answered; null if the session no longer exists. @internal */
export function sessionOf(api: string, result: KvResult): SessionInfo | null {
  if (result.type === 'session') return result.session;
  if (result.type === 'no-session') return null;
  throw refusalError(api, result, undefined);
}

/** The log command that creates a session, and its keepalive interval; both checked. @internal */
export function sessionCreateOf(options: SessionOptions): { readonly command: KvCommand; readonly keepAliveMs: number } {
  const badTtl = invalidSessionTtl(options.ttlMs);
  if (badTtl !== undefined) throw new KvRequestError('createSession', badTtl);
  return { command: { type: 'session-create', ttlMs: options.ttlMs }, keepAliveMs: keepAliveMsOf(options.ttlMs, options.keepAliveMs) };
}

/** The keepalive interval for a session, checked. */
function keepAliveMsOf(ttlMs: number, keepAliveMs: number | undefined): number {
  const ms = keepAliveMs ?? Math.floor(ttlMs / 3);
  if (!(ms > 0 && ms < ttlMs)) throw new KvRequestError('createSession', `keepAliveMs must be positive and below ttlMs, not ${ms}`);
  return ms;
}

/** Throws unless a session close was applied (or the session was gone already). @internal */
export function checkSessionClosed(result: KvResult): void {
  if (result.type !== 'session-closed' && result.type !== 'no-session') throw refusalError('session.close', result, undefined);
}

/** The log command that revokes session `id`, checked. @internal */
export function revokeCommand(id: number): KvCommand {
  if (!Number.isSafeInteger(id) || id < 1) throw new KvRequestError('revokeSession', `the session id must be a positive integer, not ${id}`);
  return { type: 'session-close', session: id };
}

/** What revoking a session did. @internal */
export function revokeResultOf(result: KvResult): RevokeResult {
  if (result.type === 'session-closed') return { revoked: true, keysDeleted: result.keysDeleted, revision: result.revision };
  if (result.type === 'no-session') return { revoked: false, keysDeleted: 0, revision: 0 };
  throw refusalError('revokeSession', result, undefined);
}

/** The log command that compacts the history at or below `revision`, checked. @internal */
export function compactCommand(revision: number): KvCommand {
  if (!Number.isSafeInteger(revision) || revision < 0) throw new KvRequestError('compact', `the revision must be a non-negative integer, not ${revision}`);
  return { type: 'compact', revision };
}

/**
 * Throws {@link KvRequestError} for a command no client may enter: the leader's own
 * duties (a client that could enter them would keep dead sessions alive), and a range
 * split's steps (one could cut a range off from its keys). @internal
 */
export function checkClientCommand(command: KvCommand): void {
  if (command.type === 'session-renew' || command.type === 'session-expire' || command.type === 'session-expire-by-log-time')
    throw new KvRequestError('command', `${command.type} is entered by the leader, not by clients`);
  if (command.type === 'range-freeze' || command.type === 'range-release' || command.type === 'range-seed')
    throw new KvRequestError('command', `${command.type} is entered by a range split, not by clients`);
}

/** Throws unless a compaction was applied. @internal */
export function checkCompacted(result: KvResult): void {
  if (result.type !== 'compacted') throw refusalError('compact', result, undefined);
}

/** @internal */
export function putUserCommand(name: string, user: UserDefinition): KvCommand {
  const secret = user.secret === undefined ? undefined : valueBytes(user.secret);
  return {
    type: 'auth-user-put',
    user: { name, ...(secret === undefined ? {} : { secret }), certificateNames: user.certificateNames ?? [], roles: user.roles },
  };
}

/** @internal */
export function putRoleCommand(name: string, permissions: readonly KvPermission[]): KvCommand {
  return { type: 'auth-role-put', role: { name, permissions } };
}

/** @internal */
export function authResultOf(api: string, result: KvResult): AuthChangeResult {
  if (result.type === 'auth') return { revision: result.revision, existed: result.existed };
  throw refusalError(api, result, undefined);
}

/** @internal */
export function authListingOf(result: KvResult): AuthListing {
  if (result.type === 'auth-list') return { revision: result.revision, users: result.users, roles: result.roles };
  throw refusalError('listAuth', result, undefined);
}
