/** Types for parse-prometheus-text-format 1.1.1, which ships none: what its parser returns. */
declare module 'parse-prometheus-text-format' {
  /** One sample of a counter, gauge or untyped family; of a histogram (unlabelled), `buckets` by `le`, `count` and `sum`. */
  export interface ParsedSample {
    readonly value?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly buckets?: Readonly<Record<string, string>>;
    readonly count?: string;
    readonly sum?: string;
    readonly timestamp_ms?: string;
  }
  export interface ParsedFamily {
    readonly name: string;
    readonly help: string;
    readonly type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
    readonly metrics: readonly ParsedSample[];
  }
  /** Parses Prometheus text exposition format 0.0.4; throws InvalidLineError on a line it cannot read. */
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[];
}
