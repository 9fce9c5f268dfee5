/**
 * Log time as a leader stamps it: its wall clock, held close to the elapsed time its
 * monotonic clock measures, so a wall clock step does not carry the log's time along.
 */
import { assert } from '../core/assert.js';

/**
 * How far a leader's wall clock may pull log time away from elapsed time: from the
 * last time this node stamped or saw, log time runs at most this fraction faster or
 * slower than its monotonic clock. A wall clock stepped by 2 h moves log time by 5%
 * of the time since (it would take 40 h to pass on); a log time that lags a sane wall
 * clock by a second catches up in 20 s.
 */
export const logTimeSlewRate = 0.05;

/**
 * A node's reading of log time, for the timestamps it gives commands as leader. It
 * holds an anchor: a log time and the monotonic instant it held. From there, log time
 * is the anchor plus the monotonic time elapsed, give or take {@link logTimeSlewRate}
 * of it, and the wall clock is read only within that band; each stamp becomes the new
 * anchor. A log time seen in the log ahead of the anchor's projection (another
 * leader's stamp) becomes the anchor too: the log has the last word, and a follower
 * that takes over goes on from the time its leader kept. Own stamps, seen again when
 * they are applied, are behind the projection by then and move nothing.
 *
 * A node that has neither stamped nor seen a command since it started (commands
 * replayed from its own disk do not count: the monotonic clock does not survive a
 * restart) takes its wall clock as it is, never below the log's last time.
 *
 * @example
 * ```ts
 * const logClock = new LogClock();
 * logClock.observe(meta.timestamp, clock.now()); // a command applied live
 * const timestamp = logClock.stamp(clock.wallTime(), clock.now(), lastTimestamp);
 * ```
 * @internal
 */
export class LogClock {
  /** A log time, and the monotonic time it held at. */
  private anchor: { readonly log: number; readonly at: number } | undefined;

  /** Whether this node has stamped or seen a log time since it started. */
  get anchored(): boolean {
    return this.anchor !== undefined;
  }

  /** An applied command showed log time `timestamp` at monotonic time `now`. */
  observe(timestamp: number, now: number): void {
    assert(Number.isFinite(timestamp) && Number.isFinite(now), () => `log clock observed ${timestamp} at ${now}`);
    const anchor = this.anchor;
    if (anchor === undefined || timestamp > anchor.log + (now - anchor.at)) this.anchor = { log: timestamp, at: now };
  }

  /**
   * The timestamp a leader gives a command at monotonic time `now`, its wall clock
   * reading `wall`, the log's last time being `last`: never below `last`.
   */
  stamp(wall: number, now: number, last: number): number {
    const anchor = this.anchor;
    let held: number;
    if (anchor === undefined) {
      held = Math.max(last, wall);
    } else {
      const elapsed = now - anchor.at;
      assert(elapsed >= 0, () => `the monotonic clock went back: ${now} < ${anchor.at}`);
      const lowest = anchor.log + elapsed * (1 - logTimeSlewRate);
      const highest = anchor.log + elapsed * (1 + logTimeSlewRate);
      held = Math.max(last, Math.min(Math.max(wall, lowest), highest));
    }
    // Whole milliseconds, as wall clocks give them (the KV encodes times as integers);
    // the anchor keeps the fraction, so rounding never adds up over many stamps.
    const stamped = Math.max(last, Math.floor(held));
    assert(stamped >= last && Number.isFinite(stamped), () => `stamp ${stamped} below the log's last time ${last}`);
    this.anchor = { log: held, at: now };
    return stamped;
  }
}
