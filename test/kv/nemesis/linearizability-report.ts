/**
 * What a nemesis test prints when its history is not linearizable: the checker's
 * explanation, and the HTML picture of the history written to a file it names.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type History, type LinearizabilityVerdict, renderLinearizabilityHtml } from '../../../src/testing/index.js';

/** The explanation (or the unknown's detail), and where the picture was written; empty for a linearizable verdict. */
export function linearizabilityReport<I, O, S>(history: History<I, O>, verdict: LinearizabilityVerdict<I, O, S>, name: string): string {
  if (verdict.result === 'linearizable') return '';
  const file = join(tmpdir(), `synod-${name}-${process.pid}.html`);
  writeFileSync(file, renderLinearizabilityHtml(history, verdict));
  const why = verdict.result === 'unknown' ? verdict.detail : verdict.explanation.text;
  return `${why}\npicture of the history: ${file}`;
}
