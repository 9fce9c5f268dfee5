/** What a nemesis run did and when, in seconds since it began: printed at the end, and the message of a failed check. */
export class Timeline {
  private readonly lines: string[] = [];
  private readonly t0 = performance.now();

  /** Adds `line`, stamped with the time since the run began. */
  readonly note = (line: string): void => {
    this.lines.push(`t=${((performance.now() - this.t0) / 1000).toFixed(1)}s ${line}`);
  };

  /** Every line so far. */
  text(): string {
    return this.lines.join('\n');
  }
}
