/**
 * A watch's events grouped by revision, so a consumer applies a transaction's changes
 * at once and never shows a state between two of them.
 */
import type { Watch, WatchEvent } from '../../src/kv/index.js';

/** The changes of one revision, in the order the watch gave them. */
export interface RevisionBatch {
  readonly revision: number;
  readonly events: readonly WatchEvent[];
}

/** Resolves on the next macrotask: by then a watch has handed out what it had at hand. */
const nextMacrotask = (): Promise<undefined> => new Promise((resolve) => setImmediate(() => resolve(undefined)));

/**
 * Groups `watch`'s events by revision. A batch is complete when an event of a later
 * revision comes, or when the watch has nothing more at hand (its next event is not
 * ready by the next macrotask).
 *
 * The second rule leans on how a watch hands out events: `KvWatch` fetches history
 * whole revisions at a time and hands out what it fetched without waiting, so a
 * revision's events come out together. The `Watch` interface does not promise it (it
 * says nothing of revision boundaries); a remote client must keep that property for
 * the batches to hold whole transactions.
 */
export async function* revisionBatches(watch: Watch): AsyncGenerator<RevisionBatch, void, undefined> {
  const next = (): Promise<IteratorResult<WatchEvent>> => {
    const step = watch.next();
    step.catch(() => undefined); // handled where it is awaited; not an unhandled rejection while the consumer works
    return step;
  };
  let pending = next();
  let batch: WatchEvent[] = [];
  try {
    for (;;) {
      const step = batch.length === 0 ? await pending : await Promise.race([pending, nextMacrotask()]);
      if (step === undefined) {
        // Nothing more at hand: the revision is complete.
        yield { revision: batch[0]!.revision, events: batch };
        batch = [];
        continue;
      }
      if (step.done === true) {
        if (batch.length > 0) yield { revision: batch[0]!.revision, events: batch };
        return;
      }
      pending = next();
      const event = step.value;
      const first = batch[0];
      if (first !== undefined && event.revision !== first.revision) {
        if (event.revision < first.revision) throw new Error(`revisionBatches: revision ${event.revision} after ${first.revision}`);
        yield { revision: first.revision, events: batch };
        batch = [];
      }
      batch.push(event);
    }
  } finally {
    watch.close();
  }
}
