/**
 * `dirs`: the bytes of the member's data directory. ZooKeeper prints its snapshot
 * directory's size and its transaction log directory's; a synod member keeps its
 * snapshots and its write-ahead log in one directory, so both lines give its total, as
 * ZooKeeper's do when `dataLogDir` is `dataDir`.
 */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Entries `dirs` looks at before it stops counting: a data directory holds a few files
 * (the log's segments, snapshots, the lock), so this only bounds the walk of a
 * directory pointed somewhere else by mistake.
 */
const dirsEntriesMax = 100_000;

/** Bytes of the regular files under `dir` (symbolic links not followed). @internal */
async function directoryBytes(dir: string): Promise<number> {
  let bytes = 0;
  let seen = 0;
  const pending = [dir];
  for (let next = pending.pop(); next !== undefined && seen < dirsEntriesMax; next = pending.pop()) {
    const entries: Dirent[] = await readdir(next, { withFileTypes: true });
    for (const entry of entries) {
      if (++seen > dirsEntriesMax) break;
      const path = join(next, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile()) bytes += (await stat(path)).size;
    }
  }
  return bytes;
}

/** The answer to `dirs` for the data directory `dataDir` ('' when the member was given none: 0 bytes). @internal */
export async function dirsAnswer(dataDir: string): Promise<string> {
  let bytes = 0;
  try {
    if (dataDir !== '') bytes = await directoryBytes(dataDir);
  } catch (error) {
    return `Unable to read the data directory ${dataDir}: ${error instanceof Error ? error.message : String(error)}\n`;
  }
  return `datadir_size: ${bytes}\nlogdir_size: ${bytes}\n`;
}
