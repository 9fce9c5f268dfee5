/**
 * The cluster as SVG: each member with its role, promised ballot, commit and apply
 * points; the links between them (working, cut one way, cut); the messages in flight,
 * placed along their link by virtual time; and, once the run stopped, why.
 */
import type { NodeId } from '../../src/core/index.js';
import type { Session } from './session.js';
import { type Point, height, inRange, rangePx, width } from './layout.js';
import { ballotLabel, messageClass, messageLabel } from './labels.js';

/** What the view needs besides the session. */
export interface ClusterViewState {
  readonly positions: ReadonlyMap<NodeId, Point>;
  readonly selected: NodeId | undefined;
  /** Virtual time the drawing shows (between ticks while playing). */
  readonly time: number;
  /** The member being dragged, whose range is drawn. */
  readonly dragging: NodeId | undefined;
}

const memberRadius = 36;

/** The SVG markup of the cluster. */
export function clusterSvg(session: Session, view: ClusterViewState): string {
  const sim = session.sim;
  const ids = sim.ids;
  const parts: string[] = [];
  parts.push(
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>`,
  );
  if (view.dragging !== undefined) {
    const p = view.positions.get(view.dragging)!;
    parts.push(`<circle class="range" cx="${p.x}" cy="${p.y}" r="${rangePx}"/>`);
  }
  // Links: one per pair, drawn by what the network lets through now.
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) {
      const a = ids[i]!;
      const b = ids[j]!;
      const pa = view.positions.get(a)!;
      const pb = view.positions.get(b)!;
      const ab = sim.network.connected(a, b);
      const ba = sim.network.connected(b, a);
      const state = ab && ba ? 'up' : !ab && !ba ? 'down' : 'oneway';
      const [from, to] = ab ? [pa, pb] : [pb, pa];
      const marker = state === 'oneway' ? ' marker-end="url(#arrow)"' : '';
      const far = !inRange(pa, pb) ? ' far' : '';
      parts.push(
        `<line class="link ${state}${far}" data-link="${a}|${b}" data-state="${state}" x1="${from.x}" y1="${from.y}" x2="${to.x}" y2="${to.y}"${marker}/>` +
          `<line class="link-hit" data-link="${a}|${b}" x1="${pa.x}" y1="${pa.y}" x2="${pb.x}" y2="${pb.y}"><title>${a} ↔ ${b}: click to cut one way, the other, both, or restore</title></line>`,
      );
    }
  }
  for (const id of ids) parts.push(memberSvg(session, id, view.positions.get(id)!, view.selected === id));
  // Messages in flight, offset to the right of their direction so replies do not cover
  // requests, and stacked when several travel the same link together (a pipeline).
  const stacked = new Map<string, number>();
  for (const f of sim.network.inFlight) {
    const pa = view.positions.get(f.message.from);
    const pb = view.positions.get(f.message.to);
    if (pa === undefined || pb === undefined) continue;
    const arrival = Math.max(f.deliverAt, f.sentAt + 1);
    const progress = Math.min(1, Math.max(0, (view.time - f.sentAt) / (arrival - f.sentAt)));
    const length = Math.hypot(pb.x - pa.x, pb.y - pa.y) || 1;
    const ux = (pb.x - pa.x) / length;
    const uy = (pb.y - pa.y) / length;
    const key = `${f.message.from}>${f.message.to}@${progress.toFixed(2)}`;
    const k = stacked.get(key) ?? 0;
    stacked.set(key, k + 1);
    const startGap = memberRadius / length;
    const t = startGap + (1 - 2 * startGap) * progress;
    const x = pa.x + (pb.x - pa.x) * t - uy * 10;
    const y = pa.y + (pb.y - pa.y) * t + ux * 10 + 18 * k;
    const label = messageLabel(f.message);
    const half = label.length * 3.1 + 4;
    // A small arrowhead at the label's leading edge says which way it travels.
    const tipX = ux * (half + 7);
    const tipY = uy * 15;
    const angle = (Math.atan2(uy, ux) * 180) / Math.PI;
    parts.push(
      `<g class="message ${messageClass(f.message)}" data-order="${f.order}" data-type="${f.message.type}" transform="translate(${x.toFixed(1)},${y.toFixed(1)})">` +
        `<rect x="${-half}" y="-8" width="${2 * half}" height="16" rx="4"/><text y="4">${escape(label)}</text>` +
        `<path class="heading" d="M-5,-4 L5,0 L-5,4 z" transform="translate(${tipX.toFixed(1)},${tipY.toFixed(1)}) rotate(${angle.toFixed(0)})"/>` +
        `<title>#${f.order} ${f.message.from} → ${f.message.to}, sent t=${f.sentAt}, due t=${arrival}</title></g>`,
    );
  }
  parts.push(`<text class="clock" x="16" y="28">t = ${sim.now}${sim.midTick ? ' (mid-tick)' : ''}  ·  event ${session.events}</text>`);
  if (session.stop !== undefined) parts.push(stopBanner(session));
  return `<svg id="cluster" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

function memberSvg(session: Session, id: NodeId, p: Point, selected: boolean): string {
  const replica = session.sim.replica(id);
  const s = replica?.status;
  const role = s === undefined ? 'down' : s.role;
  const lines = s === undefined ? ['down'] : [role, `promised ${ballotLabel(s.promised)}`, `commit ${s.commitIndex} · applied ${s.appliedIndex}`];
  // Name and role inside the circle, the numbers under it.
  const text = lines.map((l, i) => `<text class="${i === 0 ? 'role' : 'detail'}" y="${i === 0 ? 8 : memberRadius + 2 + i * 13}">${escape(l)}</text>`).join('');
  return (
    `<g class="member ${role}${selected ? ' selected' : ''}" data-member="${id}" data-role="${role}" data-commit="${s?.commitIndex ?? ''}" data-promised="${s === undefined ? '' : ballotLabel(s.promised)}" transform="translate(${p.x.toFixed(1)},${p.y.toFixed(1)})">` +
    `<circle r="${memberRadius}"/><text class="name" y="-6">${id}</text>${text}</g>`
  );
}

function stopBanner(session: Session): string {
  const stop = session.stop!;
  const title =
    stop.kind === 'violation'
      ? `${stop.property ?? 'safety'} violated`
      : stop.kind === 'liveness'
        ? 'liveness failure'
        : stop.kind === 'passed'
          ? 'schedule passed'
          : 'error';
  const first = stop.message.split('\n')[0]!;
  const wrapped = wrap(first, 120).slice(0, 4);
  return (
    `<g id="stop-banner" class="stop ${stop.kind}" data-kind="${stop.kind}"><rect x="10" y="${height - 30 - wrapped.length * 16}" width="${width - 20}" height="${22 + wrapped.length * 16}" rx="6"/>` +
    `<text class="stop-title" x="22" y="${height - 14 - wrapped.length * 16}">${escape(title)} at t=${stop.at}, event ${stop.event}</text>` +
    wrapped.map((l, i) => `<text class="stop-text" x="22" y="${height - 14 - (wrapped.length - 1 - i) * 16}">${escape(l)}</text>`).join('') +
    `</g>`
  );
}

function wrap(text: string, columns: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line.length + word.length + 1 > columns && line !== '') {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** Escapes text for markup. */
export function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
