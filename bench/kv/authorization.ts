/**
 * What checking a user's permissions costs a KV server per request, against the work
 * every request does anyway in the same run: decoding its frame. Single-threaded, in
 * process, no I/O: the check runs on the server's event loop before each request, so
 * its cost is CPU time per request.
 *
 * Cases: a put, a range over a prefix, and a transaction at `kvLimits.txnOpsMax` (128
 * compares, 128 puts in each branch), each checked against a role of 1, 100 and 1,000
 * prefix grants (merged once, when the server starts; a check walks them in order).
 * Baseline: `decodeClientRequest` of the same request's frame. Also the shared secret's
 * principal (one grant of every key).
 *
 * A benchmark, not a test: it reports and never fails. Run with
 * `npx tsx bench/kv/authorization.ts` (`--seconds S` per case, default 1).
 */
import { performance } from 'node:perf_hooks';
import { decodeClientRequest, encodeClientRequest } from '../../src/kv/protocol/client-codec.js';
import type { ClientRequest } from '../../src/kv/protocol/client-frames.js';
import { AccessControl, type Principal, sharedPrincipal } from '../../src/kv/server/access-control.js';
import { authorizeRequest } from '../../src/kv/server/request-authorization.js';

const secondsArg = process.argv.indexOf('--seconds');
const seconds = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 1;

/** Nanoseconds per call of `f`, over `seconds` (after a tenth of it as warm-up). */
function nsPerCall(f: () => void): number {
  const run = (ms: number): number => {
    let n = 0;
    const start = performance.now();
    let now = start;
    while (now - start < ms) {
      for (let i = 0; i < 256; i++) f();
      n += 256;
      now = performance.now();
    }
    return ((now - start) * 1e6) / n;
  };
  run(seconds * 100);
  return run(seconds * 1000);
}

/** A user whose one role grants `grants` prefixes, `app/` among them (last, so a check walks past the others). */
function userWith(grants: number): Principal {
  const permissions = Array.from({ length: grants - 1 }, (_, i) => ({ prefix: `tenant-${String(i).padStart(5, '0')}/`, access: 'readwrite' as const }));
  permissions.push({ prefix: 'zz-app/', access: 'readwrite' });
  const access = new AccessControl({ users: { bench: { secret: 'x'.repeat(32), roles: ['r'] } }, roles: { r: { permissions } } }, false);
  return access.user('bench')!.principal;
}

const value = new Uint8Array(100);
const requests: Record<string, ClientRequest> = {
  put: { kind: 'command', id: 1, command: { type: 'put', key: 'zz-app/k', value }, request: { clientId: 'c', seq: 2, ackedBelow: 1 }, timeoutMs: 0 },
  range: { kind: 'range', id: 1, range: { prefix: 'zz-app/' }, limit: 0, revision: 0, linearizable: true },
  'txn 128': {
    kind: 'command',
    id: 1,
    command: {
      type: 'txn',
      compare: Array.from({ length: 128 }, (_, i) => ({ key: `zz-app/c${i}`, target: 'version' as const, op: '==' as const, value: 1 })),
      success: Array.from({ length: 128 }, (_, i) => ({ op: 'put' as const, key: `zz-app/s${i}`, value })),
      failure: Array.from({ length: 128 }, (_, i) => ({ op: 'put' as const, key: `zz-app/f${i}`, value })),
    },
    request: { clientId: 'c', seq: 2, ackedBelow: 1 },
    timeoutMs: 0,
  },
};

const principals: [string, Principal][] = [
  ['shared secret', sharedPrincipal],
  ['1 grant', userWith(1)],
  ['100 grants', userWith(100)],
  ['1,000 grants', userWith(1_000)],
];

console.log(`authorization per request, ns (${seconds} s a case, one thread)`);
console.log(['request', 'decode (baseline)', ...principals.map(([name]) => name)].map((c) => c.padStart(18)).join(''));
for (const [name, request] of Object.entries(requests)) {
  const frame = encodeClientRequest(request);
  const row = [name, nsPerCall(() => decodeClientRequest(frame)).toFixed(0)];
  for (const [, p] of principals) row.push(nsPerCall(() => authorizeRequest(p, request)).toFixed(0));
  console.log(row.map((c) => c.padStart(18)).join(''));
}
