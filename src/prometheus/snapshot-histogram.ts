/**
 * A Prometheus histogram whose buckets are read from a snapshot at scrape time (the
 * runtime's fixed-bucket latency histograms), not observed into prom-client: the node
 * keeps the only copy of the counts.
 */
import type { LatencyHistogram } from '../runtime/metrics.js';

/** A histogram in milliseconds, as the runtime keeps it; undefined when there is none yet. @internal */
export type HistogramReading = LatencyHistogram | undefined;

/** Milliseconds as seconds, without the float noise of a bare division (0.25 / 1000 stays 0.00025). */
function seconds(ms: number): number {
  return Number((ms / 1000).toPrecision(12));
}

/**
 * The part of prom-client's metric contract a registry uses: `name`, `help`, `type`,
 * `aggregator`, `get()` (what `registry.metrics()` and `getMetricsAsJSON()` read) and
 * `reset()`. Registered with `registry.registerMetric`.
 * @internal
 */
export class SnapshotHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames: readonly string[];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labels: Readonly<Record<string, string>>,
    private readonly read: () => HistogramReading,
  ) {
    this.labelNames = Object.keys(labels);
  }

  /** Buckets in seconds, cumulative, with `le="+Inf"`, then `_sum` (seconds) and `_count`. */
  async get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: { labels: Record<string, string | number>; value: number; metricName: string }[];
  }> {
    const h = this.read();
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    if (h !== undefined) {
      let cumulative = 0;
      h.bucketsMs.forEach((boundMs, i) => {
        cumulative += h.counts[i] ?? 0;
        values.push({ labels: { ...this.labels, le: seconds(boundMs) }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...this.labels, le: '+Inf' }, value: h.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...this.labels }, value: h.sumMs / 1000, metricName: `${this.name}_sum` });
      values.push({ labels: { ...this.labels }, value: h.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Nothing to reset: the counts belong to the snapshot's source. */
  reset(): void {}
}
