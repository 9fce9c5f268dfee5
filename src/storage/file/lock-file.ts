/**
 * The lock file `LOCK` of a data directory: it holds the pid of the process that
 * owns the directory. A lock whose process is gone (a crash) is taken over.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LockedError } from './errors.js';
import { type FileSystem, hasCode, syncDirectory, writeFully } from './file-system.js';

const lockFileName = 'LOCK';

/** A held lock; {@link LockFile.release} removes it. */
export class LockFile {
  private constructor(
    private readonly fs: FileSystem,
    readonly file: string,
  ) {}

  /**
   * Takes the lock of `dir` for this process.
   *
   * @throws {@link LockedError} if a live process (this one included) holds it.
   */
  static async acquire(fs: FileSystem, dir: string): Promise<LockFile> {
    const file = join(dir, lockFileName);
    // Two rounds: the first may find a stale lock and remove it.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await fs.open(file, 'wx');
        try {
          await writeFully(handle, new TextEncoder().encode(`${process.pid}\n`), 0);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await syncDirectory(fs, dir);
        return new LockFile(fs, file);
      } catch (error) {
        if (!hasCode(error, 'EEXIST')) throw error;
      }
      const holder = await readPid(fs, file);
      if (holder !== undefined && isAlive(holder)) throw new LockedError(file, holder);
      // Stale: its process is gone (or it never got its pid written). Check again
      // right before removing, to narrow the race with another process taking it over.
      if ((await readPid(fs, file)) !== holder) continue;
      try {
        await fs.unlink(file);
      } catch (error) {
        if (!hasCode(error, 'ENOENT')) throw error;
      }
    }
    const holder = await readPid(fs, file);
    throw new LockedError(file, holder ?? -1);
  }

  /** Removes the lock file. */
  async release(): Promise<void> {
    try {
      await this.fs.unlink(this.file);
    } catch (error) {
      if (!hasCode(error, 'ENOENT')) throw error;
    }
  }
}

/** The pid in the lock file, undefined if it is missing or does not hold one. */
async function readPid(fs: FileSystem, file: string): Promise<number | undefined> {
  let text: string;
  try {
    text = new TextDecoder().decode(await fs.readFile(file));
  } catch (error) {
    if (hasCode(error, 'ENOENT')) return undefined;
    throw error;
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * Whether process `pid` exists (EPERM: it exists but belongs to another user) and is
 * not a zombie: a killed owner whose parent has not reaped it yet (a supervisor that
 * restarts it before its exit is handled) still answers signal 0, but holds nothing.
 */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return hasCode(error, 'EPERM');
  }
  return !isZombie(pid);
}

/** Whether Linux's /proc says `pid` has exited and awaits its parent's wait (state Z); false where /proc is missing. */
function isZombie(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return false;
  }
  // "pid (comm) state ...": comm may hold spaces and parentheses, so the state follows the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
}
