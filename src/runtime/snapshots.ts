/**
 * A node's snapshots: taking them on schedule (two-step: a synchronous capture, then
 * the write while applies go on), compacting the log below them, streaming them to
 * replicas that need compacted slots, and installing one a peer sent.
 */
import { LazyMap } from '../core/lazy-map.js';
import type { NodeId } from '../core/index.js';
import { nextTurn } from './clock.js';
import { SnapshotError, StorageError } from './errors.js';
import type { SnapshotAckMessage, SnapshotChunkMessage } from './runtime-messages.js';
import {
  type RuntimeState,
  copyBytesPerStep,
  decodeSnapshotInSteps,
  encodeRuntimeStateInSteps,
  encodeSnapshot,
  encodeSnapshotHead,
} from './snapshot-format.js';
import { type ReceivedSnapshot, type SnapshotSource, SnapshotReceiver, SnapshotSender, bytesSource, readerSource } from './snapshot-transfer.js';
import type { Snapshot, SnapshotWriter, Storage } from './storage.js';
import type { ResolvedOptions } from './options.js';

/** The parts of a node's options snapshots use (`limits.electionTicksMax` paces chunk retries). @internal */
export type SnapshotsOptions<R> = Pick<
  ResolvedOptions<unknown, R>,
  'id' | 'storage' | 'stateMachine' | 'resultCodec' | 'snapshot' | 'logger' | 'random' | 'clock' | 'limits'
>;

/** What {@link Snapshots} needs from its node. @internal */
export interface SnapshotHost<R> {
  /** Whether the node runs (not starting, not closing). */
  running(): boolean;
  appliedIndex(): number;
  /**
   * The runtime's replicated state now, right after the last apply, unchanged by later
   * applies (it is read while they go on).
   */
  runtimeState(): RuntimeState<R>;
  /**
   * Replaces the replicated state with a snapshot's of slots up to `slot`: the state
   * machine, the runtime's state, and the core's position; resolves once done (a
   * failure fails the node, and resolves too).
   */
  install(slot: number, state: RuntimeState<R>, machine: Uint8Array): Promise<void>;
  /** The core may forget its log up to `slot`. */
  compact(slot: number): void;
  send(message: SnapshotChunkMessage | SnapshotAckMessage): void;
  /** A storage failure: the node fails closed. */
  fail(error: Error): void;
  /** A problem that does not stop the node. */
  warn(error: Error): void;
}

/** Snapshot counters for the node's metrics. @internal */
export interface SnapshotCounts {
  saved: number;
  installed: number;
  sent: number;
  refused: number;
}

/**
 * Snapshots saved here while a transfer is under way after which compaction no longer
 * waits for it (see {@link Snapshots.compactionPoint}): the log kept for a slow transfer
 * is at most this many snapshot intervals.
 * @internal
 */
const transferHoldSnapshotsMax = 4;

/** @internal */
export class Snapshots<R> {
  /** The slot of the last snapshot saved in the storage (0 if none). */
  private savedSlot = 0;
  /** Applied since the last snapshot, to schedule the next. */
  private slotsSince = 0;
  private bytesSince = 0;
  /** A scheduled snapshot is being written. */
  private taking = false;
  /** Saves and installs, one at a time and in order: a snapshot in the storage never goes back. */
  private chain: Promise<void> | undefined;
  /**
   * The two sides of a transfer, made at the first transfer (most groups of a host never
   * see one); `senderDraw` is the random draw the sender starts from, taken at
   * construction as before, so making it later does not shift the node's random sequence.
   */
  private senderMade: SnapshotSender | undefined;
  private receiverMade: SnapshotReceiver | undefined;
  private readonly senderDraw: number;
  /**
   * Outgoing transfers by peer: when each was asked for (before its snapshot was
   * loaded), and once loaded, the slot its snapshot covers and the snapshots saved here
   * before it started (see {@link compactionPoint}).
   */
  private readonly outgoing = new LazyMap<NodeId, { readonly since: number; slot?: number; savedBefore?: number }>();
  /** The incoming transfer last heard of, and when its first chunk arrived. */
  private receiving: { from: NodeId; transfer: number; since: number; complete?: number } | undefined;
  /**
   * The incoming snapshot going to the storage as its checked prefix grows (a storage
   * with `createSnapshot`), so that little is left to write when the last chunk arrives.
   */
  private streaming: { readonly from: NodeId; readonly transfer: number; readonly writer: SnapshotWriter; written: number } | undefined;
  /** This node's own snapshot being written a piece at a time (see {@link saveOwn}), settled when saved or failed. */
  private writingOwn: Promise<void> | undefined;
  readonly counts: SnapshotCounts = { saved: 0, installed: 0, sent: 0, refused: 0 };

  constructor(
    private readonly options: SnapshotsOptions<R>,
    private readonly host: SnapshotHost<R>,
  ) {
    this.senderDraw = options.random();
  }

  private get sender(): SnapshotSender {
    if (this.senderMade !== undefined) return this.senderMade;
    const { options } = this;
    const o = options.snapshot;
    const draw = this.senderDraw;
    this.senderMade = new SnapshotSender(
      options.id,
      { chunkBytes: o.chunkBytes, inflightBytesMax: o.inflightBytesMax, retryTicks: options.limits.electionTicksMax, retriesMax: 5 },
      (m) => this.host.send(m),
      () => draw,
      o.crc32,
      (to, error) => {
        this.outgoing.delete(to);
        this.host.fail(new StorageError('loadSnapshot', error));
      },
    );
    return this.senderMade;
  }

  private get receiver(): SnapshotReceiver {
    const o = this.options.snapshot;
    this.receiverMade ??= new SnapshotReceiver(this.options.id, o.bytesMax, this.options.limits.electionTicksMax * 8, o.crc32);
    return this.receiverMade;
  }

  /** Resolves on a later turn of the event loop, after pending I/O: long work yields with it. */
  private pause(): Promise<void> {
    return nextTurn(this.options.clock);
  }

  /** Whether the state machine can snapshot and restore. */
  private get supported(): boolean {
    return typeof this.options.stateMachine.snapshot === 'function' && typeof this.options.stateMachine.restore === 'function';
  }

  /**
   * Reads the stored snapshot at start, if any: the slot it covers and its parts.
   * @throws {@link StorageError} if the storage cannot load it, or it is unreadable, or
   *   the state machine cannot restore.
   */
  async load(): Promise<{ slot: number; state: RuntimeState<R>; machine: Uint8Array } | undefined> {
    let snapshot: Snapshot | undefined;
    try {
      snapshot = await this.options.storage.loadSnapshot();
    } catch (error) {
      throw new StorageError('loadSnapshot', error);
    }
    if (snapshot === undefined) return undefined;
    if (typeof this.options.stateMachine.restore !== 'function') {
      throw new StorageError(
        'loadSnapshot',
        new SnapshotError(`the storage holds a snapshot of slot ${snapshot.slot}, but the state machine has no restore()`),
      );
    }
    let decoded;
    try {
      decoded = await decodeSnapshotInSteps(snapshot.data, this.options.resultCodec, () => this.pause());
    } catch (error) {
      throw new StorageError('loadSnapshot', error);
    }
    this.savedSlot = snapshot.slot;
    return { slot: snapshot.slot, ...decoded };
  }

  /** Slots up to `slot` were applied, `bytes` of commands: takes a snapshot when one is due. */
  applied(slots: number, bytes: number): void {
    this.slotsSince += slots;
    this.bytesSince += bytes;
    const o = this.options.snapshot;
    if (this.taking || !this.supported || (this.slotsSince < o.everySlots && this.bytesSince < o.everyBytes)) return;
    const slot = this.host.appliedIndex();
    let capture;
    let runtime;
    try {
      capture = this.options.stateMachine.snapshot!();
      runtime = this.host.runtimeState();
    } catch (error) {
      this.slotsSince = 0;
      this.bytesSince = 0;
      this.host.warn(new SnapshotError(`the state machine's snapshot() threw at slot ${slot}`, { cause: error }));
      return;
    }
    this.slotsSince = 0;
    this.bytesSince = 0;
    this.taking = true;
    this.enqueue(async () => {
      try {
        let machine: Uint8Array;
        let runtimeBytes: Uint8Array[];
        try {
          machine = await capture.write();
          runtimeBytes = await encodeRuntimeStateInSteps(runtime, this.options.resultCodec, () => this.pause());
        } catch (error) {
          this.host.warn(new SnapshotError(`writing the snapshot of slot ${slot} failed`, { cause: error }));
          return;
        }
        if (slot <= this.savedSlot || !this.host.running()) return; // an installed one is newer
        await this.saveOwn(slot, runtimeBytes, machine);
        this.counts.saved++;
        this.options.logger.info({ node: this.options.id, slot }, 'snapshot saved');
        await this.compact(this.compactionPoint(slot - this.options.snapshot.trailingSlots));
      } finally {
        this.taking = false;
      }
    });
  }

  /**
   * The replicated state as it is now, right after the last apply, as a snapshot's
   * bytes (the format a stored one has); nothing is saved. The capture is synchronous,
   * so the state machine, the runtime's state and the slot agree; the encoding runs
   * while applies go on.
   * @throws {@link SnapshotError} if the state machine cannot snapshot, or its snapshot threw.
   */
  async capture(): Promise<Snapshot> {
    if (!this.supported) throw new SnapshotError('the state machine has no snapshot()/restore()');
    const slot = this.host.appliedIndex();
    let machine: Uint8Array;
    let runtime: Uint8Array[];
    try {
      const capture = this.options.stateMachine.snapshot!();
      const state = this.host.runtimeState();
      machine = await capture.write();
      runtime = await encodeRuntimeStateInSteps(state, this.options.resultCodec, () => this.pause());
    } catch (error) {
      throw new SnapshotError(`the state machine's snapshot failed at slot ${slot}`, { cause: error });
    }
    return { slot, data: await encodeSnapshot(runtime, machine, () => this.pause()) };
  }

  /**
   * The core named `to` as needing slots this node compacted: stream it the stored
   * snapshot, read a piece at a time if the storage can (`openSnapshot`), else loaded whole.
   */
  sendTo(to: NodeId): void {
    if (this.sender.busy(to)) return;
    this.sender.reserve(to);
    this.outgoing.set(to, { since: this.options.clock.now() });
    this.openStored().then(
      (source) => {
        if (source === undefined || !this.host.running()) {
          source?.close();
          this.sender.release(to);
          this.outgoing.delete(to);
          if (source === undefined) this.options.logger.warn({ node: this.options.id, to }, 'a peer needs a snapshot, but none is stored');
          return;
        }
        this.options.logger.info({ node: this.options.id, to, slot: source.slot, bytes: source.byteLength }, 'sending a snapshot');
        const t = this.outgoing.get(to);
        if (t !== undefined) {
          t.slot = source.slot;
          t.savedBefore = this.counts.saved;
        }
        this.sender.start(to, source);
      },
      (error: unknown) => {
        this.sender.release(to);
        this.outgoing.delete(to);
        this.host.fail(new StorageError('loadSnapshot', error));
      },
    );
  }

  private async openStored(): Promise<SnapshotSource | undefined> {
    const storage = this.options.storage;
    if (typeof storage.openSnapshot === 'function') {
      // The sender computes the chunks' CRC anyway: the storage need not compute its own.
      const reader = await storage.openSnapshot({ checkedByCaller: true });
      return reader === undefined ? undefined : readerSource(reader);
    }
    const snapshot = await storage.loadSnapshot();
    return snapshot === undefined ? undefined : bytesSource(snapshot.slot, snapshot.data);
  }

  onAck(m: SnapshotAckMessage): void {
    // No sender yet: no transfer, and an ack of none is ignored.
    const outcome = this.senderMade?.onAck(m);
    if (outcome === undefined) return;
    const since = this.outgoing.get(m.from)?.since;
    this.outgoing.delete(m.from);
    if (outcome === 'done') {
      this.counts.sent++;
      // From the request (loading the snapshot included) to the peer's word that it holds it durably, installed.
      const ms = since === undefined ? undefined : Math.round(this.options.clock.now() - since);
      if (m.received === 0) this.options.logger.info({ node: this.options.id, to: m.from, ms }, 'a peer no longer needed the snapshot sent to it');
      else this.options.logger.info({ node: this.options.id, to: m.from, bytes: m.received, ms }, 'sent a snapshot');
    }
    if (outcome === 'failed') this.options.logger.warn({ node: this.options.id, to: m.from }, 'a peer refused the snapshot sent to it');
  }

  onChunk(m: SnapshotChunkMessage): void {
    if (this.receiving?.from !== m.from || this.receiving.transfer !== m.transfer)
      this.receiving = { from: m.from, transfer: m.transfer, since: this.options.clock.now() };
    const { ack, complete, refused } = this.receiver.onChunk(m, this.host.appliedIndex());
    if (refused !== undefined) {
      this.counts.refused++;
      this.host.warn(new SnapshotError(refused));
    }
    if (ack !== undefined) this.host.send(ack);
    this.stream();
    if (complete !== undefined) {
      this.receiving.complete = this.options.clock.now();
      this.enqueue(() => this.installReceived(complete));
    }
  }

  /**
   * Hands the storage what the receiver holds checked beyond what it has written (see
   * {@link streaming}); drops the writer of a transfer the receiver no longer holds.
   */
  private stream(): void {
    const cur = this.receiverMade?.current();
    let s = this.streaming;
    if (s !== undefined && (cur === undefined || cur.from !== s.from || cur.transfer !== s.transfer)) {
      this.streaming = undefined;
      void s.writer.abort();
      s = undefined;
    }
    const storage = this.options.storage;
    if (cur === undefined || typeof storage.createSnapshot !== 'function' || !this.host.running()) return;
    if (s === undefined) {
      // While this node writes its own snapshot, the peer's waits: it starts streaming
      // on a later chunk or tick, or is saved whole once it is complete.
      if (cur.slot <= this.savedSlot || this.writingOwn !== undefined) return;
      let writer: SnapshotWriter;
      try {
        // The receiver checks each chunk's CRC: the storage keeps that one.
        writer = storage.createSnapshot(cur.slot, cur.data.byteLength, { dataCrc32ByCaller: true });
      } catch (error) {
        // The storage is closing or failed: the install's save (or the node's end) says so.
        this.options.logger.debug({ node: this.options.id, err: error }, 'could not stream an incoming snapshot to the storage');
        return;
      }
      s = { from: cur.from, transfer: cur.transfer, writer, written: 0 };
      this.streaming = s;
    }
    if (cur.received > s.written) {
      // A failed write is kept by the writer: its commit rejects with it.
      s.writer.write(cur.data.subarray(s.written, cur.received)).catch(() => undefined);
      s.written = cur.received;
    }
  }

  tick(): void {
    const sender = this.senderMade;
    if (sender !== undefined) {
      for (const to of sender.tick()) {
        this.outgoing.delete(to);
        this.options.logger.warn({ node: this.options.id, to }, 'gave up a snapshot transfer: the peer stopped answering');
      }
    }
    this.receiverMade?.tick();
    if (this.streaming !== undefined) this.stream();
  }

  /** Whether a transfer is under way, out or in: its timeouts count in ticks. */
  get busy(): boolean {
    return (this.senderMade?.size ?? 0) > 0 || this.receiverMade?.current() !== undefined || this.streaming !== undefined;
  }

  /** Transfers this node is sending now. */
  get sending(): number {
    return this.senderMade?.size ?? 0;
  }

  /**
   * Where to compact the log to, at most `slot`: not past the snapshot a transfer under
   * way sends, whose receiver continues from the log after it (compacted past it, a
   * receiver that missed the values pushed to it meanwhile needs a second whole
   * snapshot, as a member joining under load often did); unless
   * {@link transferHoldSnapshotsMax} snapshots were saved here since that transfer started.
   */
  private compactionPoint(slot: number): number {
    let point = slot;
    for (const t of this.outgoing.values()) {
      if (t.slot === undefined || t.savedBefore === undefined || this.counts.saved - t.savedBefore > transferHoldSnapshotsMax) continue;
      point = Math.min(point, t.slot);
    }
    return point;
  }

  private async installReceived(s: ReceivedSnapshot): Promise<void> {
    const startedAt = this.options.clock.now();
    let status: 'done' | 'failed' = 'failed';
    let answered = false;
    const answer = (): void => {
      answered = true;
      if (this.host.running()) this.host.send(this.receiver.finished(s, status));
    };
    try {
      if (!this.host.running()) return;
      if (s.slot <= this.host.appliedIndex()) {
        status = 'done';
        return;
      }
      if (!this.supported) {
        this.host.warn(new SnapshotError(`a peer sent a snapshot of slot ${s.slot}, but the state machine has no snapshot()/restore()`));
        return;
      }
      let decoded;
      try {
        decoded = await decodeSnapshotInSteps(s.data, this.options.resultCodec, () => this.pause());
      } catch (error) {
        this.counts.refused++;
        this.host.warn(error instanceof Error ? error : new SnapshotError(String(error)));
        return;
      }
      // Durable first: once the core counts the slots applied it persists a commit
      // index that only this snapshot covers.
      const savingAt = this.options.clock.now();
      if (s.slot > this.savedSlot) await this.saveReceived(s);
      if (!this.host.running()) return;
      const savedAt = this.options.clock.now();
      status = 'done';
      if (s.slot <= this.host.appliedIndex()) return; // the log got there first meanwhile
      await this.host.install(s.slot, decoded.state, decoded.machine);
      if (!this.host.running()) return;
      this.slotsSince = 0;
      this.bytesSince = 0;
      this.counts.installed++;
      const r = this.receiving?.from === s.from && this.receiving.transfer === s.transfer ? this.receiving : undefined;
      const now = this.options.clock.now();
      // Where the time went: receiving the chunks, waiting for earlier work, decoding,
      // making the snapshot durable, installing it.
      const phases =
        r === undefined || r.complete === undefined
          ? {}
          : {
              receiveMs: Math.round(r.complete - r.since),
              queuedMs: Math.round(startedAt - r.complete),
              decodeMs: Math.round(savingAt - startedAt),
              saveMs: Math.round(savedAt - savingAt),
              installMs: Math.round(now - savedAt),
            };
      const ms = r === undefined ? undefined : Math.round(now - r.since);
      this.options.logger.info(
        { node: this.options.id, from: s.from, slot: s.slot, bytes: s.data.byteLength, ms, ...phases },
        'installed a snapshot from a peer',
      );
      // Durable and installed: the sender may stop now; compacting the log below is this node's own business.
      answer();
      await this.compact(s.slot);
    } finally {
      const streaming = this.streaming;
      if (streaming !== undefined && streaming.from === s.from && streaming.transfer === s.transfer) {
        this.streaming = undefined;
        void streaming.writer.abort();
      }
      if (!answered) answer();
    }
  }

  /** Saves a received snapshot: commits what was streamed to the storage, or saves it whole. */
  private async saveReceived(s: ReceivedSnapshot): Promise<void> {
    const streaming = this.streaming;
    if (streaming === undefined || streaming.from !== s.from || streaming.transfer !== s.transfer || streaming.written !== s.data.byteLength) {
      await this.save({ slot: s.slot, data: s.data });
      return;
    }
    this.streaming = undefined;
    try {
      await streaming.writer.commit(s.crc32);
    } catch (error) {
      const e = new StorageError('saveSnapshot', error);
      this.host.fail(e);
      throw e;
    }
    this.savedSlot = Math.max(this.savedSlot, s.slot);
  }

  /**
   * Saves this node's snapshot of `slot` from its parts. A storage that writes a
   * snapshot a piece at a time gets the header and runtime's part, then the state
   * machine's bytes in pieces: no copy of the whole state is made (it doubled the memory
   * a snapshot takes, and its allocation brought on full collections), and each piece's
   * write gives the event loop back. Not while a peer's snapshot is being written: the
   * storage holds one writer at a time, and the peer's comes first. Otherwise the parts
   * are copied into one snapshot, in steps, and saved whole.
   */
  private async saveOwn(slot: number, runtime: readonly Uint8Array[], machine: Uint8Array): Promise<void> {
    const storage = this.options.storage;
    if (typeof storage.createSnapshot !== 'function' || this.streaming !== undefined) {
      await this.save({ slot, data: await encodeSnapshot(runtime, machine, () => this.pause()) });
      return;
    }
    const writing = this.writeOwn(storage.createSnapshot.bind(storage), slot, runtime, machine);
    this.writingOwn = writing.catch(() => undefined);
    try {
      await writing;
    } finally {
      this.writingOwn = undefined;
    }
  }

  private async writeOwn(create: NonNullable<Storage['createSnapshot']>, slot: number, runtime: readonly Uint8Array[], machine: Uint8Array): Promise<void> {
    const head = encodeSnapshotHead(runtime);
    let headBytes = 0;
    for (const piece of head) headBytes += piece.byteLength;
    let writer: SnapshotWriter | undefined;
    try {
      writer = create(slot, headBytes + machine.byteLength);
      for (const piece of head) await writer.write(piece);
      for (let at = 0; at < machine.byteLength; at += copyBytesPerStep) {
        await writer.write(machine.subarray(at, Math.min(machine.byteLength, at + copyBytesPerStep)));
      }
      await writer.commit();
    } catch (error) {
      void writer?.abort().catch(() => undefined);
      const e = new StorageError('saveSnapshot', error);
      this.host.fail(e);
      throw e;
    }
    this.savedSlot = Math.max(this.savedSlot, slot);
  }

  /**
   * Resolves once this node's own snapshot being written a piece at a time, if any, is
   * saved (or failed): a node closing waits for it, as for its other writes, rather
   * than cut it off between two pieces. It waits on the storage only, never on a timer.
   */
  ownSaved(): Promise<void> {
    return this.writingOwn ?? Promise.resolve();
  }

  private async save(snapshot: Snapshot): Promise<void> {
    try {
      await this.options.storage.saveSnapshot(snapshot);
    } catch (error) {
      const e = new StorageError('saveSnapshot', error);
      this.host.fail(e);
      throw e;
    }
    this.savedSlot = Math.max(this.savedSlot, snapshot.slot);
  }

  /** Forgets the log up to `slot` in the core and in the storage (which needs the snapshot to cover it). */
  private async compact(slot: number): Promise<void> {
    if (slot < 1 || !this.host.running()) return;
    this.host.compact(slot);
    try {
      await this.options.storage.compact(slot + 1);
    } catch (error) {
      const e = new StorageError('compact', error);
      this.host.fail(e);
      throw e;
    }
  }

  private enqueue(task: () => Promise<void>): void {
    // A failed task has reported itself (the node fails closed); the chain goes on.
    this.chain = (this.chain ?? Promise.resolve()).then(task).catch(() => undefined);
  }
}
