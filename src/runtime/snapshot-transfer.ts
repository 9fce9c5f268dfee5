/**
 * Streaming a snapshot to a replica that needs slots its sender compacted: bounded
 * chunks, a window of them in flight (the receiver acknowledges the prefix it holds
 * whole, keeping chunks that arrive ahead of a gap in place; the sender keeps at most
 * `inflightBytesMax` bytes beyond that prefix in flight, and after `retryTicks` without
 * progress goes back and sends again from there), given up after a bounded number of
 * retries; an explicit end (`done` or `failed`).
 * Each chunk carries the CRC-32 of the snapshot up to its end, so the receiver refuses
 * bytes damaged or put in the wrong place before it stores anything.
 * A receiver that crashed mid-transfer simply asks again through catch-up: nothing of
 * a transfer is kept across restarts, so nothing can stay half-installed.
 */
import { LazyMap, LazySet } from '../core/lazy-map.js';
import type { NodeId } from '../core/index.js';
import { assert } from '../core/assert.js';
import { crc32 as portableCrc32 } from '../encoding/crc32.js';
import { SnapshotError } from './errors.js';
import type { SnapshotAckMessage, SnapshotChunkMessage } from './runtime-messages.js';
import type { SnapshotReader } from './storage.js';

/** Bounds of a transfer, in ticks and bytes. @internal */
export interface TransferLimits {
  /** Bytes per chunk. */
  readonly chunkBytes: number;
  /** Bytes sent and not yet acknowledged, at most (at least one chunk is always let through). */
  readonly inflightBytesMax: number;
  /** Ticks without progress before the unacknowledged chunks are sent again. */
  readonly retryTicks: number;
  /** Resends without progress before the transfer is given up. */
  readonly retriesMax: number;
}

/** A CRC-32 (IEEE) going on from `previous`, the CRC of the bytes before `bytes`. @internal */
export type Crc32 = (bytes: Uint8Array, previous: number) => number;

/**
 * What a sender streams: a snapshot read by pieces, from memory (reads answered at once,
 * so chunks go out synchronously) or from the storage (reads that resolve later).
 * @internal
 */
export interface SnapshotSource {
  readonly slot: number;
  readonly byteLength: number;
  /**
   * The CRC-32 the bytes must have, whole, when the source leaves the check to the
   * sender (a storage reader opened `checkedByCaller`): the chunks' running CRC is
   * compared with it before the last chunk goes out.
   */
  readonly dataCrc32?: number;
  read(offset: number, length: number): Uint8Array | Promise<Uint8Array>;
  close(): void;
}

/** A source over a storage's reader; its close errors are of no interest once the transfer ended. @internal */
export function readerSource(reader: SnapshotReader): SnapshotSource {
  return {
    slot: reader.slot,
    byteLength: reader.byteLength,
    ...(reader.dataCrc32 === undefined ? {} : { dataCrc32: reader.dataCrc32 }),
    read: (offset, length) => reader.read(offset, length),
    close: () => {
      reader.close().catch(() => undefined);
    },
  };
}

/** A source over bytes in memory. @internal */
export function bytesSource(slot: number, data: Uint8Array): SnapshotSource {
  return { slot, byteLength: data.byteLength, read: (offset, length) => data.subarray(offset, offset + length), close: () => undefined };
}

/** Bytes read from a source at a time, at most: a few chunks per trip to the storage. */
const readPieceBytesMax = 4 * 1024 * 1024;

/** Bytes of the snapshot read from the source, and where they start: chunks are views of them. */
interface Piece {
  readonly offset: number;
  readonly bytes: Uint8Array;
}

interface Outgoing {
  readonly to: NodeId;
  readonly transfer: number;
  readonly source: SnapshotSource;
  /**
   * The pieces read and still of use, in order and contiguous: the one chunks are cut
   * from now, and the next one, read ahead while the first is sent.
   */
  pieces: Piece[];
  /** A read is under way: chunks beyond the pieces wait for it. */
  reading: boolean;
  /** Everything before it was acknowledged. */
  acked: number;
  /** The end of the last chunk sent since the window last went back to `acked`. */
  sent: number;
  /**
   * The CRC-32 of the snapshot's bytes before an offset, for every chunk boundary sent
   * in this transfer (one entry a chunk): a chunk sent again needs the CRC up to its
   * start, and an ack is taken only at a boundary found here.
   */
  readonly crcBefore: Map<number, number>;
  idleTicks: number;
  retries: number;
}

/** What became of an outgoing transfer. @internal */
export type SendOutcome = 'done' | 'failed' | 'given-up';

/**
 * The sending side: at most one transfer per peer.
 * @internal
 */
export class SnapshotSender {
  private readonly outgoing = new LazyMap<NodeId, Outgoing>();
  private nextTransfer: number;
  /** Peers whose snapshot is being loaded: a second request must not start another. */
  private readonly reserved = new LazySet<NodeId>();

  constructor(
    private readonly self: NodeId,
    private readonly limits: TransferLimits,
    private readonly send: (m: SnapshotChunkMessage) => void,
    random: () => number,
    private readonly crc32: Crc32 = portableCrc32,
    /** A read of the snapshot failed: the transfer to `to` ended without a word to it. */
    private readonly readFailed: (to: NodeId, error: unknown) => void = () => undefined,
  ) {
    assert(Number.isSafeInteger(limits.chunkBytes) && limits.chunkBytes > 0, `chunkBytes ${limits.chunkBytes} must be a positive integer`);
    assert(limits.inflightBytesMax > 0, `inflightBytesMax ${limits.inflightBytesMax} must be positive`);
    // Transfer ids from a random start: a restarted sender never continues a receiver's
    // half-assembled transfer from before its restart.
    this.nextTransfer = 1 + Math.floor(random() * 0x3fffffff);
  }

  /** Whether a transfer to `to` is under way or about to start. */
  busy(to: NodeId): boolean {
    return this.outgoing.has(to) || this.reserved.has(to);
  }

  /** Marks `to` busy while its snapshot is loaded. */
  reserve(to: NodeId): void {
    this.reserved.add(to);
  }

  /** Starts streaming `source` to `to` (replacing a reservation); the sender closes it when the transfer ends. */
  start(to: NodeId, source: SnapshotSource): void {
    this.reserved.delete(to);
    const t: Outgoing = {
      to,
      transfer: this.nextTransfer++,
      source,
      pieces: [],
      reading: false,
      acked: 0,
      sent: 0,
      crcBefore: new Map([[0, 0]]),
      idleTicks: 0,
      retries: 0,
    };
    this.outgoing.set(to, t);
    this.fill(t);
  }

  /** Drops a reservation that did not start (no snapshot to send). */
  release(to: NodeId): void {
    this.reserved.delete(to);
  }

  /** An ack arrived: sends the chunks the window now lets through, or returns how the transfer ended. */
  onAck(m: SnapshotAckMessage): SendOutcome | undefined {
    const t = this.outgoing.get(m.from);
    if (t === undefined || t.transfer !== m.transfer) return undefined;
    if (m.status !== 'more') {
      this.end(t);
      return m.status;
    }
    // Only the end of a chunk this sender sent in this transfer is a place the receiver
    // can have reached: the CRCs of those are kept for the transfer's life. It may be
    // past what was sent since the window last went back: it kept chunks that arrived
    // ahead of a gap, some sent before that. Forgetting the CRCs at a start over made
    // such a receiver unacknowledgeable: the two went round, the receiver dropping the
    // transfer and the sender starting over, until the end of time.
    if (m.received > t.acked && t.crcBefore.has(m.received)) {
      t.acked = m.received;
      t.sent = Math.max(t.sent, t.acked);
      t.retries = 0;
      t.idleTicks = 0;
      this.fill(t);
    } else if (m.received === 0 && t.acked > 0) {
      // The receiver lost the transfer (it restarted): start over. Its acks of the other
      // chunks in flight say 0 too, and change nothing more (acked is 0 by then).
      t.acked = 0;
      t.sent = 0;
      t.idleTicks = 0;
      this.fill(t);
    }
    // Otherwise a duplicate or late ack (a chunk out of order, or sent twice): the
    // window stays; silence beyond retryTicks sends it again. Going back to such an ack
    // resent a window for each, whose acks came late in turn: a storm.
    return undefined;
  }

  /** One tick passed: resends stalled windows; returns the peers whose transfer was given up. */
  tick(): NodeId[] {
    const givenUp: NodeId[] = [];
    for (const t of this.outgoing.values()) {
      if (++t.idleTicks < this.limits.retryTicks) continue;
      t.idleTicks = 0;
      if (++t.retries > this.limits.retriesMax) {
        this.end(t);
        givenUp.push(t.to);
        continue;
      }
      // Go back: everything after the acknowledged prefix is sent again.
      t.sent = t.acked;
      this.fill(t);
    }
    return givenUp;
  }

  /** Transfers under way. */
  get size(): number {
    return this.outgoing.size;
  }

  private end(t: Outgoing): void {
    if (this.outgoing.get(t.to) === t) this.outgoing.delete(t.to);
    t.pieces = [];
    t.source.close();
  }

  /**
   * Sends chunks from `sent` on while the window has room (always at least one chunk in
   * flight), as long as their bytes are at hand; a read of the next piece, once done,
   * calls it again.
   */
  private fill(t: Outgoing): void {
    const total = t.source.byteLength;
    const { chunkBytes, inflightBytesMax } = this.limits;
    while (t.sent < total && (t.sent === t.acked || t.sent - t.acked + Math.min(chunkBytes, total - t.sent) <= inflightBytesMax)) {
      const end = Math.min(total, t.sent + chunkBytes);
      const chunk = this.bytesOf(t, t.sent, end);
      if (chunk === undefined) break;
      const sent = this.sendChunk(t, t.sent, chunk);
      if (sent === undefined) return;
      t.sent = sent;
    }
    assert(t.acked <= t.sent && t.sent <= total, () => `transfer ${t.transfer} to ${t.to}: acked ${t.acked}, sent ${t.sent}, total ${total}`);
  }

  /**
   * The snapshot's bytes from `offset` to `end`, or undefined while a read of them is
   * under way. Serving from a piece starts the read of the next, so the storage works
   * while the network does.
   */
  private bytesOf(t: Outgoing, offset: number, end: number): Uint8Array | undefined {
    // Pieces wholly before `offset` are of no more use (a go-back reads them again).
    while (t.pieces.length > 0 && t.pieces[0]!.offset + t.pieces[0]!.bytes.byteLength <= offset) t.pieces.shift();
    const piece = t.pieces[0];
    if (piece !== undefined && offset >= piece.offset && end <= piece.offset + piece.bytes.byteLength) {
      const last = t.pieces[t.pieces.length - 1]!;
      if (t.pieces.length === 1) this.read(t, last.offset + last.bytes.byteLength);
      return piece.bytes.subarray(offset - piece.offset, end - piece.offset);
    }
    // Not at hand: a go-back to before the first piece, or past pieces not read yet.
    if (t.reading) return undefined;
    t.pieces = [];
    this.read(t, offset);
    return t.reading ? undefined : this.bytesOf(t, offset, end);
  }

  /** Reads the piece at `offset` (unless past the end or a read is under way), appending it to the pieces. */
  private read(t: Outgoing, offset: number): void {
    if (t.reading || offset >= t.source.byteLength) return;
    const { chunkBytes, inflightBytesMax } = this.limits;
    const pieceBytes = Math.max(chunkBytes, Math.floor(Math.min(inflightBytesMax, readPieceBytesMax) / chunkBytes) * chunkBytes);
    const length = Math.min(t.source.byteLength - offset, pieceBytes);
    // A short read would cut a chunk short, or never end: a failed read, as a throw is.
    const whole = (bytes: Uint8Array): Uint8Array => {
      if (bytes.byteLength !== length) throw new RangeError(`a read of ${length} bytes at offset ${offset} of the snapshot gave ${bytes.byteLength}`);
      return bytes;
    };
    let read: Uint8Array | Promise<Uint8Array>;
    try {
      const got = t.source.read(offset, length);
      read = got instanceof Uint8Array ? whole(got) : got.then(whole);
    } catch (error) {
      read = Promise.reject(error);
    }
    if (read instanceof Uint8Array) {
      t.pieces.push({ offset, bytes: read });
      return;
    }
    t.reading = true;
    read.then(
      (bytes) => {
        t.reading = false;
        if (this.outgoing.get(t.to) !== t) return;
        // The pieces may have been dropped meanwhile (a go-back): keep them contiguous.
        const last = t.pieces[t.pieces.length - 1];
        if (last !== undefined && last.offset + last.bytes.byteLength !== offset) t.pieces = [];
        t.pieces.push({ offset, bytes });
        this.fill(t);
      },
      (error: unknown) => {
        t.reading = false;
        if (this.outgoing.get(t.to) !== t) return;
        this.end(t);
        this.readFailed(t.to, error);
      },
    );
  }

  /**
   * Sends `chunk`, the bytes at `offset` (a multiple of chunkBytes); returns where it
   * ends, or undefined if the transfer ended instead (the snapshot failed its CRC).
   */
  private sendChunk(t: Outgoing, offset: number, chunk: Uint8Array): number | undefined {
    const { slot, byteLength } = t.source;
    const { chunkBytes } = this.limits;
    assert(offset % chunkBytes === 0 && offset < byteLength, () => `chunk offset ${offset} of a ${byteLength}-byte snapshot in chunks of ${chunkBytes}`);
    const end = offset + chunk.byteLength;
    // Every offset from `acked` to `sent` has its CRC kept, and chunks go out from `sent`
    // or from `acked` after a go-back.
    const before = t.crcBefore.get(offset);
    assert(before !== undefined, () => `transfer ${t.transfer} to ${t.to}: no CRC kept for offset ${offset}`);
    const crc = this.crc32(chunk, before);
    if (end === byteLength && t.source.dataCrc32 !== undefined && crc !== t.source.dataCrc32) {
      // The stored snapshot is damaged: its last chunk never goes out, so no receiver
      // completes it; the transfer ends as a failed read does.
      this.end(t);
      this.readFailed(
        t.to,
        new SnapshotError(`the stored snapshot of slot ${slot} reads as CRC-32 ${hex(crc)}, and its storage holds ${hex(t.source.dataCrc32)}: it is damaged`),
      );
      return undefined;
    }
    t.crcBefore.set(end, crc);
    this.send({ type: 'snapshotChunk', from: this.self, to: t.to, transfer: t.transfer, slot, total: byteLength, offset, crc, data: chunk });
    return end;
  }
}

interface Incoming {
  readonly from: NodeId;
  readonly transfer: number;
  readonly slot: number;
  /** The whole snapshot, filled in order as chunks arrive: the one copy the receiver holds. */
  readonly data: Uint8Array;
  /** Bytes of `data` filled: everything before it arrived, and its CRC matched. */
  received: number;
  /** The CRC-32 of `data` up to `received`. */
  crc: number;
  /**
   * Chunks that arrived ahead of `received` (the network reordered them), by offset:
   * their bytes are in `data` already, checked against their CRC once the gap before
   * them is filled. At most {@link aheadChunksMax}.
   */
  readonly ahead: Map<number, { readonly end: number; readonly crc: number }>;
  idleTicks: number;
  /** Complete and handed to the node to install; chunks are ignored meanwhile. */
  installing: boolean;
}

/** A snapshot received whole, to install. @internal */
export interface ReceivedSnapshot {
  readonly from: NodeId;
  readonly transfer: number;
  readonly slot: number;
  readonly data: Uint8Array;
  /** The CRC-32 of `data`, checked chunk by chunk on the way in. */
  readonly crc32: number;
}

/** What the receiver makes of a chunk. @internal */
export interface ChunkOutcome {
  /** The ack to send, if any. */
  readonly ack?: SnapshotAckMessage;
  /** The snapshot this chunk completed, to install; its ack comes from {@link SnapshotReceiver.finished}. */
  readonly complete?: ReceivedSnapshot;
  /** Why the transfer was refused: its bytes did not match their CRC. */
  readonly refused?: string;
}

/**
 * Chunks a receiver keeps ahead of the first one missing (their bytes are in the
 * snapshot's buffer already; this bounds only their bookkeeping). More are dropped, and
 * sent again after their sender's retry.
 * @internal
 */
export const aheadChunksMax = 1024;

/**
 * The receiving side: one snapshot assembled at a time, at most `bytesMax` bytes, held
 * once (each chunk is copied into place as it arrives). Chunks that arrive out of order
 * wait in place until the gap before them is filled; the CRC is checked in order.
 * @internal
 */
export class SnapshotReceiver {
  private incoming: Incoming | undefined;

  constructor(
    private readonly self: NodeId,
    private readonly bytesMax: number,
    /** Ticks without a chunk after which a partial transfer is dropped. */
    private readonly idleTicksMax: number,
    private readonly crc32: Crc32 = portableCrc32,
  ) {}

  /**
   * A chunk arrived, while this node has applied every slot up to `appliedIndex`.
   * Returns the ack to send (if any) and, when the chunk completed a snapshot, the
   * snapshot to install; the ack of a completed snapshot comes from {@link finished}.
   * Every chunk is answered with how far this receiver got (the end of the prefix it
   * holds whole and checked); one sent twice changes nothing.
   */
  onChunk(m: SnapshotChunkMessage, appliedIndex: number): ChunkOutcome {
    const ack = (received: number, status: SnapshotAckMessage['status']): SnapshotAckMessage => ({
      type: 'snapshotAck',
      from: this.self,
      to: m.from,
      transfer: m.transfer,
      received,
      status,
    });
    let cur = this.incoming;
    if (cur !== undefined && cur.from === m.from && cur.transfer === m.transfer) {
      if (cur.installing) return {};
    } else {
      if (m.slot <= appliedIndex) return { ack: ack(0, 'done') }; // not needed any more
      if (m.total > this.bytesMax) return { ack: ack(0, 'failed') };
      // One snapshot at a time: another sender's newer one, or the same sender's next
      // transfer, replaces a partial one; anything else waits (its sender retries).
      if (cur !== undefined && (cur.installing || (cur.from !== m.from && m.slot <= cur.slot))) return {};
      // Any chunk starts a transfer this receiver did not know (chunk 0 may come later):
      // its ack says 0, so a sender that counted on more (this receiver restarted) starts over.
      cur = {
        from: m.from,
        transfer: m.transfer,
        slot: m.slot,
        data: new Uint8Array(m.total),
        received: 0,
        crc: 0,
        ahead: new Map(),
        idleTicks: 0,
        installing: false,
      };
      this.incoming = cur;
    }
    if (m.slot !== cur.slot || m.total !== cur.data.byteLength || m.offset + m.data.byteLength > cur.data.byteLength) {
      this.incoming = undefined;
      return { ack: ack(0, 'failed') };
    }
    if (m.data.byteLength === 0 || m.offset < cur.received || cur.ahead.has(m.offset)) return { ack: ack(cur.received, 'more') };
    if (m.offset > cur.received) {
      // Ahead of a gap: into place now, checked once the gap is filled.
      if (cur.ahead.size < aheadChunksMax) {
        cur.data.set(m.data, m.offset);
        cur.ahead.set(m.offset, { end: m.offset + m.data.byteLength, crc: m.crc });
      }
      return { ack: ack(cur.received, 'more') };
    }
    cur.data.set(m.data, m.offset);
    let next: { readonly end: number; readonly crc: number } | undefined = { end: m.offset + m.data.byteLength, crc: m.crc };
    while (next !== undefined) {
      const crc = this.crc32(cur.data.subarray(cur.received, next.end), cur.crc);
      if (crc !== next.crc) {
        this.incoming = undefined;
        return {
          ack: ack(0, 'failed'),
          refused: `the chunk at offset ${cur.received} of ${cur.data.byteLength} bytes from ${cur.from} (slot ${cur.slot}) fails its CRC: ${hex(next.crc)} sent, ${hex(crc)} computed`,
        };
      }
      cur.received = next.end;
      cur.crc = crc;
      next = cur.ahead.get(cur.received);
      cur.ahead.delete(cur.received);
    }
    cur.idleTicks = 0;
    if (cur.received < cur.data.byteLength) return { ack: ack(cur.received, 'more') };
    assert(cur.received === cur.data.byteLength, () => `received ${cur.received} of ${cur.data.byteLength} bytes`);
    cur.installing = true;
    return { complete: { from: cur.from, transfer: cur.transfer, slot: cur.slot, data: cur.data, crc32: cur.crc } };
  }

  /** The node finished with a completed snapshot: the ack that ends its transfer. */
  finished(s: ReceivedSnapshot, status: 'done' | 'failed'): SnapshotAckMessage {
    const cur = this.incoming;
    if (cur !== undefined && cur.from === s.from && cur.transfer === s.transfer) this.incoming = undefined;
    return { type: 'snapshotAck', from: this.self, to: s.from, transfer: s.transfer, received: s.data.byteLength, status };
  }

  /** The snapshot being assembled, if any: its bytes up to `received` arrived and were checked. */
  current(): { readonly from: NodeId; readonly transfer: number; readonly slot: number; readonly data: Uint8Array; readonly received: number } | undefined {
    return this.incoming;
  }

  /** One tick passed: a partial transfer whose sender went silent is dropped. */
  tick(): void {
    const cur = this.incoming;
    if (cur !== undefined && !cur.installing && ++cur.idleTicks > this.idleTicksMax) this.incoming = undefined;
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
