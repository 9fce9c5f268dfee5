import { describe, expect, it } from 'vitest';
import { parseOptions } from '../../../bench/compare/options.js';
import { median, summarize } from '../../../bench/compare/summary.js';
import type { PointResult } from '../../../bench/compare/point.js';

describe('parseOptions', () => {
  it('defaults to the full matrix: 1 to 256 clients, 100 B and 4 KiB, 10 s windows, 3 passes, all three systems', () => {
    expect(parseOptions([], '/out')).toEqual({
      clients: [1, 4, 16, 64, 256],
      sizes: [100, 4096],
      seconds: 10,
      warmupSeconds: 3,
      passes: 3,
      systems: ['etcd', 'zookeeper', 'synod'],
      out: '/out',
    });
  });

  it('shortens everything from flags', () => {
    const o = parseOptions(['--clients', '1,16', '--seconds', '2', '--passes', '1', '--sizes', '100', '--systems', 'synod,etcd', '--warmup', '0.5'], '/out');
    expect(o).toMatchObject({ clients: [1, 16], sizes: [100], seconds: 2, passes: 1, systems: ['synod', 'etcd'], warmupSeconds: 0.5 });
  });

  it.each([
    [['--clients', '1,x']],
    [['--clients', '0']],
    [['--seconds', '-1']],
    [['--passes', '1.5']],
    [['--systems', 'consul']],
    [['--bogus', '1']],
    [['--clients']],
    [['--seconds', '1', '--seconds', '2']],
  ])('refuses %j with the usage', (argv) => {
    expect(() => parseOptions(argv, '/out')).toThrow(/usage:/);
  });
});

describe('summarize', () => {
  it('takes the median of odd and even counts and skips NaN', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([Number.NaN, 5])).toBe(5);
    expect(median([])).toBeNaN();
  });

  it('folds the passes of each (system, size, clients) and keeps the throughput spread', () => {
    const point = (system: 'etcd' | 'synod', pass: number, opsPerSecond: number): PointResult => ({
      system,
      pass,
      clients: 4,
      valueBytes: 100,
      seconds: 1,
      opsPerSecond,
      cas: { count: 1, p50Ms: pass, p99Ms: 10 * pass },
      get: { count: 1, p50Ms: 1, p99Ms: 2 },
      errors: 1,
      conflicts: 0,
      staleReads: 0,
      serverCpuPerOpUs: 100 * pass,
      machine: { cores: 2, stealPercent: pass, serversPercent: 1, harnessPercent: 1, idleClustersPercent: 1, otherPercent: 10 * pass },
    });
    const [etcd, synod] = summarize([point('etcd', 1, 10), point('synod', 1, 50), point('etcd', 2, 30), point('etcd', 3, 20)]);
    expect(etcd).toMatchObject({
      system: 'etcd',
      passes: 3,
      opsPerSecond: 20,
      opsPerSecondMin: 10,
      opsPerSecondMax: 30,
      casP50Ms: 2,
      casP99Ms: 20,
      serverCpuPerOpUs: 200,
      stealPercentMax: 3,
      otherPercentMax: 30,
      errors: 3,
    });
    expect(synod).toMatchObject({ system: 'synod', passes: 1, opsPerSecond: 50 });
  });
});
