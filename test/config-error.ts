/** For the tests of bad configuration, in any layer. */
import { ConfigError } from '../src/core/index.js';

/** The ConfigError `make` throws; anything else it throws goes on, and not throwing fails. */
export function configError(make: () => unknown): ConfigError {
  try {
    make();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('no ConfigError thrown');
}
