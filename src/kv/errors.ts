/**
 * The errors the KV rejects with. Each extends `SynodError`, has a stable `code`, and
 * matches `instanceof` across duplicate copies of the package.
 */
import { SynodError } from '../core/index.js';

/**
 * A put or delete with `expectedVersion` found another version. Nothing changed.
 *
 * @example
 * ```ts
 * try { await kv.put('config', data, { expectedVersion: 3 }); }
 * catch (e) { if (e instanceof VersionConflictError) console.log('now at version', e.currentVersion); }
 * ```
 */
export class VersionConflictError extends SynodError {
  readonly key: string;
  /** The key's version when the write was refused; 0 when it is absent. */
  readonly currentVersion: number;
  /** The store revision when the write was refused. */
  readonly revision: number;

  constructor(key: string, expectedVersion: number | undefined, currentVersion: number, revision: number) {
    super('VERSION_CONFLICT', `key ${key}: expected version ${expectedVersion ?? '(absent)'}, found ${currentVersion}`);
    this.key = key;
    this.currentVersion = currentVersion;
    this.revision = revision;
  }
}

/**
 * A read or watch asked for history at or below the compacted revision.
 *
 * @example
 * ```ts
 * try { for await (const e of kv.watch({ prefix: 'jobs/' }, { fromRevision: 5 })) handle(e); }
 * catch (e) { if (e instanceof CompactedError) resync(e.compactRevision); }
 * ```
 */
export class CompactedError extends SynodError {
  /** The revision asked for. */
  readonly revision: number;
  /** History at or below this revision is gone; read the current state and watch from after it. */
  readonly compactRevision: number;

  /** `message` says why, when it is not a compaction (a split moved keys away, with their history). */
  constructor(revision: number, compactRevision: number, message?: string) {
    super(
      'COMPACTED',
      message ?? `revision ${revision} is compacted: reads need revision ${compactRevision} or later, watches ${compactRevision + 1} or later`,
    );
    this.revision = revision;
    this.compactRevision = compactRevision;
  }
}

/** The session does not exist: it expired or was closed. Its ephemeral keys are gone. */
export class SessionExpiredError extends SynodError {
  readonly session: number;

  constructor(session: number) {
    super('SESSION_EXPIRED', `session ${session} does not exist: it expired or was closed`);
    this.session = session;
  }
}

/** A request the KV refuses as malformed: an empty or too long key, a too large value, a bad option. */
export class KvRequestError extends SynodError {
  constructor(api: string, reason: string, options?: { cause?: unknown }) {
    super('KV_REQUEST', `${api}: ${reason}`, options);
  }
}

/**
 * A server's answer was larger than a client takes in one frame (64 MiB): a
 * transaction whose range operations read that much. Final: the same request would
 * answer the same. `applied` says whether the request changed the store (a transaction
 * with a write in it did, though its answer could not be sent); read less at once
 * (a range with a `limit`, or a smaller prefix).
 */
export class AnswerTooLargeError extends SynodError {
  constructor(
    /** The answer's size, in bytes. */
    readonly bytes: number,
    /** The largest answer a client takes, in bytes. */
    readonly bytesMax: number,
    /** Whether the request changed the store. */
    readonly applied: boolean,
  ) {
    super(
      'ANSWER_TOO_LARGE',
      `the answer of ${bytes} bytes is more than the ${bytesMax} a client takes in one frame; the request ${applied ? 'was applied (it wrote)' : 'changed nothing'}; read less at once`,
    );
  }
}

/**
 * A KV server refused this client, or this client refused the server, at the
 * handshake: the wrong client secret, a server of another cluster (`clusterId`), or a
 * server that could not prove the secret. Final: asking again cannot succeed, so the
 * client fails at once rather than retrying until a timeout. `sent` says whether the
 * request had been written on an earlier connection (then it may still take effect);
 * if not, it never left this process.
 */
export class AuthenticationError extends SynodError {
  /** Whether the request was written to a server before the refusal. */
  readonly sent: boolean;

  constructor(what: string, why: string, options: { sent: boolean }) {
    super('AUTHENTICATION', `${what}: ${why}; ${options.sent ? 'it was sent on an earlier connection and may still take effect' : 'it was never sent'}`);
    this.sent = options.sent;
  }
}

/**
 * The authenticated principal may not do this: read or write a key outside its roles'
 * permissions, touch another principal's session, or an administrator's request
 * (membership, compaction, snapshots) without the `root` role. Nothing was read or
 * changed. Final: sending it again is refused again.
 *
 * @example
 * ```ts
 * try { await kv.put('billing/total', '0'); }
 * catch (e) { if (e instanceof PermissionDeniedError) console.log(e.principal, 'may not', e.access, e.resource); }
 * ```
 */
export class PermissionDeniedError extends SynodError {
  /** The principal refused (a user name); empty when the server did not say. */
  readonly principal: string;
  /** What was asked: `read`, `write`, `session` or `admin`. */
  readonly access: string;
  /** The key, range, session or request refused, as text. */
  readonly resource: string;

  constructor(principal: string, access: string, resource: string) {
    super('PERMISSION_DENIED', `user ${principal === '' ? '(unknown)' : principal} has no ${access} permission on ${resource}`);
    this.principal = principal;
    this.access = access;
    this.resource = resource;
  }
}

/**
 * A per-principal quota tripped: the request is refused and changed nothing; the
 * principal's other requests and every other principal are unaffected. `quota` names
 * the limit (`sessionsMax`, `sessionTtlMsMax`, `watchesMax`, `requestsInFlightMax`,
 * `requestBytesInFlightMax`); `limit` is its value.
 *
 * @example
 * ```ts
 * try { await kv.createSession({ ttlMs: 10_000 }); }
 * catch (e) { if (e instanceof QuotaExceededError && e.quota === 'sessionsMax') closeIdleSessions(); }
 * ```
 */
export class QuotaExceededError extends SynodError {
  /** The limit that tripped, by its option name. */
  readonly quota: string;
  /** Its value, in the limit's unit (a count, ms or bytes). */
  readonly limit: number;

  constructor(quota: string, limit: number, detail = '') {
    super('QUOTA_EXCEEDED', `quota ${quota} (${limit}) exceeded${detail === '' ? '' : `: ${detail}`}`);
    this.quota = quota;
    this.limit = limit;
  }
}

/**
 * A request reached a range of a sharded KV that does not serve its key: the range
 * map the request was routed by is out of date (a range split or moved since). Nothing
 * changed; `ShardedKv` refreshes its map and sends the request again. `start` and
 * `end` are the keys the range that refused serves (no `end`: unbounded).
 */
export class WrongRangeError extends SynodError {
  /** The key the request named (for a range read, where it starts). */
  readonly key: string;
  readonly start: string;
  readonly end: string | undefined;

  constructor(api: string, key: string, start: string, end: string | undefined) {
    super(
      'WRONG_RANGE',
      `${api}: key ${JSON.stringify(key)} is not in this range, [${JSON.stringify(start)}, ${end === undefined ? '∞' : JSON.stringify(end)})`,
    );
    this.key = key;
    this.start = start;
    this.end = end;
  }
}

/**
 * A transaction names keys of more than one range of a sharded KV: each range is its
 * own consensus group, and a transaction is atomic within one group only. Nothing was
 * sent. `groups` lists the ranges' groups it spans, in key order; keep a transaction's
 * keys in one range (under one prefix that no split divides, or choose the split keys).
 *
 * @example
 * ```ts
 * try { await kv.txn(request); }
 * catch (e) { if (e instanceof CrossShardError) console.log('spans ranges', e.groups); }
 * ```
 */
export class CrossShardError extends SynodError {
  readonly groups: readonly number[];

  constructor(groups: readonly number[]) {
    super('CROSS_SHARD', `a transaction spans the ranges of groups ${groups.join(', ')}: a transaction is atomic within one range`);
    this.groups = groups;
  }
}
