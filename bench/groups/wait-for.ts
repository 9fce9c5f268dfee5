/** Polls `probe` every `everyMs` until it gives a value; throws, naming `what`, after `ms`. */
export async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined>, everyMs = 100): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`bench/groups: ${what} not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
