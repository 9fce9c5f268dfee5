/**
 * The child process of the real-process crash test (`file-storage.crash.test.ts`): it
 * loads, says `loaded`, reads one {@link CrashPlan} line from stdin, opens a
 * FileStorage in the plan's directory and persists the workload's batches with several
 * writers until it is killed with SIGKILL. See {@link ChildReport} for what it reports.
 *
 * Every report is written with a synchronous `write(2)` to the stdout pipe before the
 * child does anything else, so once the kernel has it, it reaches the test even if the
 * child is killed the next instant.
 *
 * The test transpiles it (and what it imports) to JavaScript and runs it with `node`; by
 * hand, `npx tsx test/storage/file/crash-child.ts` works too. It exits on
 * its own if its stdin closes (the test is gone) or after {@link lifetimeMsMax}; while
 * it waits for stdin, the open stdin keeps it alive.
 */
import { writeSync } from 'node:fs';
import { FileStorage } from '../../../src/storage/file/index.js';
import { type ChildReport, type CrashPlan, batchFor, compactionAfter, snapshotDataFor } from './crash-workload.js';

/** A child still running after this long was forgotten by its test: it exits. */
const lifetimeMsMax = 60_000;

function report(line: ChildReport): void {
  const bytes = Buffer.from(`${line}\n`);
  let written = 0;
  while (written < bytes.byteLength) {
    try {
      written += writeSync(1, bytes, written);
    } catch (error) {
      // A non-blocking pipe that is full: the test reads it, so try again.
      if ((error as { code?: unknown }).code !== 'EAGAIN') throw error;
    }
  }
}

function die(why: unknown): never {
  process.stderr.write(`crash-child: ${why instanceof Error ? (why.stack ?? why.message) : String(why)}\n`);
  process.exit(1);
}

/** The first line of stdin; exits when stdin closes. */
function readPlan(): Promise<CrashPlan> {
  return new Promise((resolve) => {
    let text = '';
    let read = false;
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\n');
      if (read || end < 0) return;
      read = true;
      resolve(JSON.parse(text.slice(0, end)) as CrashPlan);
    });
    process.stdin.on('end', () => process.exit(3));
  });
}

async function main(): Promise<void> {
  setTimeout(() => die(`still running after ${lifetimeMsMax} ms`), lifetimeMsMax).unref();
  report('loaded');
  const plan = await readPlan();
  const storage = await FileStorage.open(plan.dir, { segmentBytesMax: plan.segmentBytesMax, onWarning: () => report('w') });
  report('ready');
  let next = plan.firstBatch;
  const issue = (): void => {
    const n = next++;
    // Call order is write order: the compaction is queued right after batch n.
    // `reportEarly` breaks the rule on purpose: the test must notice.
    if (plan.reportEarly === true) report(`p ${n}`);
    storage.persist(batchFor(plan.seed, n)).then(() => {
      if (plan.reportEarly !== true) report(`p ${n}`);
      issue();
    }, die);
    const compaction = compactionAfter(n);
    if (compaction === undefined) return;
    const data = snapshotDataFor(plan.seed, compaction.snapshotSlot);
    storage.saveSnapshot({ slot: compaction.snapshotSlot, data }).then(() => report(`s ${n}`), die);
    storage.compact(compaction.compactSlot).then(() => report(`k ${n}`), die);
  };
  for (let i = 0; i < plan.writers; i++) issue();
}

main().catch(die);
