/**
 * Whether a principal may make a request, decided before anything is read or proposed:
 * reads need read permission on every key they could return (a range over keys the
 * principal may not read is refused whole, not filtered, so the answer never hides
 * that keys were left out); writes need write permission on every key they could
 * change; a transaction needs read permission on each key it compares and on each
 * range it reads, and write permission on each key either branch writes, both branches
 * checked whichever runs. Membership changes, compaction, snapshots and changes to
 * users and roles are the `root` role's. Session ownership is checked apart, against the sessions' owners.
 */
import { PermissionDeniedError } from '../errors.js';
import type { KvCommand } from '../kv-command.js';
import type { KeyRange, TxnOp } from '../kv-types.js';
import type { ClientRequest } from '../protocol/client-frames.js';
import type { Principal } from './access-control.js';

/** A range as text, for an error. */
function rangeText(range: KeyRange): string {
  if ('key' in range) return `key ${JSON.stringify(range.key)}`;
  if ('prefix' in range) return `prefix ${JSON.stringify(range.prefix)}`;
  return `range [${JSON.stringify(range.start)}, ${JSON.stringify(range.end)})`;
}

function mayRead(p: Principal, range: KeyRange): void {
  if (!p.readable.covers(range)) throw new PermissionDeniedError(p.name, 'read', rangeText(range));
}

function mayWrite(p: Principal, range: KeyRange): void {
  if (!p.writable.covers(range)) throw new PermissionDeniedError(p.name, 'write', rangeText(range));
}

function mayAdminister(p: Principal, what: string): void {
  if (!p.admin) throw new PermissionDeniedError(p.name, 'admin', what);
}

function checkTxnOp(p: Principal, op: TxnOp): void {
  if (op.op === 'range') mayRead(p, op.range);
  else mayWrite(p, { key: op.key });
}

/** Throws {@link PermissionDeniedError} unless `p` may run `command` (its keys; sessions apart). */
export function authorizeCommand(p: Principal, command: KvCommand): void {
  switch (command.type) {
    case 'put':
      // A sequential put creates a key under `key` that is not known before it applies.
      mayWrite(p, command.sequential === true ? { prefix: command.key } : { key: command.key });
      return;
    case 'delete':
      mayWrite(p, { key: command.key });
      return;
    case 'txn':
      for (const compare of command.compare) mayRead(p, { key: compare.key });
      for (const op of command.success) checkTxnOp(p, op);
      for (const op of command.failure) checkTxnOp(p, op);
      return;
    case 'compact':
      mayAdminister(p, 'compaction');
      return;
    case 'auth-user-put':
    case 'auth-user-delete':
    case 'auth-role-put':
    case 'auth-role-delete':
    case 'auth-list':
      mayAdminister(p, 'users and roles');
      return;
    case 'session-create':
    case 'session-keepalive':
    case 'session-close':
    case 'session-expire':
    case 'session-renew':
    case 'session-expire-by-log-time':
      return;
  }
}

/**
 * Throws {@link PermissionDeniedError} unless `p` may make `request`. Watches need read
 * permission on their whole range; `status` and listing the members are for everyone.
 * @internal
 */
export function authorizeRequest(p: Principal, request: ClientRequest): void {
  switch (request.kind) {
    case 'command':
      return authorizeCommand(p, request.command);
    case 'range':
    case 'watch':
      return mayRead(p, request.range);
    case 'member':
      if (request.action !== 'list') mayAdminister(p, `member ${request.action}`);
      return;
    case 'snapshot':
      return mayAdminister(p, 'snapshot export');
    case 'unwatch':
    case 'status':
      return;
  }
}
