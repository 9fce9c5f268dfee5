/**
 * A KV cluster in one process, for the recipe demos and their tests: three (by
 * default) `createKvNode` nodes on one `MemoryNetwork`, each on its own
 * `MemoryStorage`, on real timers with fast ticks, so an election takes a few hundred
 * milliseconds and a session of a few hundred milliseconds is kept alive easily.
 */
import { MemoryNetwork, MemoryStorage, type NodeId } from '../../src/index.js';
import { type KvNode, type KvNodeOptions, createKvNode } from '../../src/kv/index.js';

/** Options of {@link InProcessKvCluster.start}; all optional. */
export interface InProcessKvClusterOptions {
  /** The node ids. Default `['a', 'b', 'c']`. */
  readonly ids?: readonly NodeId[];
  /** Length of a tick, in ms. Default 10 ms. */
  readonly tickMs?: number;
  /** Extra options for every node (they win over the defaults here). */
  readonly node?: Partial<KvNodeOptions>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Three KV nodes in one process. `network` injects faults (`isolate`, `partition`,
 * `heal`); `kv(id)` is a node's {@link KvNode}, which implements `KvApi`.
 *
 * @example
 * ```ts
 * const cluster = await InProcessKvCluster.start();
 * await cluster.kv('a').put('greeting', 'hello');
 * await cluster.close();
 * ```
 */
export class InProcessKvCluster {
  /** Message delay 0 to 1 ms: messages reorder a little, as on a real network. */
  readonly network = new MemoryNetwork({ delayMs: { min: 0, max: 1 } });
  readonly ids: readonly NodeId[];
  private readonly nodes = new Map<NodeId, KvNode>();
  private readonly closed = new Set<NodeId>();

  private constructor(options: InProcessKvClusterOptions) {
    this.ids = options.ids ?? ['a', 'b', 'c'];
    for (const id of this.ids) {
      this.nodes.set(
        id,
        createKvNode({
          id,
          members: this.ids,
          transport: this.network.transport(id),
          storage: new MemoryStorage(),
          tickMs: options.tickMs ?? 10,
          electionTicks: { min: 20, max: 40 },
          proposeTimeoutMs: 2_000,
          readTimeoutMs: 2_000,
          sessionCheckMs: 20,
          ...options.node,
        }),
      );
    }
  }

  /** Builds the nodes, starts them and waits for a leader. */
  static async start(options: InProcessKvClusterOptions = {}): Promise<InProcessKvCluster> {
    const cluster = new InProcessKvCluster(options);
    await Promise.all([...cluster.nodes.values()].map((node) => node.start()));
    await cluster.waitFor(() => cluster.leader() !== undefined, 'a leader');
    return cluster;
  }

  /** The node `id`. */
  kv(id: NodeId): KvNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`InProcessKvCluster: no node ${id}`);
    return node;
  }

  /** The ids of the nodes not closed. */
  get live(): NodeId[] {
    return this.ids.filter((id) => !this.closed.has(id));
  }

  /** The live node that believes it leads with the highest ballot, if any. */
  leader(): NodeId | undefined {
    let best: { id: NodeId; round: number } | undefined;
    for (const id of this.live) {
      const status = this.kv(id).node.status();
      if (status.state !== 'running' || status.role !== 'leader' || status.promised === undefined) continue;
      if (best === undefined || status.promised.round > best.round) best = { id, round: status.promised.round };
    }
    return best?.id;
  }

  /** A live node that does not lead (so isolating it costs no election). */
  follower(): NodeId {
    const leader = this.leader();
    const id = this.live.find((candidate) => candidate !== leader);
    if (id === undefined) throw new Error('InProcessKvCluster: no live follower');
    return id;
  }

  /** Polls `condition` every 5 ms; throws naming `what` after `timeoutMs` (default 5 s). */
  async waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`InProcessKvCluster: timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(5);
    }
  }

  /** Closes one node: it stops keeping its sessions alive, so they expire after their TTL. */
  async closeNode(id: NodeId): Promise<void> {
    if (this.closed.has(id)) return;
    this.closed.add(id);
    await this.kv(id).close();
  }

  /** Heals the network and closes every node. */
  async close(): Promise<void> {
    this.network.heal();
    await Promise.all(this.live.map((id) => this.closeNode(id)));
  }
}
