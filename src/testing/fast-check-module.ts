/**
 * fast-check, loaded if installed (ESM build): an optional peer, so a missing package
 * must not stop `synod/testing` from loading. A top-level await keeps the functions
 * that use it synchronous. The CJS build swaps this file for
 * fast-check-module.require.ts (see tsup.config.ts), so each format loads fast-check's
 * own copy for that format, the one the user's tests get too.
 * @internal
 */
import type * as FastCheck from 'fast-check';

/** The fast-check module, or the reason it could not be loaded. @internal */
export const fastCheckModule: { readonly module: typeof FastCheck } | { readonly failure: unknown } = await import('fast-check').then(
  (module) => ({ module }),
  (failure: unknown) => ({ failure }),
);
