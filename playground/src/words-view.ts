/**
 * "ZooKeeper words": what the drawing shows, in the terms ZooKeeper users know, with
 * the live cluster's numbers filled in.
 */
import type { Session } from './session.js';
import { ballotLabel } from './labels.js';

/** A ZooKeeper zxid for a slot chosen under a ballot of round `round`: epoch in the high 32 bits, counter in the low. */
function zxidOf(round: number, slot: number): string {
  return `0x${(BigInt(round) * 2n ** 32n + BigInt(slot)).toString(16).padStart(16, '0')}`;
}

/** The HTML of the panel. */
export function wordsPanel(session: Session): string {
  const sim = session.sim;
  const leaderId = sim.leader();
  const leader = leaderId === undefined ? undefined : sim.replica(leaderId)?.status;
  const voters = leader?.configuration.voters.length ?? sim.ids.filter((id) => id.startsWith('n')).length;
  const rule = leader?.configuration.quorum ?? 'majority';
  const quorum =
    rule === 'majority'
      ? `a majority is ${Math.floor(voters / 2) + 1}. Any two majorities share a voter: that is why a minority side of a partition can never commit.`
      : `flexible quorums: ${rule.phase1} promises to lead, ${rule.phase2} accepts to choose a slot. Every phase-1 quorum meets every phase-2 quorum (${rule.phase1} + ${rule.phase2} > ${voters}), which is all safety needs.`;
  const live =
    leader === undefined
      ? '<p class="live">No leader now: ZooKeeper would be in <em>leader election</em> (LOOKING).</p>'
      : `<p class="live">Leader <b>${leaderId}</b>, epoch = ballot round <b>${leader.promised.round}</b> (ballot ${ballotLabel(leader.promised)}); last committed zxid ≈ <code>${zxidOf(leader.promised.round, leader.commitIndex)}</code> (ballot round ${leader.promised.round}, slot ${leader.commitIndex}).</p>`;
  return `
<h2>ZooKeeper words</h2>
${live}
<dl>
  <dt>leader / follower / observer</dt>
  <dd>The same roles. Our leader is the node whose ballot won phase 1; followers are the other voters (acceptors); observers learn the log without voting, as ZooKeeper observers do. A <em>candidate</em> is a voter running phase 1 (ZooKeeper: LOOKING).</dd>
  <dt>proposal / ack / commit</dt>
  <dd><code>accept</code> is ZooKeeper's PROPOSAL, <code>accepted</code> is its ACK, and <code>commit</code> (or the commit index on the next <code>accept</code>/<code>heartbeat</code>) is its COMMIT. A slot is <em>chosen</em> once a quorum acked it.</dd>
  <dt>zxid ↔ (ballot, slot)</dt>
  <dd>A zxid is (epoch, counter). Our ballot <code>round.node</code> plays the epoch; the slot plays the counter, except that slots keep counting across leaders where ZooKeeper's counter restarts at 0 each epoch.</dd>
  <dt>epoch change / NEWLEADER</dt>
  <dd>Phase 1: <code>prepare</code> and <code>promise</code>, once per leadership; promises carry what each follower accepted, so the new leader re-proposes it (ZooKeeper's synchronisation with followers).</dd>
  <dt>quorum</dt>
  <dd>Here: ${voters} voter${voters === 1 ? '' : 's'}; ${quorum}</dd>
  <dt>sync / snapshot</dt>
  <dd><code>catchUp</code> and <code>chosen</code> fill a lagging member's log (ZooKeeper DIFF); a member too far behind gets a <code>snapshot</code> (SNAP).</dd>
</dl>`;
}
