/**
 * A distributed lock on the KV: ZooKeeper's recipe with ephemeral sequential keys, no
 * herd effect, and fencing tokens. Read the caveat on {@link KvLock} before using it.
 */
import { ConfigError } from '../core/index.js';
import type { KvApi, KeyValue, ReadOptions } from '../kv/index.js';
import { type QueueTurn, type RecipeSession, SequentialQueue, type TurnLoss, type WaitOptions } from './sequential-queue.js';

/** Options of a {@link KvLock}. */
export interface KvLockOptions {
  /** The lock's name: its keys are `<name>/lock-<10-digit counter>`. Not empty. */
  readonly name: string;
  /** The session that owns this client's lock keys: when it ends, they go. */
  readonly session: RecipeSession;
  /** Written as the lock key's value, to see who holds or waits (`holder()`). Default `''`. */
  readonly owner?: string;
}

/** Options of {@link KvLock.acquire}: give up when `signal` fires or after `timeoutMs` ms (default: wait as long as it takes). */
export type AcquireOptions = WaitOptions;

/** Who holds a lock. */
export interface LockHolder {
  /** The holder's lock key. */
  readonly key: string;
  /** The holder's `owner` option. */
  readonly owner: string;
  /** The holder's fencing token. */
  readonly fencingToken: number;
}

const decoder = new TextDecoder();

/**
 * A distributed lock: one holder at a time, as far as the KV can tell.
 *
 * **No lock guarantees mutual exclusion over an asynchronous network.** A holder can
 * be paused at any moment (a GC pause, a swapped-out process, a VM migration, a slow
 * disk, a network partition) for longer than its session's TTL. The cluster then
 * expires its session, deletes its lock key and hands the lock to the next contender,
 * while the paused holder, when it wakes, still believes it holds the lock: nothing
 * can tell it in time, because it is not running. Its `lost` promise and `signal`
 * report the loss only when it next hears from the cluster, after the fact. Checking
 * `isHeld` right before a write narrows the window but never closes it: the pause can
 * fall between the check and the write, or the write can sit in a network buffer.
 *
 * **The remedy is a fencing token checked by the protected resource.** Each holder
 * gets `fencingToken`, the revision that created its lock key: every later holder's
 * token is higher. Send the token with every write to the resource (a storage service,
 * a database row, a file server), and have the resource remember the highest token it
 * has seen and refuse any request with a lower one (see `FencedResource`). Then a
 * paused holder's late write is refused instead of overwriting its successor's work.
 * The resource must do that check itself, atomically with the write; a lock alone
 * is only an optimization (it keeps contenders from colliding most of the time).
 *
 * The recipe (ZooKeeper's, "Locks" in the ZooKeeper recipes):
 * 1. `acquire()` creates an ephemeral sequential key `<name>/lock-<counter>` owned by
 *    the session.
 * 2. It reads the keys up to its own at revision R. If its key is the lowest, it
 *    holds the lock.
 * 3. Otherwise it watches only the key just before its own (its predecessor) for a
 *    deletion, from revision R + 1 so no deletion after the read is missed, then goes
 *    back to 2. A release wakes exactly one waiter: no herd effect.
 *
 * Fairness: first come, first served, in the order the keys were created.
 *
 * @example
 * ```ts
 * const session = await kv.createSession({ ttlMs: 5_000 });
 * const lock = new KvLock(kv, { name: 'jobs/compactor', session, owner: 'worker-7' });
 * const held = await lock.acquire({ timeoutMs: 10_000 });
 * try {
 *   // pass the token to the resource, which refuses tokens lower than the highest it saw
 *   await storage.write(held.fencingToken, 'report', data);
 * } finally {
 *   await held.release();
 * }
 * ```
 */
export class KvLock {
  private readonly queue: SequentialQueue;

  constructor(
    kv: KvApi,
    private readonly options: KvLockOptions,
  ) {
    if (options.name === '') throw new ConfigError('KvLock', 'name', 'must not be empty');
    this.queue = new SequentialQueue(kv, `${options.name}/lock-`);
  }

  /**
   * Waits for the lock and returns the handle of this holding. On abort or timeout
   * it deletes its key (it leaves the line) and rejects with synod's `AbortedError` or
   * `TimeoutError`; if the session ends while it waits, with `QueueEntryGoneError`.
   */
  async acquire(options: AcquireOptions = {}): Promise<LockHandle> {
    return new LockHandle(await this.queue.turn(this.options.session, this.options.owner ?? '', options, 'KvLock.acquire'));
  }

  /** Who holds the lock now (a linearizable read by default), or undefined if nobody does. */
  async holder(options: ReadOptions = {}): Promise<LockHolder | undefined> {
    const { head } = await this.queue.head(options);
    return head === undefined ? undefined : holderOf(head);
  }
}

function holderOf(kv: KeyValue): LockHolder {
  return { key: kv.key, owner: decoder.decode(kv.value), fencingToken: kv.createRevision };
}

/** One holding of a {@link KvLock}, from `acquire()` until `release()` or its loss. */
export class LockHandle {
  /** @internal */
  constructor(private readonly turn: QueueTurn) {}

  /** This holding's lock key. */
  get key(): string {
    return this.turn.entry.key;
  }

  /**
   * The fencing token: the store revision that created the lock key. Every later
   * holding of this lock has a higher one. Send it with every request to the protected
   * resource, which must refuse a token lower than the highest it has seen.
   */
  get fencingToken(): number {
    return this.turn.entry.createRevision;
  }

  /**
   * Resolves with the reason when this client learns the lock is lost: its session
   * ended, its key was deleted, or it can no longer watch the key (its node closed).
   * By then another contender may have held the lock for a while: it is a hint to stop,
   * never a guarantee that nobody else acted (that is the fencing token's job). Stays
   * pending after `release()`.
   */
  get lost(): Promise<TurnLoss> {
    return this.turn.lost;
  }

  /** Aborts when the lock is lost or released: pass it to the work done under the lock. */
  get signal(): AbortSignal {
    return this.turn.signal;
  }

  /** Whether the lock is held as far as this client knows. It can be wrong (see {@link KvLock}). */
  get isHeld(): boolean {
    return this.turn.isHeld;
  }

  /** Releases the lock: deletes the key, which wakes the next waiter (only it). */
  release(): Promise<void> {
    return this.turn.leave();
  }
}
