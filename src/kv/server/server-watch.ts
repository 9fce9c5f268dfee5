/**
 * A watch a server runs for one client: it reads events from the store's history in
 * batches and sends them as fast as the client's socket takes them. Nothing is
 * buffered per watch: when the socket is full it waits for `drain`, and the history
 * is the backlog. If compaction passes it, it ends with CompactedError.
 */
import { assert } from '../../core/assert.js';
import { CompactedError } from '../errors.js';
import type { KvStateMachine } from '../kv-state-machine.js';
import type { KeyRange, WatchEvent } from '../kv-types.js';
import { rangeMatcher } from '../kv-watch.js';
import { eventsPerFrameMax } from '../protocol/client-codec.js';

/** Where a server watch sends. @internal */
export interface WatchSink {
  /**
   * Sends a batch of `watch`, complete through revision `through`; returns false when
   * the socket is full (wait for `whenWritable`). It may stop the watch instead (its
   * client may no longer read the range): then it sends nothing.
   */
  events(watch: ServerWatch, events: readonly WatchEvent[], through: number): boolean;
  /** Resolves once the socket takes more. */
  whenWritable(): Promise<void>;
  /** The watch ended with an error. */
  failed(id: number, error: Error): void;
}

/**
 * A watch's slot is taken when its request is read, before the read point a watch from
 * "now" waits for: the connection's bounds count it from then, and `stop()` then ends it
 * before it ever subscribes.
 * @internal
 */
export class ServerWatch {
  private stopped = false;
  private pumping = false;
  private nextRevision = 0;
  private readonly matches: (key: string) => boolean;
  private unsubscribe: (() => void) | undefined;

  constructor(
    readonly id: number,
    private readonly machine: KvStateMachine,
    /** What it watches. */
    readonly range: KeyRange,
    private readonly sink: WatchSink,
  ) {
    this.matches = rangeMatcher(range);
  }

  /** Whether the watch was stopped (by its client, its connection closing, or an error). */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** Subscribes and sends the changes from `fromRevision` on. Not after `stop()`. */
  start(fromRevision: number): void {
    assert(!this.stopped, `watch ${this.id} started after it was stopped`);
    assert(this.unsubscribe === undefined, `watch ${this.id} started twice`);
    assert(Number.isSafeInteger(fromRevision) && fromRevision > 0, `watch ${this.id} from revision ${fromRevision}`);
    this.nextRevision = fromRevision;
    this.unsubscribe = this.machine.onRevision(() => void this.pump());
    void this.pump();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private async pump(): Promise<void> {
    if (this.pumping || this.stopped) return;
    this.pumping = true;
    try {
      while (!this.stopped && this.unsubscribe !== undefined && this.nextRevision <= this.machine.revision) {
        if (this.nextRevision <= this.machine.compactRevision) {
          this.stop();
          this.sink.failed(this.id, new CompactedError(this.nextRevision, this.machine.compactRevision));
          return;
        }
        const { events, through } = this.machine.view.events(this.nextRevision, this.machine.revision, this.matches, eventsPerFrameMax / 2);
        this.nextRevision = through + 1;
        if (events.length === 0) continue;
        // One revision may hold more events than a frame (a session's keys expiring):
        // a frame cut inside a revision is complete only through the revision before.
        let writable = true;
        for (let at = 0; at < events.length; ) {
          const end = frameEnd(events, at);
          const next = events[end];
          writable = this.sink.events(this, events.slice(at, end), next === undefined ? through : next.revision - 1);
          if (this.stopped) return;
          at = end;
        }
        if (!writable) await this.sink.whenWritable();
      }
    } finally {
      this.pumping = false;
    }
  }
}

/**
 * Bytes of keys and values in one frame of events, at most (one event always goes): a
 * frame of 1,024 events of 1 MiB values was more than a client takes (64 MiB), so the
 * client hung up, dialed again, was sent the same frame, and the watch never moved.
 */
const eventsFrameBytesMax = 16 * 1024 * 1024;

/** Where the frame of events starting at `at` ends: {@link eventsPerFrameMax} events or {@link eventsFrameBytesMax} bytes. */
function frameEnd(events: readonly WatchEvent[], at: number): number {
  let bytes = 0;
  let end = at;
  while (end < events.length && end - at < eventsPerFrameMax) {
    const { kv } = events[end]!;
    const size = kv.key.length + kv.value.byteLength;
    if (end > at && bytes + size > eventsFrameBytesMax) break;
    bytes += size;
    end++;
  }
  return end;
}
