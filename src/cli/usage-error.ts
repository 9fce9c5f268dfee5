/**
 * A command line the `synod` command cannot run as written: an unknown command or
 * option, a missing or extra word, an option value of the wrong form. Nothing was
 * done; `synod` exits with status 2 (the shell's "misuse") instead of 1.
 */
import { ConfigError } from '../core/index.js';

/** A command line refused before anything was done; `field` is the option or word at fault. */
export class UsageError extends ConfigError {
  constructor(command: string, field: string, why: string) {
    super(command, field, why);
  }
}
