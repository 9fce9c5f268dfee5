/**
 * One ZooKeeper C client session in a process of its own, for test/zk/zk-c-client.test.ts:
 * run as `node --import tsx test/zk/c-client-worker.ts HOSTS WORKER SEED KEYS`. It
 * creates its ephemeral node, then runs versioned setData, create, delete and
 * sync+getData on the keys until its stdin closes, writing one JSON line per event on
 * file descriptor 3 (a pipe the parent opens; stdout carries the binding's log):
 * `{ session, ephemeral }` first, then per operation `{ invoke }` before it is sent and
 * `{ complete }` once answered (times in ms of the machine's clock,
 * `performance.timeOrigin + performance.now()`, so that the processes' histories share
 * one time line; an operation never completed, the process killed, may have happened),
 * `{ unexpected }` for an answer that is neither one of the model's errors nor a lost
 * connection, and `{ done }` last; the session then stays open until the process is killed.
 *
 * Why a process per session: with several sessions reconnecting in one process, a new
 * session of the same process sometimes never sent its connect request (the servers saw
 * connections that sent nothing for 30 s, while all three were up with a leader and
 * answered everyone else). The binding's bookkeeping of its handles' sockets is the
 * likely cause; one session per process, as services usually run, does not show it.
 */
import { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { Prng, type ZnodeInput, type ZnodeOutput } from '../../src/testing/index.js';
import { type Answer, CClient, loadCBinding } from './c-binding.js';

const [hosts, workerArg, seedArg, keysArg] = process.argv.slice(2);
const loaded = loadCBinding();
if ('missing' in loaded) throw new Error(loaded.missing);
const c = loaded.binding.constants;
const worker = Number(workerArg);
const prng = new Prng(Number(seedArg) * 31 + worker);
const keys = keysArg!.split(',');
const now = () => performance.timeOrigin + performance.now();
// The reports go to file descriptor 3, a pipe of their own: the binding prints its log
// lines on stdout from C, whole or in pieces, which would cut a report in two. A socket
// over it queues what the pipe cannot take at once, in order.
const reports = new Socket({ fd: 3, readable: false, writable: true });
const print = (line: unknown) => reports.write(`${JSON.stringify(line)}\n`);

let stopping = false;
createInterface({ input: process.stdin }).on('close', () => (stopping = true));

const s = await CClient.connect(loaded.binding, hosts!, 10_000);
const made = await s.create(`/alive-${worker}`, s.sessionHex, c.ZOO_EPHEMERAL);
if (made.rc !== c.ZOK) throw new Error(`the ephemeral node of worker ${worker}: answer ${made.rc}`);
print({ session: s.sessionHex, ephemeral: made.value });

/** What an answer code means for the history: a model's error, or an answer that never came. */
const outcomeOf = (rc: number, ok: () => ZnodeOutput): ZnodeOutput | 'info' => {
  if (rc === c.ZOK) return ok();
  if (rc === c.ZNONODE) return { type: 'noNode' };
  if (rc === c.ZNODEEXISTS) return { type: 'nodeExists' };
  if (rc === c.ZBADVERSION) return { type: 'badVersion' };
  if (rc !== c.ZCONNECTIONLOSS && rc !== c.ZOPERATIONTIMEOUT) print({ unexpected: rc, at: now() });
  return 'info';
};

const versions = new Map<string, number>();
let n = 0;
while (!stopping) {
  const key = keys[prng.int(keys.length)]!;
  const pick = prng.int(10);
  const id = n++;
  let input: ZnodeInput;
  let output: ZnodeOutput | 'info';
  if (pick < 4) {
    input = { op: 'getData' };
    print({ invoke: { id, key, input, invokedAt: now() } });
    const synced = await s.sync(key);
    const got: Answer<{ stat: { version: number }; data: string }> = synced.rc === c.ZOK ? await s.get(key) : { rc: synced.rc };
    output = outcomeOf(got.rc, () => ({ type: 'data', data: got.value!.data, version: got.value!.stat.version }));
    if (got.rc === c.ZOK) versions.set(key, got.value!.stat.version);
  } else if (pick < 8) {
    const version = prng.int(4) === 0 ? -1 : (versions.get(key) ?? 0);
    input = { op: 'setData', data: `w${worker}-${id}`, version };
    print({ invoke: { id, key, input, invokedAt: now() } });
    const set = await s.set(key, input.data, version);
    output = outcomeOf(set.rc, () => ({ type: 'set', version: set.value!.version }));
    if (set.rc === c.ZOK) versions.set(key, set.value!.version);
  } else if (pick < 9) {
    input = { op: 'create', data: `c${worker}-${id}` };
    print({ invoke: { id, key, input, invokedAt: now() } });
    const created = await s.create(key, input.data, c.ZOO_PERSISTENT);
    output = outcomeOf(created.rc, () => ({ type: 'created' }));
  } else {
    const version = versions.get(key) ?? 0;
    input = { op: 'delete', version };
    print({ invoke: { id, key, input, invokedAt: now() } });
    const deleted = await s.delete(key, version);
    output = outcomeOf(deleted.rc, () => ({ type: 'deleted' }));
  }
  print({ complete: { id, completedAt: now(), output } });
  if (output === 'info') await new Promise((r) => setTimeout(r, 50));
}
// The session stays open (its ephemeral node with it) until the parent, having checked
// it, ends this process.
print({ done: true });
