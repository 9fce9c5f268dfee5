/**
 * The waiting line under {@link KvLock} and {@link KvElection}, ZooKeeper's lock
 * recipe: each contender creates an ephemeral sequential key under one prefix; the
 * lowest key is the head of the line (the lock holder, the leader); every other
 * contender watches only the key just before its own, so a departure wakes one
 * contender, not all of them (no herd effect).
 *
 * Written against `KvApi` only, so it runs on an embedded `KvNode` and on a remote client.
 */
import { ConfigError, SynodError } from '../core/index.js';
import { AbortedError, ClosedError, OverloadedError, TimeoutError } from '../runtime/index.js';
import { TooManyKeysError } from './too-many-keys-error.js';
import { CompactedError, type KeyRange, type KeyValue, type KvApi, type KvSession, type ReadOptions, type SessionEnd } from '../kv/index.js';

/** What the recipes need of a session: its id (for ephemeral keys) and its end. */
export type RecipeSession = Pick<KvSession, 'id' | 'ended'>;

/** One contender's place in the line. */
export interface QueueEntry {
  /** The key it created: the prefix and a 10-digit counter. */
  readonly key: string;
  /** The store revision that created the key: grows with the counter, never reused. */
  readonly createRevision: number;
  /** The session that owns the key. */
  readonly session: RecipeSession;
}

/** Options of waiting in line: give up when `signal` fires or after `timeoutMs` ms. */
export interface WaitOptions {
  readonly signal?: AbortSignal;
  /** Give up after this many ms. Default: wait as long as it takes. */
  readonly timeoutMs?: number;
}

/** Why a turn at the head ended other than by `leave()`. */
export type TurnLoss =
  /** The session ended as far as this client knows. */
  | `session-${SessionEnd}`
  /** The key was deleted: the cluster expired or closed the session, or someone deleted the key. */
  | 'key-deleted'
  /** The watch on the key ended (its node closed): nobody can vouch for the turn any more. */
  | 'unobservable';

/** The contender's key vanished while it waited: its session ended, or someone deleted the key. */
export class QueueEntryGoneError extends SynodError {
  readonly key: string;

  constructor(key: string) {
    super('QUEUE_ENTRY_GONE', `${key} is gone: its session ended or someone deleted it`);
    this.key = key;
  }
}

/** Whether `signal` has fired (a call, so TypeScript does not narrow it across an `await`). */
const isAborted = (signal: AbortSignal | undefined): boolean => signal?.aborted === true;

/** Attempts at a write whose outcome a timeout left unknown, before giving up. */
const ambiguousWriteAttemptsMax = 5;

/**
 * One signal for a caller's `signal` and `timeoutMs`, and the typed error to throw
 * when it fires: synod's `TimeoutError` or `AbortedError`, naming `api`.
 */
function waitSignal(api: string, options: WaitOptions): { readonly signal: AbortSignal | undefined; error(): Error } {
  const timeout = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
  const signals = [options.signal, timeout].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
  return {
    signal,
    error: () =>
      timeout?.aborted === true && options.timeoutMs !== undefined
        ? new TimeoutError(api, options.timeoutMs)
        : new AbortedError(api, { cause: options.signal?.reason }),
  };
}

/**
 * A line of contenders under `prefix`. One instance may serve many contenders at once.
 *
 * Each `join` is a sequential put with a request identity (this instance's client id
 * and the next sequence number), so a put whose outcome a timeout left unknown is
 * retried with the same identity and creates at most one key.
 */
export class SequentialQueue {
  private readonly clientId = `queue:${globalThis.crypto.randomUUID()}`; // Web Crypto: Node 20 and browsers alike
  private seq = 0;
  private readonly pending = new Set<number>();

  constructor(
    private readonly kv: KvApi,
    /** Every key of the line starts with this. */
    readonly prefix: string,
  ) {
    if (prefix === '') throw new ConfigError('SequentialQueue', 'prefix', 'must not be empty');
  }

  /**
   * Creates this contender's key: `prefix` and the next counter, ephemeral in
   * `session`, holding `value`. If `signal` fires, no key is left behind (unless the
   * cluster cannot be reached to delete it: then it goes when the session ends).
   */
  async join(session: RecipeSession, value: string, signal: AbortSignal | undefined, aborted: () => Error): Promise<QueueEntry> {
    const seq = ++this.seq;
    this.pending.add(seq);
    const request = { clientId: this.clientId, seq, ackedBelow: Math.min(...this.pending) };
    const put = (options: { signal?: AbortSignal; timeoutMs?: number }) =>
      this.kv.put(this.prefix, value, { sequential: true, session: session.id, request, ...options });
    try {
      for (let attempt = 1; ; attempt++) {
        if (isAborted(signal)) throw aborted();
        try {
          const { key, revision } = await put(signal === undefined ? {} : { signal });
          return { key, createRevision: revision, session };
        } catch (error) {
          if (isAborted(signal)) {
            // The put may have been applied, or may be yet: the same request again is
            // applied at most once and answers with the key, which we delete.
            // If this fails, the session is gone (and its keys with it) or the cluster is out
            // of reach: the key, if any, goes when the session ends.
            await put({})
              .then(({ key }) => this.kv.delete(key))
              .catch(() => undefined);
            throw aborted();
          }
          const ambiguous = error instanceof TimeoutError || error instanceof OverloadedError;
          if (!ambiguous || attempt >= ambiguousWriteAttemptsMax) throw error;
        }
      }
    } finally {
      this.pending.delete(seq);
    }
  }

  /**
   * Waits until `entry` heads the line. Each round reads the keys up to its own
   * (linearizable, at revision R); if one is before it, it watches from revision R + 1
   * the keys from that one, its predecessor, to its own: no change after the read is
   * missed, and only two keys can wake it, its predecessor leaving or its own key
   * vanishing (no key is ever created between them: the counter only grows). Nobody
   * else's departure wakes it: no herd. Then it reads again, as the predecessor may
   * have left without ever being the head.
   *
   * Resolves with the revision of the read that found `entry` at the head.
   *
   * @throws {@link QueueEntryGoneError} if `entry`'s key vanished (its session ended).
   */
  async waitForHead(entry: QueueEntry, signal: AbortSignal | undefined, aborted: () => Error): Promise<number> {
    const upToOwn = `${entry.key}\u0000`; // the least key after entry.key
    for (;;) {
      if (isAborted(signal)) throw aborted();
      const { kvs, more, revision } = await this.kv.range({ start: this.prefix, end: upToOwn }, signal === undefined ? {} : { signal });
      if (more) throw new TooManyKeysError('SequentialQueue', this.prefix);
      const own = kvs[kvs.length - 1];
      if (own?.key !== entry.key || own.createRevision !== entry.createRevision) throw new QueueEntryGoneError(entry.key);
      const predecessor = kvs[kvs.length - 2];
      if (predecessor === undefined) return revision;
      await this.deletion({ start: predecessor.key, end: upToOwn }, revision + 1, signal, aborted);
    }
  }

  /**
   * Joins the line and waits for the head: `join` then `waitForHead`. On abort, timeout
   * or failure it deletes its key (it leaves the line) and rejects, with synod's
   * `AbortedError` or `TimeoutError` naming `api` for an abort or a timeout.
   */
  async turn(session: RecipeSession, value: string, options: WaitOptions, api: string): Promise<QueueTurn> {
    const { signal, error } = waitSignal(api, options);
    const entry = await this.join(session, value, signal, error);
    let seenAt: number;
    try {
      seenAt = await this.waitForHead(entry, signal, error);
    } catch (failure) {
      await this.kv.delete(entry.key).catch(() => undefined); // else it goes with the session
      throw failure;
    }
    return new QueueTurn(this.kv, entry, seenAt);
  }

  /** The head of the line (the holder, the leader), or undefined if nobody waits. */
  async head(options: ReadOptions = {}): Promise<{ readonly head: KeyValue | undefined; readonly revision: number }> {
    const { kvs, revision } = await this.kv.range({ prefix: this.prefix }, { ...options, limit: 1 });
    return { head: kvs[0], revision };
  }

  /** Resolves once a key of `range` is deleted at or after `fromRevision`. */
  private async deletion(range: KeyRange, fromRevision: number, signal: AbortSignal | undefined, aborted: () => Error): Promise<void> {
    const watch = this.kv.watch(range, { fromRevision });
    const stop = (): void => watch.close();
    signal?.addEventListener('abort', stop);
    try {
      if (isAborted(signal)) throw aborted();
      for await (const event of watch) if (event.type === 'delete') return;
    } catch (error) {
      if (error instanceof CompactedError) return; // history moved past the read: read again
      throw error;
    } finally {
      signal?.removeEventListener('abort', stop);
      watch.close();
    }
    if (isAborted(signal)) throw aborted();
    throw new ClosedError(`SequentialQueue: the watch on ${JSON.stringify(range)} ended (its node closed)`);
  }
}

/** The end of each session, heard through one callback per session however many turns it holds. */
const sessionEnds = new WeakMap<RecipeSession, { readonly listeners: Set<(how: SessionEnd) => void>; how: SessionEnd | undefined }>();

/** Calls `listener` (asynchronously) when `session` ends; returns the function that unsubscribes it. */
function onSessionEnd(session: RecipeSession, listener: (how: SessionEnd) => void): () => void {
  let end = sessionEnds.get(session);
  if (end === undefined) {
    const fresh = { listeners: new Set<(how: SessionEnd) => void>(), how: undefined as SessionEnd | undefined };
    sessionEnds.set(session, fresh);
    void session.ended.then((how) => {
      fresh.how = how;
      for (const l of [...fresh.listeners]) l(how);
      fresh.listeners.clear();
    });
    end = fresh;
  }
  const how = end.how;
  if (how !== undefined) {
    queueMicrotask(() => listener(how));
    return () => undefined;
  }
  const { listeners } = end;
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * A contender's turn at the head of the line, from the moment it was seen there until
 * `leave()` or a loss. `lost` and `signal` report a loss as soon as this client learns
 * of it, which is always some time after the cluster decided it: see the caveat on
 * {@link KvLock}.
 */
export class QueueTurn {
  /** Resolves with the reason when the turn is lost; stays pending after `leave()`. */
  readonly lost: Promise<TurnLoss>;
  private readonly controller = new AbortController();
  private resolveLost: ((reason: TurnLoss) => void) | undefined;
  private left = false;
  private watchClose: (() => void) | undefined;
  private readonly unsubscribe: () => void;

  /** @param seenAt the revision of the read that saw `entry` at the head. */
  constructor(
    private readonly kv: KvApi,
    readonly entry: QueueEntry,
    seenAt: number,
  ) {
    this.lost = new Promise((resolve) => (this.resolveLost = resolve));
    this.unsubscribe = onSessionEnd(entry.session, (how) => this.lose(`session-${how}`));
    void this.monitor(seenAt + 1);
  }

  /** Aborts when the turn is lost or left: hand it to the work done during the turn. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Whether the turn still holds as far as this client knows (not lost, not left). */
  get isHeld(): boolean {
    return !this.controller.signal.aborted;
  }

  /**
   * Ends the turn: deletes the key, so the next contender's watch fires. Deleting an
   * absent key is harmless (a sequential key is never created twice), so a delete
   * whose outcome a timeout left unknown is simply sent again.
   */
  async leave(): Promise<void> {
    if (this.left) return;
    this.left = true;
    this.unsubscribe();
    this.watchClose?.();
    this.controller.abort('left');
    for (let attempt = 1; ; attempt++) {
      try {
        await this.kv.delete(this.entry.key);
        return;
      } catch (error) {
        if (!(error instanceof TimeoutError || error instanceof OverloadedError) || attempt >= ambiguousWriteAttemptsMax) throw error;
      }
    }
  }

  private lose(reason: TurnLoss): void {
    if (this.left || this.controller.signal.aborted) return;
    this.unsubscribe();
    this.watchClose?.();
    this.controller.abort(reason);
    this.resolveLost?.(reason);
  }

  /** Watches the key for its deletion, from `fromRevision` on. */
  private async monitor(fromRevision: number): Promise<void> {
    for (let from = fromRevision; this.isHeld; ) {
      try {
        const watch = this.kv.watch({ key: this.entry.key }, { fromRevision: from }); // throws if its node is closed
        this.watchClose = () => watch.close();
        if (!this.isHeld) watch.close();
        for await (const event of watch) if (event.type === 'delete') return this.lose('key-deleted');
        return this.lose('unobservable'); // a no-op after leave(), which closed the watch
      } catch (error) {
        if (!(error instanceof CompactedError)) return this.lose('unobservable');
        // History moved past the watch: see whether the key is still ours, and go on from there.
        try {
          const { kvs, revision } = await this.kv.range({ key: this.entry.key });
          if (kvs[0]?.createRevision !== this.entry.createRevision) return this.lose('key-deleted');
          from = revision + 1;
        } catch {
          return this.lose('unobservable');
        }
      }
    }
  }
}
