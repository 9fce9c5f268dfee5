/**
 * When to dial a peer again after a failed dial or a lost connection: exponential
 * backoff from `delayMsMin` to `delayMsMax`, each delay jittered down by up to half so
 * that nodes restarted together do not dial in lockstep.
 */
export class RedialBackoff {
  private failures = 0;

  constructor(
    private readonly delayMsMin: number,
    private readonly delayMsMax: number,
    private readonly random: () => number,
  ) {}

  /** The delay before the next dial, in ms; each call counts one more failure. */
  next(): number {
    const ceiling = Math.min(this.delayMsMax, this.delayMsMin * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return ceiling / 2 + (this.random() * ceiling) / 2;
  }

  /** A connection succeeded: the next failure starts again from `delayMsMin`. */
  reset(): void {
    this.failures = 0;
  }
}
