/**
 * `synod session list|revoke`: the cluster's live sessions, and ending one by hand
 * (a crashed client's locks, held until its TTL runs out, released now).
 */
import type { Args } from './args.js';
import { option } from './args.js';
import { clientOf } from './client-commands.js';
import { readClusterConfig } from './cluster-config.js';
import { UsageError } from './usage-error.js';

/** A session id word: a positive integer. */
function sessionId(word: string): number {
  const n = Number(word);
  if (!/^[0-9]+$/.test(word) || !Number.isSafeInteger(n) || n < 1)
    throw new UsageError('synod session revoke', 'ID', `must be a session id (a positive integer), not ${JSON.stringify(word)}`);
  return n;
}

/** Runs `synod session list` or `synod session revoke ID`; returns the exit code. */
export async function sessionCommand(args: Args): Promise<number> {
  const [, action, word] = args.positional;
  const json = args.options.has('json');
  const id = action === 'revoke' ? sessionId(word!) : undefined;
  const config = await readClusterConfig(option(args, 'config', '.synod/cluster.json')!);
  const kv = clientOf(config);
  try {
    if (id === undefined) {
      const list = await kv.listSessions();
      if (json) {
        console.log(JSON.stringify(list));
        return 0;
      }
      console.log('session\tttl ms\texpires at (display)\tkeys');
      for (const s of list.sessions) console.log(`${s.id}\t${s.ttlMs}\t${new Date(s.expiresAt).toISOString()}\t${s.keys}`);
      console.error(`${list.sessions.length} of ${list.count} sessions at revision ${list.revision}`);
      return 0;
    }
    const r = await kv.revokeSession(id);
    if (json) console.log(JSON.stringify(r));
    else if (r.revoked) console.log(`synod: session ${id} revoked; ${r.keysDeleted} keys deleted at revision ${r.revision}`);
    else console.error(`synod: session ${id} is not live (expired, closed or never opened)`);
    return r.revoked ? 0 : 1;
  } finally {
    await kv.close();
  }
}
