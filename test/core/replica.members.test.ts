import { describe, expect, it } from 'vitest';
import { type Message, Replica, flexible, majority } from '../../src/core/index.js';
import { ManualCluster } from '../../src/testing/index.js';

// changeMembers on the leader, each answer word for word: who may ask, the change the
// configuration refuses, a voter added that lags or is silent, a configuration whose
// quorums need voters the leader does not hear, and one change at a time.

/** Voters a, b, c and observer o, a elected, a heartbeat round answered by everyone; `windowSlots` if given. */
function cluster(limits = {}, windowSlots?: number): ManualCluster {
  const c = new ManualCluster({ voters: ['a', 'b', 'c'], observers: ['o'], limits, ...(windowSlots === undefined ? {} : { windowSlots }) });
  c.elect('a');
  c.deliver();
  c.tick(['a'], 2);
  c.deliver();
  return c;
}
const heartbeatsTo = (id: string) => (m: Message) => (m.type === 'heartbeat' || m.type === 'accept' || m.type === 'commit') && m.to === id;

describe('Replica.changeMembers', () => {
  it('refuses off the leader, naming the leader', () => {
    const c = cluster();
    expect(c.changeMembers('b', { type: 'promote', id: 'o' })).toEqual({ ok: false, reason: 'not-leader', leaderHint: 'a' });
  });

  it("passes the configuration's refusal on as it is", () => {
    const c = cluster();
    expect(c.changeMembers('a', { type: 'promote', id: 'x' })).toEqual({ ok: false, reason: 'unknown-member', id: 'x' });
    expect(c.changeMembers('a', { type: 'promote', id: 'b' })).toEqual({ ok: false, reason: 'not-observer', id: 'b' });
  });

  it('takes a change whose voters it hears, then refuses another while it is in progress', () => {
    const c = cluster();
    const r = c.replica('a');
    const done = r.changeMembers({ type: 'promote', id: 'o' });
    expect(done).toMatchObject({ ok: true, config: { voters: ['a', 'b', 'c', 'o'], observers: [] } });
    expect(r.changeMembers({ type: 'demote', id: 'b' })).toEqual({ ok: false, reason: 'in-progress', config: (done as { config: unknown }).config });
  });

  it('refuses to add a voter it has not heard from in this leadership, as behind at commit index 0', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], observers: ['o'] });
    c.elect('a', ['a', 'b', 'c']);
    c.deliver((m) => m.to !== 'o' && m.from !== 'o');
    c.take((m) => m.to === 'o');
    expect(c.changeMembers('a', { type: 'promote', id: 'o' })).toEqual({ ok: false, reason: 'behind', id: 'o', commitIndex: 0, required: 0 });
  });

  it('refuses to add a voter more than catchUpSlotsMax behind, naming its commit index and the one required', () => {
    const c = cluster({ catchUpSlotsMax: 2 });
    c.take(() => true);
    for (const v of ['v1', 'v2', 'v3', 'v4']) {
      c.propose('a', v);
      c.deliver((m) => m.to !== 'o');
      c.take(heartbeatsTo('o'));
    }
    c.tick(['a'], 2);
    c.deliver((m) => m.to !== 'o' || m.type === 'heartbeat');
    c.take((m) => m.to === 'o');
    const commit = c.status('a').commitIndex;
    expect(commit).toBe(4);
    expect(c.status('o').commitIndex).toBe(0);
    expect(c.changeMembers('a', { type: 'promote', id: 'o' })).toEqual({ ok: false, reason: 'behind', id: 'o', commitIndex: 0, required: 2 });
  });

  it('takes a voter exactly catchUpSlotsMax behind', () => {
    const c = cluster({ catchUpSlotsMax: 4 });
    c.take(() => true);
    for (const v of ['v1', 'v2', 'v3', 'v4']) {
      c.propose('a', v);
      c.deliver((m) => m.to !== 'o');
      c.take(heartbeatsTo('o'));
    }
    c.tick(['a'], 2);
    c.deliver((m) => m.to !== 'o' || m.type === 'heartbeat');
    c.take((m) => m.to === 'o');
    expect(c.changeMembers('a', { type: 'promote', id: 'o' })).toMatchObject({ ok: true });
  });

  it('refuses to add a voter last heard electionTicksMin ticks ago, takes one heard a tick later', () => {
    const c = cluster();
    c.take(() => true);
    // o is heard at the round just answered; then silent.
    for (let i = 0; i < 9; i++) {
      c.tick(['a']);
      c.deliver((m) => m.to !== 'o' && m.from !== 'o');
      c.take((m) => m.to === 'o' || m.from === 'o');
    }
    expect(c.replica('a').changeMembers({ type: 'promote', id: 'o' })).toMatchObject({ ok: true });
    const d = cluster();
    d.take(() => true);
    for (let i = 0; i < 10; i++) {
      d.tick(['a']);
      d.deliver((m) => m.to !== 'o' && m.from !== 'o');
      d.take((m) => m.to === 'o' || m.from === 'o');
    }
    expect(d.replica('a').changeMembers({ type: 'promote', id: 'o' })).toMatchObject({ ok: false, reason: 'behind', id: 'o' });
  });

  it('refuses a configuration whose quorums need a voter it does not hear', () => {
    const c = cluster();
    c.take(() => true);
    for (let i = 0; i < 10; i++) {
      c.tick(['a']);
      c.deliver((m) => m.to !== 'c' && m.from !== 'c');
      c.take((m) => m.to === 'c' || m.from === 'c');
    }
    expect(c.status('a').role).toBe('leader');
    expect(c.changeMembers('a', { type: 'remove', id: 'b' })).toEqual({ ok: false, reason: 'would-lose-quorum', voters: ['a', 'c'] });
    expect(c.changeMembers('a', { type: 'remove', id: 'c' })).toMatchObject({ ok: true, config: { voters: ['a', 'b'] } });
  });
});

describe('A leader that removes itself', () => {
  it('once the change governs: is removed, tells the first voter reporting the highest commit index to campaign, and sends every former member the commit index', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], observers: ['o'], windowSlots: 2 });
    c.elect('a');
    c.deliver();
    c.tick(['a'], 2);
    c.deliver();
    expect(c.changeMembers('a', { type: 'remove', id: 'a' })).toMatchObject({ ok: true, config: { voters: ['b', 'c'] } });
    const told: string[] = [];
    c.deliver((m) => {
      if (m.from === 'a' && (m.type === 'timeoutNow' || m.type === 'commit')) told.push(`${m.type}>${m.to}${m.type === 'commit' ? `@${m.commitIndex}` : ''}`);
      return true;
    });
    expect(c.status('a').role).toBe('removed');
    // b and c reported the same commit index: the first of them is the heir.
    // Which messages, to whom: some go out twice (harmless duplicates), not counted here.
    expect([...new Set(told)].sort()).toEqual(['commit>b@2', 'commit>c@2', 'commit>o@2', 'timeoutNow>b']);
    expect(c.status('b').role).toBe('leader');
  });
});

describe('Replica.changeMembers: one change at a time, until it governs', () => {
  it('refuses another while the change has a slot but is not chosen, and while it is chosen but does not govern yet', () => {
    const c = cluster({}, 4);
    const r = c.replica('a');
    const first = c.changeMembers('a', { type: 'addObserver', id: 'p' });
    expect(first).toMatchObject({ ok: true, config: { id: 1 } });
    // Proposed at slot 1 (no longer queued), not chosen.
    const accepts = c.take((m) => m.type === 'accept');
    expect(accepts.map((m) => (m.type === 'accept' ? m.firstSlot : 0))).toEqual([1, 1]);
    const before = c.status('a').configuration;
    expect(r.changeMembers({ type: 'demote', id: 'b' })).toEqual({ ok: false, reason: 'in-progress', config: before });
    // Chosen once b accepted it, and governing from slot 5: a has not proposed the no-ops before it yet.
    c.inject(accepts.find((m) => m.to === 'b')!);
    const [accepted] = c.take((m) => m.type === 'accepted');
    r.step(accepted!);
    expect(r.status.commitIndex).toBe(1);
    const chosen = (first as { config: unknown }).config;
    expect(r.changeMembers({ type: 'demote', id: 'b' })).toEqual({ ok: false, reason: 'in-progress', config: chosen });
    for (const m of accepts) if (m.to !== 'b') c.inject(m);
    c.deliver();
    expect(c.changeMembers('a', { type: 'demote', id: 'b' })).toMatchObject({ ok: true, config: { id: 2 } });
  });
});

describe('Replica.changeMembers under a flexible quorum', () => {
  /**
   * Leader a of `voters` under `sizes`, elected by b and c, after electionTicksMin ticks
   * and more in which only the voters in `heard` answer it.
   */
  function flexibleLeader(voters: string[], sizes: { phase1: number; phase2: number }, heard: readonly string[]): Replica {
    const b1 = { round: 1, node: 'b' };
    const r = new Replica({
      id: 'a',
      quorum: flexible(voters, sizes),
      random: () => 0,
      limits: { electionTicksMin: 10, electionTicksMax: 10, heartbeatTicks: 2 },
      state: { promised: b1, accepted: [], chosen: [], commitIndex: 0 },
    });
    r.takeOutput();
    for (let i = 0; i < 10; i++) r.tick();
    r.takeOutput();
    for (const v of ['b', 'c']) r.step({ type: 'precheckReply', from: v, to: 'a', granted: true, promised: b1 });
    const out = r.takeOutput();
    r.persisted(out.persistSeq);
    const prepare = out.messages.find((m) => m.type === 'prepare');
    if (prepare?.type !== 'prepare') throw new Error('a did not campaign');
    for (const v of ['b', 'c']) r.step({ type: 'promise', from: v, to: 'a', ballot: prepare.ballot, accepted: [], chosen: [] });
    expect(r.role).toBe('leader');
    for (let i = 0; i < 12; i++) {
      const o = r.takeOutput();
      if (o.persist !== undefined) r.persisted(o.persistSeq);
      for (const m of o.messages) {
        if (!heard.includes(m.to)) continue;
        if (m.type === 'heartbeat') r.step({ type: 'heartbeatReply', from: m.to, to: 'a', ballot: m.ballot, commitIndex: m.commitIndex, seq: m.seq });
        if (m.type === 'accept') r.step({ type: 'accepted', from: m.to, to: 'a', ballot: m.ballot, firstSlot: m.firstSlot, count: m.values.length });
      }
      r.tick();
    }
    expect(r.role).toBe('leader');
    return r;
  }

  it('refuses a configuration whose phase-1 quorum it does not hear, though it hears a phase-2 quorum', () => {
    // Voters a, b, c, d; phase 1 needs 3, phase 2 needs 2. a leads and hears b alone:
    // enough to keep leading, not enough for a new leader to be elected after the change.
    const r = flexibleLeader(['a', 'b', 'c', 'd'], { phase1: 3, phase2: 2 }, ['b']);
    expect(r.changeMembers({ type: 'addObserver', id: 'p' })).toEqual({ ok: false, reason: 'would-lose-quorum', voters: ['a', 'b', 'c', 'd'] });
  });

  it('refuses a configuration whose phase-2 quorum it does not hear, though it hears a phase-1 quorum', () => {
    // Voters a, b, c, d; phase 1 needs 2, phase 2 needs 3. a leads hearing b and c (a
    // phase-2 quorum of the four). Without b, the sizes still fit {a, c, d}, where
    // phase 2 needs all three and a does not hear d: nothing could be chosen.
    const r = flexibleLeader(['a', 'b', 'c', 'd'], { phase1: 2, phase2: 3 }, ['b', 'c']);
    expect(r.changeMembers({ type: 'remove', id: 'b' })).toEqual({ ok: false, reason: 'would-lose-quorum', voters: ['a', 'c', 'd'] });
    expect(r.changeMembers({ type: 'remove', id: 'd' })).toMatchObject({ ok: true, config: { voters: ['a', 'b', 'c'] } });
  });
});

describe('Replica.changeMembers during a joint change', () => {
  it('refuses another change once the joint configuration governs, before the leader proposes its second step', () => {
    const c = cluster({}, 4);
    const r = c.replica('a');
    // c for o: no majority of {a, b, c} need meet one of {a, b, o}, so it goes through a
    // joint configuration, chosen at slot 1 and governing from slot 5.
    const joint = c.changeMembers('a', { type: 'replace', remove: 'c', add: 'o' });
    expect(joint).toMatchObject({ ok: true, config: { id: 1, leaving: { voters: ['a', 'b', 'c'] } } });
    let answer: unknown;
    for (let round = 0; round < 30 && answer === undefined; round++) {
      for (const m of c.take(() => true)) {
        if (m.to !== 'a' || m.type !== 'accepted') {
          c.inject(m);
          continue;
        }
        // Stepped without taking a's output: it has not proposed anything since.
        r.step(m);
        if (answer === undefined && r.status.commitIndex === 4) answer = r.changeMembers({ type: 'demote', id: 'b' });
        // Not quiesced, a ignores the wake; the cluster takes its output.
        c.wake('a');
      }
    }
    expect(answer).toEqual({ ok: false, reason: 'in-progress', config: (joint as { config: unknown }).config });
  });
});

describe('Replica.changeMembers, the second step of a joint change', () => {
  it('is proposed once, in the first slot the joint configuration governs; commands follow it while it is not chosen', () => {
    const c = cluster({}, 4);
    // Joint configuration at slot 1, governing from slot 5: no-ops fill 2..4, the second
    // step takes slot 5. The acknowledgements of slot 5 are held back.
    expect(c.changeMembers('a', { type: 'replace', remove: 'c', add: 'o' })).toMatchObject({ ok: true, config: { id: 1 } });
    const ofSlot5 = (m: Message): boolean => m.type === 'accepted' && m.firstSlot + m.count > 5;
    c.deliver((m) => !ofSlot5(m));
    expect(c.status('a').commitIndex).toBe(4);
    expect(c.status('a').lastAcceptedSlot).toBe(5);
    c.tick(['a'], 2);
    c.deliver((m) => !ofSlot5(m));
    expect(c.status('a').lastAcceptedSlot).toBe(5);
    expect(c.propose('a', 'x').ok).toBe(true);
    expect(c.status('a').lastAcceptedSlot).toBe(6);
    c.deliver();
    expect(c.status('a').configuration).toMatchObject({ id: 2, voters: ['a', 'b', 'o'] });
    expect(c.applied('o')).toEqual(['x']);
  });

  /**
   * A joint configuration governs from slot 1 (c leaving, o joining); a leads it with
   * b's promise, which reports slots 1..3 accepted. Returns the leader, its writes done.
   */
  function jointLeader(windowSlots: number, inflightSlotsMax?: number): Replica {
    const b1 = { round: 1, node: 'b' };
    const joint = {
      id: 0,
      voters: ['a', 'b', 'o'],
      leaving: { voters: ['a', 'b', 'c'], quorum: 'majority' as const },
      quorum: 'majority' as const,
      observers: [],
      addresses: {},
      windowSlots,
    };
    const r = new Replica({
      id: 'a',
      quorum: majority(['a', 'b', 'c']),
      configuration: [{ from: 1, source: 0, config: joint }],
      random: () => 0,
      limits: { electionTicksMin: 10, electionTicksMax: 10, heartbeatTicks: 2, ...(inflightSlotsMax === undefined ? {} : { inflightSlotsMax }) },
      state: { promised: b1, accepted: [], chosen: [], commitIndex: 0 },
    });
    r.takeOutput();
    for (let i = 0; i < 10; i++) r.tick();
    r.takeOutput();
    r.step({ type: 'precheckReply', from: 'b', to: 'a', granted: true, promised: b1 });
    const out = r.takeOutput();
    if (out.persist !== undefined) r.persisted(out.persistSeq);
    const accepted = [1, 2, 3].map((slot) => ({ slot, ballot: b1, value: { kind: 'noop' as const } }));
    r.step({ type: 'promise', from: 'b', to: 'a', ballot: r.status.promised, accepted, chosen: [] });
    expect(r.role).toBe('leader');
    return r;
  }

  it('comes right after the values adopted in phase 1, before a command queued meanwhile', () => {
    // Room for every slot at once: slots 1..3 adopted, the second step at 4, then the
    // command proposed before the leader's first accept went out.
    const r = jointLeader(8);
    expect(r.propose([new TextEncoder().encode('x')])).toMatchObject({ ok: true });
    const kinds = r.takeOutput().messages.flatMap((m) => (m.type === 'accept' && m.to === 'b' ? m.values.map((v, i) => `${m.firstSlot + i}:${v.kind}`) : []));
    expect(kinds).toEqual(['1:noop', '2:noop', '3:noop', '4:config', '5:batch']);
  });

  it('waits for room when values adopted in phase 1 fill the window, and is queued once', () => {
    // With inflightSlotsMax 1 the adopted values take the window one commit at a time,
    // and the second step comes after them.
    const r = jointLeader(4, 1);
    const drain = (): Message[] => {
      const out = r.takeOutput();
      if (out.persist !== undefined) r.persisted(out.persistSeq);
      return [...out.messages];
    };
    const ballot = r.status.promised;
    const sent: [number, string][] = [];
    for (let slot = 1; slot <= 4; slot++) {
      for (const m of drain()) if (m.type === 'accept' && m.to === 'b') for (const [i, v] of m.values.entries()) sent.push([m.firstSlot + i, v.kind]);
      expect(r.status.lastAcceptedSlot).toBe(slot);
      r.step({ type: 'accepted', from: 'b', to: 'a', ballot, firstSlot: slot, count: 1 });
      expect(r.status.commitIndex).toBe(slot);
    }
    expect(sent).toEqual([
      [1, 'noop'],
      [2, 'noop'],
      [3, 'noop'],
      [4, 'config'],
    ]);
  });
});

describe('a leader and the voters of a configuration it did not campaign in', () => {
  it('asks them for promises once that configuration starts within inflightSlotsMax of the commit index, not as soon as it is chosen', () => {
    // a leads with b's promise alone (c is down). Promoting o makes a phase-1 quorum of
    // {a, b, c, o} three voters: a needs c's or o's promise before slot 9, where the new
    // configuration governs; with inflightSlotsMax 2 it proposes there once slot 7 commits.
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], observers: ['o'], windowSlots: 8, limits: { inflightSlotsMax: 2 } });
    c.crash('c');
    c.elect('a', ['a', 'b']);
    c.deliver();
    c.tick(['a'], 2);
    c.deliver();
    expect(c.changeMembers('a', { type: 'promote', id: 'o' })).toMatchObject({ ok: true, config: { id: 1 } });
    const prepares: string[] = [];
    for (let round = 0; round < 40; round++) {
      const batch = c.take(() => true);
      if (batch.length === 0) c.tick(['a']);
      for (const m of batch) {
        if (m.type === 'prepare') prepares.push(`${m.to} at commit index ${c.status('a').commitIndex}, from slot ${m.firstSlot}`);
        c.inject(m);
      }
    }
    expect(prepares[0]).toBe('c at commit index 7, from slot 9');
    expect(prepares[1]).toBe('o at commit index 7, from slot 9');
  });
});

describe('a leader elected in a configuration that governs already', () => {
  it('proposes at once: the handover to that configuration is done, so it waits for no commit reports', () => {
    // o is promoted at slot 1, governing from slot 3 (a window of 2); a commits through
    // slot 3 and crashes. b, elected at commit index 3, may propose from slot 4 without
    // asking anyone's commit index (that gate is for the first slot of a configuration).
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], observers: ['o'], windowSlots: 2 });
    c.elect('a');
    c.deliver();
    c.tick(['a'], 2);
    c.deliver();
    expect(c.changeMembers('a', { type: 'promote', id: 'o' })).toMatchObject({ ok: true, config: { id: 1 } });
    c.deliver();
    c.propose('a', 'x');
    c.deliver();
    for (const id of ['a', 'b', 'c', 'o']) expect(c.status(id).commitIndex, id).toBe(3);
    c.crash('a');
    c.elect('b', ['b', 'c', 'o']);
    // Its heartbeats are not answered: no voter reports a commit index to b.
    c.take(() => true);
    c.propose('b', 'y');
    const accepts = c.take((m) => m.type === 'accept');
    expect(accepts.map((m) => (m.type === 'accept' ? `${m.to}@${m.firstSlot}` : ''))).toEqual(['a@4', 'c@4', 'o@4']);
  });
});

describe('a leader elected before its own promise was durable', () => {
  it('asks the voters of a configuration it did not campaign in for promises, and never itself', () => {
    // b and c promise before a's own promise is reported durable (a driver may report
    // it late), so b and c alone are the promisers. Promoting o makes a phase-1 quorum
    // of {a, b, c, o} three voters: a asks o for its promise, and sends no prepare to
    // itself.
    const b1 = { round: 1, node: 'b' };
    const r = new Replica({
      id: 'a',
      quorum: majority(['a', 'b', 'c']),
      observers: ['o'],
      windowSlots: 2,
      random: () => 0,
      limits: { electionTicksMin: 10, electionTicksMax: 10, heartbeatTicks: 2 },
      state: { promised: b1, accepted: [], chosen: [], commitIndex: 0 },
    });
    r.takeOutput();
    for (let i = 0; i < 10; i++) r.tick();
    r.takeOutput();
    for (const v of ['b', 'c']) r.step({ type: 'precheckReply', from: v, to: 'a', granted: true, promised: b1 });
    const campaign = r.takeOutput();
    const prepare = campaign.messages.find((m) => m.type === 'prepare');
    if (prepare?.type !== 'prepare') throw new Error('a did not campaign');
    for (const v of ['b', 'c']) r.step({ type: 'promise', from: v, to: 'a', ballot: prepare.ballot, accepted: [], chosen: [] });
    expect(r.role).toBe('leader');
    r.persisted(campaign.persistSeq);
    const ballot = prepare.ballot;
    r.takeOutput();
    r.step({ type: 'heartbeatReply', from: 'o', to: 'a', ballot, commitIndex: 0, seq: 1 });
    expect(r.changeMembers({ type: 'promote', id: 'o' })).toMatchObject({ ok: true, config: { id: 1 } });
    const proposed = r.takeOutput();
    r.persisted(proposed.persistSeq);
    r.step({ type: 'accepted', from: 'b', to: 'a', ballot, firstSlot: 1, count: 1 });
    expect(r.status.commitIndex).toBe(1);
    const prepares = r.takeOutput().messages.filter((m) => m.type === 'prepare');
    expect(prepares).toEqual([{ type: 'prepare', from: 'a', to: 'o', ballot, firstSlot: 3 }]);
  });
});
