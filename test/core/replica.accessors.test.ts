import { describe, expect, it } from 'vitest';
import { InvariantError, Replica, majority } from '../../src/core/index.js';
import { ManualCluster } from '../../src/testing/index.js';

// What a replica tells its driver about itself, one accessor at a time: the status
// fields the runtime's metrics and waiters read, the leader's view of its members, and
// the configuration a snapshot must carry.

/** A cluster of three voters and an observer, `a` elected, one command committed everywhere. */
function running(): ManualCluster {
  const c = new ManualCluster({ voters: ['a', 'b', 'c'], observers: ['o'] });
  c.elect('a');
  c.propose('a', 'v1');
  c.deliver();
  c.tick(['a'], 2); // a heartbeat round carries the commit index to the others
  c.deliver();
  return c;
}

describe('Replica accessors', () => {
  it('status: the leader names itself and has heard no other leader; a follower names and heard it', () => {
    const c = running();
    const a = c.status('a');
    expect(a.role).toBe('leader');
    expect(a.leader).toBe('a');
    expect(a.heardLeader).toBeUndefined();
    expect(a.commitIndex).toBe(1); // v1: a new cluster has nothing to adopt, so no no-op first
    const b = c.status('b');
    expect(b.role).toBe('follower');
    expect(b.leader).toBe('a');
    expect(b.heardLeader).toEqual(a.promised);
    expect(b.commitIndex).toBe(a.commitIndex);
    expect(b.appliedIndex).toBe(a.commitIndex);
    expect(b.lastAcceptedSlot).toBe(a.commitIndex);
    expect(c.status('o').role).toBe('observer');
    expect(c.applied('o')).toEqual(['v1']);
  });

  it('status: queued commands, the transfer under way, the ticks since start, the latest configuration', () => {
    const c = running();
    const r = c.replica('a');
    const now = r.status.now;
    c.tick(['a'], 3);
    expect(r.status.now).toBe(now + 3);
    expect(r.status.queuedCommands).toBe(0);
    expect(r.propose([new Uint8Array([1]), new Uint8Array([2])])).toEqual({ ok: true });
    expect(r.status.queuedCommands).toBe(2);
    expect(r.status.transferTarget).toBeUndefined();
    expect(r.transferLeadership('b')).toEqual({ ok: true });
    expect(r.status.transferTarget).toBe('b');
    expect(r.status.configuration).toMatchObject({ id: 0, voters: ['a', 'b', 'c'], observers: ['o'] });
    expect(r.status.configurationFrom).toBe(1);
  });

  it('leaderSilentTicks: 0 while leading; on a follower, the ticks since the leader was last heard', () => {
    const c = running();
    expect(c.replica('a').leaderSilentTicks).toBe(0);
    c.tick(['a'], 5);
    expect(c.replica('a').leaderSilentTicks).toBe(0);
    c.take(() => true); // b hears nothing of those ticks
    const b = c.replica('b');
    const before = b.leaderSilentTicks;
    b.tick();
    b.tick();
    b.tick();
    expect(b.leaderSilentTicks).toBe(before + 3);
  });

  it("leaderCommitIndex: the leader's own; on a follower, what the leader announced or its own if higher; 0 before any", () => {
    const fresh = new Replica({ id: 'a', quorum: majority(['a', 'b', 'c']), random: () => 0 });
    expect(fresh.leaderCommitIndex).toBe(0);
    const c = running();
    const commit = c.status('a').commitIndex;
    expect(c.replica('a').leaderCommitIndex).toBe(commit);
    expect(c.replica('b').leaderCommitIndex).toBe(commit);
    // The leader announces a commit index the follower has not reached: it reports the announced one.
    const ballot = c.status('a').promised;
    c.replica('c').step({ type: 'heartbeat', from: 'a', to: 'c', ballot, commitIndex: commit + 5, seq: 99 });
    expect(c.status('c').commitIndex).toBe(commit);
    expect(c.replica('c').leaderCommitIndex).toBe(commit + 5);
  });

  it('memberProgress: empty unless leading; each other member with its reported commit index and silence', () => {
    const c = running();
    expect(c.replica('b').memberProgress()).toEqual([]);
    const commit = c.status('a').commitIndex;
    const progress = c.replica('a').memberProgress();
    expect(progress.map((m) => m.id).sort()).toEqual(['b', 'c', 'o']);
    for (const m of progress) {
      expect(m.commitIndex).toBe(commit);
      expect(m.silentTicks).toBe(0);
    }
    c.tick(['a'], 2);
    c.take(() => true);
    for (const m of c.replica('a').memberProgress()) expect(m.silentTicks).toBe(2);
  });

  it('memberProgress: a member silent since the leadership began has no commit index, and its silence counts from then', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('a', ['a', 'b']);
    c.take((m) => m.to === 'c');
    c.tick(['a'], 3);
    c.deliver((m) => m.to !== 'c' && m.from !== 'c');
    c.take((m) => m.to === 'c');
    const progress = c.replica('a').memberProgress();
    expect(progress.find((m) => m.id === 'c')).toEqual({ id: 'c', commitIndex: undefined, silentTicks: 3 });
    expect(progress.find((m) => m.id === 'b')).toEqual({ id: 'b', commitIndex: 0, silentTicks: 0 });
  });

  it('isMember: itself, each voter and observer, nobody else', () => {
    const c = running();
    const r = c.replica('b');
    for (const id of ['a', 'b', 'c', 'o']) expect(r.isMember(id)).toBe(true);
    expect(r.isMember('x')).toBe(false);
  });

  it('isMember: itself even once removed, and a member leaving while the configuration that drops it is not governing yet', () => {
    const config = (id: number, voters: string[]) => ({ id, voters, quorum: 'majority' as const, observers: [], addresses: {}, windowSlots: 8 });
    const removed = new Replica({ id: 'z', quorum: majority(['a']), random: () => 0, configuration: [{ from: 1, source: 0, config: config(1, ['a', 'b']) }] });
    expect(removed.role).toBe('removed');
    expect(removed.isMember('z')).toBe(true);
    expect(removed.isMember('a')).toBe(true);
    // c is dropped from slot 9 on: until then it is still a member.
    const r = new Replica({
      id: 'a',
      quorum: majority(['a']),
      random: () => 0,
      configuration: [
        { from: 1, source: 0, config: config(0, ['a', 'b', 'c']) },
        { from: 9, source: 1, config: config(1, ['a', 'b']) },
      ],
      state: {
        promised: { round: 1, node: 'b' },
        accepted: [],
        chosen: [{ slot: 1, value: { kind: 'config', config: config(1, ['a', 'b']) } }],
        commitIndex: 1,
      },
    });
    expect(r.status.configuration.voters).toEqual(['a', 'b']);
    expect(r.isMember('c')).toBe(true);
    expect(r.isMember('x')).toBe(false);
  });

  it('chosenValue: the value of a chosen slot, undefined past the chosen ones', () => {
    const c = running();
    const r = c.replica('b');
    const commit = r.status.commitIndex;
    expect(r.chosenValue(commit)).toEqual({ kind: 'batch', commands: [new TextEncoder().encode('v1')] });
    expect(r.chosenValue(commit + 1)).toBeUndefined();
  });

  it('configurationAt: what a snapshot of a committed slot carries; beyond the commit index is a broken contract', () => {
    const c = running();
    const r = c.replica('b');
    const commit = r.status.commitIndex;
    const state = r.configurationAt(commit);
    expect(state).toHaveLength(1);
    expect(state[0]).toMatchObject({ from: 1, source: 0, config: { voters: ['a', 'b', 'c'] } });
    expect(() => r.configurationAt(commit + 1)).toThrow(InvariantError);
    expect(() => r.configurationAt(commit + 1)).toThrow(`configurationAt(${commit + 1}) beyond the commit index ${commit}`);
  });
});
