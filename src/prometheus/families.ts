/**
 * The machinery every `register*Metrics` helper shares: metric families declared as
 * readers of one snapshot (`node.metrics()`, `server.metrics()`, ...), registered as
 * prom-client counters and gauges whose `collect()` sets them from that snapshot at
 * scrape time. Nothing is counted twice: the snapshot is the source, the registry a view.
 */
import { Counter, Gauge, type Registry, type RegistryContentType } from 'prom-client';
import { SnapshotHistogram, type HistogramReading } from './snapshot-histogram.js';

/** Labels of one series. */
export type Labels = Readonly<Record<string, string>>;

/** Options every `register*Metrics` helper takes. */
export interface RegisterOptions {
  /** Put before every metric name. Default `'synod_'`. */
  readonly prefix?: string;
  /**
   * Labels added to every series, e.g. `{ node: 'a' }`. Default none. A registry holds
   * one family per name: to export two nodes from one process, give each its own
   * registry, or its own `prefix`.
   */
  readonly labels?: Labels;
}

/** What a helper returns: take its metrics out of the registry again. */
export interface Registered {
  /** Removes every metric the helper added. */
  unregister(): void;
}

/** One series' value: a number, or a number per label set. */
type Reading = number | readonly (readonly [Labels, number])[];

/** One metric family read from a snapshot `S`; the name is without the prefix. @internal */
export type Family<S> =
  | {
      readonly kind: 'counter' | 'gauge';
      readonly name: string;
      readonly help: string;
      readonly labelNames?: readonly string[];
      readonly read: (s: S) => Reading;
    }
  | { readonly kind: 'histogram'; readonly name: string; readonly help: string; readonly read: (s: S) => HistogramReading };

/** Every metric name Prometheus accepts. */
const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Registers `families` in `registry`, read from `take()` at each scrape. `take()` is
 * called once per scrape however many families read it (the reading is kept until the
 * scrape's synchronous collection is over); when it returns undefined (the source has
 * not started), the families show no series.
 * @internal
 */
export function registerFamilies<S>(
  registry: Registry<RegistryContentType>,
  families: readonly Family<S>[],
  take: () => S | undefined,
  options: RegisterOptions = {},
): Registered {
  const prefix = options.prefix ?? 'synod_';
  const fixed = options.labels ?? {};
  const fixedNames = Object.keys(fixed);
  let cached: { value: S | undefined } | undefined;
  const snapshot = (): S | undefined => {
    if (cached === undefined) {
      cached = { value: take() };
      queueMicrotask(() => (cached = undefined));
    }
    return cached.value;
  };
  const names: string[] = [];
  try {
    for (const family of families) {
      const name = `${prefix}${family.name}`;
      if (!metricName.test(name)) throw new TypeError(`synod/prometheus: ${JSON.stringify(name)} is not a metric name`);
      if (registry.getSingleMetric(name) !== undefined)
        throw new Error(
          `synod/prometheus: the registry has a metric named ${name} already (register each source once per registry, or give it another prefix)`,
        );
      const clash = fixedNames.find((l) => l === 'le' || (family.kind !== 'histogram' && family.labelNames?.includes(l)));
      if (clash !== undefined) throw new TypeError(`synod/prometheus: the label ${clash} is ${name}'s own; name the added label otherwise`);
      if (family.kind === 'histogram') {
        registry.registerMetric(
          new SnapshotHistogram(name, family.help, fixed, () => {
            const s = snapshot();
            return s === undefined ? undefined : family.read(s);
          }) as never,
        );
        names.push(name);
        continue;
      }
      const labelNames = [...fixedNames, ...(family.labelNames ?? [])];
      const set = (metric: { reset(): void; remove(labels: Labels): void }, write: (labels: Labels, value: number) => void): void => {
        metric.reset();
        // A reset unlabelled metric holds a 0: a reading that has nothing (its source has not started) shows no series instead.
        if (labelNames.length === 0) metric.remove({});
        const s = snapshot();
        if (s === undefined) return;
        const reading = family.read(s);
        if (typeof reading === 'number') write(fixed, reading);
        else for (const [labels, value] of reading) write({ ...fixed, ...labels }, value);
      };
      if (family.kind === 'counter') {
        new Counter({
          name,
          help: family.help,
          labelNames,
          registers: [registry],
          collect(this: Counter) {
            set(this, (labels, value) => this.inc(labels, value));
          },
        });
      } else {
        new Gauge({
          name,
          help: family.help,
          labelNames,
          registers: [registry],
          collect(this: Gauge) {
            set(this, (labels, value) => this.set(labels, value));
          },
        });
      }
      names.push(name);
    }
  } catch (error) {
    for (const name of names) registry.removeSingleMetric(name);
    throw error;
  }
  return {
    unregister: () => {
      for (const name of names) registry.removeSingleMetric(name);
    },
  };
}

/** One series per `values` entry, labelled `label`: a gauge of 1 for the one that holds and 0 for the rest. @internal */
export function oneOf(label: string, values: readonly string[], current: string | undefined): readonly (readonly [Labels, number])[] {
  return values.map((v) => [{ [label]: v }, v === current ? 1 : 0] as const);
}
