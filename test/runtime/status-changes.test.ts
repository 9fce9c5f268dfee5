/**
 * Status changes on their own, through a fake host: each change of the core's status
 * (role, leader, commit index, configuration, the amnesia guard) is announced once, in
 * an event and a log line, and reaches the parts that act on it in the order they rely
 * on (reads ask the new leader before the forwards leave).
 */
import { describe, expect, it } from 'vitest';
import type { Configuration } from '../../src/core/index.js';
import type { NodeEvents } from '../../src/runtime/events.js';
import { MetricsRecorder } from '../../src/runtime/metrics.js';
import { StatusChanges, type WatchedStatus } from '../../src/runtime/status-changes.js';

const configuration = (id: number): Configuration => ({ id, voters: ['a', 'b', 'c'], quorum: 'majority', observers: [], addresses: {}, windowSlots: 256 });

const base: WatchedStatus = {
  role: 'follower',
  leader: undefined,
  promised: { round: 0, node: '' },
  commitIndex: 0,
  configuration: configuration(0),
  configurationFrom: 1,
  rejoining: undefined,
  rejoinTarget: undefined,
  heardLeader: undefined,
  transferTarget: undefined,
};

function harness() {
  const events: string[] = [];
  const calls: string[] = [];
  const logs: string[] = [];
  const log =
    (level: string) =>
    (_fields: Record<string, unknown>, message: string): void => {
      logs.push(`${level}: ${message}`);
    };
  const recorder = new MetricsRecorder();
  const changes = new StatusChanges({ id: 'a', logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') } }, recorder, {
    emit: <E extends keyof NodeEvents>(event: E, payload: NodeEvents[E]) => events.push(`${event} ${JSON.stringify(payload)}`),
    proposals: {
      roleChanged: () => calls.push('proposals.roleChanged'),
      leaderChanged: () => calls.push('proposals.leaderChanged'),
      flushForwards: () => calls.push('proposals.flushForwards'),
    },
    reads: { leaderChanged: () => calls.push('reads.leaderChanged') },
    transfers: {
      leaderChanged: (leader) => calls.push(`transfers.leaderChanged ${leader}`),
      observe: () => calls.push('transfers.observe'),
    },
    changes: { observe: (c, from) => calls.push(`changes.observe ${c.id}@${from}`) },
  });
  return { changes, events, calls, logs, recorder };
}

describe('StatusChanges', () => {
  it('announces the first configuration once, and passes every status on to transfers and membership changes', () => {
    const h = harness();
    h.changes.start('follower');
    h.changes.observe(base);
    h.changes.observe(base);
    expect(h.events).toEqual([`configuration ${JSON.stringify({ configuration: configuration(0), from: 1 })}`]);
    expect(h.calls).toEqual(['changes.observe 0@1', 'transfers.observe', 'changes.observe 0@1', 'transfers.observe']);
    expect(h.changes.leader).toBeUndefined();
  });

  it('announces a role change once, with the previous role, and counts campaigns and elections won', () => {
    const h = harness();
    h.changes.start('follower');
    h.changes.observe({ ...base, role: 'candidate' });
    h.changes.observe({ ...base, role: 'candidate' });
    h.changes.observe({ ...base, role: 'leader', leader: 'a' });
    const roles = h.events.filter((e) => e.startsWith('roleChange'));
    expect(roles).toEqual(['roleChange {"role":"candidate","previous":"follower"}', 'roleChange {"role":"leader","previous":"candidate"}']);
    expect(h.calls.filter((c) => c === 'proposals.roleChanged')).toHaveLength(2);
    expect(h.recorder.campaigns).toBe(1);
    expect(h.recorder.won).toBe(1);
  });

  it('tells transfers of every leader change, and with a leader known, reads before the forwards leave', () => {
    const h = harness();
    h.changes.start('follower');
    h.changes.observe({ ...base, leader: 'b' });
    expect(h.changes.leader).toBe('b');
    expect(h.calls.slice(0, 4)).toEqual(['transfers.leaderChanged b', 'proposals.leaderChanged', 'reads.leaderChanged', 'proposals.flushForwards']);
    h.calls.length = 0;
    h.changes.observe(base);
    expect(h.changes.leader).toBeUndefined();
    expect(h.calls.slice(0, 1)).toEqual(['transfers.leaderChanged undefined']);
    expect(h.calls).not.toContain('proposals.leaderChanged');
    expect(h.recorder.leaderChanges).toBe(2);
    expect(h.events.filter((e) => e.startsWith('leaderChange'))).toEqual(['leaderChange {"leader":"b"}', 'leaderChange {}']);
  });

  it('announces the commit index only when it moves forward', () => {
    const h = harness();
    h.changes.start('follower');
    for (const commitIndex of [0, 3, 3, 2, 5]) h.changes.observe({ ...base, commitIndex });
    expect(h.events.filter((e) => e.startsWith('commit'))).toEqual(['commit {"commitIndex":3}', 'commit {"commitIndex":5}']);
  });

  it('announces a configuration each time its id changes', () => {
    const h = harness();
    h.changes.start('follower');
    h.changes.observe(base);
    h.changes.observe({ ...base, configuration: configuration(1), configurationFrom: 9 });
    h.changes.observe({ ...base, configuration: configuration(1), configurationFrom: 9 });
    expect(h.events.filter((e) => e.startsWith('configuration'))).toHaveLength(2);
    expect(h.calls).toContain('changes.observe 1@9');
  });

  it('says in the log how a node without a promise rejoins: a warning only once it shows lost history', () => {
    const fresh = harness();
    fresh.changes.start('follower');
    fresh.changes.observe({ ...base, rejoining: 'probing' });
    fresh.changes.observe(base);
    expect(fresh.logs.filter((l) => !l.includes('configuration'))).toEqual([
      'info: no promise on record (a new node, or its storage was wiped): asking every voter what it holds before voting',
      'info: every voter answered and none holds anything: a new cluster, voting',
    ]);

    const wiped = harness();
    wiped.changes.start('follower');
    wiped.changes.observe({ ...base, rejoining: 'probing' });
    wiped.changes.observe({ ...base, rejoining: 'rebuilding', rejoinTarget: 40 });
    wiped.changes.observe({ ...base, promised: { round: 3, node: 'b' } });
    expect(wiped.logs.filter((l) => !l.includes('configuration')).slice(1)).toEqual([
      'warn: the cluster has history this node does not hold: not voting until it learned the chosen log up to slot 40',
      'info: caught up after amnesia: voting again with a promise no lower than any it may have made',
    ]);

    // Learned the log while probing and rebuilt within one step: no warning said so yet, this one does.
    const quick = harness();
    quick.changes.start('follower');
    quick.changes.observe({ ...base, rejoining: 'probing' });
    quick.changes.observe({ ...base, promised: { round: 3, node: 'b' } });
    expect(quick.logs.filter((l) => !l.includes('configuration')).slice(1)).toEqual([
      'warn: caught up after amnesia: voting again with a promise no lower than any it may have made',
    ]);
  });
});
