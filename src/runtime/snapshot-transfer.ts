/**
 * Streaming a snapshot to a replica that needs slots its sender compacted: bounded
 * chunks, one in flight per transfer (each waits for its ack), retried on silence and
 * given up after a bounded number of retries; an explicit end (`done` or `failed`).
 * A receiver that crashed mid-transfer simply asks again through catch-up: nothing of
 * a transfer is kept across restarts, so nothing can stay half-installed.
 */
import type { NodeId } from '../core/index.js';
import type { SnapshotAckMessage, SnapshotChunkMessage } from './runtime-messages.js';
import type { Snapshot } from './storage.js';

/** Bounds of a transfer, in ticks and bytes. @internal */
export interface TransferLimits {
  /** Bytes per chunk. */
  readonly chunkBytes: number;
  /** Ticks without an ack before the chunk is sent again. */
  readonly retryTicks: number;
  /** Resends without progress before the transfer is given up. */
  readonly retriesMax: number;
}

interface Outgoing {
  readonly to: NodeId;
  readonly transfer: number;
  readonly snapshot: Snapshot;
  /** Everything before it was acknowledged. */
  acked: number;
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
  private readonly outgoing = new Map<NodeId, Outgoing>();
  private nextTransfer: number;
  /** Peers whose snapshot is being loaded: a second request must not start another. */
  private readonly reserved = new Set<NodeId>();

  constructor(
    private readonly self: NodeId,
    private readonly limits: TransferLimits,
    private readonly send: (m: SnapshotChunkMessage) => void,
    random: () => number,
  ) {
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

  /** Starts streaming `snapshot` to `to` (replacing a reservation). */
  start(to: NodeId, snapshot: Snapshot): void {
    this.reserved.delete(to);
    const t: Outgoing = { to, transfer: this.nextTransfer++, snapshot, acked: 0, idleTicks: 0, retries: 0 };
    this.outgoing.set(to, t);
    this.sendChunk(t);
  }

  /** Drops a reservation that did not start (no snapshot to send). */
  release(to: NodeId): void {
    this.reserved.delete(to);
  }

  /** An ack arrived: sends the next chunk, or returns how the transfer ended. */
  onAck(m: SnapshotAckMessage): SendOutcome | undefined {
    const t = this.outgoing.get(m.from);
    if (t === undefined || t.transfer !== m.transfer) return undefined;
    if (m.status !== 'more') {
      this.outgoing.delete(m.from);
      return m.status;
    }
    const total = t.snapshot.data.byteLength;
    if (m.received > t.acked || m.received === 0) {
      // Progress, or the receiver lost the transfer (it restarted): go on from there.
      if (m.received > t.acked) t.retries = 0;
      t.acked = Math.min(m.received, total);
      t.idleTicks = 0;
      if (t.acked < total) this.sendChunk(t);
    }
    return undefined;
  }

  /** One tick passed: resends stalled chunks; returns the peers whose transfer was given up. */
  tick(): NodeId[] {
    const givenUp: NodeId[] = [];
    for (const t of this.outgoing.values()) {
      if (++t.idleTicks < this.limits.retryTicks) continue;
      t.idleTicks = 0;
      if (++t.retries > this.limits.retriesMax) {
        this.outgoing.delete(t.to);
        givenUp.push(t.to);
        continue;
      }
      this.sendChunk(t);
    }
    return givenUp;
  }

  /** Transfers under way. */
  get size(): number {
    return this.outgoing.size;
  }

  private sendChunk(t: Outgoing): void {
    const { data, slot } = t.snapshot;
    const end = Math.min(data.byteLength, t.acked + this.limits.chunkBytes);
    this.send({
      type: 'snapshotChunk',
      from: this.self,
      to: t.to,
      transfer: t.transfer,
      slot,
      total: data.byteLength,
      offset: t.acked,
      data: data.subarray(t.acked, end),
    });
  }
}

interface Incoming {
  readonly from: NodeId;
  readonly transfer: number;
  readonly slot: number;
  readonly total: number;
  readonly parts: Uint8Array[];
  received: number;
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
}

/**
 * The receiving side: one snapshot assembled at a time, at most `bytesMax` bytes.
 * @internal
 */
export class SnapshotReceiver {
  private incoming: Incoming | undefined;

  constructor(
    private readonly self: NodeId,
    private readonly bytesMax: number,
    /** Ticks without a chunk after which a partial transfer is dropped. */
    private readonly idleTicksMax: number,
  ) {}

  /**
   * A chunk arrived, while this node has applied every slot up to `appliedIndex`.
   * Returns the ack to send (if any) and, when the chunk completed a snapshot, the
   * snapshot to install; the ack of a completed snapshot comes from {@link finished}.
   */
  onChunk(m: SnapshotChunkMessage, appliedIndex: number): { ack?: SnapshotAckMessage; complete?: ReceivedSnapshot } {
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
      if (m.offset !== 0) return { ack: ack(0, 'more') };
      cur = { from: m.from, transfer: m.transfer, slot: m.slot, total: m.total, parts: [], received: 0, idleTicks: 0, installing: false };
      this.incoming = cur;
    }
    if (m.slot !== cur.slot || m.total !== cur.total || m.offset + m.data.byteLength > cur.total) {
      this.incoming = undefined;
      return { ack: ack(0, 'failed') };
    }
    if (m.offset !== cur.received || m.data.byteLength === 0) return { ack: ack(cur.received, 'more') };
    cur.parts.push(m.data.slice());
    cur.received += m.data.byteLength;
    cur.idleTicks = 0;
    if (cur.received < cur.total) return { ack: ack(cur.received, 'more') };
    cur.installing = true;
    const data = concat(cur.parts, cur.total);
    cur.parts.length = 0;
    return { complete: { from: cur.from, transfer: cur.transfer, slot: cur.slot, data } };
  }

  /** The node finished with a completed snapshot: the ack that ends its transfer. */
  finished(s: ReceivedSnapshot, status: 'done' | 'failed'): SnapshotAckMessage {
    const cur = this.incoming;
    if (cur !== undefined && cur.from === s.from && cur.transfer === s.transfer) this.incoming = undefined;
    return { type: 'snapshotAck', from: this.self, to: s.from, transfer: s.transfer, received: s.data.byteLength, status };
  }

  /** One tick passed: a partial transfer whose sender went silent is dropped. */
  tick(): void {
    const cur = this.incoming;
    if (cur !== undefined && !cur.installing && ++cur.idleTicks > this.idleTicksMax) this.incoming = undefined;
  }
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1 && parts[0]!.byteLength === total) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
