/**
 * Length-prefixed framing for a byte stream (a TCP connection): each frame travels as
 * its length (4 bytes, little-endian) and then its bytes. Pure, like the codec.
 */
import { CodecError } from './codec-error.js';

/** Bytes of the length prefix. */
export const framePrefixBytes = 4;

const noBytes = new Uint8Array(0);

/** `frame` with its length prefix, ready to write to a stream. */
export function prefixFrame(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(framePrefixBytes + frame.byteLength);
  new DataView(out.buffer).setUint32(0, frame.byteLength, true);
  out.set(frame, framePrefixBytes);
  return out;
}

/**
 * Cuts a stream, arriving in chunks of any size, back into frames. A length above
 * `frameBytesMax` throws {@link CodecError} before anything is allocated for it: the
 * stream cannot be trusted after that, so close the connection.
 *
 * @example
 * ```ts
 * const reader = new FrameReader(16 * 1024 * 1024);
 * socket.on('data', (chunk) => { for (const frame of reader.push(chunk)) handle(decodeMessage(frame)); });
 * ```
 */
export class FrameReader {
  /** Chunks received and not yet consumed; the first is consumed up to `offset`. */
  private chunks: Uint8Array[] = [];
  private offset = 0;
  private pendingBytes = 0;

  /**
   * @param frameBytesMax the largest frame taken; a transport may lower it while a peer
   *   is not yet authenticated and raise it after, with {@link FrameReader.limit}.
   */
  constructor(private frameBytesMax: number) {}

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.pendingBytes;
  }

  /** Changes the largest frame taken from the next frame on. */
  limit(frameBytesMax: number): void {
    this.frameBytesMax = frameBytesMax;
  }

  /** Takes one chunk of the stream; returns the frames it completed, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.append(chunk);
    const frames: Uint8Array[] = [];
    for (let frame = this.next(); frame !== undefined; frame = this.next()) frames.push(frame);
    return frames;
  }

  /** Takes one chunk of the stream without cutting frames; {@link next} cuts them. */
  append(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    // A plain view: slicing a Node Buffer makes Buffers, which cost more to make and read.
    this.chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.pendingBytes += chunk.byteLength;
  }

  /** The bytes holding the frame {@link nextInPlace} found last (the frame from {@link frameStart} to {@link frameEnd}). */
  frameBytes: Uint8Array = noBytes;
  frameStart = 0;
  frameEnd = 0;

  /**
   * {@link next} without a view of the frame: true when a whole frame arrived, which
   * then lies in {@link frameBytes} from {@link frameStart} to {@link frameEnd}, there
   * until the chunk is dropped (never overwritten). For a reader that decodes in place.
   * @throws {@link CodecError} for a length above the limit.
   */
  nextInPlace(): boolean {
    const first = this.chunks[0];
    const at = this.offset;
    if (first !== undefined && first.byteLength - at >= framePrefixBytes) {
      const length = first[at]! + first[at + 1]! * 0x100 + first[at + 2]! * 0x10000 + first[at + 3]! * 0x1000000;
      const start = at + framePrefixBytes;
      const end = start + length;
      if (length <= this.frameBytesMax && end <= first.byteLength) {
        this.pendingBytes -= framePrefixBytes + length;
        if (end === first.byteLength) this.dropFirst();
        else this.offset = end;
        this.frameBytes = first;
        this.frameStart = start;
        this.frameEnd = end;
        return true;
      }
    }
    const frame = this.next();
    if (frame === undefined) return false;
    this.frameBytes = frame;
    this.frameStart = 0;
    this.frameEnd = frame.byteLength;
    return true;
  }

  /**
   * The next whole frame, or undefined until more bytes arrive. Checks the length
   * against the limit in force now.
   * @throws {@link CodecError} for a length above the limit.
   */
  next(): Uint8Array | undefined {
    // The common case: the prefix and the whole frame lie in the first chunk.
    const first = this.chunks[0];
    const at = this.offset;
    if (first !== undefined && first.byteLength - at >= framePrefixBytes) {
      const length = first[at]! + first[at + 1]! * 0x100 + first[at + 2]! * 0x10000 + first[at + 3]! * 0x1000000;
      const start = at + framePrefixBytes;
      const end = start + length;
      if (length > 0 && length <= this.frameBytesMax && end <= first.byteLength) {
        this.pendingBytes -= framePrefixBytes + length;
        if (end === first.byteLength) this.dropFirst();
        else this.offset = end;
        return first.subarray(start, end);
      }
    }
    if (this.pendingBytes < framePrefixBytes) return undefined;
    const length = this.prefix();
    if (length > this.frameBytesMax) throw new CodecError(`a frame of ${length} bytes announced, more than the limit ${this.frameBytesMax}`);
    if (this.pendingBytes < framePrefixBytes + length) return undefined;
    this.skip(framePrefixBytes);
    return this.take(length);
  }

  /** Consumes the next `n` buffered bytes without returning them. */
  private skip(n: number): void {
    this.pendingBytes -= n;
    for (let left = n; left > 0; ) {
      const chunk = this.chunks[0]!;
      const used = Math.min(chunk.byteLength - this.offset, left);
      left -= used;
      this.offset += used;
      if (this.offset === chunk.byteLength) this.dropFirst();
    }
  }

  /** The length prefix (little-endian), read without consuming it, across chunks if need be. */
  private prefix(): number {
    let n = 0;
    let chunk = 0;
    let at = this.offset;
    for (let k = 0, scale = 1; k < framePrefixBytes; k++, scale *= 0x100) {
      while (at >= this.chunks[chunk]!.byteLength) {
        chunk++;
        at = 0;
      }
      n += this.chunks[chunk]![at++]! * scale;
    }
    return n;
  }

  /** Consumes the next `n` buffered bytes: a view when they lie in one chunk, else a copy. */
  private take(n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0);
    this.pendingBytes -= n;
    const first = this.chunks[0]!;
    if (first.byteLength - this.offset >= n) {
      const out = first.subarray(this.offset, this.offset + n);
      this.offset += n;
      if (this.offset === first.byteLength) this.dropFirst();
      return out;
    }
    const out = new Uint8Array(n);
    for (let at = 0; at < n; ) {
      const chunk = this.chunks[0]!;
      const used = Math.min(chunk.byteLength - this.offset, n - at);
      out.set(chunk.subarray(this.offset, this.offset + used), at);
      at += used;
      this.offset += used;
      if (this.offset === chunk.byteLength) this.dropFirst();
    }
    return out;
  }

  private dropFirst(): void {
    this.chunks.shift();
    this.offset = 0;
  }
}
