/** `synod session list|revoke`: placeholder, filled in below. */
import type { Args } from './args.js';
import { UsageError } from './usage-error.js';

export async function sessionCommand(args: Args): Promise<number> {
  throw new UsageError('synod session', args.positional[1] ?? 'subcommand', 'is not available yet');
}
