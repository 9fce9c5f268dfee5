/**
 * A session of a sharded KV: one session in each range it puts ephemeral keys in,
 * opened there on first use and kept alive by that range's group. They live and end
 * together: when one expires, the others are closed, so the session's ephemeral keys
 * go from every range.
 */
import { SessionExpiredError } from '../errors.js';
import type { KvSession, SessionEnd } from '../kv-session.js';

/**
 * A session spanning the ranges of a sharded KV. Pass its `id` as `session` to the
 * sharded KV's `put` (or a transaction's put) to make a key ephemeral: the session is
 * opened in the key's range on first use. `ended` resolves when it ends: `closed`, or
 * `expired` when any range's session expired (its keys there were deleted by that
 * range; the other ranges' sessions are then closed, deleting theirs).
 *
 * @example
 * ```ts
 * const session = await kv.createSession({ ttlMs: 10_000 });
 * await kv.put('locks/orders', 'me', { session: session.id, expectedVersion: 0 });
 * await kv.put('workers/7', 'up', { session: session.id }); // another range: its own session there
 * await session.close(); // both keys deleted
 * ```
 */
export class ShardedSession {
  /** This session's id on this member (not a range's session id). */
  readonly id: number;
  readonly ttlMs: number;
  /** Resolves when the session ends. */
  readonly ended: Promise<SessionEnd>;
  private readonly ranges = new Map<number, Promise<KvSession>>();
  private over = false;
  private end: ((how: SessionEnd) => void) | undefined;

  /** @internal */
  constructor(
    id: number,
    ttlMs: number,
    /** Opens the session in range `group`. */
    private readonly open: (group: number) => Promise<KvSession>,
  ) {
    this.id = id;
    this.ttlMs = ttlMs;
    this.ended = new Promise((resolve) => (this.end = resolve));
  }

  /** Whether the session has ended. */
  get isOver(): boolean {
    return this.over;
  }

  /** The groups of the ranges the session is open in (or being opened in). */
  get groups(): number[] {
    return [...this.ranges.keys()].sort((a, b) => a - b);
  }

  /**
   * The session's id in range `group`, opening it there on first use. Rejects with
   * {@link SessionExpiredError} once the session is over. @internal
   */
  async idIn(group: number): Promise<number> {
    if (this.over) throw new SessionExpiredError(this.id);
    let opening = this.ranges.get(group);
    if (opening === undefined) {
      opening = this.open(group);
      this.ranges.set(group, opening);
      opening.then(
        (session) => {
          // Ended in the meantime: this range's session must not outlive it.
          if (this.over) void session.close().catch(() => undefined);
          void session.ended.then((how) => {
            if (how === 'expired') this.finish('expired');
          });
        },
        () => {
          // Not opened (a timeout): the next use tries again.
          if (this.ranges.get(group) === opening) this.ranges.delete(group);
        },
      );
    }
    const session = await opening;
    if (session.isOver) throw new SessionExpiredError(this.id);
    return session.id;
  }

  /** Ends the session in every range: its ephemeral keys are deleted. Resolves once every range's close is applied. */
  async close(): Promise<void> {
    const sessions = await Promise.allSettled(this.ranges.values());
    this.over = true;
    const closing = sessions.flatMap((s) => (s.status === 'fulfilled' ? [s.value.close()] : []));
    await Promise.all(closing);
    this.finish('closed');
  }

  /** Its sharded KV closed: the ranges' sessions expire after their TTL. @internal */
  detach(): void {
    this.finish('abandoned');
  }

  private finish(how: SessionEnd): void {
    const end = this.end;
    if (end === undefined) return;
    this.end = undefined;
    this.over = true;
    // One range's session expired: close the others, so no ephemeral key outlives the session.
    if (how === 'expired') for (const opening of this.ranges.values()) void opening.then((s) => s.close()).catch(() => undefined);
    end(how);
  }
}
