/**
 * A picture of a checked history, as one self-contained HTML file: each key a panel,
 * each client a line, each operation a bar over its real-time interval; for a failing
 * key, the partial linearization that got furthest (numbered in its order), the
 * operation no linearization gets past, and the window around it.
 */
import { ConfigError } from '../../core/index.js';
import type { LinearizabilityVerdict } from './check-linearizability.js';
import { describeOperation, describeValue } from './explanation.js';
import type { History, Operation } from './history.js';

const laneHeight = 26;
const widthPx = 1200;
const marginPx = 90;

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The role of an operation in the picture, which sets its colour. */
type Role = 'linearized' | 'stuck' | 'window' | 'other' | 'info';

function panel<I, O>(key: string, operations: readonly Operation<I, O>[], roles: Map<Operation<I, O>, Role>, order: Map<Operation<I, O>, number>): string {
  // Times by rank, so long idle gaps take no room (Porcupine draws the same way).
  const times = [
    ...new Set(operations.flatMap((o) => (o.completedAt === undefined || o.outcome === 'info' ? [o.invokedAt] : [o.invokedAt, o.completedAt]))),
  ].sort((a, b) => a - b);
  const rank = new Map(times.map((t, i) => [t, i]));
  const scale = (widthPx - marginPx - 20) / Math.max(1, times.length);
  const x = (t: number) => marginPx + rank.get(t)! * scale;
  const clients = [...new Set(operations.map((o) => o.client))].sort();
  const lane = new Map(clients.map((c, i) => [c, i]));
  const bars = operations.map((o) => {
    const role = roles.get(o) ?? (o.outcome === 'info' ? 'info' : 'other');
    const x0 = x(o.invokedAt);
    const x1 = o.outcome === 'info' ? widthPx - 10 : Math.max(x0 + 4, x(o.completedAt!) + scale * 0.8);
    const y = 24 + lane.get(o.client)! * laneHeight;
    const n = order.get(o);
    const label = n === undefined ? '' : `<text x="${x0 + 3}" y="${y + 15}" class="n">${n}</text>`;
    return `<g class="op ${role}"><title>${escape(describeOperation(o))}</title><rect x="${x0}" y="${y}" width="${x1 - x0}" height="${laneHeight - 6}" rx="3"/>${label}</g>`;
  });
  const names = clients.map((c, i) => `<text x="4" y="${24 + i * laneHeight + 15}" class="client">${escape(c)}</text>`);
  const height = 30 + clients.length * laneHeight;
  return `<section><h2>key ${escape(key)} <small>(${operations.length} operations)</small></h2><svg width="${widthPx}" height="${height}" xmlns="http://www.w3.org/2000/svg">${names.join('')}${bars.join('')}</svg></section>`;
}

/**
 * The HTML picture of `history` and its verdict; a string, for any environment.
 *
 * @example
 * ```ts
 * const html = renderLinearizabilityHtml(history, checkLinearizability(history, versionedKvModel));
 * ```
 */
export function renderLinearizabilityHtml<I, O, S>(history: History<I, O>, verdict: LinearizabilityVerdict<I, O, S>): string {
  const byKey = new Map<string, Operation<I, O>[]>();
  for (const operation of history) {
    if (operation.outcome === 'fail') continue;
    const list = byKey.get(operation.key);
    if (list === undefined) byKey.set(operation.key, [operation]);
    else list.push(operation);
  }
  const roles = new Map<Operation<I, O>, Role>();
  const order = new Map<Operation<I, O>, number>();
  let summary = `<p class="verdict ok">linearizable</p>`;
  const keys = [...byKey.keys()];
  if (verdict.result === 'not-linearizable') {
    const { explanation } = verdict;
    explanation.linearized.forEach((o, i) => {
      roles.set(o, 'linearized');
      order.set(o, i + 1);
    });
    for (const o of explanation.window) roles.set(o, 'window');
    roles.set(explanation.stuck, 'stuck');
    summary = `<p class="verdict bad">not linearizable: key ${escape(verdict.key)}</p><pre>${escape(explanation.text)}</pre>`;
    // The failing key first.
    keys.sort((a, b) => Number(b === verdict.key) - Number(a === verdict.key));
  } else if (verdict.result === 'unknown') {
    summary = `<p class="verdict unknown">unknown: ${escape(verdict.detail)}</p>`;
  }
  const legend =
    '<p class="legend"><span class="linearized">linearized, in order</span> <span class="stuck">no linearization gets past its completion</span> <span class="window">pending there</span> <span class="other">ok</span> <span class="info">info (outcome unknown)</span></p>';
  const panels = keys.map((key) => panel(key, byKey.get(key)!, roles, order));
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>synod linearizability: ${escape(verdict.result)}</title>
<style>
body { font: 13px system-ui, sans-serif; margin: 16px; color: #222; }
h2 { font-size: 14px; margin: 14px 0 4px; } small { color: #777; font-weight: normal; }
pre { background: #f6f6f6; padding: 8px; white-space: pre-wrap; }
.verdict { font-size: 16px; font-weight: bold; } .verdict.ok { color: #1a7f37; } .verdict.bad { color: #c62828; } .verdict.unknown { color: #9a6700; }
.op rect { stroke: #555; stroke-width: 1; } .op:hover rect { stroke-width: 2.5; }
.linearized rect { fill: #8fd19e; } .stuck rect { fill: #f28b82; stroke: #c62828; stroke-width: 2; } .window rect { fill: #fdd663; }
.other rect { fill: #dde3ea; } .info rect { fill: #f3f3f3; stroke-dasharray: 4 3; }
.n { font-size: 11px; fill: #111; } .client { font-size: 12px; fill: #333; }
.legend span { padding: 2px 6px; margin-right: 6px; border: 1px solid #555; border-radius: 3px; }
.legend .linearized { background: #8fd19e; } .legend .stuck { background: #f28b82; } .legend .window { background: #fdd663; } .legend .other { background: #dde3ea; } .legend .info { background: #f3f3f3; border-style: dashed; }
</style></head><body>
<h1>synod linearizability check</h1>
${summary}
${legend}
${panels.join('\n')}
<script type="application/json" id="verdict">${escape(describeValue({ result: verdict.result, keys: keys.length, operations: history.length }))}</script>
</body></html>
`;
}

/** The part of `node:fs` the picture needs. */
interface WriteFile {
  writeFileSync(path: string, data: string): void;
}

/**
 * Writes {@link renderLinearizabilityHtml} to `path`. Node only (20.16 or later,
 * which has `process.getBuiltinModule`); the testing kit imports no Node module
 * itself, so it still loads in a browser. Throws {@link ConfigError} elsewhere.
 * @internal
 */
export function writeVisualization<I, O, S>(path: string, history: History<I, O>, verdict: LinearizabilityVerdict<I, O, S>): void {
  const getBuiltin = (globalThis as { process?: { getBuiltinModule?: (name: string) => unknown } }).process?.getBuiltinModule;
  if (getBuiltin === undefined) throw new ConfigError('checkLinearizability', 'visualize', 'writes a file, which needs Node 20.16 or later');
  (getBuiltin('node:fs') as WriteFile).writeFileSync(path, renderLinearizabilityHtml(history, verdict));
}
