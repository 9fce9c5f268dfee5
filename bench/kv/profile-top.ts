/**
 * The top self-time functions of a V8 CPU profile (`node --cpu-prof`), as a table: for
 * the server profiles `run.ts --profile DIR` writes. Self time is the time sampled with
 * the function on top of the stack; `(idle)` is the event loop waiting, `(garbage
 * collector)` is GC, `(program)` is V8 and native code outside JavaScript.
 *
 * Run: `npx tsx bench/kv/profile-top.ts FILE.cpuprofile [N]` (default the top 30). With
 * `--by-file`, self time summed per source file instead.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

const topDefault = 30;

function shortUrl(url: string): string {
  const at = url.search(/\/(src|bench|node_modules)\//);
  return at >= 0 ? url.slice(at + 1) : url.replace(/^node:/, 'node:');
}

function main(): void {
  const args = process.argv.slice(2);
  const byFile = args.includes('--by-file');
  const [file, topText] = args.filter((a) => a !== '--by-file');
  if (file === undefined) throw new Error('usage: profile-top.ts FILE.cpuprofile [N] [--by-file]');
  const top = Number(topText ?? topDefault);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  // A sample's time is the delta to the next sample.
  const selfMicros = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i + 1] ?? 0;
    selfMicros.set(profile.samples[i]!, (selfMicros.get(profile.samples[i]!) ?? 0) + delta);
  }
  const totals = new Map<string, number>();
  let all = 0;
  let idle = 0;
  for (const [id, micros] of selfMicros) {
    const frame = byId.get(id)!.callFrame;
    all += micros;
    if (frame.functionName === '(idle)') idle += micros;
    const name =
      frame.url === ''
        ? frame.functionName || '(anonymous)'
        : byFile
          ? shortUrl(frame.url)
          : `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    totals.set(name, (totals.get(name) ?? 0) + micros);
  }
  const busy = all - idle;
  console.log(`${file}: ${(all / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s not idle; shares below are of the time not idle\n`);
  console.log(`| # | ${byFile ? 'file' : 'function (file:line)'} | self ms | share |`);
  console.log('|---:|---|---:|---:|');
  const sorted = [...totals]
    .filter(([name]) => name !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top);
  sorted.forEach(([name, micros], i) => console.log(`| ${i + 1} | ${name} | ${(micros / 1000).toFixed(0)} | ${((micros / busy) * 100).toFixed(1)}% |`));
}

main();
