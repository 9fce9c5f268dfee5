/**
 * The testing kit's one way to reach fast-check, an optional peer dependency. `fc`
 * reads as fast-check's own namespace, but a function that touches it when fast-check
 * is not installed throws {@link MissingPeerError} naming the package, instead of
 * `synod/testing` failing to load at all.
 * @internal
 */
import type * as FastCheck from 'fast-check';
import { fastCheckModule } from './fast-check-module.js';
import { MissingPeerError } from './missing-peer-error.js';

function loaded(): typeof FastCheck {
  if ('module' in fastCheckModule) return fastCheckModule.module;
  throw new MissingPeerError('fast-check', fastCheckModule.failure);
}

/** fast-check's functions, resolved on first use. @internal */
export const fc: typeof FastCheck = new Proxy({} as typeof FastCheck, {
  get: (_target, key) => Reflect.get(loaded(), key),
  has: (_target, key) => Reflect.has(loaded(), key),
});

/** The fast-check types the kit names, so `fc.Arbitrary<T>` reads as in fast-check. @internal */
export declare namespace fc {
  type Arbitrary<T> = FastCheck.Arbitrary<T>;
  type IPropertyWithHooks<Ts extends [unknown, ...unknown[]]> = FastCheck.IPropertyWithHooks<Ts>;
  type IAsyncPropertyWithHooks<Ts extends [unknown, ...unknown[]]> = FastCheck.IAsyncPropertyWithHooks<Ts>;
  type Parameters<Ts = void> = FastCheck.Parameters<Ts>;
  type RunDetails<Ts> = FastCheck.RunDetails<Ts>;
}
