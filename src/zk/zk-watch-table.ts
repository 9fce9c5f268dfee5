/**
 * The watches one member holds for its clients: one-shot data, exist and child
 * watches, persistent and persistent-recursive ones. Local to the member (like
 * ZooKeeper's, they move with a client by `setWatches`); which fire is a pure function
 * of the changes the state machine applied, so every member fires alike.
 */
import { parentOf } from './zk-path.js';
import type { ZkChange } from './zk-types.js';

/** The kinds of watch. `data` covers ZooKeeper's data and exist watches (the server keeps them together). */
export type ZkWatchKind = 'data' | 'child' | 'persistent' | 'recursive';

/** ZooKeeper's event type numbers for each change. */
const eventTypeOf = { created: 1, deleted: 2, dataChanged: 3, childrenChanged: 4 } as const;

/** A watch event to deliver: ZooKeeper's event type and the path. */
export interface ZkWatchEvent {
  readonly type: 1 | 2 | 3 | 4;
  readonly path: string;
}

/**
 * Watches by path and kind, for watchers of type `W` (a connection). A change fires
 * each matching watcher once; one-shot watches are removed as they fire.
 *
 * @example
 * ```ts
 * const table = new ZkWatchTable<Connection>();
 * table.add('data', '/config', connection);
 * for (const [watcher, events] of table.fire(applied.changes)) watcher.send(events);
 * ```
 */
export class ZkWatchTable<W> {
  private readonly byKind: Record<ZkWatchKind, Map<string, Set<W>>> = { data: new Map(), child: new Map(), persistent: new Map(), recursive: new Map() };
  private readonly countByWatcher = new Map<W, number>();

  /** Watches `watcher` holds. */
  count(watcher: W): number {
    return this.countByWatcher.get(watcher) ?? 0;
  }

  /** Adds a watch (again is a no-op). */
  add(kind: ZkWatchKind, path: string, watcher: W): void {
    let set = this.byKind[kind].get(path);
    if (set === undefined) this.byKind[kind].set(path, (set = new Set()));
    if (set.has(watcher)) return;
    set.add(watcher);
    this.countByWatcher.set(watcher, this.count(watcher) + 1);
  }

  /** Whether `watcher` holds a watch of `kind` on `path`. */
  has(kind: ZkWatchKind, path: string, watcher: W): boolean {
    return this.byKind[kind].get(path)?.has(watcher) ?? false;
  }

  /** Every watch held, kind by kind, path by path, in the order they were added (`wchc`, `wchp`). */
  list(): { kind: ZkWatchKind; path: string; watcher: W }[] {
    const out: { kind: ZkWatchKind; path: string; watcher: W }[] = [];
    for (const kind of Object.keys(this.byKind) as ZkWatchKind[]) {
      for (const [path, set] of this.byKind[kind]) for (const watcher of set) out.push({ kind, path, watcher });
    }
    return out;
  }

  /** Removes one watch; whether it was there. */
  remove(kind: ZkWatchKind, path: string, watcher: W): boolean {
    const set = this.byKind[kind].get(path);
    if (set === undefined || !set.delete(watcher)) return false;
    if (set.size === 0) this.byKind[kind].delete(path);
    const left = this.count(watcher) - 1;
    if (left === 0) this.countByWatcher.delete(watcher);
    else this.countByWatcher.set(watcher, left);
    return true;
  }

  /** Removes every watch of `watcher` (its connection closed). */
  removeWatcher(watcher: W): void {
    if (!this.countByWatcher.has(watcher)) return;
    for (const kind of Object.keys(this.byKind) as ZkWatchKind[]) {
      for (const [path, set] of this.byKind[kind]) {
        if (set.delete(watcher) && set.size === 0) this.byKind[kind].delete(path);
      }
    }
    this.countByWatcher.delete(watcher);
  }

  /**
   * The events `changes` deliver, by watcher, in change order; each change reaches a
   * watcher at most once however many of its watches match. One-shot watches that
   * fire are removed. A watcher that `mayRead` says may not read the change's ACL is
   * not told (its one-shot watch is spent all the same, as ZooKeeper's is); by default
   * every watcher may.
   */
  fire(changes: readonly ZkChange[], mayRead: (watcher: W, acl: ZkChange['acl']) => boolean = () => true): Map<W, ZkWatchEvent[]> {
    const out = new Map<W, ZkWatchEvent[]>();
    for (const change of changes) {
      const reached = new Set<W>();
      const oneShot: ZkWatchKind[] = change.type === 'childrenChanged' ? ['child'] : change.type === 'deleted' ? ['data', 'child'] : ['data'];
      for (const kind of oneShot) {
        for (const w of [...(this.byKind[kind].get(change.path) ?? [])]) {
          reached.add(w);
          this.remove(kind, change.path, w);
        }
      }
      for (const w of this.byKind.persistent.get(change.path) ?? []) reached.add(w);
      // ZooKeeper's recursive watches take no children-changed events (the creates and deletes say it).
      if (change.type !== 'childrenChanged') {
        for (let path = change.path; ; path = parentOf(path)) {
          for (const w of this.byKind.recursive.get(path) ?? []) reached.add(w);
          if (path === '/') break;
        }
      }
      for (const w of reached) {
        if (!mayRead(w, change.acl)) continue;
        let events = out.get(w);
        if (events === undefined) out.set(w, (events = []));
        events.push({ type: eventTypeOf[change.type], path: change.path });
      }
    }
    return out;
  }
}
