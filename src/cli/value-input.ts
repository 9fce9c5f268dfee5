/**
 * Values the `synod` command reads from stdin (`-`) or a file (`--file F`) as bytes,
 * unchanged, so a binary value or one with a trailing newline round-trips. At most
 * `kvLimits.valueBytesMax` (1 MiB) is read: a larger value is refused before it is sent.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { ConfigError, SynodError } from '../core/index.js';
import { kvLimits } from '../kv/index.js';
import { KvRequestError } from '../kv/index.js';

function tooLarge(api: string, from: string): KvRequestError {
  return new KvRequestError(api, `the value from ${from} is larger than ${kvLimits.valueBytesMax} bytes (kvLimits.valueBytesMax)`);
}

/** Reads all of `stream`, refusing more than the value limit. */
export async function readValue(api: string, stream: AsyncIterable<Buffer | string>, from: string): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += buffer.byteLength;
    if (total > kvLimits.valueBytesMax) throw tooLarge(api, from);
    chunks.push(buffer);
  }
  return new Uint8Array(Buffer.concat(chunks, total));
}

/** The bytes of `path`, refusing a file larger than the value limit before reading it. */
export async function readValueFile(api: string, path: string): Promise<Uint8Array> {
  let file: FileHandle | undefined;
  try {
    file = await open(path, 'r');
    if ((await file.stat()).size > kvLimits.valueBytesMax) throw tooLarge(api, path);
    return await readValue(api, file.createReadStream({ autoClose: false }), path);
  } catch (error) {
    // ENOENT, EACCES, EISDIR: one line naming the file, not a stack trace.
    if (error instanceof SynodError) throw error;
    throw new ConfigError(api, '--file', `cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await file?.close();
  }
}
