/** Command-line arguments: positional words and `--name value` / `--flag` options. */
import { ConfigError } from '../core/index.js';

export interface Args {
  readonly positional: readonly string[];
  readonly options: ReadonlyMap<string, string | true>;
}

/** Splits `argv`; `flags` are the options that take no value. */
export function parseArgs(argv: readonly string[], flags: ReadonlySet<string>): Args {
  const positional: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!word.startsWith('--')) {
      positional.push(word);
      continue;
    }
    const eq = word.indexOf('=');
    const name = word.slice(2, eq < 0 ? undefined : eq);
    if (flags.has(name)) {
      options.set(name, true);
    } else if (eq >= 0) {
      options.set(name, word.slice(eq + 1));
    } else {
      const value = argv[++i];
      if (value === undefined) throw new ConfigError('synod', `--${name}`, 'needs a value');
      options.set(name, value);
    }
  }
  return { positional, options };
}

/** The value of option `name`, or `fallback`. */
export function option(args: Args, name: string, fallback?: string): string | undefined {
  const value = args.options.get(name);
  if (value === true) throw new ConfigError('synod', `--${name}`, 'needs a value');
  return value ?? fallback;
}

/** A non-negative integer option, or undefined. */
export function intOption(args: Args, name: string): number | undefined {
  const text = option(args, name);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError('synod', `--${name}`, `must be a non-negative integer, not ${text}`);
  return n;
}
