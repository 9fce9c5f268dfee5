/**
 * How a model reaches a worker thread: `describeModel` (in the caller's thread) names a
 * built-in model or checks a user's `origin`, and `loadModel` (in the worker) loads it
 * back. Run here in the test's own thread, where every branch can be seen.
 */
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Model, registerModel, setModel, versionedKvModel } from '../../../src/testing/index.js';
import { describeModel, loadModel } from '../../../src/testing/linearizability/model-origin.js';
import { counterModel, counterNamed, notAModel } from './worker-models.js';

const toUrl = (path: string): string => pathToFileURL(path).href;
const withOrigin = (origin: unknown): Model<unknown, unknown, unknown> => ({ ...counterModel, origin }) as Model<unknown, unknown, unknown>;

describe('describeModel', () => {
  it('names a built-in model by identity, not a copy of it', () => {
    expect(describeModel(registerModel)).toEqual({ builtin: 'register' });
    expect(describeModel(setModel)).toEqual({ builtin: 'set' });
    expect(describeModel({ ...versionedKvModel })).toMatch(/model 'versioned-kv' is neither a built-in model nor has an `origin`/);
  });

  it("takes a user's origin as an absolute path, a Windows path, a UNC path or a file: URL", () => {
    for (const module of ['/srv/models.js', 'C:\\models\\kv.js', 'd:/models/kv.js', '\\\\server\\share\\kv.js', 'file:///srv/models.js']) {
      expect(describeModel(withOrigin({ module, export: 'm' }))).toStrictEqual({ origin: { module, export: 'm' }, name: 'counter' });
    }
    expect(describeModel(withOrigin({ module: '/m.js', export: 'm', args: [1, 'x'] }))).toEqual({
      origin: { module: '/m.js', export: 'm', args: [1, 'x'] },
      name: 'counter',
    });
  });

  it('refuses an origin a worker cannot load, saying which field is wrong', () => {
    const refusal = (origin: unknown): string => {
      const described = describeModel(withOrigin(origin));
      expect(typeof described).toBe('string');
      return described as string;
    };
    for (const module of ['./models.js', 'models.js', 'models/', '1:/m.js', 'Ca:/m.js', 'C:models.js', 'https://example.com/m.js', 7])
      expect(refusal({ module, export: 'm' })).toBe(
        `the \`origin.module\` of model 'counter' must be an absolute file path or a file: URL, got ${JSON.stringify(module)}`,
      );
    for (const name of ['', 3, undefined])
      expect(refusal({ module: '/m.js', export: name })).toBe("the `origin.export` of model 'counter' must name an export");
    expect(refusal({ module: '/m.js', export: 'm', args: 'x' })).toBe("the `origin.args` of model 'counter' must be an array");
  });
});

describe('loadModel', () => {
  it('loads a built-in model by name, and refuses a name it does not know', async () => {
    expect(await loadModel({ builtin: 'register' }, toUrl)).toBe(registerModel);
    await expect(loadModel({ builtin: 'registers' }, toUrl)).rejects.toThrow("no built-in model 'registers'");
  });

  it("loads a user's model from its module (a file: URL or a path) and export, calling a factory with origin.args", async () => {
    const module = counterModel.origin!.module;
    const loaded = await loadModel({ origin: { module, export: 'counterModel' }, name: 'counter' }, toUrl);
    expect(loaded).toBe(counterModel);
    const path = new URL(module).pathname;
    expect(await loadModel({ origin: { module: path, export: 'counterModel' }, name: 'counter' }, toUrl)).toBe(counterModel);
    const made = await loadModel({ origin: { module, export: 'counterNamed', args: ['tally'] }, name: 'tally' }, toUrl);
    expect(made.name).toBe('tally');
    expect(made.step(2, { op: 'add', by: 3 }, undefined)).toEqual(counterNamed('tally').step(2, { op: 'add', by: 3 }, undefined));
    // No origin.args: the factory is called with none (and makes a counter without a name).
    await expect(loadModel({ origin: { module, export: 'counterNamed' }, name: 'tally' }, toUrl)).rejects.toThrow('is not a Model');
  });

  it('refuses a missing export, an export that is not a model, and a model of another name', async () => {
    const module = counterModel.origin!.module;
    await expect(loadModel({ origin: { module, export: 'nothing' }, name: 'counter' }, toUrl)).rejects.toThrow(`${module} has no export 'nothing'`);
    for (const field of ['null', 'text', 'function', 'name', 'init', 'step', 'hash'])
      await expect(loadModel({ origin: { module, export: notAModel.name, args: [field] }, name: 'counter' }, toUrl), field).rejects.toThrow(
        `export '${notAModel.name}' of ${module} is not a Model (nor a function returning one)`,
      );
    await expect(loadModel({ origin: { module, export: 'counterModel' }, name: 'tally' }, toUrl)).rejects.toThrow(
      `export 'counterModel' of ${module} is model 'counter', not 'tally'`,
    );
  });
});
