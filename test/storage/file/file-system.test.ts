import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeFileSystem } from '../../../src/storage/file/index.js';
import { tempDir } from './helpers.js';

describe('nodeFileSystem.readFile', () => {
  it('reads a whole file in one go: empty, small, and larger than fs.readFile reads at a time', async () => {
    const dir = await tempDir();
    for (const length of [0, 1, 4_097, 3 * 1024 * 1024 + 5]) {
      const data = Uint8Array.from({ length }, (_, i) => (i * 7) & 0xff);
      const file = join(dir, `f${length}`);
      await writeFile(file, data);
      const read = await nodeFileSystem.readFile(file);
      expect(read).toBeInstanceOf(Uint8Array);
      expect(Buffer.compare(read, data), `${length} bytes`).toBe(0);
    }
  });

  it('rejects with ENOENT for a missing file', async () => {
    const dir = await tempDir();
    await expect(nodeFileSystem.readFile(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('returns what the file holds when it shrinks or grows between the size and the read', async () => {
    const dir = await tempDir();
    const file = join(dir, 'f');
    await writeFile(file, new Uint8Array(100).fill(1));
    const { promises: fsp } = await import('node:fs');
    const open = fsp.open;
    // The file changes right after readFile opened it (and before it asks for the size).
    const changes = [() => truncate(file, 40), () => writeFile(file, new Uint8Array(200_000).fill(2))];
    for (const [i, change] of changes.entries()) {
      await writeFile(file, new Uint8Array(100).fill(1));
      fsp.open = (async (...args: Parameters<typeof open>) => {
        const handle = await open(...args);
        const stat = handle.stat.bind(handle);
        handle.stat = (async (...a: Parameters<typeof stat>) => {
          const s = await stat(...a);
          await change();
          return s;
        }) as typeof handle.stat;
        return handle;
      }) as typeof open;
      try {
        const read = await nodeFileSystem.readFile(file);
        expect(read.byteLength, `change ${i}`).toBe(i === 0 ? 40 : 200_000);
        expect(read.every((b) => b === (i === 0 ? 1 : 2))).toBe(true);
      } finally {
        fsp.open = open;
      }
    }
  });
});
