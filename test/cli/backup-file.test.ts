/**
 * The backup file: what save writes, restore reads back; a file that is not a backup,
 * of another version, damaged anywhere or cut short is refused with CorruptionError
 * before anything else is read; an existing file is never replaced.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeBackup, readBackup, writeBackup } from '../../src/cli/backup-file.js';
import { ConfigError } from '../../src/core/index.js';
import { kvResultCodec } from '../../src/kv/kv-codec.js';
import { KvStateMachine } from '../../src/kv/kv-state-machine.js';
import { encodeRuntimeState, encodeSnapshot } from '../../src/runtime/snapshot-format.js';
import { CorruptionError } from '../../src/storage/file/index.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function backupBytes(): Promise<{ file: string; bytes: Uint8Array }> {
  const dir = await mkdtemp(join(tmpdir(), 'synod-backup-'));
  dirs.push(dir);
  const machine = new KvStateMachine();
  const meta = (slot: number) => ({ slot, timestamp: slot, clientId: 'c', seq: slot, origin: 'a' });
  machine.apply({ type: 'put', key: 'k', value: new TextEncoder().encode('v') }, meta(1));
  machine.apply({ type: 'put', key: 'gone', value: new TextEncoder().encode('x') }, meta(2));
  machine.apply({ type: 'delete', key: 'gone' }, meta(3));
  const runtime = encodeRuntimeState(
    { lastTimestamp: 3, dedup: { clients: [], tombstones: [], forgottenThrough: -Infinity, lastSweep: -Infinity } },
    kvResultCodec,
  );
  const data = await encodeSnapshot(runtime, await machine.snapshot().write());
  const file = join(dir, 'backup.snap');
  await writeBackup(file, { clusterId: 'orders', slot: 3, savedAt: 1_700_000_000_000, data });
  return { file, bytes: new Uint8Array(await readFile(file)) };
}

describe('the backup file', () => {
  it('reads back what was written: the cluster, the slot, the KV state', async () => {
    const { file } = await backupBytes();
    const { backup, contents, sha256 } = await readBackup(file);
    expect(backup).toMatchObject({ clusterId: 'orders', slot: 3, savedAt: 1_700_000_000_000 });
    expect(contents).toMatchObject({ revision: 3, keys: 1 });
    expect(sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses every flipped byte and every cut with CorruptionError', async () => {
    const { file, bytes } = await backupBytes();
    for (let i = 0; i < bytes.byteLength; i++) {
      const damaged = bytes.slice();
      damaged[i]! ^= 0x10;
      expect(() => decodeBackup(file, damaged), `byte ${i}`).toThrow(CorruptionError);
    }
    for (let n = 0; n < bytes.byteLength; n++) expect(() => decodeBackup(file, bytes.subarray(0, n)), `${n} bytes`).toThrow(CorruptionError);
    const flipped = bytes.slice();
    flipped[20]! ^= 1;
    expect(() => decodeBackup(file, flipped)).toThrow(/SHA-256 mismatch/);
  });

  it('names a wrong version and a file that is no backup', async () => {
    const { file, bytes } = await backupBytes();
    const later = bytes.slice();
    later[8] = 2;
    expect(() => decodeBackup(file, later)).toThrow(/backup format version 2; this synod reads version 1/);
    expect(() => decodeBackup(file, new TextEncoder().encode('{"not": "a backup at all, but long enough"}'))).toThrow(/not a synod backup/);
  });

  it('never replaces an existing file', async () => {
    const { file, bytes } = await backupBytes();
    await expect(writeBackup(file, { clusterId: 'other', slot: 9, savedAt: 0, data: new Uint8Array(20) })).rejects.toBeInstanceOf(ConfigError);
    expect(new Uint8Array(await readFile(file))).toEqual(bytes);
    await writeFile(`${file}.2`, 'x');
    await expect(writeBackup(`${file}.2`, { clusterId: 'other', slot: 9, savedAt: 0, data: new Uint8Array(20) })).rejects.toThrow(/exists/);
  });
});
