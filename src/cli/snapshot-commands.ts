/**
 * `synod snapshot save|restore|info`: backups of a KV cluster.
 *
 * - `save FILE` asks the leader for a consistent snapshot (a linearizable read point,
 *   then its state at an applied slot at or past it) and writes it to FILE with a
 *   SHA-256 (see `backup-file.ts`).
 * - `restore FILE` writes a data directory for a new cluster of one voter holding the
 *   snapshot's KV state. The new cluster is the one the cluster file (`--config`)
 *   describes: it must name a new cluster id and that one member only. The directory
 *   belongs to the new cluster id from then on, so no member of the old cluster can
 *   join it, and it cannot join the old one. Grow it with `synod serve --join`.
 * - `info FILE` checks a backup and says what it holds.
 */
import { readdir, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Configuration, ConfigError, windowSlotsDefault } from '../core/index.js';
import { kvResultCodec } from '../kv/kv-codec.js';
import type { KvResult } from '../kv/kv-command.js';
import { formatMemberAddress } from '../kv/server/member-address.js';
import { type RuntimeState, encodeRuntimeState, encodeSnapshot } from '../runtime/snapshot-format.js';
import { FileStorage } from '../storage/file/index.js';
import { type Args, intOption, option } from './args.js';
import { UsageError } from './usage-error.js';
import { backupContents, readBackup, refuseExisting, writeBackup } from './backup-file.js';
import { readClusterConfig } from './cluster-config.js';
import { onLeader } from './member-commands.js';

/** How long `save` waits for the leader's snapshot by default, in ms. */
const saveTimeoutMsDefault = 120_000;

export async function snapshotCommand(args: Args): Promise<number> {
  const [, sub, file] = args.positional;
  if (file === undefined || !['save', 'restore', 'info'].includes(sub ?? '')) {
    throw new UsageError('synod snapshot', 'arguments', 'usage: synod snapshot save FILE | restore FILE [--id ID] [--data-dir D] | info FILE');
  }
  if (sub === 'save') return save(args, file);
  if (sub === 'restore') return restore(args, file);
  return info(file);
}

async function save(args: Args, file: string): Promise<number> {
  const config = await readClusterConfig(option(args, 'config', '.synod/cluster.json')!);
  const timeoutMs = intOption(args, 'timeout-ms') ?? saveTimeoutMsDefault;
  await refuseExisting(file); // before the transfer; and again before the rename
  const snapshot = await onLeader(config, (kv) => kv.snapshot({ timeoutMs }));
  const backup = { clusterId: config.clusterId, slot: snapshot.slot, savedAt: Date.now(), data: snapshot.data };
  // Decoded before it is written: a backup that could not be restored is not one.
  const contents = backupContents(file, backup);
  const sha256 = await writeBackup(file, backup);
  console.log(
    `synod: saved cluster ${config.clusterId} at slot ${backup.slot} to ${file}: ${contents.keys} keys at revision ${contents.revision}, ${backup.data.byteLength} bytes of snapshot, sha256 ${sha256}`,
  );
  return 0;
}

async function info(file: string): Promise<number> {
  const { backup, contents, sha256 } = await readBackup(file);
  const voters = contents.state.configuration?.at(-1)?.config.voters;
  console.log(`${file}: a backup of cluster ${backup.clusterId}, saved ${new Date(backup.savedAt).toISOString()}`);
  console.log(
    `  slot ${backup.slot}; ${contents.keys} keys at revision ${contents.revision} (history kept from revision ${contents.compactRevision}); ${backup.data.byteLength} bytes of snapshot${voters === undefined ? '' : `; voters then: ${voters.join(', ')}`}`,
  );
  console.log(`  sha256 ${sha256} (checked)`);
  return 0;
}

async function restore(args: Args, file: string): Promise<number> {
  const api = 'synod snapshot restore';
  const config = await readClusterConfig(option(args, 'config', '.synod/cluster.json')!);
  const ids = Object.keys(config.members);
  const id = option(args, 'id') ?? (ids.length === 1 ? ids[0]! : undefined);
  if (id === undefined) throw new ConfigError(api, '--id', `must name the member to restore (${config.path} names ${ids.join(', ')})`);
  const member = config.members[id];
  if (member === undefined || ids.length !== 1) {
    // Members the file names besides it would start empty, with a configuration of their own: two clusters.
    throw new ConfigError(
      api,
      'members',
      `${config.path} must name ${id} alone, the new cluster's first member: the others join it afterwards with synod serve --join`,
    );
  }
  const dataDir = resolve(option(args, 'data-dir') ?? member.dataDir);
  if (dataDir !== member.dataDir)
    throw new ConfigError(
      api,
      '--data-dir',
      `is ${dataDir}, but ${config.path} gives ${id} the data directory ${member.dataDir}, where synod serve will look: make them the same`,
    );

  // Everything is checked before anything is written.
  const { backup, contents } = await readBackup(file);
  if (backup.clusterId === config.clusterId) {
    throw new ConfigError(
      api,
      'clusterId',
      `is ${config.clusterId}, the cluster the backup was saved from: a restored cluster needs an id of its own, so that no member of the old one can join it by mistake`,
    );
  }
  const existed = await emptyOrMissing(api, dataDir);

  const previous = contents.state.configuration?.at(-1)?.config;
  const first: Configuration = {
    id: 0,
    voters: [id],
    quorum: 'majority',
    observers: [],
    addresses: { [id]: formatMemberAddress(member) },
    windowSlots: previous?.windowSlots ?? windowSlotsDefault,
  };
  // The KV state and the log's time are kept; the exactly-once table is about requests
  // to the old cluster, whose clients cannot reach this one; the configuration is new.
  const state: RuntimeState<KvResult> = {
    lastTimestamp: contents.state.lastTimestamp,
    dedup: { clients: [], tombstones: [], forgottenThrough: -Infinity, lastSweep: -Infinity },
    configuration: [{ from: 1, source: 0, config: first }],
  };
  const data = await encodeSnapshot(encodeRuntimeState(state, kvResultCodec), contents.machine);
  try {
    const storage = await FileStorage.open(dataDir, { clusterId: config.clusterId });
    try {
      await storage.saveSnapshot({ slot: backup.slot, data });
    } finally {
      await storage.close();
    }
  } catch (error) {
    // Leave no half-written directory behind: a restore is done again from the start.
    if (existed) for (const name of await readdir(dataDir).catch(() => [])) await rm(resolve(dataDir, name), { recursive: true, force: true });
    else await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  console.log(
    `synod: restored ${file} (cluster ${backup.clusterId} at slot ${backup.slot}: ${contents.keys} keys at revision ${contents.revision}) into ${dataDir}`,
  );
  console.log(`  ${id} is the only voter of the new cluster ${config.clusterId}`);
  console.log(
    `  next: synod serve --config ${config.path} --id ${id}; then add members with synod serve --config ${config.path} --id ID --join --peer H:P --client H:P --data-dir D`,
  );
  return 0;
}

/**
 * Refuses a data directory that holds anything (restore writes only into a new one);
 * returns whether it exists.
 */
async function emptyOrMissing(api: string, dir: string): Promise<boolean> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return false;
    throw new ConfigError(api, '--data-dir', `${dir} cannot be read as a directory: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (names.length > 0) {
    const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? `, and ${names.length - 5} more` : '');
    throw new ConfigError(
      api,
      '--data-dir',
      `${dir} is not empty (it holds ${shown}): restore writes only into an empty or new directory, and touches nothing in this one`,
    );
  }
  return true;
}
