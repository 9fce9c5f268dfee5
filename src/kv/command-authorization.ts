/**
 * Whether a user's grants allow a log command, by the keys it could read or write:
 * writes need write permission on every key they could change; a transaction needs
 * read permission on each key it compares and each range it reads, and write
 * permission on each key either branch writes, both branches checked whichever runs;
 * compaction and changes to users and roles are the `root` role's. Pure: a KV server
 * checks it before it proposes a command, and the state machine again as it applies a
 * replicated user's command (so a role revoked meanwhile holds on every replica).
 */
import { type KeyPattern, type KvPermission, rootRole } from './kv-auth.js';
import type { KvCommand } from './kv-command.js';
import { KeySet } from './key-set.js';
import type { KeyRange, TxnOp } from './kv-types.js';

/** What a user may do: the keys it may read and write, and whether it holds `root`. */
export interface Grants {
  readonly name: string;
  /** Holds the `root` role: every key, and the administrator's requests. */
  readonly admin: boolean;
  readonly readable: KeySet;
  readonly writable: KeySet;
}

/** What a refusal names: the access missing, and on what. */
export interface Denial {
  /** `read`, `write`, `admin` or `session`. */
  readonly access: string;
  readonly resource: string;
}

/** The grants of roles `roles`, whose permissions `permissionsOf` gives (`root`: every key, and admin). */
export function grantsOf(name: string, roles: readonly string[], permissionsOf: (role: string) => readonly KvPermission[] | undefined): Grants {
  const readable: KeyPattern[] = [];
  const writable: KeyPattern[] = [];
  let admin = false;
  for (const role of roles) {
    if (role === rootRole) {
      admin = true;
      readable.push({ prefix: '' });
      writable.push({ prefix: '' });
      continue;
    }
    for (const p of permissionsOf(role) ?? []) {
      const keys: KeyPattern = 'key' in p ? { key: p.key } : { prefix: p.prefix };
      if (p.access !== 'write') readable.push(keys);
      if (p.access !== 'read') writable.push(keys);
    }
  }
  return { name, admin, readable: new KeySet(readable), writable: new KeySet(writable) };
}

/** A range as text, for an error. */
function rangeText(range: KeyRange): string {
  if ('key' in range) return `key ${JSON.stringify(range.key)}`;
  if ('prefix' in range) return `prefix ${JSON.stringify(range.prefix)}`;
  return `range [${JSON.stringify(range.start)}, ${JSON.stringify(range.end)})`;
}

/** The denial of reading `range`, if `g` may not. */
export function deniedRead(g: Grants, range: KeyRange): Denial | undefined {
  return g.readable.covers(range) ? undefined : { access: 'read', resource: rangeText(range) };
}

function deniedWrite(g: Grants, range: KeyRange): Denial | undefined {
  return g.writable.covers(range) ? undefined : { access: 'write', resource: rangeText(range) };
}

/** The denial of an administrator's request, if `g` is not one. */
export function deniedAdmin(g: Grants, what: string): Denial | undefined {
  return g.admin ? undefined : { access: 'admin', resource: what };
}

function deniedTxnOp(g: Grants, op: TxnOp): Denial | undefined {
  return op.op === 'range' ? deniedRead(g, op.range) : deniedWrite(g, { key: op.key });
}

/** Why `g` may not run `command` (its keys and admin rights; sessions apart), or undefined. */
export function deniedCommand(g: Grants, command: KvCommand): Denial | undefined {
  switch (command.type) {
    case 'put':
      // A sequential put creates a key under `key` that is not known before it applies.
      return deniedWrite(g, command.sequential === true ? { prefix: command.key } : { key: command.key });
    case 'delete':
      return deniedWrite(g, { key: command.key });
    case 'txn': {
      for (const compare of command.compare) {
        const denied = deniedRead(g, { key: compare.key });
        if (denied !== undefined) return denied;
      }
      for (const op of [...command.success, ...command.failure]) {
        const denied = deniedTxnOp(g, op);
        if (denied !== undefined) return denied;
      }
      return undefined;
    }
    case 'compact':
      return deniedAdmin(g, 'compaction');
    case 'auth-user-put':
    case 'auth-user-delete':
    case 'auth-role-put':
    case 'auth-role-delete':
    case 'auth-list':
      return deniedAdmin(g, 'users and roles');
    case 'extension':
      // The extension's front end checks its own clients; a KV client needs admin.
      return deniedAdmin(g, 'the extension state machine');
    case 'range-freeze':
    case 'range-release':
    case 'range-seed':
      return deniedAdmin(g, 'range splits');
    case 'session-create':
    case 'session-keepalive':
    case 'session-close':
    case 'session-expire':
    case 'session-renew':
    case 'session-expire-by-log-time':
      return undefined;
  }
}

/** The sessions a command uses (a keepalive, a close, ephemeral puts): their owner must be the user. */
export function sessionsUsed(command: KvCommand): number[] {
  if (command.type === 'session-keepalive' || command.type === 'session-close') return [command.session];
  if (command.type === 'put' && command.session !== undefined) return [command.session];
  if (command.type === 'txn')
    return [...command.success, ...command.failure].flatMap((op) => (op.op === 'put' && op.session !== undefined ? [op.session] : []));
  return [];
}
