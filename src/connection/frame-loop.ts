/**
 * The one read loop of synod's authenticated connections, peers' and clients' alike:
 * it cuts the bytes a socket delivers into length-prefixed frames and hands each to
 * its connection, within the limits every connection keeps:
 * - a frame is at most `handshakeFrameBytesMax` until the connection is open, then at
 *   most `frameBytesMax`; a larger length fails the loop before anything is allocated;
 * - the handshake ends within `handshakeTimeoutMs` of the loop's start;
 * - once open, a frame is whole within `frameCompleteMsMax` of its first byte (if set);
 * - what the loop holds of frames not yet read is charged to a budget shared by many
 *   connections (if given), and a connection that would take it over fails.
 * A failure stops the loop and is reported once, as a {@link FrameLoopError}; the
 * connection closes. Reading can be paused (frames wait in the loop, not timed) and
 * resumed. The loop does not own the socket: its connection feeds it the chunks.
 */
import { SynodError } from '../core/errors.js';
import { CodecError } from '../encoding/codec-error.js';
import { FrameReader } from '../encoding/frame-reader.js';
import type { PartialFrameBudget } from './partial-frame-budget.js';

/** Bounds a frame loop keeps. */
export interface FrameLoopLimits {
  /** The largest frame before the connection is open (the handshake's), in bytes. */
  readonly handshakeFrameBytesMax: number;
  /** Time the connection has to open, from the loop's start, in ms. */
  readonly handshakeTimeoutMs: number;
  /** The largest frame once open, in bytes. */
  readonly frameBytesMax: number;
  /**
   * Once open, the time a frame may take to arrive whole, from its first byte (or from
   * when reading resumed, if it was paused), in ms. Default: not timed.
   */
  readonly frameCompleteMsMax?: number | undefined;
  /** The budget the bytes held here are charged to, with other connections'. Default: none. */
  readonly partialFrames?: PartialFrameBudget | undefined;
}

/** Why a frame loop stopped. */
export type FrameLoopFailure =
  /** A frame announced longer than the limit in force. */
  | 'frame-too-large'
  /** The connection did not open within `handshakeTimeoutMs`. */
  | 'handshake-timeout'
  /** A frame was not whole within `frameCompleteMsMax`. */
  | 'frame-timeout'
  /** The bytes held here would take the shared budget over its bound. */
  | 'partial-frames';

/** A frame loop's failure: the connection cannot go on. */
export class FrameLoopError extends SynodError {
  constructor(
    readonly failure: FrameLoopFailure,
    message: string,
  ) {
    super('FRAME', message);
  }
}

/** What a frame loop hands its connection. */
export interface FrameHandler {
  /** One whole frame: `bytes` from `start` to `end`, a view of what the socket gave (never reused). */
  onFrame(bytes: Uint8Array, start: number, end: number): void;
  /** The loop failed and stopped (called once). */
  onFailure(error: FrameLoopError): void;
}

/** What a loop asks of its socket: to stop and start delivering data. */
export interface PausableSource {
  pause(): unknown;
  resume(): unknown;
}

/** @internal */
export class FrameLoop {
  private readonly reader: FrameReader;
  private open = false;
  private pausedNow = false;
  private stopped = false;
  private readonly handshakeTimer: ReturnType<typeof setTimeout>;
  /** Frames read so far: a change tells a new frame from the one that was partial. */
  private framesRead = 0;
  /** The partial frame: `framesRead` when it was first seen, and when (monotonic ms). */
  private partial: { readonly frame: number; readonly since: number } | undefined;
  /** Fires at the earliest when the partial frame is overdue; set at most once at a time. */
  private frameTimer: ReturnType<typeof setTimeout> | undefined;
  /** Bytes of the reader charged to `partialFrames`. */
  private chargedBytes = 0;

  constructor(
    private readonly source: PausableSource,
    private readonly handler: FrameHandler,
    private readonly limits: FrameLoopLimits,
  ) {
    this.reader = new FrameReader(limits.handshakeFrameBytesMax);
    const ms = limits.handshakeTimeoutMs;
    this.handshakeTimer = setTimeout(() => this.fail('handshake-timeout', `handshake not finished after ${ms} ms`), ms);
    this.handshakeTimer.unref();
  }

  /** Bytes held of frames not yet read. */
  get buffered(): number {
    return this.reader.buffered;
  }

  /** Whether reading is paused. */
  get paused(): boolean {
    return this.pausedNow;
  }

  /** Bytes charged to the shared budget now. */
  get charged(): number {
    return this.chargedBytes;
  }

  /** Takes one chunk from the socket and hands on the frames it completed. */
  received(chunk: Uint8Array): void {
    if (this.stopped) return;
    this.reader.append(chunk);
    this.readFrames();
    this.afterReading();
  }

  /** The handshake succeeded: larger frames from now on, and no handshake timeout. */
  opened(): void {
    this.open = true;
    clearTimeout(this.handshakeTimer);
    this.reader.limit(this.limits.frameBytesMax);
  }

  /** Stops handing on frames (and the socket delivering them) until {@link resume}. */
  pause(): void {
    if (this.pausedNow || this.stopped) return;
    this.pausedNow = true;
    this.source.pause();
  }

  /** Reads again: first the frames already held. */
  resume(): void {
    if (!this.pausedNow || this.stopped) return;
    this.pausedNow = false;
    this.source.resume();
    this.readFrames();
    this.afterReading();
  }

  /** Stops the loop for good: timers cleared, the charge given back. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.frameTimer);
    this.limits.partialFrames?.recharge(this.chargedBytes, 0);
    this.chargedBytes = 0;
  }

  /** Hands on the frames held, until they run out, reading pauses or the loop stops (a frame may close the connection). */
  private readFrames(): void {
    // Locals on the hot path (every frame of a peer link passes here).
    const reader = this.reader;
    const handler = this.handler;
    let read = 0;
    while (!this.pausedNow && !this.stopped) {
      let whole: boolean;
      try {
        whole = reader.nextInPlace();
      } catch (error) {
        // The length prefix itself is beyond the limit: the stream cannot be followed.
        this.framesRead += read;
        return this.fail('frame-too-large', error instanceof CodecError ? error.message : String(error));
      }
      if (!whole) break;
      read++;
      handler.onFrame(reader.frameBytes, reader.frameStart, reader.frameEnd);
    }
    this.framesRead += read;
  }

  /**
   * Charges what the reader still holds (a partial frame, or whole ones while reading is
   * paused) to the shared budget, failing if that would take it over; and times the
   * partial frame.
   */
  private afterReading(): void {
    if (this.stopped) return;
    const budget = this.limits.partialFrames;
    if (budget !== undefined) {
      const held = this.reader.buffered;
      if (!budget.recharge(this.chargedBytes, held)) {
        const others = budget.held - this.chargedBytes;
        return this.fail(
          'partial-frames',
          `${held} bytes of frames not yet whole here would take what all clients hold to ${others + held} bytes, over partialFrameBytesMax (${budget.bytesMax})`,
        );
      }
      this.chargedBytes = held;
    }
    if (this.limits.frameCompleteMsMax !== undefined) this.timePartialFrame(this.limits.frameCompleteMsMax);
  }

  /**
   * Notes when the frame now partial began (a frame read since means a new one) and sets
   * the timer if none is set. Frames held while reading is paused are not the other
   * side's delay: they are not timed. The handshake has its own timer.
   */
  private timePartialFrame(ms: number): void {
    if (!this.open || this.pausedNow || this.reader.buffered === 0) {
      this.partial = undefined;
      return;
    }
    if (this.partial === undefined || this.partial.frame !== this.framesRead) this.partial = { frame: this.framesRead, since: performance.now() };
    if (this.frameTimer === undefined) this.setFrameTimer(ms);
  }

  private setFrameTimer(ms: number): void {
    this.frameTimer = setTimeout(() => this.onFrameTimer(), ms);
    this.frameTimer.unref();
  }

  /** The partial frame timed then may have completed (and another begun): only an overdue one fails the loop. */
  private onFrameTimer(): void {
    this.frameTimer = undefined;
    const partial = this.partial;
    const ms = this.limits.frameCompleteMsMax;
    if (this.stopped || !this.open || partial === undefined || ms === undefined) return;
    const left = partial.since + ms - performance.now();
    if (left > 0) return this.setFrameTimer(Math.ceil(left));
    this.fail('frame-timeout', `a frame was not whole within frameCompleteMsMax (${ms} ms) of its first byte (${this.reader.buffered} bytes of it came)`);
  }

  private fail(failure: FrameLoopFailure, message: string): void {
    if (this.stopped) return;
    this.stop();
    this.handler.onFailure(new FrameLoopError(failure, message));
  }
}
