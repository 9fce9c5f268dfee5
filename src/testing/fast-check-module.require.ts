/**
 * fast-check, loaded if installed (CJS build): the same contract as
 * fast-check-module.ts, by `require` since a CJS module cannot await. Only the CJS
 * build uses this file (tsup.config.ts swaps it in).
 * @internal
 */
import type * as FastCheck from 'fast-check';

function load(): { readonly module: typeof FastCheck } | { readonly failure: unknown } {
  try {
    return { module: require('fast-check') as typeof FastCheck };
  } catch (failure) {
    return { failure };
  }
}

/** The fast-check module, or the reason it could not be loaded. @internal */
export const fastCheckModule = load();
