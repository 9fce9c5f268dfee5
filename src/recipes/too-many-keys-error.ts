import { SynodError } from '../core/index.js';

/**
 * A recipe reads all the keys under its prefix (the contenders of a lock or an
 * election, the entries of a configuration) in one range read, and there were more
 * than one read returns (the KV's range limit). Use fewer keys under one prefix, or
 * split them over several.
 */
export class TooManyKeysError extends SynodError {
  /** The prefix whose keys did not fit in one range read. */
  readonly prefix: string;

  constructor(api: string, prefix: string) {
    super('TOO_MANY_KEYS', `${api}: more keys under ${JSON.stringify(prefix)} than one range read returns`);
    this.prefix = prefix;
  }
}
