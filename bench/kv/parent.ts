/**
 * A KV benchmark child's side of its IPC channel (see `child.ts`): say `ready` once,
 * answer each request `{ id, op, ... }` with `{ id, result }` or `{ id, error }`, and
 * wind down and exit once the channel closes (the benchmark closed it, or died).
 */

/** A request from the benchmark: `op` names the handler; the rest is its body. */
export interface Request {
  readonly id: number;
  readonly op: string;
  readonly [field: string]: unknown;
}

export type Handlers = Readonly<Record<string, (request: Request) => unknown>>;

/**
 * Answers the benchmark's requests with `handlers`; runs `windDown` and exits once the
 * channel closes. Run only in a process spawned with an IPC channel.
 */
export function answerParent(handlers: Handlers, windDown: () => Promise<void>): void {
  if (process.send === undefined) throw new Error(`${process.argv[1]}: run by bench/kv/run.ts, with an IPC channel`);
  const reply = (message: object): void => {
    if (process.connected) process.send!(message);
  };
  process.on('message', (request: Request) => {
    const handler = handlers[request.op];
    if (handler === undefined) return reply({ id: request.id, error: `unknown request ${request.op}` });
    Promise.resolve()
      .then(() => handler(request))
      .then(
        (result) => reply({ id: request.id, result: result ?? null }),
        (error: unknown) => reply({ id: request.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
  });
  process.once('disconnect', () => {
    void windDown()
      .catch((error: unknown) => process.stderr.write(`${String(error)}\n`))
      .finally(() => process.exit(0));
  });
}

/** Tells the benchmark this child is ready, with `info`. */
export function tellReady(info: object): void {
  process.send?.({ ready: info });
}
