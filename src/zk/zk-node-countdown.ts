/**
 * The leader's countdowns of its containers and TTL nodes, on its monotonic clock.
 * Local to the leader, never replicated: the log gets the decision (`node-expire`),
 * never a clock reading, and applying it deletes only what is still eligible.
 */
import { assert } from '../core/assert.js';
import type { ZkExpiringNode, ZkTree } from './zk-tree.js';

/** When containers and TTL nodes are due. */
export interface ZkNodeCountdownOptions {
  /**
   * How long a container that never had a child may stay, ms, unmodified; 0 keeps it
   * for good (ZooKeeper 3.8 and 3.9's `znode.container.maxNeverUsedIntervalMs` default).
   */
  readonly neverUsedContainerMs: number;
}

/** What the countdown knows of one node. */
interface Seen {
  /** The mzxid it had when this leader last saw it change. */
  mzxid: number;
  /** The monotonic time at which this leader saw that mzxid first. */
  since: number;
  observation: number;
}

/**
 * Per container and TTL node, when the leader first saw its current mzxid, on the
 * leader's monotonic clock. A TTL node is due once childless and unmodified for more
 * than its TTL since; a container once childless after having had a child (ZooKeeper's
 * `cversion > 0`), or, if `neverUsedContainerMs` is set, once never used and
 * unmodified for longer than it. A countdown never starts before the write it counts
 * from, so nothing is found due early; cleared when leadership changes, so a new
 * leader counts afresh (a TTL may then run up to twice).
 *
 * @example
 * ```ts
 * const countdown = new ZkNodeCountdown();
 * const due = countdown.observe(machine.tree, clock.now(), { neverUsedContainerMs: 0 }, zkLimits.expiringNodesPerCommandMax);
 * ```
 * @internal
 */
export class ZkNodeCountdown {
  private readonly seen = new Map<string, Seen>();
  private observations = 0;

  /** Nodes with a countdown running. */
  get size(): number {
    return this.seen.size;
  }

  /** Forgets every countdown (leadership lost or taken). */
  clear(): void {
    this.seen.clear();
  }

  /** Looks at every container and TTL node at monotonic time `now`; returns those due, by path, at most `max`. */
  observe(tree: ZkTree, now: number, options: ZkNodeCountdownOptions, max: number): ZkExpiringNode[] {
    assert(Number.isFinite(now), () => `countdown at time ${now}`);
    assert(Number.isSafeInteger(max) && max > 0, () => `countdown asked for at most ${max} nodes`);
    const observation = ++this.observations;
    const due: ZkExpiringNode[] = [];
    for (const path of tree.expirable()) {
      const node = tree.get(path);
      assert(node !== undefined && (node.container || node.ttlMs > 0), () => `expirable ${path} is no container or TTL node`);
      let seen = this.seen.get(path);
      if (seen === undefined || seen.mzxid !== node.mzxid) {
        assert(seen === undefined || now >= seen.since, () => `the monotonic clock went back: ${now} < ${seen!.since}`);
        seen = { mzxid: node.mzxid, since: now, observation };
        this.seen.set(path, seen);
      }
      seen.observation = observation;
      if (node.children.size > 0 || due.length >= max) continue;
      const elapsed = now - seen.since;
      const isDue = node.container ? node.cversion > 0 || (options.neverUsedContainerMs > 0 && elapsed > options.neverUsedContainerMs) : elapsed > node.ttlMs;
      if (isDue) due.push({ path, mzxid: node.mzxid });
    }
    for (const [path, seen] of this.seen) if (seen.observation !== observation) this.seen.delete(path);
    return due.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}
