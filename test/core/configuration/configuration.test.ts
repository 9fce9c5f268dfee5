import { describe, expect, it } from 'vitest';
import {
  addressBytesMax,
  canonical,
  checkConfiguration,
  type Configuration,
  configurationEquals,
  configurationProblem,
  decodeConfiguration,
  encodeConfiguration,
  isMember,
  quorumOf,
  quorumsMeet,
  votersOf,
} from '../../../src/core/configuration/configuration.js';
import { ConfigError, InvariantError } from '../../../src/core/errors.js';

// A configuration one field at a time: its quorum system and members, every refusal of
// a malformed one (word for word), its frozen copy, and its one canonical byte form.

const base: Configuration = { id: 2, voters: ['a', 'b', 'c'], quorum: 'majority', observers: ['o'], addresses: { a: 'h:1', o: 'h:9' }, windowSlots: 4 };
const joint: Configuration = { ...base, voters: ['a', 'b', 'd'], leaving: { voters: ['a', 'b', 'c'], quorum: 'majority' }, addresses: {} };
const with_ = (fields: Record<string, unknown>): Configuration => ({ ...base, ...fields }) as Configuration;
const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('quorumOf', () => {
  it('is a majority, Flexible Paxos sizes, or joint while a change is half done', () => {
    expect(quorumOf(base).describe()).toBe('majority(2 of 3)');
    expect(quorumOf(with_({ quorum: { phase1: 3, phase2: 1 } })).describe()).toBe('flexible(phase1 3, phase2 1 of 3)');
    expect(quorumOf(joint).describe()).toBe('joint(majority(2 of 3), majority(2 of 3))');
    expect(quorumOf(joint).voters).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('members', () => {
  it('are the voters, then those only leaving, then the observers', () => {
    expect(votersOf(base)).toEqual(['a', 'b', 'c']);
    expect(votersOf(joint)).toEqual(['a', 'b', 'd', 'c']);
    expect(isMember(base, 'a')).toBe(true);
    expect(isMember(base, 'o')).toBe(true);
    expect(isMember(base, 'd')).toBe(false);
    expect(isMember(joint, 'c')).toBe(true);
  });
});

describe('configurationProblem', () => {
  it('finds nothing wrong in a well-formed configuration, plain, flexible or joint', () => {
    expect(configurationProblem(base)).toBeUndefined();
    expect(configurationProblem(with_({ id: 0, windowSlots: 1, observers: [], addresses: {} }))).toBeUndefined();
    expect(configurationProblem(with_({ quorum: { phase1: 2, phase2: 2 } }))).toBeUndefined();
    expect(configurationProblem(joint)).toBeUndefined();
  });

  it('refuses an id that is not an integer >= 0', () => {
    expect(configurationProblem(with_({ id: -1 }))).toEqual(['id', 'must be an integer >= 0, got -1']);
    expect(configurationProblem(with_({ id: 1.5 }))).toEqual(['id', 'must be an integer >= 0, got 1.5']);
  });

  it('refuses a window that is not a positive integer', () => {
    expect(configurationProblem(with_({ windowSlots: 0 }))).toEqual(['windowSlots', 'must be a positive integer, got 0']);
    expect(configurationProblem(with_({ windowSlots: 2.5 }))).toEqual(['windowSlots', 'must be a positive integer, got 2.5']);
  });

  it('refuses no voters, more than 64, or not a list', () => {
    const many = Array.from({ length: 65 }, (_, i) => `v${i}`);
    expect(configurationProblem(with_({ voters: [] }))).toEqual(['voters', 'must list 1 to 64 voters']);
    expect(configurationProblem(with_({ voters: many, observers: [], addresses: {} }))).toEqual(['voters', 'must list 1 to 64 voters']);
    expect(configurationProblem(with_({ voters: 'abc' }))).toEqual(['voters', 'must list 1 to 64 voters']);
    expect(configurationProblem(with_({ voters: many.slice(0, 64), observers: [], addresses: {} }))).toBeUndefined();
  });

  it('refuses an empty or non-string voter id, and a voter listed twice', () => {
    expect(configurationProblem(with_({ voters: ['a', ''] }))).toEqual(['voters', 'must hold non-empty string ids']);
    expect(configurationProblem(with_({ voters: ['a', 7] }))).toEqual(['voters', 'must hold non-empty string ids']);
    expect(configurationProblem(with_({ voters: ['a', 'b', 'a'] }))).toEqual(['voters', 'lists "a" twice']);
  });

  it('refuses a quorum rule that is neither majority nor sizes', () => {
    const why = "must be 'majority' or { phase1, phase2 }";
    expect(configurationProblem(with_({ quorum: 'most' }))).toEqual(['voters.quorum', why]);
    expect(configurationProblem(with_({ quorum: null }))).toEqual(['voters.quorum', why]);
    expect(configurationProblem(with_({ quorum: { phase1: 2 } }))).toEqual(['voters.quorum', 'phase sizes must be integers']);
    expect(configurationProblem(with_({ quorum: { phase1: 2.5, phase2: 2 } }))).toEqual(['voters.quorum', 'phase sizes must be integers']);
  });

  it('refuses phase sizes outside 1..n, and sizes whose quorums need not meet', () => {
    const range = ['voters.quorum', 'phase sizes must be from 1 to 3 (the number of voters)'];
    expect(configurationProblem(with_({ quorum: { phase1: 0, phase2: 3 } }))).toEqual(range);
    expect(configurationProblem(with_({ quorum: { phase1: 3, phase2: 0 } }))).toEqual(range);
    expect(configurationProblem(with_({ quorum: { phase1: 4, phase2: 1 } }))).toEqual(range);
    expect(configurationProblem(with_({ quorum: { phase1: 1, phase2: 4 } }))).toEqual(range);
    expect(configurationProblem(with_({ quorum: { phase1: 1, phase2: 2 } }))).toEqual([
      'voters.quorum',
      'needs phase1 + phase2 > 3, or quorums may not intersect',
    ]);
    expect(configurationProblem(with_({ quorum: { phase1: 1, phase2: 3 } }))).toBeUndefined();
  });

  it('refuses a malformed leaving set, naming it', () => {
    expect(configurationProblem({ ...joint, leaving: { voters: [], quorum: 'majority' } })).toEqual(['leaving', 'must list 1 to 64 voters']);
    expect(configurationProblem({ ...joint, leaving: { voters: ['a'], quorum: { phase1: 0, phase2: 1 } } })).toEqual([
      'leaving.quorum',
      'phase sizes must be from 1 to 1 (the number of voters)',
    ]);
  });

  it('refuses observers that are not a list of at most 64', () => {
    const many = Array.from({ length: 65 }, (_, i) => `o${i}`);
    expect(configurationProblem(with_({ observers: 'o' }))).toEqual(['observers', 'must be a list of at most 64 ids']);
    expect(configurationProblem(with_({ observers: many, addresses: {} }))).toEqual(['observers', 'must be a list of at most 64 ids']);
    expect(configurationProblem(with_({ observers: many.slice(0, 64), addresses: {} }))).toBeUndefined();
  });

  it('refuses an empty or non-string observer, a voter as observer, and an observer twice', () => {
    expect(configurationProblem(with_({ observers: [''] }))).toEqual(['observers', 'must hold non-empty string ids']);
    expect(configurationProblem(with_({ observers: [3] }))).toEqual(['observers', 'must hold non-empty string ids']);
    expect(configurationProblem(with_({ observers: ['b'] }))).toEqual(['observers', 'must not include the voter "b"']);
    expect(configurationProblem({ ...joint, observers: ['c'] })).toEqual(['observers', 'must not include the voter "c"']);
    expect(configurationProblem(with_({ observers: ['o', 'p', 'o'] }))).toEqual(['observers', 'lists "o" twice']);
  });

  it('refuses addresses that are not an object, or name a stranger', () => {
    expect(configurationProblem(with_({ addresses: null }))).toEqual(['addresses', 'must be an object']);
    expect(configurationProblem(with_({ addresses: 'h:1' }))).toEqual(['addresses', 'must be an object']);
    expect(configurationProblem(with_({ addresses: { z: 'h:1' } }))).toEqual(['addresses', 'names "z", who is not a member']);
    expect(configurationProblem({ ...joint, addresses: { c: 'h:3' } })).toBeUndefined();
  });

  it('refuses an address that is not a string of 1 to 256 characters', () => {
    const why = ['addresses', 'of "a" must be a non-empty string of at most 256 characters'];
    expect(addressBytesMax).toBe(256);
    expect(configurationProblem(with_({ addresses: { a: '' } }))).toEqual(why);
    expect(configurationProblem(with_({ addresses: { a: 80 } }))).toEqual(why);
    expect(configurationProblem(with_({ addresses: { a: 'x'.repeat(257) } }))).toEqual(why);
    expect(configurationProblem(with_({ addresses: { a: 'x'.repeat(256) } }))).toBeUndefined();
  });
});

describe('checkConfiguration', () => {
  it('throws a ConfigError naming the API, the field and why', () => {
    const error = (() => {
      try {
        checkConfiguration('createNode', with_({ voters: [] }));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('voters');
    expect((error as ConfigError).message).toBe('createNode: `voters` must list 1 to 64 voters');
  });

  it('returns a deep frozen copy with the same fields', () => {
    const flexibleJoint: Configuration = { ...joint, quorum: { phase1: 2, phase2: 2 } };
    for (const config of [base, flexibleJoint]) {
      const checked = checkConfiguration('test', config);
      expect(checked).toEqual(config);
      expect(checked).not.toBe(config);
      expect(Object.isFrozen(checked)).toBe(true);
      expect(Object.isFrozen(checked.voters)).toBe(true);
      expect(Object.isFrozen(checked.observers)).toBe(true);
      expect(Object.isFrozen(checked.addresses)).toBe(true);
      expect(checked.quorum === 'majority' || Object.isFrozen(checked.quorum)).toBe(true);
    }
    const checked = checkConfiguration('test', joint);
    expect(Object.isFrozen(checked.leaving)).toBe(true);
    expect(Object.isFrozen(checked.leaving?.voters)).toBe(true);
    expect('leaving' in checkConfiguration('test', base)).toBe(false);
  });
});

describe('equality and the canonical form', () => {
  it('is equal for the same fields, whatever the order of the addresses', () => {
    const reordered = with_({ addresses: { o: 'h:9', a: 'h:1' } });
    expect(configurationEquals(base, reordered)).toBe(true);
    expect(configurationEquals(base, base)).toBe(true);
    expect(canonical(base)).toBe('[2,["a","b","c"],"majority",null,["o"],[["a","h:1"],["o","h:9"]],4]');
    expect(canonical(reordered)).toBe(canonical(base));
  });

  it('tells apart configurations that differ in any one field', () => {
    for (const other of [
      with_({ id: 3 }),
      with_({ voters: ['a', 'b', 'd'] }),
      with_({ quorum: { phase1: 2, phase2: 2 } }),
      { ...base, leaving: { voters: ['a'], quorum: 'majority' as const } },
      with_({ observers: [] }),
      with_({ addresses: { a: 'h:2', o: 'h:9' } }),
      with_({ windowSlots: 5 }),
    ]) {
      expect(configurationEquals(base, other)).toBe(false);
    }
  });

  it('decodes what it encodes', () => {
    for (const config of [base, joint, with_({ quorum: { phase1: 3, phase2: 1 } })]) {
      const decoded = decodeConfiguration(encodeConfiguration(config));
      expect(decoded).toEqual(config);
      expect(Object.isFrozen(decoded)).toBe(true);
    }
    expect('leaving' in decodeConfiguration(encodeConfiguration(base))).toBe(false);
  });

  it('refuses bytes that are not UTF-8 JSON', () => {
    const why = 'decodeConfiguration: `bytes` are not a configuration (not UTF-8 JSON)';
    expect(() => decodeConfiguration(bytesOf('[2,'))).toThrow(new ConfigError('decodeConfiguration', 'bytes', 'are not a configuration (not UTF-8 JSON)'));
    expect(() => decodeConfiguration(new Uint8Array([0x5b, 0xff, 0x5d]))).toThrow(why);
    // Inside a JSON string: a lenient decoder would read it as U+FFFD and parse.
    expect(() => decodeConfiguration(new Uint8Array([0x5b, 0x22, 0xff, 0x22, 0x5d]))).toThrow(why);
  });

  it('refuses JSON that is not a list of seven fields', () => {
    const why = 'decodeConfiguration: `bytes` are not a configuration (expected 7 fields)';
    expect(() => decodeConfiguration(bytesOf('{"id":2}'))).toThrow(why);
    expect(() => decodeConfiguration(bytesOf('[2,["a"],"majority",null,[],[]]'))).toThrow(why);
    expect(() => decodeConfiguration(bytesOf('[2,["a"],"majority",null,[],[],4,5]'))).toThrow(why);
  });

  it('refuses addresses that are not [id, address] pairs of strings', () => {
    const why = 'decodeConfiguration: `addresses` must be a list of [id, address] pairs';
    for (const addresses of ['{}', '[["a"]]', '[["a","h","x"]]', '[[1,"h"]]', '[["a",1]]', '["a"]']) {
      expect(() => decodeConfiguration(bytesOf(`[2,["a"],"majority",null,[],${addresses},4]`))).toThrow(why);
    }
  });

  it('refuses a decoded configuration that is malformed, as checkConfiguration does', () => {
    expect(() => decodeConfiguration(bytesOf('[2,[],"majority",null,[],[],4]'))).toThrow('decodeConfiguration: `voters` must list 1 to 64 voters');
  });

  it('refuses any byte form but the canonical one', () => {
    const why = 'decodeConfiguration: `bytes` are not in the canonical form';
    expect(() => decodeConfiguration(bytesOf('[2, ["a"],"majority",null,[],[],4]'))).toThrow(why);
    expect(() => decodeConfiguration(bytesOf('[2,["a"],"majority",null,[],[["o","y"],["a","x"]],4]').slice())).toThrow(
      'decodeConfiguration: `addresses` names "o", who is not a member',
    );
    expect(() => decodeConfiguration(bytesOf('[2,["a","o"],"majority",null,[],[["o","y"],["a","x"]],4]'))).toThrow(why);
    // Same length, one byte different: 2.0 is 2 to JSON, not to the bytes.
    expect(() => decodeConfiguration(bytesOf('[2.0,["a"],"majority",null,[],[],4]'))).toThrow(why);
    // The canonical form and more: JSON takes the trailing space, the bytes do not.
    expect(() => decodeConfiguration(bytesOf('[2,["a"],"majority",null,[],[],4] '))).toThrow(why);
    expect(decodeConfiguration(bytesOf('[2,["a"],"majority",null,[],[],4]')).voters).toEqual(['a']);
  });
});

describe('quorumsMeet', () => {
  const majorityOf = (voters: string[]): Configuration => ({ ...base, voters, observers: [], addresses: {} });

  it('holds for one voter added or removed, not for one replaced', () => {
    expect(quorumsMeet(majorityOf(['a', 'b', 'c']), majorityOf(['a', 'b', 'c', 'd']))).toBe(true);
    expect(quorumsMeet(majorityOf(['a', 'b', 'c']), majorityOf(['a', 'b']))).toBe(true);
    expect(quorumsMeet(majorityOf(['a', 'b', 'c']), majorityOf(['a', 'b', 'd']))).toBe(false);
  });

  it('holds through a joint configuration, on either side', () => {
    expect(quorumsMeet(majorityOf(['a', 'b', 'c']), joint)).toBe(true);
    expect(quorumsMeet(joint, majorityOf(['a', 'b', 'd']))).toBe(true);
    expect(quorumsMeet(joint, majorityOf(['e', 'f', 'g']))).toBe(false);
    // Only the leaving side meets the next configuration: that is enough.
    const swap: Configuration = { ...majorityOf(['d', 'e', 'f']), leaving: { voters: ['a', 'b', 'c'], quorum: 'majority' } };
    expect(quorumsMeet(swap, majorityOf(['a', 'b']))).toBe(true);
    expect(quorumsMeet(majorityOf(['d', 'e', 'f']), majorityOf(['a', 'b']))).toBe(false);
  });

  it('refuses phase sizes outside 1..n (a configuration that was never checked)', () => {
    const sized = (phase1: number, phase2: number): Configuration => ({ ...majorityOf(['a', 'b', 'c']), quorum: { phase1, phase2 } });
    expect(() => quorumsMeet(sized(0, 3), base)).toThrow(new InvariantError('phase-1 size 0 outside 1..3'));
    expect(() => quorumsMeet(base, sized(3, 4))).toThrow(new InvariantError('phase-2 size 4 outside 1..3'));
    expect(quorumsMeet(sized(3, 1), sized(1, 3))).toBe(true);
  });

  it('uses the phase-1 size of the old side and the phase-2 size of the new', () => {
    const old = { ...majorityOf(['a', 'b', 'c']), quorum: { phase1: 3, phase2: 1 } };
    const next = { ...majorityOf(['a', 'b', 'd']), quorum: { phase1: 1, phase2: 3 } };
    // Old phase 1 is all of a, b, c; new phase 2 is all of a, b, d.
    expect(quorumsMeet(old, next)).toBe(true);
    // Old phase 2 is any one of a, b, c; new phase 1 is any one of a, b, d: c and d miss.
    expect(quorumsMeet(next, old)).toBe(false);
  });
});
