/**
 * The TypeScript code blocks of the README and docs/, with what the docs check needs
 * to know about each: a hidden context to compile it in, and whether to run it. Both
 * come from an HTML comment right above the block, invisible on a rendered page:
 *
 *     <!-- docs-check: run -->
 *     <!-- docs-check: context
 *     declare const node: SynodNode<Command, number>;
 *     -->
 *
 * `context` is prepended to the block (declarations the prose already introduced); a
 * line `...` in it marks where the block goes, so a method can be checked inside its
 * class. `run` executes the block too (it must finish in seconds and exit by itself).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One ```ts block. */
export interface CodeBlock {
  /** The markdown file, relative to the repository root. */
  readonly file: string;
  /** The 1-based line of the opening fence. */
  readonly line: number;
  readonly code: string;
  /** Hidden code put before the block when compiling. */
  readonly context: string;
  /** Hidden code put after it. */
  readonly suffix: string;
  readonly run: boolean;
}

/** The ```ts blocks of `file`, with their directives. */
export function codeBlocks(repoRoot: string, file: string): CodeBlock[] {
  const lines = readFileSync(join(repoRoot, file), 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(?:ts|typescript)\s*$/.test(lines[i]!)) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    if (i >= lines.length) throw new Error(`${file}:${start + 1}: a code block is never closed`);
    const { context, run } = directivesAbove(lines, start);
    const [before, after = ''] = context.split(/^\.\.\.$/m);
    blocks.push({ file, line: start + 1, code: body.join('\n'), context: before!.trim(), suffix: after.trim(), run });
  }
  return blocks;
}

/** The `docs-check` comments right above line `fence` (blank lines between allowed). */
function directivesAbove(lines: readonly string[], fence: number): { context: string; run: boolean } {
  let context = '';
  let run = false;
  let j = fence - 1;
  while (j >= 0 && lines[j]!.trim() === '') j--;
  while (j >= 0 && lines[j]!.trim().endsWith('-->')) {
    let open = j;
    while (open >= 0 && !lines[open]!.includes('<!--')) open--;
    const comment = lines.slice(open, j + 1).join('\n');
    const match = /^<!--\s*docs-check:\s*(\w+)([\s\S]*?)-->$/.exec(comment.trim());
    if (match === null) break;
    if (match[1] === 'run') run = true;
    else if (match[1] === 'context') context = `${match[2]!.trim()}\n${context}`;
    else throw new Error(`line ${open + 1}: unknown docs-check directive '${match[1]}'`);
    j = open - 1;
    while (j >= 0 && lines[j]!.trim() === '') j--;
  }
  return { context, run };
}
