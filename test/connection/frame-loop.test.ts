/**
 * The shared frame loop on its own, over a fake socket and fake timers: frames cut from
 * chunks of any size, the frame limits before and after the handshake, the handshake
 * and partial-frame timeouts, the shared partial-frame budget, and pausing.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FrameLoop, type FrameLoopError, type FrameLoopLimits } from '../../src/connection/frame-loop.js';
import { PartialFrameBudget } from '../../src/connection/partial-frame-budget.js';
import { prefixFrame } from '../../src/encoding/frame-reader.js';

interface Harness {
  readonly loop: FrameLoop;
  readonly frames: number[][];
  readonly failures: FrameLoopError[];
  readonly source: { paused: boolean; pause(): void; resume(): void };
}

const limits: FrameLoopLimits = { handshakeFrameBytesMax: 16, handshakeTimeoutMs: 1_000, frameBytesMax: 1_000, frameCompleteMsMax: 500 };

function harness(over: Partial<FrameLoopLimits> = {}, onFrame?: (h: Harness) => void): Harness {
  const frames: number[][] = [];
  const failures: FrameLoopError[] = [];
  const source = {
    paused: false,
    pause() {
      this.paused = true;
    },
    resume() {
      this.paused = false;
    },
  };
  const h: Harness = {
    frames,
    failures,
    source,
    loop: new FrameLoop(
      source,
      {
        onFrame: (bytes, start, end) => {
          frames.push([...bytes.subarray(start, end)]);
          onFrame?.(h);
        },
        onFailure: (error) => failures.push(error),
      },
      { ...limits, ...over },
    ),
  };
  return h;
}

const frame = (...bytes: number[]): Uint8Array => prefixFrame(new Uint8Array(bytes));
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the shared frame loop', () => {
  it('cuts frames split anywhere across chunks back into the frames sent, in order', () => {
    const stream = concat(frame(1, 2, 3), frame(), frame(4), frame(...Array.from({ length: 15 }, (_, i) => i)));
    for (let cut = 0; cut <= stream.byteLength; cut++) {
      for (const step of [1, 2, 3, 7]) {
        const h = harness();
        h.loop.received(stream.subarray(0, cut));
        for (let at = cut; at < stream.byteLength; at += step) h.loop.received(stream.subarray(at, Math.min(stream.byteLength, at + step)));
        expect(h.frames, `cut ${cut}, step ${step}`).toEqual([[1, 2, 3], [], [4], Array.from({ length: 15 }, (_, i) => i)]);
        expect(h.failures).toEqual([]);
        expect(h.loop.buffered).toBe(0);
        h.loop.stop();
      }
    }
  });

  it('a frame over the limit fails typed before it is read: the handshake limit until open, the larger one after', () => {
    const h = harness();
    h.loop.received(frame(...new Array(17).fill(0)).subarray(0, 4));
    expect(h.failures).toHaveLength(1);
    expect(h.failures[0]).toMatchObject({
      failure: 'frame-too-large',
      code: 'FRAME',
      message: expect.stringContaining('a frame of 17 bytes announced, more than the limit 16'),
    });
    // Stopped: nothing more is read, and no timeout fires later.
    h.loop.received(frame(1));
    vi.advanceTimersByTime(10_000);
    expect(h.frames).toEqual([]);
    expect(h.failures).toHaveLength(1);

    const open = harness();
    open.loop.opened();
    open.loop.received(frame(...new Array(1_000).fill(7)));
    expect(open.frames).toHaveLength(1);
    open.loop.received(prefixFrame(new Uint8Array(1_001)).subarray(0, 4));
    expect(open.failures.map((f) => f.failure)).toEqual(['frame-too-large']);
  });

  it('the handshake must end within handshakeTimeoutMs; once open no handshake timeout fires', () => {
    const slow = harness();
    vi.advanceTimersByTime(999);
    expect(slow.failures).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(slow.failures.map((f) => [f.failure, f.message])).toEqual([['handshake-timeout', 'handshake not finished after 1000 ms']]);
    const quick = harness();
    quick.loop.opened();
    vi.advanceTimersByTime(5_000);
    expect(quick.failures).toEqual([]);
  });

  it('a partial frame must be whole within frameCompleteMsMax of its first byte; a frame completed in time and a new one begun restart the count', () => {
    const h = harness();
    h.loop.opened();
    const f = frame(1, 2, 3, 4);
    h.loop.received(f.subarray(0, 5));
    vi.advanceTimersByTime(400);
    h.loop.received(f.subarray(5));
    expect(h.frames).toEqual([[1, 2, 3, 4]]);
    // A new frame begins at 400 ms: it has until 900 ms, whatever the timer set at 0 says.
    h.loop.received(f.subarray(0, 2));
    vi.advanceTimersByTime(499);
    expect(h.failures).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(h.failures.map((e) => e.failure)).toEqual(['frame-timeout']);
    expect(h.failures[0]!.message).toBe('a frame was not whole within frameCompleteMsMax (500 ms) of its first byte (2 bytes of it came)');
  });

  it('without frameCompleteMsMax (peers) a partial frame is not timed', () => {
    const h = harness({ frameCompleteMsMax: undefined });
    h.loop.opened();
    h.loop.received(frame(1, 2).subarray(0, 3));
    vi.advanceTimersByTime(60_000);
    expect(h.failures).toEqual([]);
  });

  it('paused, frames wait in the loop untimed; resumed, they are handed on first', () => {
    const h = harness({}, (self) => {
      if (self.frames.length === 1) self.loop.pause();
    });
    h.loop.opened();
    h.loop.received(concat(frame(1), frame(2), frame(3), frame(4).subarray(0, 2)));
    expect(h.frames).toEqual([[1]]);
    expect(h.source.paused).toBe(true);
    expect(h.loop.paused).toBe(true);
    vi.advanceTimersByTime(10_000);
    expect(h.failures).toEqual([]);
    h.loop.resume();
    expect(h.source.paused).toBe(false);
    expect(h.frames).toEqual([[1], [2], [3]]);
    // The partial one is timed from the resume.
    vi.advanceTimersByTime(500);
    expect(h.failures.map((e) => e.failure)).toEqual(['frame-timeout']);
  });

  it('what the loops hold is charged to the shared budget; a loop that would take it over fails, and a stopped one gives its charge back', () => {
    const budget = new PartialFrameBudget(10);
    const a = harness({ partialFrames: budget });
    const b = harness({ partialFrames: budget });
    a.loop.received(frame(1, 2, 3, 4, 5).subarray(0, 6));
    expect(a.loop.charged).toBe(6);
    expect(budget.held).toBe(6);
    b.loop.received(frame(1, 2, 3, 4, 5).subarray(0, 5));
    expect(b.failures.map((e) => [e.failure, e.message])).toEqual([
      ['partial-frames', '5 bytes of frames not yet whole here would take what all clients hold to 11 bytes, over partialFrameBytesMax (10)'],
    ]);
    expect(budget.held).toBe(6);
    a.loop.received(frame(1, 2, 3, 4, 5).subarray(6));
    expect(a.frames).toHaveLength(1);
    expect(budget.held).toBe(0);
    a.loop.received(frame(1).subarray(0, 3));
    expect(budget.held).toBe(3);
    a.loop.stop();
    expect(budget.held).toBe(0);
  });

  it('a frame handler that stops the loop (its connection closed) ends the reading at once', () => {
    const h = harness({}, (self) => self.loop.stop());
    h.loop.received(concat(frame(1), frame(2)));
    expect(h.frames).toEqual([[1]]);
  });
});
