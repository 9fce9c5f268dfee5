import { ConfigError } from '../errors.js';
import type { NodeId } from '../node-id.js';

/**
 * Validates the voter list given to the quorum constructor `api`: at least one voter,
 * every id a non-empty string, no id twice. Returns a frozen copy, so later changes to
 * the caller's array cannot reach the quorum.
 *
 * @throws {@link ConfigError} with field `voters`.
 * @internal
 */
export function checkVoters(api: string, voters: readonly NodeId[]): readonly NodeId[] {
  if (!Array.isArray(voters) || voters.length === 0) {
    throw new ConfigError(api, 'voters', 'must list at least one voter');
  }
  const seen = new Set<NodeId>();
  for (const [i, id] of voters.entries()) {
    if (typeof id !== 'string' || id === '') {
      throw new ConfigError(api, 'voters', `must hold non-empty string ids; entry ${i} is ${String(id) || "''"}`);
    }
    if (seen.has(id)) throw new ConfigError(api, 'voters', `lists ${JSON.stringify(id)} twice`);
    seen.add(id);
  }
  return Object.freeze([...voters]);
}
