/**
 * What a benchmark's concurrent loops share: whether to stop, whether the measured
 * window is open, operations completed in it, and a uniform sample of their latencies
 * (reservoir sampling, bounded memory).
 */
export class Window {
  stopped = false;
  measuring = false;
  /** Operations completed while measuring. */
  completed = 0;
  /** Operations the reservoir has been offered. */
  private offered = 0;
  private readonly latencies: Float64Array;

  constructor(readonly samplesMax = 1 << 16) {
    this.latencies = new Float64Array(samplesMax);
  }

  record(ms: number): void {
    if (!this.measuring) return;
    this.completed++;
    const n = this.offered++;
    if (n < this.samplesMax) this.latencies[n] = ms;
    else {
      const j = Math.floor(Math.random() * (n + 1));
      if (j < this.samplesMax) this.latencies[j] = ms;
    }
  }

  /** The `q` quantile of the sampled latencies, in ms. */
  quantile(q: number): number {
    const n = Math.min(this.offered, this.samplesMax);
    if (n === 0) return Number.NaN;
    const sorted = this.latencies.slice(0, n).sort();
    return sorted[Math.min(n - 1, Math.floor(q * n))]!;
  }
}
