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

  /** A log of the changes `revisions[i]`, `keys[i]`, given in any order: sorted by revision, then key. */
  static of(revisions: readonly number[], keys: readonly string[]): ChangeLog {
    const order = Uint32Array.from(revisions.keys()).sort((a, b) => revisions[a]! - revisions[b]! || byCodeUnits(keys[a]!, keys[b]!));
    const log = new ChangeLog();
    for (const i of order) log.push(revisions[i]!, keys[i]!);
    return log;
  }
}

/** Code-unit order, the order of the store's key index. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
