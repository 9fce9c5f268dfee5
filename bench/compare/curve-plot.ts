/** One cost curve drawn headless to SVG: a line per system, either axis logarithmic. */
import { writeFile } from 'node:fs/promises';
import { asSpec, svg, systemColors } from './plot.js';

/** A point of a curve: `series` is the line it belongs to (a system's name). */
export interface CurveRow {
  readonly series: string;
  readonly x: number;
  readonly y: number;
}

/** Writes the figure of `rows` to `path`. */
export async function curveFigure(
  path: string,
  title: { readonly title: string; readonly subtitle: string },
  rows: readonly CurveRow[],
  x: { readonly title: string; readonly log: boolean },
  y: { readonly title: string; readonly log: boolean },
): Promise<void> {
  const axis = (field: string, a: { title: string; log: boolean }) => ({
    field,
    type: 'quantitative',
    title: a.title,
    scale: a.log ? { type: 'log' } : { zero: false },
  });
  const spec = asSpec({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title.title, subtitle: title.subtitle },
    width: 420,
    height: 260,
    data: { values: rows.filter((r) => Number.isFinite(r.y) && (!y.log || r.y > 0)) as object[] },
    mark: { type: 'line', point: true },
    encoding: { x: axis('x', x), y: axis('y', y), color: { field: 'series', type: 'nominal', title: 'system', scale: systemColors } },
  });
  await writeFile(path, await svg(spec));
}
