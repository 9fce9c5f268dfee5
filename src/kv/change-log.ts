/**
 * The store's changes in revision order (and key order within a revision): which key
 * changed at which revision, from the oldest not compacted. Watches read it forwards
 * from a revision; compaction drops it from the front.
 *
 * Held as two parallel arrays rather than one object per change: at a million keys an
 * object each cost about 48 bytes more per key than two array slots.
 * @internal
 */
export class ChangeLog {
  private revisions: number[] = [];
  private keys: string[] = [];
  /** The index of the oldest change kept: those before it are dropped, and freed in bulk. */
  private head = 0;

  /** Changes kept. */
  get length(): number {
    return this.revisions.length - this.head;
  }

  /** Appends a change at `revision`, at least the last one's. */
  push(revision: number, key: string): void {
    this.revisions.push(revision);
    this.keys.push(key);
  }

  /** Sorts the changes at the last revision by key; false if there are none at `revision`. */
  sortLast(revision: number): boolean {
    const end = this.revisions.length;
    let from = end;
    while (from > this.head && this.revisions[from - 1] === revision) from--;
    if (from === end) return false;
    if (end - from > 1) {
      const keys = this.keys.slice(from).sort(byCodeUnits);
      for (let i = 0; i < keys.length; i++) this.keys[from + i] = keys[i]!;
    }
    return true;
  }

  /** Calls `visit` with each change whose revision is in `[from, to]`, in order, until it returns false. */
  scan(from: number, to: number, visit: (revision: number, key: string) => boolean): void {
    let lo = this.head;
    let hi = this.revisions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.revisions[mid]! < from) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.revisions.length; i++) {
      const revision = this.revisions[i]!;
      if (revision > to || !visit(revision, this.keys[i]!)) return;
    }
  }

  /** Drops the changes at or below `revision`, from the oldest, calling `visit` with each key dropped. */
  dropThrough(revision: number, visit: (key: string) => void): void {
    while (this.head < this.revisions.length && this.revisions[this.head]! <= revision) visit(this.keys[this.head++]!);
    if (this.head > 1024 && this.head * 2 > this.revisions.length) {
      this.revisions = this.revisions.slice(this.head);
      this.keys = this.keys.slice(this.head);
      this.head = 0;
    }
  }

  /** Drops every change of a key in `gone`, wherever it is (a range giving its keys away: rare, and linear). */
  dropKeys(gone: ReadonlySet<string>): void {
    const revisions: number[] = [];
    const keys: string[] = [];
    for (let i = this.head; i < this.revisions.length; i++) {
      const key = this.keys[i]!;
      if (gone.has(key)) continue;
      revisions.push(this.revisions[i]!);
      keys.push(key);
    }
    this.revisions = revisions;
    this.keys = keys;
    this.head = 0;
  }

  /** A log of the changes `revisions[i]`, `keys[i]`, given in any order: sorted by revision, then key. */
  static of(revisions: readonly number[], keys: readonly string[]): ChangeLog {
    const steps = ChangeLog.ofInSteps(revisions, keys);
    for (;;) {
      const step = steps.next();
      if (step.done === true) return step.value;
    }
  }

  /**
   * {@link of}, yielding after every {@link sortStepWork} elements merged or moved: a
   * restore sorts every change of the store it rebuilds (a million in a large one, most
   * of a second in one piece), and the event loop must not wait for all of it. Changes
   * given in order (a snapshot of keys written in key order) are checked in one pass
   * and not sorted.
   */
  static *ofInSteps(revisions: readonly number[], keys: readonly string[]): Generator<void, ChangeLog, void> {
    const n = revisions.length;
    const before = (a: number, b: number): boolean => {
      const d = revisions[a]! - revisions[b]!;
      return d < 0 || (d === 0 && keys[a]! < keys[b]!);
    };
    let order = new Uint32Array(n);
    let work = 0;
    let inOrder = true;
    for (let i = 0; i < n; i++) {
      order[i] = i;
      if (i > 0 && inOrder && before(i, i - 1)) inOrder = false;
      if (++work >= sortStepWork) {
        work = 0;
        yield;
      }
    }
    if (!inOrder) {
      // Bottom-up merge sort, stable, each merge taken up where the last step left it.
      let spare = new Uint32Array(n);
      for (let width = 1; width < n; width *= 2) {
        for (let lo = 0; lo < n; lo += 2 * width) {
          const mid = Math.min(lo + width, n);
          const hi = Math.min(lo + 2 * width, n);
          let i = lo;
          let j = mid;
          for (let k = lo; k < hi; k++) {
            spare[k] = i < mid && (j >= hi || !before(order[j]!, order[i]!)) ? order[i++]! : order[j++]!;
            if (++work >= sortStepWork) {
              work = 0;
              yield;
            }
          }
        }
        [order, spare] = [spare, order];
      }
    }
    const log = new ChangeLog();
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      log.push(revisions[i]!, keys[i]!);
      if (++work >= sortStepWork) {
        work = 0;
        yield;
      }
    }
    return log;
  }
}

/** Elements a step of {@link ChangeLog.ofInSteps} merges or moves before it yields: well under a millisecond of work. */
export const sortStepWork = 32 * 1024;

/** Code-unit order, the order of the store's key index. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
