/**
 * `synod recover --force-new-cluster`: for the day a majority of the voters is gone for
 * good. Rewrites one stopped survivor's data directory so that it starts as the only
 * voter, keeping every entry it holds (see `forceNewCluster`). Then grow the cluster
 * again with `synod serve --join` on new machines.
 */
import { ConfigError, forceNewCluster } from '../core/index.js';
import { kvResultCodec } from '../kv/kv-codec.js';
import { decodeSnapshot } from '../runtime/snapshot-format.js';
import { FileStorage } from '../storage/file/index.js';
import { type Args, option } from './args.js';
import { UsageError } from './usage-error.js';
import { readClusterConfig } from './cluster-config.js';

export async function recover(args: Args): Promise<number> {
  if (!args.options.has('force-new-cluster')) {
    throw new UsageError('synod recover', '--force-new-cluster', 'is required: it says you know what it does (see docs/operations.md, "Losing a majority")');
  }
  const config = await readClusterConfig(option(args, 'config', '.synod/cluster.json')!);
  const id = option(args, 'id');
  if (id === undefined) throw new UsageError('synod recover', '--id', 'must name the surviving member');
  const dataDir = option(args, 'data-dir') ?? config.members[id]?.dataDir;
  if (dataDir === undefined) throw new ConfigError('synod recover', '--data-dir', `is required: ${id} is not in ${config.path}`);
  // Opening takes the directory's lock: a server still running on it is refused here.
  const storage = await FileStorage.open(dataDir);
  try {
    const state = await storage.load();
    const saved = await storage.loadSnapshot();
    const snapshot =
      saved === undefined
        ? { slot: 0, configuration: undefined }
        : { slot: saved.slot, configuration: decodeSnapshot(saved.data, kvResultCodec).state.configuration };
    const first = { id: 0, voters: Object.keys(config.members), quorum: 'majority' as const, observers: [], addresses: {}, windowSlots: 256 };
    const forced = forceNewCluster(state, snapshot, first, id);
    await storage.persist(forced.batch);
    console.log(`synod: ${id} is now the only voter (configuration ${forced.configuration.id}, from slot ${forced.from})`);
    console.log(
      `  slots up to ${forced.commitIndexBefore} were known chosen; ${forced.adopted} above it held a value this node accepted, kept as chosen; ${forced.holes} held nothing, now no-ops`,
    );
    console.log(`  next: point the cluster file at ${id} alone, start it with synod serve, and add new members with synod serve --join`);
    return 0;
  } finally {
    await storage.close();
  }
}
