/**
 * A watch through a KV server. The client remembers the revision it must resume from
 * (everything through it was delivered), so after a lost connection, a server
 * failover or a pause for a slow consumer, it asks again from there: no event missed,
 * none repeated.
 */
import type { Watch } from '../kv-api.js';
import type { KeyRange, WatchEvent } from '../kv-types.js';
import { BufferedWatch } from './buffered-watch.js';
import { RevisionCursor } from './revision-cursor.js';

/** What a remote watch asks of its client. @internal */
export interface WatchLink {
  /** Subscribes (again) from `fromRevision` (0: after the server's revision as it receives the watch); returns the subscription's id. */
  subscribe(watch: RemoteWatch, fromRevision: number): number;
  /** Drops the subscription `id`. */
  unsubscribe(id: number): void;
  /** The watch ended for good. */
  closed(watch: RemoteWatch): void;
}

/** @internal */
export class RemoteWatch extends BufferedWatch<WatchEvent> implements Watch {
  /** Where delivery stands: the next revision, 0 until the server says where the watch starts. */
  private readonly cursor: RevisionCursor;

  constructor(
    readonly range: KeyRange,
    fromRevision: number | undefined,
    private readonly link: WatchLink,
  ) {
    super(link);
    this.cursor = new RevisionCursor(fromRevision ?? 0);
    this.subscription = this.subscribe();
  }

  /**
   * {@inheritDoc Watch.deliveredThrough} The server's frames say through which revision
   * they are complete; a revision cut across frames counts only once its last frame came.
   */
  get deliveredThrough(): number {
    const complete = Math.max(0, this.cursor.resume - 1);
    return this.at < this.buffer.length ? Math.min(complete, this.buffer[this.at]!.revision - 1) : complete;
  }

  /** The server said subscription `id` starts at `fromRevision`. */
  started(id: number, fromRevision: number): void {
    if (id !== this.subscription) return;
    if (this.cursor.resume === 0) this.cursor.resume = fromRevision;
  }

  /** Events of subscription `id`, complete through `through`. */
  events(id: number, events: readonly WatchEvent[], through: number): void {
    if (!this.live(id)) return;
    for (const e of this.cursor.take(events, through)) this.buffer.push(e);
    this.added(id);
  }

  protected subscribe(): number {
    this.cursor.resubscribed();
    return this.link.subscribe(this, this.cursor.resume);
  }

  protected ended(): void {
    this.link.closed(this);
  }
}
