/**
 * Porcupine (github.com/anishathalye/porcupine, the Go checker etcd uses) on the same
 * histories as synod's checker, in the same run. Not a dependency: its source is
 * copied at run time into the gitignored `bench/linearizability/.build/`, from
 * `PORCUPINE_SRC` (a source tree or a git directory) or else a shallow `git clone`,
 * and built with the machine's Go (Debian's `golang-go`) against our driver
 * `porcupine/main.go`. Without Go or a source, the comparison is skipped and says why.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RegisterHistory } from './shapes.js';

const here = dirname(fileURLToPath(import.meta.url));
const build = join(here, '.build');

/** A built Porcupine driver, or why there is none. */
export type Porcupine = { readonly binary: string; readonly version: string } | { readonly skipped: string };

function run(command: string, args: readonly string[], cwd?: string, env?: NodeJS.ProcessEnv): string {
  return execFileSync(command, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
}

/** Copies Porcupine's source into `.build/porcupine`; its commit or a description. */
function fetchSource(target: string): string {
  const source = process.env['PORCUPINE_SRC'];
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  if (source !== undefined && existsSync(join(source, 'objects')) && existsSync(join(source, 'HEAD'))) {
    execFileSync('sh', ['-c', 'git --git-dir="$1" archive HEAD | tar -x -C "$2"', 'sh', source, target]);
    return `commit ${run('git', ['--git-dir', source, 'rev-parse', '--short', 'HEAD']).trim()}`;
  }
  if (source !== undefined) {
    cpSync(source, target, { recursive: true });
    return `source ${source}`;
  }
  rmSync(target, { recursive: true, force: true });
  run('git', ['clone', '--quiet', '--depth', '1', 'https://github.com/anishathalye/porcupine', target]);
  return `commit ${run('git', ['-C', target, 'rev-parse', '--short', 'HEAD']).trim()}`;
}

/** Builds the driver; never throws (a failure becomes a skip with its reason). */
export function buildPorcupine(): Porcupine {
  try {
    run('go', ['version']);
  } catch {
    return { skipped: 'no Go toolchain (install Debian golang-go)' };
  }
  try {
    mkdirSync(build, { recursive: true });
    const version = fetchSource(join(build, 'porcupine'));
    cpSync(join(here, 'porcupine', 'main.go'), join(build, 'main.go'));
    writeFileSync(
      join(build, 'go.mod'),
      'module synod/bench/porcupine\n\ngo 1.19\n\nrequire github.com/anishathalye/porcupine v0.0.0\n\nreplace github.com/anishathalye/porcupine => ./porcupine\n',
    );
    const binary = join(build, 'porcupine-bench');
    run('go', ['build', '-o', binary, '.'], build);
    return { binary, version: `${version}, ${run('go', ['version']).trim()}` };
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return { skipped: `could not fetch or build Porcupine (set PORCUPINE_SRC to a checkout): ${why}` };
  }
}

/**
 * Porcupine's verdict and the milliseconds of each of `rounds` checks of `history`;
 * with `oneCore`, under GOMAXPROCS=1 (its partitions then run on one thread, as ours do).
 */
export function runPorcupine(
  porcupine: { readonly binary: string },
  history: RegisterHistory,
  timeoutMs: number,
  rounds: number,
  oneCore = false,
): { result: string; ms: number[] } {
  const file = join(build, 'history.json');
  const records = history.map((o) => ({
    client: Number(o.client.replace(/\D/g, '')),
    key: o.key,
    op: o.input.op,
    value: o.input.op === 'read' ? null : o.input.value,
    expected: o.input.op === 'cas' ? o.input.expected : null,
    call: o.invokedAt,
    return: o.completedAt ?? 0,
    unknown: o.outcome === 'info',
    outValue: o.output?.type === 'value' ? o.output.value : null,
    outOk: o.output?.type === 'cas' ? o.output.ok : false,
  }));
  writeFileSync(file, JSON.stringify(records));
  const line = run(porcupine.binary, [file, String(timeoutMs), String(rounds)], undefined, oneCore ? { ...process.env, GOMAXPROCS: '1' } : process.env);
  const parsed = JSON.parse(line) as { result: string; ms: number[] };
  const names: Record<string, string> = { Ok: 'linearizable', Illegal: 'not-linearizable', Unknown: 'unknown' };
  return { result: names[parsed.result] ?? parsed.result, ms: parsed.ms };
}
