/**
 * Every member's log as a table: one row per member, one column per slot. A cell is
 * empty, accepted (durable on that member's disk, with the ballot it was accepted in),
 * or chosen (known chosen by that member); the commit index and the applied point are
 * marked on each row.
 */
import type { AcceptedEntry } from '../../src/core/index.js';
import type { Session } from './session.js';
import { escape } from './cluster-view.js';
import { ballotLabel, valueLabel } from './labels.js';

/** Slots shown at once: the latest ones. */
const slotsShown = 20;

/** The HTML of the log table. */
export function logTable(session: Session): string {
  const sim = session.sim;
  let last = 0;
  const accepted = new Map<string, Map<number, AcceptedEntry>>();
  for (const id of sim.ids) {
    const durable = sim.durableState(id);
    const bySlot = new Map<number, AcceptedEntry>();
    for (const e of durable?.accepted ?? []) bySlot.set(e.slot, e);
    accepted.set(id, bySlot);
    const s = sim.replica(id)?.status;
    last = Math.max(last, s?.lastAcceptedSlot ?? 0, s?.commitIndex ?? 0, durable?.commitIndex ?? 0, ...bySlot.keys());
  }
  // The slot a violation names stays in view, marked.
  const broken = session.stop === undefined ? undefined : /\bslot (\d+)/.exec(session.stop.message)?.[1];
  const highlight = broken === undefined ? undefined : Number(broken);
  let first = Math.max(1, last - slotsShown + 1);
  if (highlight !== undefined && highlight < first) first = Math.max(1, highlight - 2);
  last = Math.max(last, highlight ?? 0);
  const slots = Array.from({ length: Math.max(0, Math.min(last, first + slotsShown - 1) - first + 1) }, (_, i) => first + i);
  const head = `<tr><th>member</th>${slots.map((s) => `<th${s === highlight ? ' class="broken"' : ''}>${s}</th>`).join('')}</tr>`;
  const rows = sim.ids.map((id) => {
    const replica = sim.replica(id);
    const s = replica?.status;
    const cells = slots.map((slot) => {
      const classes: string[] = [];
      let label = '';
      let state = 'empty';
      const a = accepted.get(id)!.get(slot);
      const chosen = replica?.chosenValue(slot);
      if (s !== undefined && slot <= s.compactedThrough) {
        state = 'compacted';
        label = 'snap';
      } else if (chosen !== undefined) {
        state = 'chosen';
        label = valueLabel(chosen);
      } else if (a !== undefined) {
        state = 'accepted';
        label = `${valueLabel(a.value)}<small>@${ballotLabel(a.ballot)}</small>`;
      }
      classes.push(state);
      if (s !== undefined && slot === s.commitIndex) classes.push('commit-point');
      if (s !== undefined && slot <= s.appliedIndex) classes.push('applied');
      if (slot === highlight) classes.push('broken');
      const title = `${id} slot ${slot}: ${state}${a !== undefined ? `, accepted in ballot ${ballotLabel(a.ballot)}` : ''}`;
      return `<td class="${classes.join(' ')}" data-member="${id}" data-slot="${slot}" data-state="${state}" data-value="${chosen !== undefined ? escape(valueLabel(chosen)) : ''}" title="${escape(title)}">${label}</td>`;
    });
    const name = `${id}${s === undefined ? ' (down)' : ''}${s !== undefined ? ` <small>c${s.commitIndex} a${s.appliedIndex}</small>` : ''}`;
    return `<tr data-member="${id}"><th>${name}</th>${cells.join('')}</tr>`;
  });
  return `<table id="logs"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table>`;
}
