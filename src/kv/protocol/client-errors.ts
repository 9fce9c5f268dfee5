/**
 * Errors across the client protocol: the server sends a typed error's code and
 * fields, the client rebuilds the same class, so `instanceof` works remotely too.
 */
import { SynodError } from '../../core/index.js';
import {
  AbortedError,
  ClosedError,
  CommandTooLargeError,
  MembershipError,
  NotLeaderError,
  OverloadedError,
  ResultDroppedError,
  ResultExpiredError,
  TimeoutError,
} from '../../runtime/index.js';
import {
  AnswerTooLargeError,
  CompactedError,
  CrossShardError,
  KvRequestError,
  PermissionDeniedError,
  QuotaExceededError,
  SessionExpiredError,
  VersionConflictError,
} from '../errors.js';
import type { ErrorBody } from './client-frames.js';

/** The body of a frame reporting `error`. @internal */
export function errorBodyOf(error: unknown): ErrorBody {
  if (error instanceof VersionConflictError)
    return { code: error.code, message: error.message, key: error.key, number: error.currentVersion, revision: error.revision };
  if (error instanceof CompactedError) return { code: error.code, message: error.message, number: error.revision, revision: error.compactRevision };
  if (error instanceof SessionExpiredError) return { code: error.code, message: error.message, number: error.session };
  if (error instanceof CommandTooLargeError) return { code: error.code, message: error.message, number: error.bytes, revision: error.limit };
  if (error instanceof TimeoutError) return { code: error.code, message: error.message, number: error.timeoutMs };
  if (error instanceof OverloadedError) return { code: error.code, message: error.message, number: error.limit };
  if (error instanceof MembershipError) return { code: error.code, message: error.message, key: error.reason };
  if (error instanceof ResultDroppedError || error instanceof ResultExpiredError)
    return { code: error.code, message: error.message, key: error.clientId, number: error.seq };
  // The message is rebuilt from the fields on the client: the fields must survive the trip.
  if (error instanceof PermissionDeniedError)
    return { code: error.code, message: error.message, key: error.resource, leaderHint: `${error.access}:${error.principal}` };
  // The groups as "1,4": an error body has no list field.
  if (error instanceof CrossShardError) return { code: error.code, message: error.message, key: error.groups.join(',') };
  if (error instanceof QuotaExceededError) return { code: error.code, message: error.message, key: error.quota, number: error.limit };
  if (error instanceof AnswerTooLargeError)
    return { code: error.code, message: error.message, number: error.bytes, revision: error.bytesMax, key: error.applied ? 'applied' : 'unchanged' };
  if (error instanceof NotLeaderError)
    return { code: error.code, message: error.message, ...(error.leaderHint === undefined ? {} : { leaderHint: error.leaderHint }) };
  if (error instanceof SynodError) return { code: error.code, message: error.message };
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

/**
 * A refusal from a KV server that has no class of its own here (a code this build
 * does not know, or an internal failure). `code` is the server's.
 */
export class KvServerError extends SynodError {
  constructor(code: string, message: string) {
    super(code, `server: ${message}`);
  }
}

/** The error a body names, as the class the server threw. @internal */
export function errorFromBody(body: ErrorBody): Error {
  switch (body.code) {
    case 'VERSION_CONFLICT':
      return new VersionConflictError(body.key ?? '', undefined, body.number ?? 0, body.revision ?? 0);
    case 'COMPACTED':
      return new CompactedError(body.number ?? 0, body.revision ?? 0);
    case 'SESSION_EXPIRED':
      return new SessionExpiredError(body.number ?? 0);
    case 'KV_REQUEST':
      return new KvRequestError('server', body.message);
    case 'NOT_LEADER':
      return new NotLeaderError(body.leaderHint);
    case 'TIMEOUT':
      return new TimeoutError('the request, on the server,', body.number ?? 0);
    case 'CLOSED':
      return new ClosedError(`server: ${body.message}`);
    case 'TOO_LARGE':
      return new CommandTooLargeError(body.number ?? 0, body.revision ?? 0);
    case 'ABORTED':
      return new AbortedError('the request, on the server,');
    case 'ANSWER_TOO_LARGE':
      return new AnswerTooLargeError(body.number ?? 0, body.revision ?? 0, body.key === 'applied');
    case 'RESULT_DROPPED':
      return new ResultDroppedError(body.key ?? '', body.number ?? 0);
    case 'RESULT_EXPIRED':
      return new ResultExpiredError(body.key ?? '', body.number ?? 0);
    case 'OVERLOADED':
      return new OverloadedError(body.number ?? 0, 'node');
    case 'MEMBERSHIP': {
      const reason = body.key ?? 'invalid';
      return new MembershipError(reason, body.message.replace(/^membership change refused \([^)]*\): /, ''));
    }
    case 'PERMISSION_DENIED': {
      // `leaderHint` carries "access:principal" (an error has no other free text field).
      const [access = '', ...principal] = (body.leaderHint ?? '').split(':');
      return new PermissionDeniedError(principal.join(':'), access, body.key ?? '');
    }
    case 'CROSS_SHARD': {
      const groups = (body.key ?? '').split(',').flatMap((g) => (/^\d+$/.test(g) ? [Number(g)] : []));
      return new CrossShardError(groups);
    }
    case 'QUOTA_EXCEEDED':
      return Object.assign(new QuotaExceededError(body.key ?? '', body.number ?? 0), { message: body.message });
    default:
      return new KvServerError(body.code, body.message);
  }
}
