/**
 * A watch's events grouped by revision, so a consumer applies a transaction's changes
 * at once and never shows a state between two of them.
 */
import { InvariantError } from '../core/index.js';
import type { Watch, WatchEvent } from '../kv/index.js';

/** The changes of one revision, in the order the watch gave them. */
export interface RevisionBatch {
  readonly revision: number;
  readonly events: readonly WatchEvent[];
}

/**
 * Groups `watch`'s events by revision: a batch is complete once the watch says it has
 * handed out every change through that revision (`deliveredThrough`).
 */
export async function* revisionBatches(watch: Watch): AsyncGenerator<RevisionBatch, void, undefined> {
  let batch: WatchEvent[] = [];
  try {
    for await (const event of watch) {
      const first = batch[0];
      if (first !== undefined && event.revision !== first.revision) {
        // Cannot happen with a complete batch handed out first; kept as a guard.
        throw new InvariantError(`revisionBatches: revision ${event.revision} while revision ${first.revision} is incomplete`);
      }
      batch.push(event);
      if (watch.deliveredThrough >= event.revision) {
        yield { revision: event.revision, events: batch };
        batch = [];
      }
    }
  } finally {
    watch.close();
  }
}
