/**
 * Long work cut into steps: a generator that yields where the caller may let other work
 * run. The same steps run at once (a command-line tool, a test) or with a pause between
 * them (a node, whose event loop must not be held for long).
 */

/** Work that yields between steps and returns `T`. @internal */
export type Steps<T> = Generator<void, T, void>;

/** Runs `steps` to the end without pausing. @internal */
export function runAtOnce<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done === true) return next.value;
  }
}

/** Runs `steps` to the end, awaiting `pause()` between two steps. @internal */
export async function runInSteps<T>(steps: Steps<T>, pause: () => Promise<void>): Promise<T> {
  for (;;) {
    const next = steps.next();
    if (next.done === true) return next.value;
    await pause();
  }
}
