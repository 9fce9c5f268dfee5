/**
 * The command line is parsed strictly, per command (issue 17): a mistyped option or a
 * word too many is refused with the command's valid options, never ignored. Before,
 * `synod put k v --expected-versoin 999` wrote unconditionally.
 */
import { describe, expect, it } from 'vitest';
import { intOption, parseArgs } from '../../src/cli/args.js';
import { commands } from '../../src/cli/commands.js';
import { UsageError } from '../../src/cli/usage-error.js';
import { ConfigError } from '../../src/core/index.js';

const spec = (name: string) => {
  const found = commands.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no command ${name}`);
  return { command: found.name, words: found.words, options: found.options };
};

function refusal(run: () => unknown): UsageError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect(error).toBeInstanceOf(ConfigError);
    return error as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('parseArgs', () => {
  it('every command refuses a mistyped option, naming it and listing its valid ones', () => {
    for (const command of commands) {
      const words = command.words.filter((w) => !w.startsWith('[')).map(() => 'x');
      const error = refusal(() => parseArgs(command.name.split(' '), [...words, '--expected-versoin', '999'], spec(command.name)));
      expect(error.field).toBe('--expected-versoin');
      for (const name of Object.keys(command.options)) expect(error.message, command.name).toContain(`--${name}`);
    }
  });

  it('the del option of put is not taken by del under a near name', () => {
    expect(refusal(() => parseArgs(['del'], ['k', '--expect-version', '1'], spec('del'))).message).toMatch(
      /`--expect-version` is not an option of synod del; valid options: .*--expected-version N/,
    );
  });

  it('refuses a word too many and a missing word', () => {
    expect(refusal(() => parseArgs(['get'], ['a', 'b'], spec('get'))).message).toMatch(/`b` is one word too many: usage: synod get KEY/);
    expect(refusal(() => parseArgs(['member', 'replace'], ['old'], spec('member replace'))).message).toMatch(
      /`NEW` is missing: usage: synod member replace OLD NEW/,
    );
  });

  it('refuses a flag given a value and a valued option given none', () => {
    expect(refusal(() => parseArgs(['get'], ['k', '--serializable=yes'], spec('get'))).message).toMatch(/--serializable/);
    expect(refusal(() => parseArgs(['get'], ['k', '--revision'], spec('get'))).message).toMatch(/--revision/);
  });

  it('takes options anywhere among the words, and words after -- as they are', () => {
    const args = parseArgs(['put'], ['--expected-version', '3', 'k', '--sequential', '--', '--v'], spec('put'));
    expect(args.positional).toEqual(['put', 'k', '--v']);
    expect(args.options).toEqual(
      new Map<string, string | true>([
        ['expected-version', '3'],
        ['sequential', true],
      ]),
    );
    expect(parseArgs(['put'], ['k', '-'], spec('put')).positional).toEqual(['put', 'k', '-']);
  });

  it('refuses an integer option that is not one', () => {
    for (const text of ['', '-1', '1.5', 'ten', '1e3x']) {
      expect(() => intOption({ positional: [], options: new Map([['limit', text]]) }, 'limit'), text).toThrow(UsageError);
    }
    expect(intOption({ positional: [], options: new Map([['limit', '10']]) }, 'limit')).toBe(10);
  });
});
