/** The comparison's command-line options, each validated. */
import { systemNames, type SystemName } from './system.js';

/** What one run measures and where it writes. */
export interface CompareOptions {
  /** Closed-loop clients at each point (default 1, 4, 16, 64, 256). */
  readonly clients: readonly number[];
  /** Value sizes, in bytes (default 100 and 4,096). */
  readonly sizes: readonly number[];
  /** The measured window of each point, in seconds (default 10). */
  readonly seconds: number;
  /** The warm-up before each window, in seconds (default 3): clients connected, loops running, nothing counted. */
  readonly warmupSeconds: number;
  /** Passes over every point; each pass measures the systems in a rotated order (default 3). */
  readonly passes: number;
  /** The systems measured (default all three). */
  readonly systems: readonly SystemName[];
  /** Where the JSON and the figures go (default bench/compare/results). */
  readonly out: string;
}

/** The one-line usage, appended to every option error. */
const usage =
  'usage: tsx bench/compare/run.ts [--clients 1,4,16,64,256] [--sizes 100,4096] [--seconds 10] [--warmup 3] [--passes 3] [--systems etcd,zookeeper,synod] [--out DIR]';

/** Parses `argv` (the arguments after the script); throws with {@link usage} on anything it does not know. */
export function parseOptions(argv: readonly string[], defaultOut: string): CompareOptions {
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!;
    const name = flag.slice(2);
    const value = argv[i + 1];
    if (!flag.startsWith('--') || value === undefined || given.has(name))
      throw new Error(`${flag}${value === undefined ? ' has no value' : given.has(name) ? ' given twice' : ' is not an option'}\n${usage}`);
    given.set(name, value);
  }
  const known = new Set(['clients', 'sizes', 'seconds', 'warmup', 'passes', 'systems', 'out']);
  for (const name of given.keys()) if (!known.has(name)) throw new Error(`--${name} is not an option\n${usage}`);
  const integers = (name: string, fallback: string): number[] => {
    const list = (given.get(name) ?? fallback).split(',').map(Number);
    if (list.length === 0 || !list.every((n) => Number.isSafeInteger(n) && n > 0))
      throw new Error(`--${name} must be positive integers separated by commas, got ${given.get(name)}\n${usage}`);
    return list;
  };
  const positive = (name: string, fallback: number): number => {
    const value = Number(given.get(name) ?? fallback);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, got ${given.get(name)}\n${usage}`);
    return value;
  };
  const systems = (given.get('systems') ?? systemNames.join(',')).split(',');
  for (const s of systems)
    if (!(systemNames as readonly string[]).includes(s)) throw new Error(`--systems: ${s} is not one of ${systemNames.join(', ')}\n${usage}`);
  const passes = positive('passes', 3);
  if (!Number.isInteger(passes)) throw new Error(`--passes must be an integer, got ${passes}\n${usage}`);
  return {
    clients: integers('clients', '1,4,16,64,256'),
    sizes: integers('sizes', '100,4096'),
    seconds: positive('seconds', 10),
    warmupSeconds: positive('warmup', 3),
    passes,
    systems: systems as SystemName[],
    out: given.get('out') ?? defaultOut,
  };
}
