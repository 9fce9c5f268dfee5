/**
 * Where one watched history stands on the client: the next revision to deliver, and
 * how many of that revision's events were delivered already. A server cuts a revision
 * holding many events across frames (a frame is then complete only through the
 * revision before); a subscription made again from that revision gets all its events
 * again, and the ones delivered are skipped, so none is repeated or missed.
 */
import type { WatchEvent } from '../kv-types.js';

/** @internal */
export class RevisionCursor {
  /** Events of revision `resume` delivered already. */
  private partial = 0;
  /** Events of revision `resume` still to skip on this subscription: the `partial` ones, sent again. */
  private skip = 0;

  /** `resume`: the next revision to deliver; 0 until the server says where the watch starts. */
  constructor(public resume: number) {}

  /** The events of a frame complete through `through` that are to be delivered: none before `resume`, none delivered already. */
  take<E extends WatchEvent>(events: readonly E[], through: number): E[] {
    const kept: E[] = [];
    for (const e of events) {
      if (e.revision < this.resume) continue;
      if (e.revision === this.resume && this.skip > 0) {
        this.skip--;
        continue;
      }
      kept.push(e);
    }
    const next = Math.max(this.resume, through + 1);
    // The frame stops inside revision `next`: its events here are that revision's delivered part.
    let atNext = 0;
    for (const e of kept) if (e.revision === next) atNext++;
    if (next > this.resume) {
      this.resume = next;
      this.partial = atNext;
      this.skip = 0;
    } else {
      this.partial += atNext;
    }
    return kept;
  }

  /** A new subscription from `resume` starts: it skips the part of that revision delivered. */
  resubscribed(): void {
    this.skip = this.partial;
  }
}
