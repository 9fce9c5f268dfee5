/**
 * Models sent to worker threads: the built-in ones by name, a user's by the module and
 * export that hold it (`Model.origin`).
 */
import { appendKvModel } from './append-kv-model.js';
import type { Model, ModelOrigin } from './model.js';
import { mutexModel } from './mutex-model.js';
import { queueModel } from './queue-model.js';
import { registerModel } from './register-model.js';
import { setModel } from './set-model.js';
import { transactionalRegisterModel } from './transactional-register-model.js';
import { versionedKvModel } from './versioned-kv-model.js';
import { znodeModel } from './znode-model.js';

/** The built-in models, by the name they go by in a descriptor. */
const builtinModels: Readonly<Record<string, Model<unknown, unknown, unknown>>> = {
  register: registerModel as Model<unknown, unknown, unknown>,
  'versioned-kv': versionedKvModel as Model<unknown, unknown, unknown>,
  'append-kv': appendKvModel as Model<unknown, unknown, unknown>,
  set: setModel as Model<unknown, unknown, unknown>,
  queue: queueModel as Model<unknown, unknown, unknown>,
  mutex: mutexModel as Model<unknown, unknown, unknown>,
  'transactional-register': transactionalRegisterModel as Model<unknown, unknown, unknown>,
  znode: znodeModel as Model<unknown, unknown, unknown>,
};

/** What a worker thread is told to load: a built-in model, or a user's by its origin. @internal */
export type ModelDescriptor = { readonly builtin: string } | { readonly origin: ModelOrigin; readonly name: string };

/**
 * The descriptor of `model`, or why it has none. A built-in model is recognised by
 * identity, so that a copy changed by spreading is never mistaken for it. @internal
 */
export function describeModel<S, I, O>(model: Model<S, I, O>): ModelDescriptor | string {
  for (const [name, builtin] of Object.entries(builtinModels)) if ((builtin as unknown) === model) return { builtin: name };
  const origin = model.origin;
  if (origin === undefined) return `model '${model.name}' is neither a built-in model nor has an \`origin\` (the module and export a worker loads it from)`;
  if (typeof origin.module !== 'string' || !(origin.module.startsWith('file:') || isAbsolutePath(origin.module))) {
    return `the \`origin.module\` of model '${model.name}' must be an absolute file path or a file: URL, got ${JSON.stringify(origin.module)}`;
  }
  if (typeof origin.export !== 'string' || origin.export === '') return `the \`origin.export\` of model '${model.name}' must name an export`;
  if (origin.args !== undefined && !Array.isArray(origin.args)) return `the \`origin.args\` of model '${model.name}' must be an array`;
  return { origin: { module: origin.module, export: origin.export, ...(origin.args === undefined ? {} : { args: origin.args }) }, name: model.name };
}

function isAbsolutePath(path: string): boolean {
  return path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path) || path.startsWith('\\\\');
}

/**
 * Loads the model `descriptor` names (in a worker thread). `toUrl` turns an absolute
 * path into a `file:` URL. Throws an Error that says what is wrong. @internal
 */
export async function loadModel(descriptor: ModelDescriptor, toUrl: (path: string) => string): Promise<Model<unknown, unknown, unknown>> {
  if ('builtin' in descriptor) {
    const builtin = builtinModels[descriptor.builtin];
    if (builtin === undefined) throw new Error(`no built-in model '${descriptor.builtin}'`);
    return builtin;
  }
  const { origin, name } = descriptor;
  const url = origin.module.startsWith('file:') ? origin.module : toUrl(origin.module);
  const namespace = (await import(url)) as Record<string, unknown>;
  // A CommonJS module's exports arrive as the namespace's default.
  const exported = namespace[origin.export] ?? (namespace['default'] as Record<string, unknown> | undefined)?.[origin.export];
  if (exported === undefined) throw new Error(`${origin.module} has no export '${origin.export}'`);
  const model = typeof exported === 'function' ? (exported as (...args: unknown[]) => unknown)(...(origin.args ?? [])) : exported;
  if (!isModel(model)) throw new Error(`export '${origin.export}' of ${origin.module} is not a Model (nor a function returning one)`);
  if (model.name !== name) throw new Error(`export '${origin.export}' of ${origin.module} is model '${model.name}', not '${name}'`);
  return model;
}

function isModel(value: unknown): value is Model<unknown, unknown, unknown> {
  const model = value as Partial<Model<unknown, unknown, unknown>> | null;
  return (
    typeof model === 'object' &&
    model !== null &&
    typeof model.name === 'string' &&
    typeof model.init === 'function' &&
    typeof model.step === 'function' &&
    typeof model.hash === 'function'
  );
}
