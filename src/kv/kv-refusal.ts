/** The typed errors the KV's refusals become, on a node and in a remote client alike. */
import {
  CompactedError,
  KvRequestError,
  PermissionDeniedError,
  QuotaExceededError,
  SessionExpiredError,
  VersionConflictError,
  WrongRangeError,
} from './errors.js';
import type { KvResult } from './kv-command.js';

/**
 * The error for a result that refused its command (`conflict`, `no-session`,
 * `compacted-revision`, `invalid`, `quota-exceeded`, `wrong-range`), or for a result of the wrong type. @internal
 */
export function refusalError(api: string, result: KvResult, expectedVersion: number | undefined): Error {
  switch (result.type) {
    case 'conflict':
      return new VersionConflictError(result.key, expectedVersion, result.version, result.revision);
    case 'no-session':
      return new SessionExpiredError(result.session);
    case 'compacted-revision':
      return new CompactedError(result.revision, result.compactRevision);
    case 'invalid':
      return new KvRequestError(api, result.reason);
    case 'permission-denied':
      return new PermissionDeniedError(result.user, result.access, result.resource);
    case 'quota-exceeded':
      return new QuotaExceededError(result.quota, result.limit, api);
    case 'wrong-range':
      return new WrongRangeError(api, result.key, result.start, result.end);
    default:
      return new KvRequestError(api, `unexpected result ${result.type}`);
  }
}
