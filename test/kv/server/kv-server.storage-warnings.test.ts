/**
 * A KV server says what its storage repaired: a torn tail of the log (a crash in the
 * middle of a write) is cut off on open, which is normal, but an operator must see it.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { KvClient } from '../../../src/kv/client/index.js';
import { KvServer } from '../../../src/kv/server/index.js';
import { freePorts } from '../../transport/tcp/helpers.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

it('logs, at warn, the torn tail its storage cut off when it opened', async () => {
  dir = await mkdtemp(join(tmpdir(), 'synod-kv-warn-'));
  const [peer, client] = await freePorts(2);
  const secret = randomBytes(32);
  const clientSecret = randomBytes(32);
  const warnings: string[] = [];
  const logger = {
    debug: () => {},
    info: () => {},
    warn: (fields: Record<string, unknown>, message: string) => warnings.push(`${message} ${JSON.stringify(fields)}`),
    error: () => {},
  };
  const server = () =>
    new KvServer({
      id: 'a',
      clusterId: 'warn',
      members: { a: { peer: { host: '127.0.0.1', port: peer! }, client: { host: '127.0.0.1', port: client! } } },
      dataDir: dir!,
      secret,
      clientSecret,
      logger,
    });
  const first = server();
  await first.start();
  const kv = new KvClient({ endpoints: [{ host: '127.0.0.1', port: client! }], clusterId: 'warn', secret: clientSecret });
  await kv.put('k', 'v');
  await kv.close();
  await first.close();
  // Half a record at the end of the last segment, as a crash mid-write leaves it.
  const segments = (await readdir(dir)).filter((f) => /^wal-\d+\.log$/.test(f)).sort();
  await appendFile(join(dir, segments.at(-1)!), new Uint8Array([0x40, 0, 0, 0, 1, 2, 3]));
  warnings.length = 0;
  const second = server();
  await second.start();
  await second.close();
  expect(warnings.join('\n')).toMatch(/the storage repaired its log while opening.*truncated a torn tail/);
});
