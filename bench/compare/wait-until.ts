/** Retries `attempt` every 200 ms until it resolves, for at most `ms` ms; then rejects with what it last threw and `what`. */
export async function waitUntil<T>(what: string, ms: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`, { cause: error });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
