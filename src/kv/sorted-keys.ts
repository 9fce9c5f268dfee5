/**
 * The store's key index: every key in code-unit order, for ranges and snapshots.
 *
 * Kept in blocks of at most {@link blockKeysMax} sorted keys, each block's keys below the
 * next one's. One sorted array made a new key cost a move of every key after it: at
 * 400,000 keys written in random order, 71 s of inserting in all (and each new key at a
 * million, about a millisecond on the event loop). A block moves at most its own keys,
 * and a split moves the list of blocks, a thousandth as long.
 * @internal
 */
export class SortedKeys {
  /** Never an empty block; block `i`'s last key is below block `i + 1`'s first. */
  private blocks: string[][] = [];
  private count = 0;
  /**
   * Blocks a {@link frozen} view may still read: an insert copies such a block before
   * changing it (the only change made in place), so a view is never changed under it.
   */
  private readonly shared = new WeakSet<string[]>();

  /** Keys held. */
  get size(): number {
    return this.count;
  }

  /** Adds `key`, which must not be held (the caller knows: its map of histories has it or not). */
  insert(key: string): void {
    this.count++;
    const blocks = this.blocks;
    if (blocks.length === 0) {
      blocks.push([key]);
      return;
    }
    const b = Math.min(this.blockFor(key), blocks.length - 1);
    let block = blocks[b]!;
    if (this.shared.has(block)) {
      block = block.slice();
      blocks[b] = block;
    }
    block.splice(lowerBound(block, key), 0, key);
    if (block.length > blockKeysMax) blocks.splice(b, 1, block.slice(0, block.length >>> 1), block.slice(block.length >>> 1));
  }

  /** Removes every key in `gone` that is held. */
  deleteAll(gone: ReadonlySet<string>): void {
    const kept: string[][] = [];
    for (const block of this.blocks) {
      const rest = block.filter((key) => !gone.has(key));
      this.count -= block.length - rest.length;
      if (rest.length > 0) kept.push(rest.length === block.length ? block : rest);
    }
    this.blocks = kept;
  }

  /** Calls `visit` with each key from the first not below `start`, in order, until it returns false. */
  scanFrom(start: string, visit: (key: string) => boolean): void {
    const blocks = this.blocks;
    for (let b = this.blockFor(start), i = b < blocks.length ? lowerBound(blocks[b]!, start) : 0; b < blocks.length; b++, i = 0) {
      const block = blocks[b]!;
      for (; i < block.length; i++) if (!visit(block[i]!)) return;
    }
  }

  /** Every key, in order. */
  *[Symbol.iterator](): IterableIterator<string> {
    for (const block of this.blocks) yield* block;
  }

  /**
   * Every key as of now, in order, to read later while keys come and go: the work done
   * now is one reference per block (a thousandth of the keys), not a copy of the keys,
   * which at a million keys held the event loop for over 100 ms. The blocks are shared
   * with the index until an insert next changes one of them, which copies it first.
   */
  frozen(): Iterable<string> {
    const blocks = this.blocks.slice();
    for (const block of blocks) this.shared.add(block);
    return {
      *[Symbol.iterator]() {
        for (const block of blocks) yield* block;
      },
    };
  }

  /** An index of `keys`, which must be sorted in code-unit order, with no key twice. */
  static fromSorted(keys: readonly string[]): SortedKeys {
    const index = new SortedKeys();
    // Blocks half full: room for inserts before the first splits.
    const per = blockKeysMax >>> 1;
    for (let at = 0; at < keys.length; at += per) index.blocks.push(keys.slice(at, at + per));
    index.count = keys.length;
    return index;
  }

  /**
   * An index built key by key, for a restore that reads keys in order and yields
   * between reads: `append` takes keys in increasing code-unit order (false, and the
   * key not taken, for one that is not above the last), filling half-full blocks as
   * {@link fromSorted} does, so that nothing is left to copy at the end.
   */
  static appending(): { append(key: string): boolean; finish(): SortedKeys } {
    const index = new SortedKeys();
    const per = blockKeysMax >>> 1;
    let block: string[] = [];
    let last: string | undefined;
    return {
      append(key) {
        if (last !== undefined && !(last < key)) return false;
        last = key;
        if (block.length === per) {
          index.blocks.push(block);
          block = [];
        }
        block.push(key);
        index.count++;
        return true;
      },
      finish() {
        if (block.length > 0) index.blocks.push(block);
        block = [];
        return index;
      },
    };
  }

  /** The first block whose last key is not below `key` (the number of blocks if none is). */
  private blockFor(key: string): number {
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const block = this.blocks[mid]!;
      if (block[block.length - 1]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Keys per block at most: a new key moves half as many on average, a split copies this many. */
export const blockKeysMax = 1024;

/** The first index in sorted `keys` whose key is not below `key`. */
function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
