/**
 * What the comparison harness knows of a system under test: how to start it as three
 * local processes, and how one client talks to it. etcd, ZooKeeper and synod each
 * implement it in their own file; the harness sees nothing else.
 */
import type { ServerProcess } from './processes.js';

/** A running cluster (three members unless started with more), as recorded in its state file (so another process can stop it). */
export interface RunningCluster {
  /** The system's name: `etcd`, `zookeeper` or `synod`. */
  readonly system: SystemName;
  /** The directory holding its data, logs and state file. */
  readonly dir: string;
  /** One client address (`host:port`) per member, in member order. */
  readonly endpoints: readonly string[];
  /** Each member's data directory, in member order. */
  readonly dataDirs: readonly string[];
  /** The server processes this harness started: the only ones it ever stops. */
  readonly servers: readonly ServerProcess[];
  /** Anything else a client needs (synod: the cluster file's path). */
  readonly extra?: Readonly<Record<string, string>>;
}

/** The systems measured. */
export const systemNames = ['etcd', 'zookeeper', 'synod'] as const;
/** One of {@link systemNames}. */
export type SystemName = (typeof systemNames)[number];

/**
 * One closed-loop client's view of a store: a key's value carries a version, the
 * system's own token (etcd: the key's mod_revision; ZooKeeper: the znode's data
 * version; synod: the key's version), 0 for a key never written.
 */
export interface Adapter {
  /**
   * Writes `value` under `key` if its version is still `version`: the new version, or
   * `{ conflict }` with the version found instead. Rejects on anything else (a timeout,
   * a lost connection).
   */
  cas(key: string, version: number, value: Uint8Array): Promise<{ readonly version: number } | { readonly conflict: number }>;
  /** A linearizable read of `key`: its value and version, or undefined if absent. */
  get(key: string): Promise<{ readonly value: Uint8Array; readonly version: number } | undefined>;
  /** Creates `key` (absent before) with `value`: what loads a store with many keys. */
  create(key: string, value: Uint8Array): Promise<void>;
  /** Optional: creates up to 100 keys (absent before) in one request, where the store has one (a transaction). */
  createMany?(keys: readonly string[], value: Uint8Array): Promise<void>;
  /** Closes the client's connection; its promise never rejects. */
  close(): Promise<void>;
}

/** Sessions or watches held open by {@link System.holdSessions} and {@link System.holdWatches}. */
export interface Held {
  close(): Promise<void>;
}

/** Runs `work(i)` for i from 0 to `count - 1`, `lanes` at a time. */
export async function inLanes(count: number, lanes: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(lanes, count) }, async () => {
      for (let i = next++; i < count; i = next++) await work(i);
    }),
  );
}

/** A system under test: start a cluster, connect a client to it. */
export interface System {
  readonly name: SystemName;
  /** Starts `members` members (default 3) on 127.0.0.1 (free ports, data under `dir`, fsync on) and resolves once they serve. */
  start(dir: string, members?: number): Promise<RunningCluster>;
  /** Resolves once member `index` (restarted, say) answers a linearizable read itself; rejects after `timeoutMs`. */
  ready(cluster: RunningCluster, index: number, timeoutMs: number): Promise<void>;
  /**
   * Connects client number `index` (clients are spread over the members by it, the
   * same way for every system), ready to use: keys it will use under `prefix` exist
   * where the system needs them to (ZooKeeper's znodes).
   */
  connect(cluster: RunningCluster, index: number, keys: readonly string[]): Promise<Adapter>;
  /**
   * Opens `count` sessions (synod: KV sessions; etcd: leases; ZooKeeper: sessions, one
   * connection each) with a TTL of an hour, over as many connections as the system needs,
   * and holds them until `close`. Rejects where the system cannot hold that many from one
   * process, saying why.
   */
  holdSessions(cluster: RunningCluster, count: number): Promise<Held>;
  /** Leaves `count` watches, each on a key of its own that no one writes, and holds them until `close`. */
  holdWatches(cluster: RunningCluster, count: number): Promise<Held>;
  /**
   * Drops the history older than the current revision, between points, so no point pays
   * for the ones before it and a full run stays within the stores' default quotas
   * (etcd's backend is 2 GB). A no-op for a store that keeps no history (ZooKeeper).
   */
  compact(cluster: RunningCluster): Promise<void>;
}
