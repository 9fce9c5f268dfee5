/**
 * The simulator's trace: one line per event, `t=TICK node: what happened`. Keeps the
 * last `limit` lines (a failure shows the end of the story) and can stream them too.
 */
export class Trace {
  private lines: string[] = [];

  constructor(
    private readonly limit: number,
    private readonly sink?: (line: string) => void,
  ) {}

  add(now: number, who: string, what: string): void {
    const line = `t=${String(now).padStart(5)} ${who.padEnd(6)} ${what}`;
    this.sink?.(line);
    this.lines.push(line);
    if (this.lines.length > 2 * this.limit) this.lines = this.lines.slice(-this.limit);
  }

  /** The last lines kept, oldest first. */
  tail(count = this.limit): string[] {
    return this.lines.slice(-count);
  }
}
