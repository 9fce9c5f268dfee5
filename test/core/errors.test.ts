import { describe, expect, it } from 'vitest';
import { ConfigError, InvariantError, SynodError } from '../../src/core/index.js';
import { assert, unreachable } from '../../src/core/assert.js';

// The error classes at unit level: their fields, and `instanceof` across two copies of
// the package. The copies themselves are tested on the build (test/package); here a
// second copy is imitated by classes of the same names carrying the global brand.
const brand = Symbol.for('synod.error');

/** Classes named as the package's, from "another copy": related by name and brand only. */
function otherCopy(): { SynodError: new () => Error; ConfigError: new () => Error } {
  class SynodError extends Error {
    constructor() {
      super('from the other copy');
      Object.defineProperty(this, brand, { value: true });
    }
  }
  class ConfigError extends SynodError {}
  // Named explicitly: the test's transform may rename classes that shadow imports.
  Object.defineProperty(SynodError, 'name', { value: 'SynodError' });
  Object.defineProperty(ConfigError, 'name', { value: 'ConfigError' });
  return { SynodError, ConfigError };
}

describe('SynodError', () => {
  it('carries its code, message, cause and the name of the class built', () => {
    const cause = new Error('below');
    const e = new SynodError('SOME_CODE', 'what went wrong', { cause });
    expect(e.code).toBe('SOME_CODE');
    expect(e.message).toBe('what went wrong');
    expect(e.cause).toBe(cause);
    expect(e.name).toBe('SynodError');
    expect(e).toBeInstanceOf(Error);
  });

  it('ConfigError and InvariantError set their code, field and message', () => {
    const c = new ConfigError('Api', 'limits.x', 'must be positive');
    expect(c.code).toBe('CONFIG');
    expect(c.field).toBe('limits.x');
    expect(c.message).toBe('Api: `limits.x` must be positive');
    expect(c.name).toBe('ConfigError');
    const i = new InvariantError('broken');
    expect(i.code).toBe('INVARIANT');
    expect(i.message).toBe('broken');
    expect(i.name).toBe('InvariantError');
  });

  it('instanceof: a class matches itself and its subclasses, never a sibling', () => {
    const c = new ConfigError('Api', 'f', 'bad');
    const i = new InvariantError('x');
    expect(c instanceof SynodError).toBe(true);
    expect(c instanceof ConfigError).toBe(true);
    expect(c instanceof InvariantError).toBe(false);
    expect(i instanceof InvariantError).toBe(true);
    expect(i instanceof ConfigError).toBe(false);
    expect(new SynodError('X', 'y') instanceof ConfigError).toBe(false);
  });

  it('instanceof: nothing unbranded matches, whatever its shape', () => {
    for (const value of [null, undefined, 'ConfigError', 1, new Error('x'), { name: 'SynodError' }]) {
      expect(value instanceof SynodError).toBe(false);
      expect(value instanceof ConfigError).toBe(false);
    }
    // Named like ours but without the brand: another library's ConfigError.
    class ConfigErrorElsewhere extends Error {}
    Object.defineProperty(ConfigErrorElsewhere, 'name', { value: 'ConfigError' });
    expect(new ConfigErrorElsewhere() instanceof ConfigError).toBe(false);
    // Branded, with a prototype chain that ends (Object.create(null)).
    const bare = Object.create(null) as object;
    Object.defineProperty(bare, brand, { value: true });
    expect(bare instanceof SynodError).toBe(true);
    expect(bare instanceof ConfigError).toBe(false);
  });

  it('instanceof: walks the prototype chain through objects only, and past one without a constructor', () => {
    // A branded object whose prototype has no `constructor` (made from null): no match, no throw.
    const orphan = Object.create(Object.create(null)) as object;
    Object.defineProperty(orphan, brand, { value: true });
    expect(orphan instanceof ConfigError).toBe(false);
    // A function on the chain ends the walk, whatever its `constructor` claims.
    const fn = Object.assign(() => undefined, {});
    Object.defineProperty(fn, 'constructor', { value: { name: 'ConfigError' } });
    const viaFunction = Object.create(fn) as object;
    Object.defineProperty(viaFunction, brand, { value: true });
    expect(viaFunction instanceof ConfigError).toBe(false);
  });

  it("instanceof: another copy's errors match by brand and class name, up the prototype chain", () => {
    const other = otherCopy();
    const config = new other.ConfigError();
    expect(config instanceof SynodError).toBe(true);
    expect(config instanceof ConfigError).toBe(true);
    expect(config instanceof InvariantError).toBe(false);
    // Its base class: found one step up the chain, not on the object's own constructor.
    const base = new other.SynodError();
    expect(base instanceof SynodError).toBe(true);
    expect(base instanceof ConfigError).toBe(false);
  });
});

describe('assert and unreachable', () => {
  it('assert throws an InvariantError with the message, built lazily only on failure', () => {
    expect(() => assert(true, 'unused')).not.toThrow();
    let built = 0;
    const lazy = (): string => {
      built++;
      return 'lazy message';
    };
    assert(true, lazy);
    expect(built).toBe(0);
    expect(() => assert(false, 'plain message')).toThrow(new InvariantError('plain message'));
    expect(() => assert(false, lazy)).toThrow(InvariantError);
    expect(() => assert(false, lazy)).toThrow('lazy message');
  });

  it('unreachable throws an InvariantError naming the value', () => {
    expect(() => unreachable({ kind: 'odd' } as never)).toThrow(InvariantError);
    expect(() => unreachable({ kind: 'odd' } as never)).toThrow('unreachable: {"kind":"odd"}');
  });
});
