/** The fenced resource (src/recipes/fenced-resource.ts): the check that makes a lock safe. */
import { describe, expect, it } from 'vitest';
import { ConfigError, SynodError } from '../../src/index.js';
import { FencedResource, StaleTokenError } from '../../src/recipes/index.js';

describe('FencedResource', () => {
  it('refuses a read or write with a token below the highest seen, accepts an equal or higher one', async () => {
    const storage = new FencedResource();
    await storage.write(5, 'k', 'five');
    await storage.write(5, 'k', 'five again'); // the same holder, many requests
    expect(await storage.read(7, 'k')).toBe('five again'); // a read raises the highest token too
    const refusedWrite = await storage.write(6, 'k', 'six').catch((e: unknown) => e);
    expect(refusedWrite).toBeInstanceOf(StaleTokenError);
    expect(refusedWrite).toBeInstanceOf(SynodError);
    expect(refusedWrite).toMatchObject({ name: 'StaleTokenError', token: 6, highestToken: 7 });
    expect(await storage.read(6, 'k').catch((e: unknown) => e)).toBeInstanceOf(StaleTokenError);
    expect(storage.peek('k')).toBe('five again');
    expect(storage.refused).toBe(2);
    await storage.write(7, 'k', 'seven');
    expect(storage.writes.map((w) => [w.token, w.value])).toEqual([
      [5, 'five'],
      [5, 'five again'],
      [7, 'seven'],
    ]);
    expect(storage.highestToken).toBe(7);
  });

  it('refuses what is not a token', async () => {
    const storage = new FencedResource();
    for (const token of [0, -1, 1.5, Number.NaN])
      expect(await storage.write(token, 'k', 'v').catch((e: unknown) => e), String(token)).toBeInstanceOf(ConfigError);
    expect(() => new FencedResource({ latencyMs: -1 })).toThrow(ConfigError);
  });

  it('with checkTokens false it trusts the lock alone: a stale write lands', async () => {
    const storage = new FencedResource({ checkTokens: false });
    await storage.write(9, 'k', 'new');
    await storage.write(3, 'k', 'stale');
    expect(storage.peek('k')).toBe('stale');
  });
});
