/**
 * A clock whose timers fire on a shared beat, for the groups of one host. Counted
 * from the clock's making, beat `b` falls at `b × beatMs`; a timer of at least
 * `beatMs` runs on the first beat at or after its time (never early, at most a beat
 * late), together with every other timer due by then, from one timer of the clock
 * below. So groups that tick every `beatMs` tick in the same turn: their heartbeats
 * to a peer host leave together (the host sends them as one message), and a
 * thousand active groups cost one timer, not a thousand. A shorter timer would be
 * delayed by more than itself: it goes to the clock below as it is.
 */
import type { Clock, TimerHandle } from '../runtime/index.js';

/** A timer waiting for its beat. */
interface BeatTimer {
  readonly callback: () => void;
  readonly beat: number;
}

/** A timer of the clock below (shorter than a beat). */
interface PassedTimer {
  readonly passed: TimerHandle;
}

/** @internal */
export class BeatClock implements Clock {
  private readonly origin: number;
  /** Timers by beat, in the order they were set. */
  private readonly due = new Map<number, Set<BeatTimer>>();
  /** The beats of `due`, ascending (a beat whose timers were all cleared may linger: skipped when it comes). */
  private readonly beats: number[] = [];
  private timer: TimerHandle | undefined;
  /** The beat `timer` is set for. */
  private timerBeat = Number.POSITIVE_INFINITY;
  /** A beat's timers are running: the timer below is set once they are done. */
  private firing = false;
  readonly defer?: (callback: () => void) => void;

  constructor(
    private readonly base: Clock,
    /** Between two beats, in ms: a positive integer. */
    readonly beatMs: number,
  ) {
    this.origin = base.now();
    if (base.defer !== undefined) this.defer = (callback) => base.defer!(callback);
  }

  now(): number {
    return this.base.now();
  }

  wallTime(): number {
    return this.base.wallTime();
  }

  /** Timers waiting for a beat (for tests). */
  get pending(): number {
    let n = 0;
    for (const set of this.due.values()) n += set.size;
    return n;
  }

  setTimer(callback: () => void, ms: number): TimerHandle {
    if (!(ms >= this.beatMs)) return { passed: this.base.setTimer(callback, ms) } satisfies PassedTimer;
    const beat = Math.ceil((this.base.now() + ms - this.origin) / this.beatMs);
    const t: BeatTimer = { callback, beat };
    let set = this.due.get(beat);
    if (set === undefined) {
      set = new Set();
      this.due.set(beat, set);
      insertSorted(this.beats, beat);
    }
    set.add(t);
    if (beat < this.timerBeat && !this.firing) this.arm(beat);
    return t;
  }

  clearTimer(handle: TimerHandle): void {
    if (typeof handle !== 'object' || handle === null) return;
    if ('passed' in handle) return this.base.clearTimer((handle as PassedTimer).passed);
    const t = handle as BeatTimer;
    const set = this.due.get(t.beat);
    if (set === undefined || !set.delete(t)) return;
    if (set.size === 0) this.due.delete(t.beat);
    if (this.due.size === 0) {
      // Nothing waits: no timer runs (a host whose groups all rest costs none).
      this.beats.length = 0;
      if (this.timer !== undefined) this.base.clearTimer(this.timer);
      this.timer = undefined;
      this.timerBeat = Number.POSITIVE_INFINITY;
    }
  }

  private arm(beat: number): void {
    if (this.timer !== undefined) this.base.clearTimer(this.timer);
    this.timerBeat = beat;
    this.timer = this.base.setTimer(this.onBeat, Math.max(0, this.origin + beat * this.beatMs - this.base.now()));
  }

  private readonly onBeat = (): void => {
    // A timer below may fire a hair before its time: the beat it was set for has come.
    const upTo = Math.max(this.timerBeat, Math.floor((this.base.now() - this.origin) / this.beatMs));
    this.timer = undefined;
    this.timerBeat = Number.POSITIVE_INFINITY;
    let failure: { error: unknown } | undefined;
    this.firing = true;
    while (this.beats.length > 0 && this.beats[0]! <= upTo) {
      const beat = this.beats.shift()!;
      const set = this.due.get(beat);
      if (set === undefined) continue;
      this.due.delete(beat);
      for (const t of set) {
        // One failing callback must not keep the others of its beat from running.
        try {
          t.callback();
        } catch (error) {
          failure ??= { error };
        }
      }
    }
    this.firing = false;
    // Timers set meanwhile fall on later beats.
    while (this.beats.length > 0 && !this.due.has(this.beats[0]!)) this.beats.shift();
    if (this.beats.length > 0) this.arm(this.beats[0]!);
    if (failure !== undefined) throw failure.error;
  };
}

function insertSorted(xs: number[], x: number): void {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  xs.splice(lo, 0, x);
}
