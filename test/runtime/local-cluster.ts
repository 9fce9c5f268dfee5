/**
 * A cluster of real runtime nodes in one process, on real timers with fast ticks,
 * over a MemoryNetwork, each on its own MemoryStorage: the fixture of the runtime tests.
 */
import { afterEach } from 'vitest';
import { type NodeOptions, MemoryNetwork, MemoryStorage, type NodeId, type SynodNode, createNode } from '../../src/index.js';

/** Commands add to a named counter; the result is the counter's new value. */
export interface Add {
  readonly key: string;
  readonly add: number;
}

export class Counters {
  readonly values = new Map<string, number>();
  /** Every command applied, in order, with the request that carried it. */
  readonly log: { slot: number; clientId: string; key: string }[] = [];

  apply(command: Add, meta: { slot: number; clientId: string }): number {
    if (command.add < 0) throw new RangeError('negative add');
    const value = (this.values.get(command.key) ?? 0) + command.add;
    this.values.set(command.key, value);
    this.log.push({ slot: meta.slot, clientId: meta.clientId, key: command.key });
    return value;
  }

  snapshot(): { write(): Promise<Uint8Array> } {
    const text = JSON.stringify({ values: [...this.values], log: this.log });
    return { write: async () => new TextEncoder().encode(text) };
  }

  restore(data: Uint8Array): void {
    const { values, log } = JSON.parse(new TextDecoder().decode(data)) as { values: [string, number][]; log: Counters['log'] };
    this.values.clear();
    for (const [k, v] of values) this.values.set(k, v);
    this.log.length = 0;
    this.log.push(...log);
  }
}

export interface LocalClusterOptions {
  readonly voters: number;
  readonly observers?: number;
  /** Extra node options for every node. */
  readonly node?: Partial<NodeOptions<Add, number>>;
}

export class LocalCluster {
  readonly network = new MemoryNetwork({ delayMs: { min: 0, max: 1 } });
  readonly ids: NodeId[];
  readonly voters: NodeId[];
  readonly observers: NodeId[];
  readonly storages = new Map<NodeId, MemoryStorage>();
  readonly machines = new Map<NodeId, Counters>();
  readonly nodes = new Map<NodeId, SynodNode<Add, number>>();

  constructor(private readonly options: LocalClusterOptions) {
    this.voters = Array.from({ length: options.voters }, (_, i) => `n${i + 1}`);
    this.observers = Array.from({ length: options.observers ?? 0 }, (_, i) => `o${i + 1}`);
    this.ids = [...this.voters, ...this.observers];
    for (const id of this.ids) {
      this.storages.set(id, new MemoryStorage());
      this.build(id);
    }
  }

  private build(id: NodeId): SynodNode<Add, number> {
    const machine = new Counters();
    this.machines.set(id, machine);
    const node = createNode<Add, number>({
      id,
      members: this.voters,
      observers: this.observers,
      transport: this.network.transport(id),
      storage: this.storages.get(id)!,
      stateMachine: machine,
      tickMs: 10,
      electionTicks: { min: 20, max: 40 },
      proposeTimeoutMs: 5_000,
      readTimeoutMs: 5_000,
      ...this.options.node,
    });
    this.nodes.set(id, node);
    return node;
  }

  node(id: NodeId): SynodNode<Add, number> {
    return this.nodes.get(id)!;
  }

  async start(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.start()));
  }

  /** The live node that believes it leads with the highest ballot. */
  leader(): NodeId | undefined {
    let best: { id: NodeId; round: number } | undefined;
    for (const [id, n] of this.nodes) {
      const s = n.status();
      if (s.state !== 'running' || s.role !== 'leader' || s.promised === undefined) continue;
      if (best === undefined || s.promised.round > best.round) best = { id, round: s.promised.round };
    }
    return best?.id;
  }

  /**
   * Polls `condition` until it holds; `ms` is a bound against a hang, not a timing claim:
   * elections and deliveries run on real timers, which a loaded machine slows (a 3-node
   * start once took over 5 s here beside other test workers).
   */
  async waitFor(condition: () => boolean, what: string, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  async waitForLeader(): Promise<NodeId> {
    await this.waitFor(() => this.leader() !== undefined, 'a leader');
    return this.leader()!;
  }

  /** Closes `id` and builds a new node on the same stored state (a restart). */
  async restart(id: NodeId): Promise<SynodNode<Add, number>> {
    await this.node(id).close();
    this.storages.set(id, this.storages.get(id)!.reopen());
    const node = this.build(id);
    await node.start();
    return node;
  }

  /** Closes `id`, erases its storage and starts it again, empty, under the same id (amnesia). */
  async wipe(id: NodeId): Promise<SynodNode<Add, number>> {
    await this.node(id).close();
    this.storages.set(id, new MemoryStorage());
    const node = this.build(id);
    await node.start();
    return node;
  }

  async close(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.close()));
  }
}

/**
 * One cluster per test, closed after it: `start(options)` builds and starts one;
 * `track(cluster)` registers one the test starts itself.
 */
export function clusterPerTest(): { start(options: LocalClusterOptions): Promise<LocalCluster>; track(cluster: LocalCluster): LocalCluster } {
  let current: LocalCluster | undefined;
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return {
    async start(options) {
      current = new LocalCluster(options);
      await current.start();
      return current;
    },
    track(cluster) {
      current = cluster;
      return cluster;
    },
  };
}
