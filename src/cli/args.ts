/**
 * Command-line arguments, parsed strictly against one command's option table by
 * `node:util` `parseArgs`: an unknown option, a value where none is taken (or none
 * where one is), or a word too many is refused with a {@link UsageError} that lists
 * what the command takes.
 */
import { parseArgs as parseStrict } from 'node:util';
import { UsageError } from './usage-error.js';

/** One option of a command, as `--name` (a flag) or `--name VALUE`. */
export interface OptionSpec {
  /** `boolean`: a flag, given or not; `string`: takes a value. */
  readonly type: 'boolean' | 'string';
  /** How help names the value, such as `N` or `HOST:PORT` (string options). */
  readonly value?: string;
  /** One line for help, with the default and unit if there is one. */
  readonly help: string;
}

/** A command's options by name (without the dashes). */
export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** The parsed command line: the command's words first (`member`, `add`), then its own; options by name. */
export interface Args {
  readonly positional: readonly string[];
  readonly options: ReadonlyMap<string, string | true>;
}

/** What {@link parseArgs} checks the words after the command against. */
export interface WordsSpec {
  /** The command's name, such as `member add`, for error messages. */
  readonly command: string;
  /** Placeholders of the words; those in brackets (`[PREFIX]`) are optional and come last. */
  readonly words: readonly string[];
  readonly options: OptionTable;
}

/** `--name VALUE` or `--name`, as help and errors write an option. */
export function optionSyntax(name: string, spec: OptionSpec): string {
  return spec.type === 'string' ? `--${name} ${spec.value ?? 'VALUE'}` : `--${name}`;
}

function validOptions(options: OptionTable): string {
  const names = Object.entries(options).map(([name, spec]) => optionSyntax(name, spec));
  return names.length === 0 ? 'it takes no options' : `valid options: ${names.join(', ')}`;
}

/**
 * Parses `argv` (the words after the command's name) against `spec`. `--` ends the
 * options: words after it are taken as they are, even if they start with a dash.
 *
 * @throws UsageError naming the option or word at fault and listing the valid ones.
 */
export function parseArgs(commandWords: readonly string[], argv: readonly string[], spec: WordsSpec): Args {
  const command = `synod ${spec.command}`;
  let parsed: ReturnType<typeof parseStrict>;
  try {
    parsed = parseStrict({ args: [...argv], options: spec.options, allowPositionals: true, strict: true });
  } catch (error) {
    // parseArgs's own message suggests fixes of its own; ours lists the command's options.
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const name = /'([^']*)'/.exec(message)?.[1] ?? 'option';
      throw new UsageError(command, name, `is not an option of ${command}; ${validOptions(spec.options)}`);
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(command, 'options', `${message}; ${validOptions(spec.options)}`);
    throw error;
  }
  const required = spec.words.filter((w) => !w.startsWith('[')).length;
  const words = parsed.positionals;
  const syntax = [command, ...spec.words].join(' ');
  if (words.length > spec.words.length) {
    throw new UsageError(
      command,
      words[spec.words.length]!,
      `is one word too many: usage: ${syntax}${words.some((w) => w.startsWith('-')) ? '' : `; ${validOptions(spec.options)}`}`,
    );
  }
  if (words.length < required) throw new UsageError(command, spec.words[words.length]!, `is missing: usage: ${syntax}`);
  const options = new Map<string, string | true>();
  for (const [name, value] of Object.entries(parsed.values)) {
    // A repeated option keeps its last value, as most commands do.
    const last = Array.isArray(value) ? value.at(-1) : value;
    if (typeof last === 'string') options.set(name, last);
    else if (last === true) options.set(name, true);
  }
  return { positional: [...commandWords, ...words], options };
}

/** The value of option `name`, or `fallback`. */
export function option(args: Args, name: string, fallback?: string): string | undefined {
  const value = args.options.get(name);
  if (value === true) throw new UsageError('synod', `--${name}`, 'needs a value');
  return value ?? fallback;
}

/** The value of option `name`, which `command` requires here: a UsageError if it is missing. */
export function requiredOption(args: Args, command: string, name: string): string {
  const value = option(args, name);
  if (value === undefined) throw new UsageError(command, `--${name}`, 'is required');
  return value;
}

/** A non-negative integer option, or undefined. */
export function intOption(args: Args, name: string): number | undefined {
  const text = option(args, name);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(n) || n < 0)
    throw new UsageError('synod', `--${name}`, `must be a non-negative integer, not ${JSON.stringify(text)}`);
  return n;
}
