import { assert } from '../core/assert.js';
import { LazyMap } from '../core/lazy-map.js';

const none = -1;
/** Slots per chunk, a power of two: a chunk is the unit copied before a write (5 KiB). */
const chunkSlots = 256;
const chunkShift = 8;
/** Slots of a table's first chunk, grown by doubling to {@link chunkSlots}: most tables hold few tombstones. */
const firstChunkSlots = 8;

/**
 * Slots of the list, a chunk at a time: the time, then the hash and the links in one
 * array (`[hash, prev, next]` per slot, the hash as a signed 32-bit integer).
 */
interface Chunk {
  /** The capture epoch it was made in: a chunk of an older one may be read by a capture, so it is copied before a write. */
  readonly epoch: number;
  readonly times: Float64Array;
  readonly links: Int32Array;
}

/** A {@link Tombstones} as it was at {@link Tombstones.capture}, oldest first; it can be read more than once. @internal */
export interface CapturedTombstones extends Iterable<readonly [hash: number, lastActive: number]> {
  readonly size: number;
}

/**
 * The dedup table's forgotten clients: id hash → when last active, oldest first. A
 * doubly linked list in chunks of typed arrays, indexed by a map from hash to slot:
 * setting a hash moves it to the newest end, and the oldest leaves first, each in
 * constant time. The point is {@link capture}: a snapshot takes the list as it is in
 * time proportional to its chunks, not its entries (copying a map of up to 200,000
 * took 3–10 ms while the event loop waited). A chunk a capture may still read is copied
 * before the list writes to it, once per capture at most.
 * @internal
 */
export class Tombstones {
  private chunks: Chunk[] = [];
  private epoch = 0;
  /** Slots ever used: those below are live or on the free list. */
  private used = 0;
  private free = none;
  private head = none;
  private tail = none;
  private readonly slots = new LazyMap<number, number>();

  get size(): number {
    return this.slots.size;
  }

  get(hash: number): number | undefined {
    const slot = this.slots.get(hash);
    return slot === undefined ? undefined : this.timeOf(slot);
  }

  /** Records `hash` as last active at `time`, the newest tombstone (moved there if it was one). */
  set(hash: number, time: number): void {
    let slot = this.slots.get(hash);
    if (slot === undefined) {
      slot = this.take();
      this.slots.set(hash, slot);
    } else {
      this.unlink(slot);
    }
    const c = this.own(slot);
    const at = slot & (chunkSlots - 1);
    c.times[at] = time;
    c.links[3 * at] = hash | 0;
    c.links[3 * at + 1] = this.tail;
    c.links[3 * at + 2] = none;
    if (this.tail === none) this.head = slot;
    else this.link(this.tail, 2, slot);
    this.tail = slot;
  }

  /** Removes the oldest tombstone and returns its time; undefined if there is none. */
  shift(): number | undefined {
    const slot = this.head;
    if (slot === none) return undefined;
    const time = this.timeOf(slot);
    this.unlink(slot);
    this.slots.delete(this.hashOf(slot));
    this.link(slot, 2, this.free);
    this.free = slot;
    return time;
  }

  /** Every tombstone as it is now, unchanged by what happens after. */
  capture(): CapturedTombstones {
    const chunks = this.chunks.slice();
    const head = this.head;
    const size = this.size;
    // From now on every chunk is the capture's too: the list copies one before writing it.
    this.epoch++;
    return {
      size,
      *[Symbol.iterator]() {
        let count = 0;
        for (let slot = head; slot !== none; count++) {
          const c = chunks[slot >>> chunkShift]!;
          const at = slot & (chunkSlots - 1);
          yield [c.links[3 * at]! >>> 0, c.times[at]!] as const;
          slot = c.links[3 * at + 2]!;
        }
        assert(count === size, () => `a capture of ${size} tombstones walked ${count}`);
      },
    };
  }

  private timeOf(slot: number): number {
    return this.chunks[slot >>> chunkShift]!.times[slot & (chunkSlots - 1)]!;
  }

  private hashOf(slot: number): number {
    return this.chunks[slot >>> chunkShift]!.links[3 * (slot & (chunkSlots - 1))]! >>> 0;
  }

  /** Sets `slot`'s link `field` (1 prev, 2 next) to `to`. */
  private link(slot: number, field: 1 | 2, to: number): void {
    this.own(slot).links[3 * (slot & (chunkSlots - 1)) + field] = to;
  }

  private unlink(slot: number): void {
    const c = this.chunks[slot >>> chunkShift]!;
    const at = slot & (chunkSlots - 1);
    const before = c.links[3 * at + 1]!;
    const after = c.links[3 * at + 2]!;
    if (before === none) this.head = after;
    else this.link(before, 2, after);
    if (after === none) this.tail = before;
    else this.link(after, 1, before);
  }

  private take(): number {
    if (this.free !== none) {
      const slot = this.free;
      this.free = this.chunks[slot >>> chunkShift]!.links[3 * (slot & (chunkSlots - 1)) + 2]!;
      return slot;
    }
    const slot = this.used++;
    const index = slot >>> chunkShift;
    const last = this.chunks[index];
    if (last === undefined) this.chunks.push(chunk(this.epoch, index === 0 ? firstChunkSlots : chunkSlots));
    else if ((slot & (chunkSlots - 1)) === last.times.length) this.chunks[index] = copy(last, this.epoch, 2 * last.times.length);
    return slot;
  }

  /** The chunk of `slot`, copied first if a capture may read it. */
  private own(slot: number): Chunk {
    const index = slot >>> chunkShift;
    const c = this.chunks[index]!;
    if (c.epoch === this.epoch) return c;
    const mine = copy(c, this.epoch, c.times.length);
    this.chunks[index] = mine;
    return mine;
  }
}

function chunk(epoch: number, slots: number): Chunk {
  return { epoch, times: new Float64Array(slots), links: new Int32Array(3 * slots) };
}

function copy(c: Chunk, epoch: number, slots: number): Chunk {
  const made = chunk(epoch, slots);
  made.times.set(c.times);
  made.links.set(c.links);
  return made;
}
