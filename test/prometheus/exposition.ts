/**
 * Reading a `/metrics` answer as Prometheus would: parse-prometheus-text-format (a port
 * of Prometheus's own text parser; it throws on a line it cannot read), then the rules
 * it does not check itself: one family per name, each with HELP and a known TYPE,
 * every value a number, histogram buckets cumulative and ending at `+Inf` equal to
 * `_count`. The parser merges a labelled histogram's series and drops their sums and
 * counts (prom-client's `nodejs_gc_duration_seconds` has a `kind`): those are checked
 * on the text itself, series by series.
 */
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { expect } from 'vitest';

const number = /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]?Inf|NaN)$/;

function numeric(text: string | undefined, where: string): number {
  expect(text, `${where} has no value`).toBeDefined();
  expect(text!, `${where}: ${text} is not a number`).toMatch(number);
  return text!.endsWith('Inf') ? (text!.startsWith('-') ? -Infinity : Infinity) : Number(text);
}

/** The families of `text`, by name, checked. */
export function parseExposition(text: string): Map<string, ParsedFamily> {
  const families = parsePrometheusTextFormat(text);
  const byName = new Map<string, ParsedFamily>();
  for (const f of families) {
    expect(byName.has(f.name), `family ${f.name} appears twice`).toBe(false);
    byName.set(f.name, f);
    expect(f.name).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
    expect(f.help.length, `${f.name} has no HELP`).toBeGreaterThan(0);
    expect(['COUNTER', 'GAUGE', 'HISTOGRAM'], `${f.name} has TYPE ${f.type}`).toContain(f.type);
    if (f.type === 'HISTOGRAM' && f.metrics.some((m) => m.count === undefined)) {
      checkLabelledHistogram(text, f.name);
      continue;
    }
    for (const sample of f.metrics) {
      if (f.type !== 'HISTOGRAM') {
        const v = numeric(sample.value, f.name);
        if (f.type === 'COUNTER') expect(v, `counter ${f.name} is negative`).toBeGreaterThanOrEqual(0);
        continue;
      }
      // The parser keys buckets by `le` in an object, whose integer-like keys come first: sort them back.
      const bounds = Object.keys(sample.buckets ?? {}).map((le) => [le, numeric(le, `${f.name} le`)] as const);
      bounds.sort((a, b) => a[1] - b[1]);
      expect(bounds.at(-1)?.[0], `${f.name}'s last bucket`).toBe('+Inf');
      let previous = 0;
      for (const [le] of bounds) {
        const count = numeric(sample.buckets![le], `${f.name}{le="${le}"}`);
        expect(count, `${f.name}: buckets are cumulative`).toBeGreaterThanOrEqual(previous);
        previous = count;
      }
      expect(numeric(sample.count, `${f.name}_count`)).toBe(previous);
      expect(numeric(sample.sum, `${f.name}_sum`)).toBeGreaterThanOrEqual(0);
    }
  }
  return byName;
}

/**
 * A labelled histogram, read from the text: for each series (its labels but `le`), the
 * buckets cumulative in the order written, the last `+Inf` and equal to `_count`, and a
 * `_sum`.
 */
function checkLabelledHistogram(text: string, name: string): void {
  const series = new Map<string, { buckets: [string, number][]; count?: number; sum?: number }>();
  const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\} (\S+)$/;
  for (const row of text.split('\n')) {
    const m = line.exec(row);
    if (m === null || !m[1]!.startsWith(name)) continue;
    const suffix = m[1]!.slice(name.length);
    const labels = m[2]!.split(',').filter((l) => !l.startsWith('le='));
    const le = /le="([^"]*)"/.exec(m[2]!)?.[1];
    const key = labels.sort().join(',');
    const s = series.get(key) ?? { buckets: [] };
    series.set(key, s);
    const value = numeric(m[3], `${m[1]}{${m[2]}}`);
    if (suffix === '_bucket' && le !== undefined) s.buckets.push([le, value]);
    else if (suffix === '_count') s.count = value;
    else if (suffix === '_sum') s.sum = value;
  }
  expect(series.size, `${name}: no labelled series found in the text`).toBeGreaterThan(0);
  for (const [key, s] of series) {
    let previous = 0;
    for (const [le, count] of s.buckets) {
      expect(count, `${name}{${key}} le=${le}: buckets are cumulative`).toBeGreaterThanOrEqual(previous);
      previous = count;
    }
    expect(s.buckets.at(-1)?.[0], `${name}{${key}}'s last bucket`).toBe('+Inf');
    expect(s.count, `${name}{${key}}_count`).toBe(previous);
    expect(s.sum, `${name}{${key}}_sum`).toBeGreaterThanOrEqual(0);
  }
}

/** The value of the sample of `name` whose labels include `labels` (exactly one must). */
export function sampleValue(families: Map<string, ParsedFamily>, name: string, labels: Readonly<Record<string, string>> = {}): number {
  const f = families.get(name);
  expect(f, `no family ${name}`).toBeDefined();
  const matching = f!.metrics.filter((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  expect(matching, `${name}${JSON.stringify(labels)}: ${JSON.stringify(f!.metrics)}`).toHaveLength(1);
  return Number(matching[0]!.value);
}

/** A histogram's bucket bounds, ascending, as written (`le`). */
export function histogramBounds(families: Map<string, ParsedFamily>, name: string): string[] {
  const buckets = families.get(name)?.metrics[0]?.buckets ?? {};
  return Object.keys(buckets).sort((a, b) => numeric(a, name) - numeric(b, name));
}

/** A histogram family's (unlabelled) count. */
export function histogramCount(families: Map<string, ParsedFamily>, name: string): number {
  const f = families.get(name);
  expect(f?.type, `${name} is a histogram`).toBe('HISTOGRAM');
  return Number(f!.metrics[0]?.count ?? 0);
}
