/**
 * Which members of a split's new group may vote in it at once. Every member starts the
 * new group with empty storage, and a voter with empty storage first asks every other
 * voter what they hold (it may have been wiped, and forgotten votes it cast): with one
 * member down, the group could not elect its first leader, and the split would wait for
 * that member. The meta group knows better. The split's intent opens a ledger of the new
 * group's first starts; a member starting the group puts its own first start on record
 * there (a create, which succeeds once per member and group, ever) before the group
 * runs here. A member that made the record has never run the group, so its empty
 * storage is not a wiped one, and it votes at once (`neverVoted`). A member that finds
 * its record made already ran the group before: its storage holds what it voted, or was
 * wiped; either way it starts as any voter does, and the guard runs if it has no promise.
 */
import type { NodeId } from '../../core/index.js';
import type { KvNode } from '../kv-node.js';
import type { TxnOp } from '../kv-types.js';

/** The meta group's keys of the ledgers, all before the map's and the split's keys. */
const birthsPrefix = 'births/';

/** The key of group `group`'s ledger of first starts: present only for a group a split made. */
function ledgerKey(group: number): string {
  return `${birthsPrefix}${group}`;
}

/** The key of `member`'s first start in group `group`. */
function birthKey(group: number, member: NodeId): string {
  return `${birthsPrefix}${group}/${member}`;
}

/** The operation, in the split's intent transaction, opening its new group's ledger. */
export function openLedger(group: number): TxnOp {
  return { op: 'put', key: ledgerKey(group), value: new Uint8Array(0) };
}

/** The operations, in an abandoned split's last transaction, deleting its group's ledger and every member's record in it. */
export function closeLedger(group: number, members: readonly NodeId[]): TxnOp[] {
  return [ledgerKey(group), ...members.map((member) => birthKey(group, member))].map((key) => ({ op: 'delete', key }));
}

/**
 * Puts this member's first start in group `group` on record, if the group has a ledger
 * (a split made it) and the record is not made yet. Resolves true if this call made it:
 * the member never ran the group, and may vote in it at once. False otherwise, without
 * a write when this member's meta replica shows the record made already (a restart).
 */
export async function recordFirstStart(meta: KvNode, group: number, member: NodeId): Promise<boolean> {
  const record = birthKey(group, member);
  if (meta.machine.view.latest(record)?.value != null) return false;
  const { succeeded } = await meta.txn({
    compare: [
      { key: ledgerKey(group), target: 'version', op: '>', value: 0 },
      { key: record, target: 'version', op: '==', value: 0 },
    ],
    success: [{ op: 'put', key: record, value: new Uint8Array(0) }],
  });
  return succeeded;
}
