import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { type AcceptedEntry, type Ballot, type ChosenEntry, type PersistBatch, batch, noop } from '../../../src/core/index.js';
import { FileStorage, type FileStorageOptions, type FileSystem } from '../../../src/storage/file/index.js';

export const ballot = (round: number, node = 'a'): Ballot => ({ round, node });
export const command = (text: string): Uint8Array => new TextEncoder().encode(text);
export const accepted = (slot: number, round: number, text = `v${slot}.${round}`): AcceptedEntry => ({
  slot,
  ballot: ballot(round),
  value: batch([command(text)]),
});
export const chosen = (slot: number): ChosenEntry => ({ slot, value: noop });
export const write = (parts: Partial<PersistBatch>): PersistBatch => ({ accepted: [], chosen: [], ...parts });
export const slotsOf = (entries: readonly { readonly slot: number }[]): number[] => entries.map((e) => e.slot);

const dirs: string[] = [];
const open: FileStorage[] = [];

/** A fresh temporary directory, removed after the test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'synod-file-storage-'));
  dirs.push(dir);
  return dir;
}

/** Opens a storage that is closed after the test if the test did not. */
export async function openStorage(dir: string, options?: FileStorageOptions): Promise<FileStorage> {
  const storage = await FileStorage.open(dir, options);
  open.push(storage);
  return storage;
}

afterEach(async () => {
  for (const storage of open.splice(0)) await storage.close().catch(() => {});
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/**
 * The crashed storage's lock file names this process, which lives on after a simulated
 * crash: make it name a process that is gone, as after a real one, so the reopen takes
 * the lock over.
 */
export async function markLockStale(fs: FileSystem, dir: string): Promise<void> {
  const handle = await fs.open(join(dir, 'LOCK'), 'r+').catch(() => undefined);
  if (handle === undefined) return;
  try {
    const deadPid = new TextEncoder().encode('2147483646\n');
    await handle.truncate(0);
    await handle.write(deadPid, 0, deadPid.byteLength, 0);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
