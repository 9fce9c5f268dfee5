#!/usr/bin/env node
/**
 * The `synod` command: run a KV server, try a local cluster, and talk to one. Each
 * command's words and options are in `commands.ts`; `synod help` lists them.
 *
 * Exit status: 0 done; 1 refused or failed (one line on stderr says why); 2 a command
 * line that cannot run (an unknown command or option, a missing or extra word).
 */
import { parseArgs } from './args.js';
import { type CommandSpec, commands } from './commands.js';
import { errorLine } from './error-text.js';
import { exitFlushed } from './exit-flushed.js';
import { commandHelp, groupHelp, usageText } from './help-text.js';
import { UsageError } from './usage-error.js';
import { packageVersion } from './version.js';

const groups = new Set(commands.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]!));

/**
 * The command `words` (the command line's first words) name, and how many words its
 * name takes; a group's name alone (`member`) or an unknown name gives a UsageError.
 */
function commandOf(words: readonly string[]): { spec: CommandSpec; length: number } {
  const [first, second] = words;
  if (first !== undefined && groups.has(first)) {
    const spec = commands.find((c) => c.name === `${first} ${second}`);
    const subcommands = commands.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.split(' ')[1]!);
    if (spec === undefined)
      throw new UsageError(
        `synod ${first}`,
        second ?? 'subcommand',
        `${second === undefined ? 'is missing' : 'is not a command'}: synod ${first} ${subcommands.join('|')}`,
      );
    return { spec, length: 2 };
  }
  const spec = commands.find((c) => c.name === first);
  if (spec === undefined)
    throw new UsageError(
      'synod',
      first ?? 'command',
      `is not a command: ${commands
        .map((c) => c.name.split(' ')[0]!)
        .filter((n, i, all) => all.indexOf(n) === i)
        .join(', ')}, help (see synod help)`,
    );
  return { spec, length: 1 };
}

/** `synod help [COMMAND...]`: the overview, a group's commands, or one command's options. */
function help(words: readonly string[]): number {
  if (words.length === 0) {
    console.log(usageText(commands));
    return 0;
  }
  if (words.length === 1 && groups.has(words[0]!)) {
    console.log(
      groupHelp(
        words[0]!,
        commands.filter((c) => c.name.startsWith(`${words[0]} `)),
      ),
    );
    return 0;
  }
  const { spec, length } = commandOf(words);
  if (words.length > length) throw new UsageError('synod help', words[length]!, 'is one word too many: usage: synod help [COMMAND]');
  console.log(commandHelp(spec));
  return 0;
}

async function main(argv: readonly string[]): Promise<number> {
  const [first] = argv;
  if (first === undefined) {
    console.error(usageText(commands));
    return 2;
  }
  if (first === '--version' || first === 'version') {
    console.log(`synod ${packageVersion(process.argv[1]!)}`);
    return 0;
  }
  if (first === 'help' || first === '--help' || first === '-h') return help(argv.slice(1));
  // `synod member --help`: the group's commands.
  if (groups.has(first) && (argv[1] === '--help' || argv[1] === '-h')) return help([first]);
  const { spec, length } = commandOf(argv);
  const rest = argv.slice(length);
  // --help before `--` wins over everything else on the line, mistakes included.
  const end = rest.indexOf('--');
  if ((end < 0 ? rest : rest.slice(0, end)).some((w) => w === '--help' || w === '-h')) {
    console.log(commandHelp(spec));
    return 0;
  }
  const args = parseArgs(argv.slice(0, length), rest, { command: spec.name, words: spec.words, options: spec.options });
  return spec.run(args);
}

main(process.argv.slice(2)).then(
  (code) => exitFlushed(code),
  (error: unknown) => {
    console.error(`synod: ${errorLine(error)}`);
    return exitFlushed(error instanceof UsageError ? 2 : 1);
  },
);
