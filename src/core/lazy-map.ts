/**
 * A Map that allocates its table on the first entry. An empty `Map` costs about 190
 * bytes (its hash table is allocated at once) and a node holds dozens that stay empty
 * while its group is idle; with thousands of groups per process that is most of what
 * an idle group costs. This one costs one small object until it holds something, and
 * gives its table back when emptied by `clear`.
 * @internal
 */
export class LazyMap<K, V> implements Iterable<[K, V]> {
  private table: Map<K, V> | undefined;

  get size(): number {
    return this.table?.size ?? 0;
  }

  get(key: K): V | undefined {
    return this.table?.get(key);
  }

  has(key: K): boolean {
    return this.table?.has(key) ?? false;
  }

  set(key: K, value: V): this {
    (this.table ??= new Map()).set(key, value);
    return this;
  }

  delete(key: K): boolean {
    return this.table?.delete(key) ?? false;
  }

  clear(): void {
    this.table = undefined;
  }

  keys(): IterableIterator<K> {
    return (this.table ?? empty).keys() as IterableIterator<K>;
  }

  values(): IterableIterator<V> {
    return (this.table ?? empty).values() as IterableIterator<V>;
  }

  entries(): IterableIterator<[K, V]> {
    return (this.table ?? empty).entries() as IterableIterator<[K, V]>;
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }
}

/**
 * A Set that allocates its table on the first element (see {@link LazyMap}).
 * @internal
 */
export class LazySet<T> implements Iterable<T> {
  private table: Set<T> | undefined;

  get size(): number {
    return this.table?.size ?? 0;
  }

  has(value: T): boolean {
    return this.table?.has(value) ?? false;
  }

  add(value: T): this {
    (this.table ??= new Set()).add(value);
    return this;
  }

  delete(value: T): boolean {
    return this.table?.delete(value) ?? false;
  }

  clear(): void {
    this.table = undefined;
  }

  values(): IterableIterator<T> {
    return (this.table ?? emptySet).values() as IterableIterator<T>;
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.values();
  }
}

const empty: ReadonlyMap<unknown, unknown> = new Map();
const emptySet: ReadonlySet<unknown> = new Set();
