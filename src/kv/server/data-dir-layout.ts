/**
 * What a KV server's data directory holds: one group's storage (`FileStorage`), or a
 * sharded member's one log for many groups (`SharedFileLog`). Both write the same WAL
 * segments with different records, so a directory served as the other kind must be
 * refused before either opens it: its recovery would read the other's records.
 */
import { constants } from 'node:fs';
import { mkdir, open, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../../core/index.js';

/** The file that marks a sharded member's directory. */
const shardedMarkerName = 'sharded';
const shardedMarkerText = 'a sharded KV member: one log for many groups\n';

/**
 * Throws `ConfigError` unless `dir` holds what a server of this kind serves: a sharded
 * server's directory is marked at its first start (before any log is written), and an
 * unmarked directory holding a log is an unsharded server's.
 */
export async function checkDataDirLayout(dir: string, sharded: boolean): Promise<void> {
  const marked = await readFile(join(dir, shardedMarkerName), 'utf8').then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
  if (marked === sharded) return;
  if (marked)
    throw new ConfigError('KvServer', 'shards', `${dir} holds a sharded member's data (one log for many groups): serve it with the shards it was made with`);
  await mkdir(dir, { recursive: true });
  const entries = await readdir(dir);
  if (entries.some((name) => name.startsWith('wal-')))
    throw new ConfigError('KvServer', 'shards', `${dir} holds an unsharded member's data (one group's log): serve it without shards`);
  // A new directory: marked, durably, before the log is made.
  const file = await open(join(dir, shardedMarkerName), constants.O_CREAT | constants.O_WRONLY | constants.O_TRUNC);
  try {
    await file.writeFile(shardedMarkerText);
    await file.sync();
  } finally {
    await file.close();
  }
  const directory = await open(dir, constants.O_RDONLY);
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
