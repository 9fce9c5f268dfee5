/**
 * Values from stdin or a file (issue 17): bytes as they are, at most
 * `kvLimits.valueBytesMax`, and a file that cannot be read is one typed line, not a
 * stack trace.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readValue, readValueFile } from '../../src/cli/value-input.js';
import { ConfigError } from '../../src/core/index.js';
import { KvRequestError, kvLimits } from '../../src/kv/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'synod-value-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('reads every byte of a stream, binary and trailing newline included, and refuses one over the limit', async () => {
  const bytes = new Uint8Array([0, 255, 10, 13, 10]);
  expect(await readValue('put', Readable.from([Buffer.from(bytes.subarray(0, 2)), Buffer.from(bytes.subarray(2))]), 'stdin')).toEqual(bytes);
  const atLimit = Buffer.alloc(kvLimits.valueBytesMax, 1);
  expect((await readValue('put', Readable.from([atLimit.subarray(0, 1000), atLimit.subarray(1000)]), 'stdin')).byteLength).toBe(kvLimits.valueBytesMax);
  await expect(readValue('put', Readable.from([atLimit, Buffer.from([1])]), 'stdin')).rejects.toThrow(KvRequestError);
});

it('reads a file; a missing one, a directory or one over the limit is a typed error naming it', async () => {
  const path = join(dir, 'value');
  await writeFile(path, 'line\n');
  expect(new TextDecoder().decode(await readValueFile('synod put', path))).toBe('line\n');
  await expect(readValueFile('synod put', join(dir, 'absent'))).rejects.toThrow(ConfigError);
  await expect(readValueFile('synod put', join(dir, 'absent'))).rejects.toThrow(/`--file` cannot read .*absent: ENOENT/);
  await expect(readValueFile('synod put', dir)).rejects.toThrow(/`--file` cannot read .*: EISDIR/);
  const large = join(dir, 'large');
  await writeFile(large, Buffer.alloc(kvLimits.valueBytesMax + 1));
  await expect(readValueFile('synod put', large)).rejects.toThrow(KvRequestError);
});
