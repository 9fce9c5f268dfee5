/**
 * Whether a principal may make a request, decided before anything is read or proposed:
 * a log command by its keys (see `command-authorization.ts`); a range or a watch needs
 * read permission on every key it could hold (a range over keys the principal may not
 * read is refused whole, not filtered, so the answer never hides that keys were left
 * out), as is listing the ranges of a sharded cluster (their bounds are keys);
 * membership changes and snapshots are the `root` role's. Session ownership is
 * checked apart, against the sessions' owners.
 */
import { type Denial, deniedAdmin, deniedCommand, deniedRead } from '../command-authorization.js';
import { PermissionDeniedError } from '../errors.js';
import type { KvCommand } from '../kv-command.js';
import type { ClientRequest } from '../protocol/client-frames.js';
import type { Principal } from './access-control.js';

function refuse(p: Principal, denied: Denial | undefined): void {
  if (denied !== undefined) throw new PermissionDeniedError(p.name, denied.access, denied.resource);
}

/** Throws {@link PermissionDeniedError} unless `p` may run `command` (its keys; sessions apart). */
function authorizeCommand(p: Principal, command: KvCommand): void {
  refuse(p, deniedCommand(p, command));
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
    case 'watchRanges':
      return refuse(p, deniedRead(p, request.range));
    case 'member':
      return refuse(p, request.action === 'list' ? undefined : deniedAdmin(p, `member ${request.action}`));
    case 'snapshot':
      return refuse(p, deniedAdmin(p, 'snapshot export'));
    case 'ranges':
      // The ranges' bounds are keys: only for a principal that may read every key.
      return refuse(p, deniedRead(p, { prefix: '' }));
    case 'unwatch':
    case 'status':
      return;
  }
}
