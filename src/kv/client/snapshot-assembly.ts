/**
 * A snapshot a client receives in `snapshotChunk` frames, put back together: the
 * pieces must come in order, agree on the slot, the size and the digest, and the
 * whole must match the digest. Node-only (node:crypto).
 */
import { createHash } from 'node:crypto';
import type { Snapshot } from '../../runtime/index.js';
import { KvRequestError } from '../errors.js';
import type { ServerFrame } from '../protocol/client-frames.js';

/**
 * The largest snapshot a client takes, in bytes: the most a stored snapshot may hold
 * (the file storage's 4-byte length).
 */
const snapshotBytesMax = 0xffffffff;

type Chunk = Extract<ServerFrame, { kind: 'snapshotChunk' }>;

/** @internal */
export class SnapshotAssembly {
  private slot = 0;
  private sha256: Uint8Array = new Uint8Array(0);
  private data: Uint8Array | undefined;
  private received = 0;
  private done: Snapshot | undefined;

  /** The snapshot, once every piece came and it matched its digest. */
  get complete(): Snapshot | undefined {
    return this.done;
  }

  /**
   * Takes the next piece; returns the snapshot once the last one came, verified.
   * A piece at offset 0 starts over: the request was sent again (after a reconnect).
   * @throws {@link KvRequestError} if a piece does not follow the one before, or the
   *   whole does not match its digest.
   */
  add(chunk: Chunk): Snapshot | undefined {
    if (chunk.offset === 0) {
      if (chunk.totalBytes > snapshotBytesMax)
        throw new KvRequestError('snapshot', `the server's snapshot is ${chunk.totalBytes} bytes, more than the ${snapshotBytesMax} a client takes`);
      this.slot = chunk.slot;
      this.sha256 = chunk.sha256;
      this.data = new Uint8Array(chunk.totalBytes);
      this.received = 0;
      this.done = undefined;
    }
    const data = this.data;
    if (data === undefined) throw new KvRequestError('snapshot', `a piece at offset ${chunk.offset} came before the first`);
    if (chunk.offset !== this.received || chunk.slot !== this.slot || chunk.totalBytes !== data.byteLength || !sameBytes(chunk.sha256, this.sha256)) {
      throw new KvRequestError(
        'snapshot',
        `a piece of slot ${chunk.slot} at offset ${chunk.offset} of ${chunk.totalBytes} bytes does not follow ${this.received} bytes of slot ${this.slot}, ${data.byteLength} in all`,
      );
    }
    data.set(chunk.data, chunk.offset);
    this.received += chunk.data.byteLength;
    if (this.received < data.byteLength) return undefined;
    if (!sameBytes(createHash('sha256').update(data).digest(), this.sha256)) {
      throw new KvRequestError('snapshot', `the ${data.byteLength} bytes received do not match the server's SHA-256: damaged on the way`);
    }
    this.done = { slot: this.slot, data };
    return this.done;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
}
