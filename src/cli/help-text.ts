/** The `synod` command's help, written from the command table (see `commands.ts`). */
import { optionSyntax } from './args.js';
import type { CommandSpec } from './commands.js';

function synopsis(spec: CommandSpec): string {
  return [spec.name, ...spec.words].join(' ');
}

/** Options every client command takes, described once in the overview rather than on each line. */
const common = new Set(['config', 'json']);

/** Width the overview wraps a command's synopsis at. */
const lineWidth = 100;

/** The overview: every command with all its options and its summary, then how to get more. */
export function usageText(commands: readonly CommandSpec[]): string {
  const lines = ['usage: synod <command> [options]', ''];
  for (const spec of commands) {
    const parts = [
      synopsis(spec),
      ...Object.entries(spec.options)
        .filter(([name]) => !common.has(name))
        .map(([name, o]) => `[${optionSyntax(name, o)}]`),
    ];
    let line = ' ';
    for (const part of parts) {
      if (line.length + part.length + 1 > lineWidth) {
        lines.push(line);
        line = '     ';
      }
      line += ` ${part}`;
    }
    lines.push(line, `      ${spec.summary}`);
  }
  lines.push(
    '  help [COMMAND]',
    "      this, or one command's options",
    '',
    'Every command but cluster up and snapshot info reads the cluster file given by --config FILE (default',
    '.synod/cluster.json); the client commands (put to leader transfer) print JSON with --json.',
    'synod help COMMAND (or synod COMMAND --help) explains the options of COMMAND; synod --version prints the version.',
    'Exit status: 0 done, 1 refused or failed (the reason on stderr), 2 a command line synod cannot run.',
  );
  return lines.join('\n');
}

/** One command's help: its synopsis, summary, details and every option. */
export function commandHelp(spec: CommandSpec): string {
  const options = Object.entries(spec.options).map(([name, o]) => [optionSyntax(name, o), o.help] as const);
  options.push(['--help', 'print this']);
  const width = Math.max(...options.map(([syntax]) => syntax.length)) + 2;
  return [
    `usage: synod ${synopsis(spec)}${Object.keys(spec.options).length > 0 ? ' [options]' : ''}`,
    '',
    `${spec.summary[0]!.toUpperCase()}${spec.summary.slice(1)}.`,
    ...(spec.details ?? []),
    '',
    'options:',
    ...options.map(([syntax, help]) => `  ${syntax.padEnd(width)}${help}`),
  ].join('\n');
}

/** The help of a group of commands (`synod help member`): each one's synopsis and summary. */
export function groupHelp(group: string, commands: readonly CommandSpec[]): string {
  return [
    `synod ${group} commands:`,
    ...commands.map((spec) => `  synod ${synopsis(spec)}\n      ${spec.summary}`),
    '',
    `synod help ${group} SUBCOMMAND lists the options of one.`,
  ].join('\n');
}
