/**
 * The comparison's figures, drawn headless with Vega-Lite compiled to Vega and rendered
 * to SVG (no browser, no canvas): throughput against clients, p50 and p99 latency
 * against clients, and server CPU per operation; one line per system, one panel per
 * value size. Run on its own to redraw from a results file:
 *
 *   npx tsx bench/compare/plot.ts bench/compare/results/compare.json
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { PointSummary } from './summary.js';

/** The files {@link drawFigures} writes, by figure. */
export const figureFiles = { throughput: 'throughput.svg', latency: 'latency.svg', cpu: 'cpu-per-op.svg' } as const;

/** The same colour for each system in every figure. */
export const systemColors = { domain: ['synod', 'etcd', 'zookeeper'], range: ['#d62728', '#1f77b4', '#2ca02c'] };
const clientsAxis = {
  field: 'clients',
  type: 'quantitative',
  scale: { type: 'log', base: 2 },
  axis: { values: [1, 4, 16, 64, 256, 1024], title: 'closed-loop clients' },
} as const;
const sizeFacet = { field: 'size', type: 'nominal', title: null, sort: { field: 'valueBytes' } } as const;

function lines(
  title: string,
  rows: readonly object[],
  y: object,
  extra: Record<string, unknown> = {},
  facet: Record<string, unknown> = { column: sizeFacet },
): TopLevelSpec {
  return asSpec({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: rows as object[] },
    facet,
    spec: {
      width: 260,
      height: 200,
      mark: { type: 'line', point: true },
      encoding: { x: clientsAxis, y, color: { field: 'system', type: 'nominal', scale: systemColors }, ...extra },
    },
  });
}

/** A spec written as plain JSON: Vega-Lite's own types are too fine-grained to build one from parts; compile() checks it. */
export function asSpec(json: object): TopLevelSpec {
  return json as unknown as TopLevelSpec;
}

/** Renders `spec` to SVG text, headless. */
export async function svg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const text = await view.toSVG();
  view.finalize();
  return text;
}

/** Draws the three figures of `summary` into `dir`; `caption` goes under each title. */
export async function drawFigures(summary: readonly PointSummary[], dir: string, caption: string): Promise<void> {
  const size = (bytes: number) => (bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KiB values` : `${bytes} B values`);
  const rows = summary.map((s) => ({ ...s, size: size(s.valueBytes) }));
  const latencyRows = summary.flatMap((s) => [
    { system: s.system, clients: s.clients, valueBytes: s.valueBytes, size: size(s.valueBytes), op: 'CAS', quantile: 'p50', ms: s.casP50Ms },
    { system: s.system, clients: s.clients, valueBytes: s.valueBytes, size: size(s.valueBytes), op: 'CAS', quantile: 'p99', ms: s.casP99Ms },
    { system: s.system, clients: s.clients, valueBytes: s.valueBytes, size: size(s.valueBytes), op: 'linearizable get', quantile: 'p50', ms: s.getP50Ms },
    { system: s.system, clients: s.clients, valueBytes: s.valueBytes, size: size(s.valueBytes), op: 'linearizable get', quantile: 'p99', ms: s.getP99Ms },
  ]);
  const titled = (t: string) => ({ text: t, subtitle: caption });
  const specs: Record<keyof typeof figureFiles, TopLevelSpec> = {
    throughput: lines('', rows, { field: 'opsPerSecond', type: 'quantitative', title: 'operations/s (CAS + get), median of passes' }),
    latency: lines(
      '',
      latencyRows,
      { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'latency, ms (log)' },
      {
        strokeDash: {
          field: 'quantile',
          type: 'nominal',
          title: 'quantile',
          legend: { symbolType: 'stroke', symbolStrokeWidth: 2, encode: { symbols: { update: { stroke: { value: '#444' } } } } },
        },
      },
      { column: sizeFacet, row: { field: 'op', type: 'nominal', title: null } },
    ),
    cpu: lines('', rows, { field: 'serverCpuPerOpUs', type: 'quantitative', title: 'server CPU per operation, µs (3 servers)' }),
  };
  const titles = { throughput: 'Throughput against clients', latency: 'Latency (p50 solid, p99 dashed) against clients', cpu: 'Server CPU per operation' };
  for (const figure of Object.keys(figureFiles) as (keyof typeof figureFiles)[]) {
    const spec = asSpec({ ...specs[figure], title: titled(titles[figure]) });
    await writeFile(join(dir, figureFiles[figure]), await svg(spec));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = process.argv[2];
  if (path === undefined) throw new Error('usage: tsx bench/compare/plot.ts RESULTS.json');
  const results = JSON.parse(await readFile(path, 'utf8')) as { summary: PointSummary[]; caption: string };
  await drawFigures(results.summary, dirname(path), results.caption);
  console.log(`drew ${Object.values(figureFiles).join(', ')} in ${dirname(path)}`);
}
