import { InvariantError } from './errors.js';

/**
 * Checks an invariant. A failure is a bug: it throws {@link InvariantError} with a
 * message that names the numbers involved.
 * @internal
 */
export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === 'string' ? message : message());
}

/** Marks a branch the type system proves unreachable. @internal */
export function unreachable(value: never): never {
  throw new InvariantError(`unreachable: ${JSON.stringify(value)}`);
}
