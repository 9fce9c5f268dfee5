/**
 * Ending the `synod` process without losing output. `process.exit` drops what a pipe
 * has not taken yet (a reader that starts late, like `synod get big | (sleep 1; wc -c)`,
 * got the first 64 KiB only), so the exit waits until stdout and stderr hold nothing.
 */

/** Resolves once everything written to `stream` so far has been handed to the OS (at once if it is closed). */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || stream.writableEnded) return Promise.resolve();
  // A write's callback runs after every earlier write went out, in order.
  return new Promise((resolve) => {
    stream.once('error', () => resolve());
    stream.write('', () => resolve());
  });
}

/** Exits with `code` once stdout and stderr are flushed. */
export async function exitFlushed(code: number): Promise<never> {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}
