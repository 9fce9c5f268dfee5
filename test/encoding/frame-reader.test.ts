import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batch, noop } from '../../src/core/index.js';
import type { NodeMessage } from '../../src/runtime/index.js';
import { CodecError } from '../../src/encoding/codec-error.js';
import { FrameReader, prefixFrame } from '../../src/encoding/frame-reader.js';
import { decodeMessage, encodeMessage } from '../../src/transport/codec/index.js';

describe('FrameReader', () => {
  it('keeps the frames it gave out intact while later chunks arrive: values decoded from them and read at the end are the ones sent', () => {
    const commandsOf = (i: number): Uint8Array[] => [new Uint8Array(30 + (i % 5)).fill(i), Uint8Array.of(i, 255 - i)];
    const sent: NodeMessage[] = Array.from({ length: 200 }, (_, i) => ({
      type: i % 2 === 0 ? 'accept' : 'chosen',
      from: 'a',
      to: 'b',
      ballot: { round: 1, node: 'a' },
      firstSlot: i,
      commitIndex: 0,
      values: [batch(commandsOf(i)), noop],
    })) as NodeMessage[];
    const stream = Buffer.concat(sent.map((m) => prefixFrame(encodeMessage(m))));
    // One read buffer per chunk, as a socket gives them; some frames lie in one chunk (views), some span two (copies).
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 20 }), (cuts) => {
        const reader = new FrameReader(1 << 20);
        const decoded: NodeMessage[] = [];
        let i = 0;
        for (let from = 0; from < stream.byteLength; i++) {
          const to = Math.min(stream.byteLength, from + cuts[i % cuts.length]!);
          for (const frame of reader.push(Uint8Array.from(stream.subarray(from, to)))) decoded.push(decodeMessage(frame));
          from = to;
        }
        expect(decoded.length).toBe(sent.length);
        decoded.forEach((m, k) => {
          expect(m.type === 'accept' || m.type === 'chosen' ? m.values : undefined).toEqual([batch(commandsOf(k)), noop]);
        });
      }),
      { numRuns: 50 },
    );
  });

  it('gives back the frames, in order and whole, however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 50 }),
        (frames, cuts) => {
          const stream = new Uint8Array(frames.reduce((n, f) => n + 4 + f.byteLength, 0));
          let at = 0;
          for (const f of frames) {
            stream.set(prefixFrame(f), at);
            at += 4 + f.byteLength;
          }
          const reader = new FrameReader(1024);
          // The same stream read in place: each frame as the bytes and bounds it lies within.
          const inPlace = new FrameReader(1024);
          const out: number[][] = [];
          const outInPlace: number[][] = [];
          let i = 0;
          for (let from = 0; from < stream.byteLength; i++) {
            const to = Math.min(stream.byteLength, from + cuts[i % cuts.length]!);
            for (const frame of reader.push(stream.subarray(from, to))) out.push([...frame]);
            inPlace.append(stream.subarray(from, to));
            while (inPlace.nextInPlace()) outInPlace.push([...inPlace.frameBytes.subarray(inPlace.frameStart, inPlace.frameEnd)]);
            from = to;
          }
          expect(out).toEqual(frames.map((f) => [...f]));
          expect(outInPlace).toEqual(out);
          expect(reader.buffered).toBe(0);
          expect(inPlace.buffered).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses a length above the limit before allocating for it, even one announced across chunks, and when reading in place', () => {
    const reader = new FrameReader(1024);
    expect(reader.push(new Uint8Array([0xff, 0xff]))).toEqual([]);
    expect(() => reader.push(new Uint8Array([0xff, 0x7f]))).toThrow(CodecError);
    expect(() => new FrameReader(10).push(prefixFrame(new Uint8Array(11)))).toThrow(CodecError);
    expect(new FrameReader(10).push(prefixFrame(new Uint8Array(10)))).toHaveLength(1);
    const inPlace = new FrameReader(10);
    inPlace.append(prefixFrame(new Uint8Array(11)));
    expect(() => inPlace.nextInPlace()).toThrow(CodecError);
  });
});
