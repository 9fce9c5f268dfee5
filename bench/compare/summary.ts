/** The passes of each point folded into one row: the median of each figure, and the spread of throughput. */
import type { PointResult } from './point.js';
import type { SystemName } from './system.js';

/** One point over all its passes. */
export interface PointSummary {
  readonly system: SystemName;
  readonly clients: number;
  readonly valueBytes: number;
  readonly passes: number;
  /** Medians over the passes. */
  readonly opsPerSecond: number;
  readonly casP50Ms: number;
  readonly casP99Ms: number;
  readonly getP50Ms: number;
  readonly getP99Ms: number;
  readonly serverCpuPerOpUs: number;
  /** The lowest and highest pass's throughput. */
  readonly opsPerSecondMin: number;
  readonly opsPerSecondMax: number;
  /** The highest steal and other load any pass saw, in % of all cores. */
  readonly stealPercentMax: number;
  readonly otherPercentMax: number;
  /** Summed over the passes: none of the last two is expected. */
  readonly errors: number;
  readonly conflicts: number;
  readonly staleReads: number;
}

/** The median of `values` (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** One summary per (system, value size, clients), in the order first seen. */
export function summarize(points: readonly PointResult[]): PointSummary[] {
  const groups = new Map<string, PointResult[]>();
  for (const p of points) {
    const key = `${p.system}/${p.valueBytes}/${p.clients}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  return [...groups.values()].map((group) => {
    const first = group[0]!;
    const of = (f: (p: PointResult) => number) => group.map(f);
    const sum = (f: (p: PointResult) => number) => of(f).reduce((a, b) => a + b, 0);
    return {
      system: first.system,
      clients: first.clients,
      valueBytes: first.valueBytes,
      passes: group.length,
      opsPerSecond: median(of((p) => p.opsPerSecond)),
      casP50Ms: median(of((p) => p.cas.p50Ms)),
      casP99Ms: median(of((p) => p.cas.p99Ms)),
      getP50Ms: median(of((p) => p.get.p50Ms)),
      getP99Ms: median(of((p) => p.get.p99Ms)),
      serverCpuPerOpUs: median(of((p) => p.serverCpuPerOpUs)),
      opsPerSecondMin: Math.min(...of((p) => p.opsPerSecond)),
      opsPerSecondMax: Math.max(...of((p) => p.opsPerSecond)),
      stealPercentMax: Math.max(...of((p) => p.machine.stealPercent)),
      otherPercentMax: Math.max(...of((p) => p.machine.otherPercent)),
      errors: sum((p) => p.errors),
      conflicts: sum((p) => p.conflicts),
      staleReads: sum((p) => p.staleReads),
    };
  });
}
