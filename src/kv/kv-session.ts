/**
 * A client's session: it keeps itself alive through the log, and its ephemeral keys
 * go when it ends.
 */
import type { Clock, TimerHandle } from '../runtime/index.js';
import type { SessionInfo } from './kv-types.js';

/**
 * How a session ended, for this handle: `'closed'` by {@link KvSession.close},
 * `'expired'` when the cluster ended it, `'abandoned'` when its node or client closed
 * and stopped keeping it alive (the cluster expires it after its TTL).
 */
export type SessionEnd = 'closed' | 'expired' | 'abandoned';

/** What a session needs from its node. @internal */
export interface SessionHost {
  readonly clock: Clock;
  /** Proposes a keepalive: resolves with the session's new info, or null if it no longer exists. Rejects on timeouts and the like. */
  keepAlive(id: number): Promise<SessionInfo | null>;
  /** Proposes the close. */
  closeSession(id: number): Promise<void>;
}

/**
 * A session of the KV. It sends a keepalive every `keepAliveMs` (default a third of its
 * TTL) until closed; a failed keepalive is retried at the next one. If the leader
 * expires it first (no keepalive got through for a whole TTL), `ended` resolves with
 * `'expired'`, and its ephemeral keys are gone. Put ephemeral keys with
 * `{ session: session.id }`.
 *
 * @example
 * ```ts
 * const session = await kv.createSession({ ttlMs: 5_000 });
 * await kv.put('members/worker-1', address, { session: session.id });
 * session.ended.then((how) => console.log('session', how));
 * await session.close(); // members/worker-1 is deleted
 * ```
 */
export class KvSession {
  readonly id: number;
  readonly ttlMs: number;
  /** Resolves when the session ends for this handle; see {@link SessionEnd}. */
  readonly ended: Promise<SessionEnd>;
  private end: ((how: SessionEnd) => void) | undefined;
  private timer: TimerHandle | undefined;
  private over = false;
  private abandoned = false;

  /** @internal */
  constructor(
    private readonly host: SessionHost,
    info: SessionInfo,
    private readonly keepAliveMs: number,
  ) {
    this.id = info.id;
    this.ttlMs = info.ttlMs;
    this.ended = new Promise((resolve) => (this.end = resolve));
    this.schedule();
  }

  /** Whether the session has ended (closed or expired), as far as this client knows. */
  get isOver(): boolean {
    return this.over;
  }

  /**
   * Ends the session: its ephemeral keys are deleted. Resolves once the close is
   * applied, and `ended` with it. Keepalives stop at once: if the close rejects (a
   * timeout), call it again, or the session expires after its TTL.
   */
  async close(): Promise<void> {
    if (this.over) return;
    this.abandon();
    await this.host.closeSession(this.id);
    this.stop('closed');
  }

  /** Stops keeping the session alive without closing it (the node is closing): it expires after its TTL. @internal */
  abandon(): void {
    this.abandoned = true;
    if (this.timer !== undefined) this.host.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** @internal */
  expired(): void {
    this.stop('expired');
  }

  /** Its node or client closed: no more keepalives. @internal */
  detach(): void {
    this.stop('abandoned');
  }

  private stop(how: SessionEnd): void {
    if (this.over) return;
    this.over = true;
    this.abandon();
    this.end?.(how);
  }

  private schedule(ms = this.keepAliveMs): void {
    if (this.over || this.abandoned || this.timer !== undefined) return;
    this.timer = this.host.clock.setTimer(() => this.beat(), ms);
  }

  private beat(): void {
    this.timer = undefined;
    if (this.over) return;
    this.host.keepAlive(this.id).then(
      (info) => {
        if (info === null) this.stop('expired');
        else this.schedule();
      },
      () => {
        // A timeout or a leader change: try again soon. Waiting a whole interval after a
        // keepalive that itself waited a whole interval (its timeout) left the session
        // silent for three intervals, its whole TTL, and the leader expired it.
        this.schedule(Math.max(1, Math.floor(this.keepAliveMs / 4)));
      },
    );
  }
}
