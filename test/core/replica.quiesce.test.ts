import { describe, expect, it } from 'vitest';
import { ConfigError, majority, Replica } from '../../src/core/index.js';
import { ManualCluster } from '../../src/testing/index.js';

// Quiescence, scripted: an idle leader stops its group's ticks, anything rouses it,
// and a follower roused because its leader may be dead campaigns as usual.

const voters = ['a', 'b', 'c'];

/** Ticks every live node `ticks` times, delivering everything after each. */
function settle(c: ManualCluster, ticks: number, ids?: readonly string[]): void {
  for (let i = 0; i < ticks; i++) {
    c.tick(ids);
    c.deliver();
  }
}

/** A cluster led by `a` that committed `x`, then sat idle until it quiesced. */
function quiescedCluster(): ManualCluster {
  const c = new ManualCluster({ voters, quiesceAfterTicks: 4 });
  c.elect('a');
  c.deliver();
  c.propose('a', 'x');
  c.deliver();
  settle(c, 12);
  for (const id of voters) expect(c.status(id).quiesced, id).toBe(true);
  return c;
}

describe('an idle leader quiesces its group', () => {
  it('after quiesceAfterTicks idle ticks, once every peer reported the commit index; then ticks do nothing', () => {
    const c = new ManualCluster({ voters, quiesceAfterTicks: 4 });
    c.elect('a');
    c.deliver();
    c.propose('a', 'x');
    c.deliver();
    const sent: string[] = [];
    for (let i = 0; i < 12; i++) {
      c.tick();
      sent.push(...c.inFlight.map((m) => m.type));
      c.deliver();
    }
    expect(sent.filter((t) => t === 'quiesce')).toHaveLength(2);
    for (const id of voters) expect(c.status(id).quiesced, id).toBe(true);
    const now = voters.map((id) => c.status(id).now);
    c.tick(voters, 100);
    expect(c.inFlight).toEqual([]);
    expect(voters.map((id) => c.status(id).now)).toEqual(now);
    expect(c.status('a').role).toBe('leader');
    for (const id of voters) expect(c.applied(id)).toEqual(['x']);
  });

  it('never, without quiesceAfterTicks: heartbeats go on', () => {
    const c = new ManualCluster({ voters });
    c.elect('a');
    c.deliver();
    const types = new Set<string>();
    for (let i = 0; i < 200; i++) {
      c.tick();
      for (const m of c.inFlight) types.add(m.type);
      c.deliver();
    }
    expect(types.has('heartbeat')).toBe(true);
    expect(types.has('quiesce')).toBe(false);
    for (const id of voters) expect(c.status(id).quiesced).toBe(false);
  });

  it('not while a peer lacks a chosen slot: it needs the leader still', () => {
    const c = new ManualCluster({ voters, quiesceAfterTicks: 2 });
    c.elect('a');
    c.deliver();
    c.crash('c');
    c.propose('a', 'y');
    c.deliver();
    for (let i = 0; i < 200; i++) {
      c.tick(['a', 'b']);
      expect(c.inFlight.some((m) => m.type === 'quiesce')).toBe(false);
      c.deliver();
    }
    expect(c.status('a').quiesced).toBe(false);
  });

  it('not while a peer has been silent for electionTicksMin ticks, though it holds every chosen slot', () => {
    // Idle for 15 ticks is needed, and c stops counting as heard after 10.
    const c = new ManualCluster({ voters, quiesceAfterTicks: 15 });
    c.elect('a');
    c.deliver();
    c.crash('c');
    for (let i = 0; i < 200; i++) {
      c.tick(['a', 'b']);
      expect(c.inFlight.some((m) => m.type === 'quiesce')).toBe(false);
      c.deliver();
    }
    expect(c.status('a').quiesced).toBe(false);
  });

  it('not while a command waits for its slot to commit', () => {
    const c = new ManualCluster({ voters, quiesceAfterTicks: 2 });
    c.elect('a');
    c.deliver();
    c.propose('a', 'y');
    // Accepts never arrive: the slot stays uncommitted.
    for (let i = 0; i < 100; i++) {
      c.tick();
      c.take((m) => m.type === 'accept' || m.type === 'accepted');
      c.deliver();
    }
    expect(c.status('a').quiesced).toBe(false);
    expect(c.status('a').commitIndex).toBe(0);
  });
});

describe('anything rouses a quiesced group', () => {
  it('a proposal: it commits everywhere, and the group quiesces again afterwards', () => {
    const c = quiescedCluster();
    expect(c.propose('a', 'y').ok).toBe(true);
    expect(c.status('a').quiesced).toBe(false);
    c.deliver();
    for (const id of voters) expect(c.applied(id)).toEqual(['x', 'y']);
    settle(c, 12);
    for (const id of voters) expect(c.status(id).quiesced, id).toBe(true);
  });

  it('a read: it is confirmed by a fresh heartbeat round', () => {
    const c = quiescedCluster();
    expect(c.readIndex('a', 1).ok).toBe(true);
    c.deliver();
    settle(c, 3);
    expect(c.reads).toEqual([{ node: 'a', result: { id: 1, ok: true, index: 1 } }]);
  });

  it('a precheck: the voter refuses it (its leader may be alive) and asks the leader to speak, which it does at once', () => {
    const c = quiescedCluster();
    c.inject({ type: 'precheck', from: 'c', to: 'b', commitIndex: 1 });
    expect(c.status('b').quiesced).toBe(false);
    const out = c.take(() => true);
    expect(out).toEqual(
      expect.arrayContaining([
        { type: 'precheckReply', from: 'b', to: 'c', granted: false, promised: c.status('b').promised },
        { type: 'wake', from: 'b', to: 'a', ballot: c.status('a').promised },
      ]),
    );
    c.inject(out.find((m) => m.type === 'wake')!);
    expect(c.status('a').quiesced).toBe(false);
    expect(c.inFlight.filter((m) => m.type === 'heartbeat').map((m) => m.to)).toEqual(['b', 'c']);
  });

  it('a follower that missed the quiesce times out and prechecks; the voters it asks wake the leader, which keeps its ballot', () => {
    const c = new ManualCluster({ voters, quiesceAfterTicks: 4 });
    c.elect('a');
    c.deliver();
    const ballot = c.status('a').promised;
    for (let i = 0; i < 12 && !c.status('a').quiesced; i++) {
      c.tick();
      c.take((m) => m.type === 'quiesce' && m.to === 'c');
      c.deliver();
    }
    expect([c.status('a').quiesced, c.status('b').quiesced, c.status('c').quiesced]).toEqual([true, true, false]);
    settle(c, 60);
    expect(c.status('a').role).toBe('leader');
    expect(c.status('a').promised).toEqual(ballot);
    expect(c.status('c').leader).toBe('a');
    // Idle again, and this time c heard it.
    for (const id of voters) expect(c.status(id).quiesced, id).toBe(true);
  });

  it('wake() does nothing to a replica that is not quiesced', () => {
    const c = new ManualCluster({ voters, quiesceAfterTicks: 4 });
    c.elect('a');
    c.deliver();
    const before = voters.map((id) => c.status(id));
    for (const id of voters) c.wake(id);
    expect(c.inFlight).toEqual([]);
    expect(voters.map((id) => c.status(id))).toEqual(before);
  });
});

describe('a quiesced follower whose leader died', () => {
  it('never campaigns by itself (its time stands still), and campaigns once woken', () => {
    const c = quiescedCluster();
    c.crash('a');
    settle(c, 200, ['b', 'c']);
    expect(c.status('b').role).toBe('follower');
    expect(c.status('c').role).toBe('follower');
    // What the driver does when a's process is suspected: wake a's followers.
    c.wake('b');
    c.wake('c');
    // Their wakes go to a, which is down.
    expect(c.inFlight.map((m) => [m.type, m.to])).toEqual([
      ['wake', 'a'],
      ['wake', 'a'],
    ]);
    c.deliver();
    settle(c, 60, ['b', 'c']);
    const leader = ['b', 'c'].find((id) => c.status(id).role === 'leader');
    expect(leader).toBeDefined();
    expect(c.propose(leader!, 'y').ok).toBe(true);
    c.deliver();
    expect(c.applied('b')).toEqual(['x', 'y']);
    expect(c.applied('c')).toEqual(['x', 'y']);
  });

  it('one woken voter is enough: its precheck rouses the other, which grants once its own timer ran', () => {
    const c = quiescedCluster();
    c.crash('a');
    c.wake('b');
    c.deliver();
    settle(c, 80, ['b', 'c']);
    expect(['b', 'c'].some((id) => c.status(id).role === 'leader')).toBe(true);
  });
});

describe('a quiesce message', () => {
  it('from a ballot below the promise is rejected', () => {
    const c = quiescedCluster();
    const promised = c.status('b').promised;
    c.inject({ type: 'quiesce', from: 'c', to: 'b', ballot: { round: promised.round - 1, node: 'c' }, commitIndex: 1 });
    expect(c.take(() => true)).toEqual([{ type: 'reject', from: 'b', to: 'c', ballot: { round: promised.round - 1, node: 'c' }, promised }]);
  });

  it('to a follower that lacks chosen slots: it stays awake, asks for them, and asks the leader to go on', () => {
    const c = new ManualCluster({ voters, quiesceAfterTicks: 4 });
    c.elect('a');
    c.deliver();
    const ballot = c.status('a').promised;
    c.inject({ type: 'quiesce', from: 'a', to: 'b', ballot, commitIndex: 5 });
    expect(c.status('b').quiesced).toBe(false);
    expect(c.take(() => true).map((m) => m.type)).toEqual(expect.arrayContaining(['catchUp', 'wake']));
  });
});

describe('quiesceAfterTicks', () => {
  it.each([0, -1, 1.5, Number.NaN])('refuses %s', (ticks) => {
    expect(() => new Replica({ id: 'a', quorum: majority(voters), random: () => 0, quiesceAfterTicks: ticks })).toThrow(ConfigError);
  });
});

describe('who a quiesce message quiets', () => {
  const a1 = { round: 1, node: 'a' };
  const quiesce = (to: string) => ({ type: 'quiesce', from: 'a', to, ballot: a1, commitIndex: 0 }) as const;

  it('an observer holding every chosen slot: it stops counting time, and a wake() rouses it without a word (it votes in no election)', () => {
    const d = new Replica({ id: 'd', quorum: majority(voters), observers: ['d'], random: () => 0, quiesceAfterTicks: 4 });
    d.takeOutput();
    expect(d.role).toBe('observer');
    d.step(quiesce('d'));
    expect(d.status.quiesced).toBe(true);
    expect(d.takeOutput().messages).toEqual([]);
    d.wake();
    expect(d.status.quiesced).toBe(false);
    expect(d.takeOutput().messages).toEqual([]);
  });

  it('not a member the log removed: only a leader, follower or observer is quiesced', () => {
    // d starts from a log whose configuration no longer names it.
    const configuration = [{ from: 1, source: 0, config: { id: 0, voters, quorum: 'majority', observers: [], addresses: {}, windowSlots: 8 } }] as const;
    const d = new Replica({ id: 'd', quorum: majority(voters), configuration, random: () => 0, quiesceAfterTicks: 4 });
    d.takeOutput();
    expect(d.role).toBe('removed');
    d.step(quiesce('d'));
    expect(d.status.quiesced).toBe(false);
    expect(d.takeOutput().messages).toEqual([{ type: 'wake', from: 'd', to: 'a', ballot: a1 }]);
  });

  it('not a voter still rejoining (amnesia guard): it asks the leader to go on', () => {
    const b = new Replica({ id: 'b', quorum: majority(voters), random: () => 0, quiesceAfterTicks: 4 });
    b.takeOutput();
    expect(b.status.rejoining).toBe('probing');
    b.step(quiesce('b'));
    expect(b.status.quiesced).toBe(false);
    expect(b.takeOutput().messages).toContainEqual({ type: 'wake', from: 'b', to: 'a', ballot: a1 });
  });

  it('undone when a snapshot is installed (and a snapshot quiets no one)', () => {
    const b = new Replica({
      id: 'b',
      quorum: majority(voters),
      random: () => 0,
      quiesceAfterTicks: 4,
      state: { promised: a1, accepted: [], chosen: [], commitIndex: 0 },
    });
    b.step(quiesce('b'));
    expect(b.status.quiesced).toBe(true);
    b.installSnapshot(3);
    expect(b.status.quiesced).toBe(false);
    const c = new Replica({
      id: 'c',
      quorum: majority(voters),
      random: () => 0,
      quiesceAfterTicks: 4,
      state: { promised: a1, accepted: [], chosen: [], commitIndex: 0 },
    });
    c.installSnapshot(3);
    expect(c.status.quiesced).toBe(false);
  });
});

describe('a quiesced follower roused by its own leader', () => {
  it('does not ask that leader to speak: it just did', () => {
    const c = quiescedCluster();
    c.propose('a', 'y');
    const accepts = c.take((m) => m.type === 'accept');
    expect(accepts.map((m) => m.to).sort()).toEqual(['b', 'c']);
    for (const m of accepts) c.inject(m);
    expect(c.status('b').quiesced).toBe(false);
    expect(c.inFlight.map((m) => m.type)).toEqual(['accepted', 'accepted']);
  });
});

describe('a quiesced leader roused with nothing to do', () => {
  it('quiesces again on its quiesceAfterTicks-th tick: every one of them idle', () => {
    const c = quiescedCluster();
    c.wake('a');
    expect(c.status('a').quiesced).toBe(false);
    const quiesceAt: number[] = [];
    for (let t = 1; t <= 6; t++) {
      c.tick(['a']);
      if (c.inFlight.some((m) => m.type === 'quiesce')) quiesceAt.push(t);
      c.deliver();
    }
    expect(quiesceAt).toEqual([4]);
    for (const id of voters) expect(c.status(id).quiesced, id).toBe(true);
  });
});
