/**
 * The leader's countdowns of its sessions' silence, on its monotonic clock. Local to
 * the leader, never replicated: what the log gets is the decision (`session-expire`),
 * never a clock reading.
 */
import { assert } from '../core/assert.js';
import type { Session } from './session-table.js';

/**
 * Most sessions one `session-expire` names; more wait for the next check. Bounds the
 * command (ids are varints of at most 8 bytes: 8 KiB) far below `commandBytesMax`.
 */
export const expireSessionsPerCommandMax = 1024;

/** What the countdown knows of one session. */
interface Seen {
  /** The renewal slot it had when this leader last saw it change. */
  renewedSlot: number;
  /** The monotonic time at which this leader saw that renewal (or first saw the session). */
  since: number;
  /** The observation that last saw it, to forget sessions that are gone. */
  observation: number;
}

/**
 * Per session, when the leader saw it renewed last, on the leader's monotonic clock
 * (`Clock.now()`): a session is due once `ttlMs` passed since, with no renewal seen.
 * A countdown starts when this leader first sees the session, and starts again each
 * time the session's renewal slot changes (a keepalive, or the new leader's
 * `session-renew`), so it never runs from before the renewal: a session is never
 * found due before a whole TTL of silence. Cleared when leadership is lost, so a new
 * leadership starts every countdown afresh.
 *
 * @example
 * ```ts
 * const countdown = new SessionCountdown();
 * const due = countdown.observe(machine.sessionTable.values(), clock.now(), expireSessionsPerCommandMax);
 * ```
 * @internal
 */
export class SessionCountdown {
  private readonly seen = new Map<number, Seen>();
  private observations = 0;

  /** Sessions with a countdown running. */
  get size(): number {
    return this.seen.size;
  }

  /** When the countdown of session `id` (re)started, on the monotonic clock; undefined if none runs. */
  sinceMs(id: number): number | undefined {
    return this.seen.get(id)?.since;
  }

  /** Forgets every countdown (leadership lost or taken). */
  clear(): void {
    this.seen.clear();
  }

  /**
   * Looks at every live session at monotonic time `now`: starts the countdown of a
   * session not seen before, restarts that of one renewed since, forgets those gone.
   * Returns the sessions silent for at least their TTL, by id, at most `max`.
   */
  observe(sessions: Iterable<Pick<Session, 'id' | 'renewedSlot' | 'ttlMs'>>, now: number, max: number): number[] {
    assert(Number.isFinite(now), () => `countdown at time ${now}`);
    assert(Number.isSafeInteger(max) && max > 0, () => `countdown asked for at most ${max} sessions`);
    const observation = ++this.observations;
    const due: number[] = [];
    let live = 0;
    for (const session of sessions) {
      live++;
      let seen = this.seen.get(session.id);
      if (seen === undefined) {
        seen = { renewedSlot: session.renewedSlot, since: now, observation };
        this.seen.set(session.id, seen);
      } else {
        assert(now >= seen.since, () => `the monotonic clock went back: ${now} < ${seen!.since}`);
        if (seen.renewedSlot !== session.renewedSlot) {
          seen.renewedSlot = session.renewedSlot;
          seen.since = now;
        }
        seen.observation = observation;
      }
      if (now - seen.since >= session.ttlMs) due.push(session.id);
    }
    if (this.seen.size > live) for (const [id, seen] of this.seen) if (seen.observation !== observation) this.seen.delete(id);
    assert(this.seen.size === live, () => `${this.seen.size} countdowns for ${live} sessions`);
    return due.sort((a, b) => a - b).slice(0, max);
  }
}
