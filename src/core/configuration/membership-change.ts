import type { NodeId } from '../node-id.js';
import { type Configuration, addressBytesMax, configurationProblem, isMember, quorumsMeet, votersOf } from './configuration.js';

/**
 * One change to the cluster's members. `replace` puts the observer `add` in the place
 * of the voter `remove` in one change (through a joint configuration when the old and
 * new quorums need not meet), so the voter count never changes: add the new machine as
 * an observer first, let it catch up, then replace.
 */
export type MembershipChange =
  | { readonly type: 'addObserver'; readonly id: NodeId; readonly address?: string }
  | { readonly type: 'promote'; readonly id: NodeId }
  | { readonly type: 'demote'; readonly id: NodeId }
  | { readonly type: 'remove'; readonly id: NodeId }
  | { readonly type: 'replace'; readonly remove: NodeId; readonly add: NodeId };

/** Why a change was refused. Each leaves the configuration as it was. */
export type ChangeRefusal =
  | { readonly reason: 'unknown-member'; readonly id: NodeId }
  | { readonly reason: 'already-member'; readonly id: NodeId }
  | { readonly reason: 'not-observer'; readonly id: NodeId }
  | { readonly reason: 'not-voter'; readonly id: NodeId }
  | { readonly reason: 'last-voter'; readonly id: NodeId }
  | { readonly reason: 'bad-address'; readonly id: NodeId; readonly why: string }
  | { readonly reason: 'invalid'; readonly field: string; readonly why: string };

/**
 * The configuration `change` leads to from `current`, or why it cannot. A change whose
 * quorums need not meet the current ones' (see {@link quorumsMeet}) gives a joint
 * configuration first; {@link finishJoint} gives the second step once it governs.
 */
export function planChange(current: Configuration, change: MembershipChange): { ok: true; config: Configuration } | ({ ok: false } & ChangeRefusal) {
  if (current.leaving !== undefined) return { ok: false, reason: 'invalid', field: 'change', why: 'a joint configuration is being left' };
  const voters = [...current.voters];
  const observers = [...current.observers];
  const addresses: Record<NodeId, string> = { ...current.addresses };
  const add = (id: NodeId, address: string | undefined): ChangeRefusal | undefined => {
    if (typeof id !== 'string' || id === '') return { reason: 'invalid', field: 'id', why: 'must be a non-empty string' };
    if (isMember(current, id)) return { reason: 'already-member', id };
    if (address !== undefined) {
      if (typeof address !== 'string' || address === '' || address.length > addressBytesMax)
        return { reason: 'bad-address', id, why: `must be a non-empty string of at most ${addressBytesMax} characters` };
      addresses[id] = address;
    }
    return undefined;
  };
  const dropVoter = (id: NodeId, replaced = false): ChangeRefusal | undefined => {
    const i = voters.indexOf(id);
    if (i < 0) return isMember(current, id) ? { reason: 'not-voter', id } : { reason: 'unknown-member', id };
    if (voters.length === 1 && !replaced) return { reason: 'last-voter', id };
    voters.splice(i, 1);
    return undefined;
  };
  let refusal: ChangeRefusal | undefined;
  switch (change.type) {
    case 'addObserver':
      refusal = add(change.id, change.address);
      if (refusal === undefined) observers.push(change.id);
      break;
    case 'promote': {
      const i = observers.indexOf(change.id);
      if (i < 0) refusal = isMember(current, change.id) ? { reason: 'not-observer', id: change.id } : { reason: 'unknown-member', id: change.id };
      else {
        observers.splice(i, 1);
        voters.push(change.id);
      }
      break;
    }
    case 'demote':
      refusal = dropVoter(change.id);
      if (refusal === undefined) observers.push(change.id);
      break;
    case 'remove':
      if (observers.includes(change.id)) observers.splice(observers.indexOf(change.id), 1);
      else refusal = dropVoter(change.id);
      if (refusal === undefined) delete addresses[change.id];
      break;
    case 'replace': {
      const i = observers.indexOf(change.add);
      if (i < 0) refusal = isMember(current, change.add) ? { reason: 'not-observer', id: change.add } : { reason: 'unknown-member', id: change.add };
      else refusal = dropVoter(change.remove, true);
      if (refusal === undefined) {
        observers.splice(i, 1);
        voters.push(change.add);
        delete addresses[change.remove];
      }
      break;
    }
    default:
      return { ok: false, reason: 'invalid', field: 'type', why: `unknown change ${JSON.stringify((change as { type?: unknown }).type)}` };
  }
  if (refusal !== undefined) return { ok: false, ...refusal };
  // A flexible rule's sizes are kept when they still fit; otherwise the new set takes majorities.
  const quorum = current.quorum === 'majority' || fits(current.quorum, voters.length) ? current.quorum : 'majority';
  let next: Configuration = { id: current.id + 1, voters, quorum, observers, addresses, windowSlots: current.windowSlots };
  if (!quorumsMeet(current, next)) next = { ...next, leaving: { voters: current.voters, quorum: current.quorum } };
  const bad = configurationProblem(next);
  if (bad !== undefined) return { ok: false, reason: 'invalid', field: bad[0], why: bad[1] };
  return { ok: true, config: next };
}

/** The second step of a joint change: the new voters alone. */
export function finishJoint(current: Configuration): Configuration {
  const { leaving: _, ...rest } = current;
  return { ...rest, id: current.id + 1 };
}

/** The voters `change` adds (they must have caught up before it is proposed). */
export function votersAdded(current: Configuration, next: Configuration): NodeId[] {
  const before = new Set(votersOf(current));
  return next.voters.filter((v) => !before.has(v));
}

function fits(sizes: { phase1: number; phase2: number }, n: number): boolean {
  return sizes.phase1 <= n && sizes.phase2 <= n && sizes.phase1 + sizes.phase2 > n;
}
