/**
 * Models written by a user, loaded by worker threads through their `origin` (this
 * module and an export): a counter as docs/testing.md shows it, and models that break a
 * worker on purpose.
 */
import { threadId } from 'node:worker_threads';
import type { Model } from '../../../src/testing/index.js';

export type CounterInput = { readonly op: 'add'; readonly by: number } | { readonly op: 'read' };

const counter = (name: string, origin: string): Model<number, CounterInput, number | null> => ({
  name,
  init: () => 0,
  step: (state, input, observed) =>
    input.op === 'add' ? { ok: true, state: state + input.by, output: null } : { ok: observed === undefined || observed === state, state, output: state },
  hash: (state) => String(state),
  readOnly: (input) => input.op === 'read',
  origin: { module: import.meta.url, export: origin },
});

/** A counter, as a user writes it: its origin names this module and this export. */
export const counterModel = counter('counter', 'counterModel');

/** A factory of counters named `name`, for `origin.args`. */
export function counterNamed(name: string): Model<number, CounterInput, number | null> {
  return { ...counter(name, 'counterNamed'), origin: { module: import.meta.url, export: 'counterNamed', args: [name] } };
}

/** A counter whose step throws on an add of 13: a bug in a user's model. */
export const throwingModel: Model<number, CounterInput, number | null> = {
  ...counter('throwing', 'throwingModel'),
  step: (state, input, observed) => {
    if (input.op === 'add' && input.by === 13) throw new Error('the model cannot add 13');
    return counterModel.step(state, input, observed);
  },
};

/** A counter whose step throws a string, not an Error, on an add of 13. */
export const stringThrowingModel: Model<number, CounterInput, number | null> = {
  ...counter('string-throwing', 'stringThrowingModel'),
  step: (state, input, observed) => {
    if (input.op === 'add' && input.by === 13) throw 'thirteen';
    return counterModel.step(state, input, observed);
  },
};

const kept: unknown[] = [];

/** A counter whose step holds on to 8 MiB of heap on every add of 13: a leak the byte accounting cannot see. */
export const leakingModel: Model<number, CounterInput, number | null> = {
  ...counter('leaking', 'leakingModel'),
  step: (state, input, observed) => {
    if (input.op === 'add' && input.by === 13) for (;;) kept.push(new Array(1 << 20).fill(kept.length));
    return counterModel.step(state, input, observed);
  },
};

/** A counter whose states hold a function: a worker cannot send them back. */
export const unclonableModel: Model<{ readonly n: number; readonly show: () => string }, CounterInput, number | null> = {
  name: 'unclonable',
  init: () => ({ n: 0, show: () => '0' }),
  step: (state, input, observed) => {
    if (input.op === 'read') return { ok: observed === undefined || observed === state.n, state, output: state.n };
    const n = state.n + input.by;
    return { ok: true, state: { n, show: () => String(n) }, output: null };
  },
  hash: (state) => String(state.n),
  origin: { module: import.meta.url, export: 'unclonableModel' },
};

/**
 * A counter whose step, on an add of 13, waits until the test sets `signal`'s first
 * element (20 s at most), then throws: a worker that dies on a key when the test says.
 */
export function throwingWhenSignalled(signal: SharedArrayBuffer): Model<number, CounterInput, number | null> {
  const flag = new Int32Array(signal);
  return {
    ...counter('throwing-when-signalled', 'throwingWhenSignalled'),
    step: (state, input, observed) => {
      if (input.op === 'add' && input.by === 13) {
        Atomics.wait(flag, 0, 0, 20_000);
        throw new Error('the model cannot add 13');
      }
      return counterModel.step(state, input, observed);
    },
    origin: { module: import.meta.url, export: 'throwingWhenSignalled', args: [signal] },
  };
}

/**
 * `unclonableModel`, except that no read is explained on any thread but `home` (a
 * `threadId`): a failure the checker's workers find and the calling thread's search does
 * not (as when that search runs out of its memory bound).
 */
export function unclonableFailingAwayFrom(home: number): typeof unclonableModel {
  return {
    ...unclonableModel,
    name: 'unclonable-failing-away',
    step: (state, input, observed) =>
      input.op === 'read' && threadId !== home ? { ok: false, state, output: state.n } : unclonableModel.step(state, input, observed),
    origin: { module: import.meta.url, export: 'unclonableFailingAwayFrom', args: [home] },
  };
}

/** A counter whose step never returns on an add of 13: the hardest key there is, and one that never reads the clock. */
export const spinningModel: Model<number, CounterInput, number | null> = {
  ...counter('spinning', 'spinningModel'),
  step: (state, input, observed) => {
    if (input.op === 'add' && input.by === 13) for (;;);
    return counterModel.step(state, input, observed);
  },
};

/**
 * What a module exports by mistake for a model: `null`, a string, a function carrying a
 * counter's fields, or a counter with `field` that is not what a Model needs.
 */
export function notAModel(field: 'null' | 'text' | 'function' | 'name' | 'init' | 'step' | 'hash'): unknown {
  if (field === 'null') return null;
  if (field === 'text') return 'counter';
  if (field === 'function') return Object.defineProperties(() => counterModel, Object.getOwnPropertyDescriptors(counterModel));
  return { ...counterModel, [field]: field === 'name' ? 7 : 'not a function' };
}
