/**
 * Where members stand on the drawing, and which links that cuts: members hear each
 * other within {@link rangePx}, like radios, so dragging two groups apart partitions
 * them, and a member left between two groups bridges them (partial connectivity).
 */
import type { NodeId } from '../../src/core/index.js';

export interface Point {
  readonly x: number;
  readonly y: number;
}

/** The drawing's width, in SVG units. */
export const width = 900;
/** The drawing's height, in SVG units. */
export const height = 520;
/** The ring the members start on. */
const ringRadius = 170;
/** Farthest two members can stand and still hear each other. */
export const rangePx = 360;

/** Members evenly on a ring, voters first (the first at the top). */
export function ringLayout(ids: readonly NodeId[]): Map<NodeId, Point> {
  const positions = new Map<NodeId, Point>();
  ids.forEach((id, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / ids.length;
    positions.set(id, { x: width / 2 + ringRadius * Math.cos(angle), y: height / 2 + ringRadius * Math.sin(angle) });
  });
  return positions;
}

/** Whether `a` and `b` stand within range of each other. */
export function inRange(a: Point, b: Point): boolean {
  return Math.hypot(a.x - b.x, a.y - b.y) <= rangePx;
}

/**
 * The links cut, one way each: every pair out of range (both ways), plus the links
 * the user cut by hand (`manual`, keys `from>to`).
 */
export function cutsOf(positions: ReadonlyMap<NodeId, Point>, manual: ReadonlySet<string>): [NodeId, NodeId][] {
  const cuts: [NodeId, NodeId][] = [];
  for (const [a, pa] of positions) {
    for (const [b, pb] of positions) {
      if (a === b) continue;
      if (!inRange(pa, pb) || manual.has(linkKey(a, b))) cuts.push([a, b]);
    }
  }
  return cuts;
}

/** The key of the one-way link from `from` to `to`. */
export function linkKey(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}

/** Keeps a dragged point on the drawing. */
export function clamp(p: Point): Point {
  return { x: Math.min(width - 40, Math.max(40, p.x)), y: Math.min(height - 40, Math.max(40, p.y)) };
}
