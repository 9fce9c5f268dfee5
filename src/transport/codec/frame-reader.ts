/**
 * Length-prefixed framing for a byte stream (a TCP connection): each frame travels as
 * its length (4 bytes, little-endian) and then its bytes. Pure, like the codec.
 */
import { CodecError } from './codec-error.js';

/** Bytes of the length prefix. */
export const framePrefixBytes = 4;

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
  private pending: Uint8Array[] = [];
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
    this.pending.push(chunk);
    this.pendingBytes += chunk.byteLength;
  }

  /**
   * The next whole frame, or undefined until more bytes arrive. Checks the length
   * against the limit in force now.
   * @throws {@link CodecError} for a length above the limit.
   */
  next(): Uint8Array | undefined {
    if (this.pendingBytes < framePrefixBytes) return undefined;
    const head = this.peek(framePrefixBytes);
    const length = new DataView(head.buffer, head.byteOffset, framePrefixBytes).getUint32(0, true);
    if (length > this.frameBytesMax) throw new CodecError(`a frame of ${length} bytes announced, more than the limit ${this.frameBytesMax}`);
    if (this.pendingBytes < framePrefixBytes + length) return undefined;
    this.take(framePrefixBytes);
    return this.take(length);
  }

  /** The first `n` buffered bytes, without consuming them. */
  private peek(n: number): Uint8Array {
    const first = this.pending[0]!;
    if (first.byteLength >= n) return first.subarray(0, n);
    return this.gather(n, false);
  }

  /** Consumes the first `n` buffered bytes (a view when they lie in one chunk). */
  private take(n: number): Uint8Array {
    const first = this.pending[0];
    if (first !== undefined && first.byteLength >= n) {
      const out = first.subarray(0, n);
      if (first.byteLength === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
      this.pendingBytes -= n;
      return out;
    }
    return this.gather(n, true);
  }

  private gather(n: number, consume: boolean): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    let i = 0;
    while (at < n) {
      const chunk = this.pending[i]!;
      const used = Math.min(chunk.byteLength, n - at);
      out.set(chunk.subarray(0, used), at);
      at += used;
      if (consume) {
        if (used === chunk.byteLength) this.pending.shift();
        else this.pending[0] = chunk.subarray(used);
      } else i++;
    }
    if (consume) this.pendingBytes -= n;
    return out;
  }
}
