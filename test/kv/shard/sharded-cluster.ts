/** Three members of a sharded KV in one process, over an in-memory network, for the shard tests. */
import { MemoryNetwork, MemoryStorage } from '../../../src/index.js';
import { type ShardedKv, type ShardedKvOptions, createShardedKv } from '../../../src/kv/index.js';

export const members = ['a', 'b', 'c'];

export const text = (bytes: Uint8Array | undefined): string | undefined => (bytes === undefined ? undefined : new TextDecoder().decode(bytes));

/**
 * Three members; each member's storages kept by group, so a member can restart on them.
 * Every member made is pushed to `open`, for the test to close.
 */
export function cluster(open: ShardedKv[], options: Partial<ShardedKvOptions> = {}, network = new MemoryNetwork({ delayMs: { min: 0, max: 1 } })) {
  const disks = new Map<string, Map<number, MemoryStorage>>();
  const member = (id: string, more: Partial<ShardedKvOptions> = {}): ShardedKv => {
    let disk = disks.get(id);
    if (disk === undefined) disks.set(id, (disk = new Map()));
    const kv = createShardedKv({
      id,
      members,
      transport: network.transport(id),
      storage: (group) => {
        // A restarted member finds what its groups wrote before.
        const before = disk.get(group);
        const storage = before === undefined ? new MemoryStorage() : before.reopen();
        disk.set(group, storage);
        return storage;
      },
      splitKeys: ['g', 'p'],
      node: { tickMs: 10, electionTicks: { min: 10, max: 20 } },
      quiescence: false,
      balanceMs: 50,
      ...options,
      ...more,
    });
    open.push(kv);
    return kv;
  };
  /** Loses what `id` kept of group `group`, as a wiped disk would: its next start finds nothing. */
  const wipe = (id: string, group: number): void => {
    disks.get(id)?.delete(group);
  };
  return { member, network, wipe };
}

/** The three members, started. */
export async function started(open: ShardedKv[], options: Partial<ShardedKvOptions> = {}): Promise<ShardedKv[]> {
  const { member } = cluster(open, options);
  const kvs = members.map((id) => member(id));
  await Promise.all(kvs.map((kv) => kv.start()));
  return kvs;
}
