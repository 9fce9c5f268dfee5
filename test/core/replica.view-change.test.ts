import { describe, expect, it } from 'vitest';
import { type Configuration, type Message, majority, Replica, type Value } from '../../src/core/index.js';
import { ManualCluster } from '../../src/testing/index.js';

// What a replica does when a chosen configuration changes its own place: a leader
// removed from the voters gives up what it held and names the most caught-up voter to
// campaign, and a member another leader removed still hears the commit index that moved
// it out. Each answer is checked by who got what.

/** Voters a, b, c and observer o, `a` elected and a heartbeat round answered by all. */
function cluster(windowSlots = 4): ManualCluster {
  const c = new ManualCluster({ voters: ['a', 'b', 'c'], observers: ['o'], windowSlots });
  c.elect('a');
  c.deliver();
  c.tick(['a'], 2);
  c.deliver();
  return c;
}

describe('a leader removed from the voters', () => {
  it('hands back every command it had not got chosen, and fails its pending reads, so none is lost', () => {
    const c = cluster(2);
    expect(c.changeMembers('a', { type: 'remove', id: 'a' })).toMatchObject({ ok: true });
    // Queued behind the change in a window of 2: not all of them get a slot before a leaves.
    for (const x of ['x1', 'x2', 'x3', 'x4', 'x5']) expect(c.propose('a', x)).toMatchObject({ ok: true });
    c.readIndex('a', 7);
    // Accepts and their answers only: the read's heartbeat round is never answered.
    c.deliver((m) => m.type !== 'heartbeat' && m.type !== 'heartbeatReply');
    expect(c.status('a').role).toBe('removed');
    const chosen = new Set(c.applied('b'));
    for (const x of ['x1', 'x2', 'x3', 'x4', 'x5']) expect(chosen.has(x) || c.dropped.includes(x), `${x} chosen or handed back`).toBe(true);
    expect(c.dropped.length).toBeGreaterThan(0);
    expect(c.reads).toContainEqual({ node: 'a', result: expect.objectContaining({ id: 7, ok: false }) });
  });

  it('tells the voter that reported the highest commit index to campaign, not merely the first', () => {
    const c = cluster(2);
    // b falls behind: it hears nothing of the next two commands.
    c.propose('a', 'v1');
    c.propose('a', 'v2');
    c.deliver((m) => m.to !== 'b' && m.from !== 'b');
    // A heartbeat round: c reports the commit index it learned, b is not heard.
    c.tick(['a'], 2);
    c.deliver((m) => m.to !== 'b' && m.from !== 'b');
    c.take((m) => m.to === 'b');
    expect(c.changeMembers('a', { type: 'remove', id: 'a' })).toMatchObject({ ok: true });
    const timeoutNow: string[] = [];
    c.deliver((m) => {
      const through = m.to !== 'b' && m.from !== 'b';
      if (m.type === 'timeoutNow' && through) timeoutNow.push(m.to);
      return through;
    });
    const toB = c.take((m) => m.to === 'b').filter((m) => m.type === 'timeoutNow');
    expect(c.status('a').role).toBe('removed');
    // (It may be told twice: once as the leader hands over, once as it leaves.)
    expect([...new Set([...timeoutNow, ...toB.map((m: Message) => m.to)])]).toEqual(['c']);
  });

  it('tells the first voter to campaign when none has reported a commit index in this leadership', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], windowSlots: 2 });
    c.elect('a');
    // No heartbeat arrives: b and c answer accepts only, which report no commit index.
    c.deliver((m) => m.type !== 'heartbeat');
    expect(c.changeMembers('a', { type: 'remove', id: 'a' })).toMatchObject({ ok: true });
    c.propose('a', 'x');
    const told: string[] = [];
    c.deliver((m) => {
      if (m.type === 'timeoutNow') told.push(m.to);
      return m.type !== 'heartbeat';
    });
    expect(c.status('a').role).toBe('removed');
    // Told twice: as a hands over, and as it leaves.
    expect(told).toEqual(['b', 'b']);
  });

  it('prefers a voter that reported any commit index to the first one that never reported', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], windowSlots: 2 });
    c.elect('a');
    c.propose('a', 'v1');
    // Only c answers heartbeats, reporting commit index 1; b never reports.
    c.deliver((m) => m.to !== 'b' || m.type !== 'heartbeat');
    c.tick(['a'], 2);
    c.deliver((m) => m.to !== 'b' || m.type !== 'heartbeat');
    expect(c.changeMembers('a', { type: 'remove', id: 'a' })).toMatchObject({ ok: true });
    c.propose('a', 'x');
    const told: string[] = [];
    c.deliver((m) => {
      if (m.type === 'timeoutNow') told.push(m.to);
      return m.type !== 'heartbeat' || m.to !== 'b';
    });
    expect(c.status('a').role).toBe('removed');
    expect(told).toEqual(['c', 'c']);
  });

  it('tells no voter to campaign before the slots it proposed under the old configuration are chosen', () => {
    // Five voters, a window of 4: a removes itself at slot 1 and proposes no-ops through
    // slot 4, the last slot it votes in. Only b accepts them: with a, two of five, so
    // nothing past slot 1 is chosen. b, holding every slot, would be the heir, but a
    // new leader must not be asked to campaign while a's own slots are open.
    const c = new ManualCluster({ voters: ['a', 'b', 'c', 'd', 'e'], windowSlots: 4 });
    c.elect('a');
    c.deliver();
    c.tick(['a'], 2);
    c.deliver();
    expect(c.changeMembers('a', { type: 'remove', id: 'a' })).toMatchObject({ ok: true, config: { voters: ['b', 'c', 'd', 'e'] } });
    c.deliver((m) => m.type !== 'accept' || m.firstSlot === 1);
    expect(c.status('a').commitIndex).toBe(1);
    const told = new Set<string>();
    c.deliver((m) => {
      const through = m.to === 'b' || m.from === 'b';
      if (through && m.type === 'timeoutNow') told.add(m.to);
      return through;
    });
    expect([...told]).toEqual([]);
    expect(c.inFlight.filter((m) => m.type === 'timeoutNow')).toEqual([]);
    expect(c.status('b').lastAcceptedSlot).toBe(4);
    expect(c.status('a')).toMatchObject({ role: 'leader', commitIndex: 1, transferTarget: undefined });
  });
});

describe('a member another leader removes', () => {
  it('hears the commit index that moved it out, and knows itself removed', () => {
    const c = cluster();
    expect(c.changeMembers('a', { type: 'remove', id: 'c' })).toMatchObject({ ok: true, config: { voters: ['a', 'b'] } });
    const commitsToC: number[] = [];
    const toItself: Message[] = [];
    c.deliver((m) => {
      if (m.type === 'commit' && m.to === 'c') commitsToC.push(m.commitIndex);
      if (m.from === m.to) toItself.push(m);
      return true;
    });
    const commit = c.status('a').commitIndex;
    expect(commitsToC).toContain(commit);
    expect(c.status('c').commitIndex).toBe(commit);
    expect(c.status('c').role).toBe('removed');
    // It still names the leader, for clients that ask it.
    expect(c.status('c').leader).toBe('a');
    // Only members that left are sent it: the leader sends itself nothing.
    expect(toItself).toEqual([]);
  });
});

describe('a voter demoted and promoted again by one leader', () => {
  it('is sent no accept for the slots of the configuration it did not vote in, and accepts from the next one on', () => {
    // A window of 2: c is demoted at slot 1 (observer from slot 3) and promoted at slot
    // 3 (a voter again from slot 5). a last sent c slot 2; slots 3 and 4 are not c's.
    const c = cluster(2);
    expect(c.changeMembers('a', { type: 'demote', id: 'c' })).toMatchObject({ ok: true, config: { id: 1 } });
    c.deliver();
    c.tick(['a'], 2);
    c.deliver();
    expect(c.changeMembers('a', { type: 'promote', id: 'c' })).toMatchObject({ ok: true, config: { id: 2 } });
    const sent = new Set<Message>();
    const record = (m: Message): boolean => {
      sent.add(m);
      return true;
    };
    c.deliver(record);
    c.propose('a', 'x');
    c.deliver(record);
    const acceptsToC = [...sent].flatMap((m) => (m.type === 'accept' && m.to === 'c' ? [`${m.firstSlot}..${m.firstSlot + m.values.length - 1}`] : []));
    expect(acceptsToC).toEqual(['5..5']);
    expect(c.applied('c')).toEqual(['x']);
  });
});

// Voter a of a, b, c, told by a peer that a configuration was chosen at slot 1 and
// governs from its commit index on (a window of 2 slots: the change, then a no-op).
const windowSlots = 2;
const b1 = { round: 1, node: 'b' };

/** Slots 1 and 2 chosen: a change to `voters` and `observers` at 1, a no-op at 2. */
function changeChosen(voters: string[], observers: string[]): { slot: number; value: Value }[] {
  const config: Configuration = { id: 1, voters, quorum: 'majority', observers, addresses: {}, windowSlots };
  return [
    { slot: 1, value: { kind: 'config', config } },
    { slot: 2, value: { kind: 'noop' } },
  ];
}

function voterA(): Replica {
  const r = new Replica({
    id: 'a',
    quorum: majority(['a', 'b', 'c']),
    random: () => 0,
    limits: { electionTicksMin: 10, electionTicksMax: 10, heartbeatTicks: 2 },
    windowSlots,
    state: { promised: b1, accepted: [], chosen: [], commitIndex: 0 },
  });
  r.takeOutput();
  return r;
}

/** `a` campaigning in round 2 after b granted its precheck, its own promise durable: b's promise elects it. */
function candidateA(): { r: Replica; ballot: { round: number; node: string } } {
  const r = voterA();
  for (let i = 0; i < 10; i++) r.tick();
  r.takeOutput();
  r.step({ type: 'precheckReply', from: 'b', to: 'a', granted: true, promised: b1 });
  const out = r.takeOutput();
  r.persisted(out.persistSeq);
  const prepare = out.messages.find((m) => m.type === 'prepare');
  if (prepare?.type !== 'prepare') throw new Error('a did not campaign');
  return { r, ballot: prepare.ballot };
}

describe('a configuration learned in the middle of an election', () => {
  it('demotes a prechecking voter: the answers to its precheck reach an observer, which drops them', () => {
    const r = voterA();
    for (let i = 0; i < 10; i++) r.tick();
    expect(r.takeOutput().messages.map((m) => m.type)).toEqual(['precheck', 'precheck']);
    const chosen = changeChosen(['b', 'c'], ['a']);
    r.step({ type: 'chosen', from: 'b', to: 'a', firstSlot: 1, values: chosen.map((e) => e.value), commitIndex: 2 });
    r.takeOutput();
    expect(r.role).toBe('observer');
    expect(() => r.step({ type: 'precheckReply', from: 'b', to: 'a', granted: true, promised: b1 })).not.toThrow();
    expect(r.role).toBe('observer');
    expect(r.takeOutput().messages).toEqual([]);
  });

  it('from a promise, demotes the candidate at once: the promise that would have elected it elects no one', () => {
    const { r, ballot } = candidateA();
    r.step({ type: 'promise', from: 'b', to: 'a', ballot, accepted: [], chosen: changeChosen(['b', 'c'], ['a']) });
    expect(r.role).toBe('observer');
    expect(r.takeOutput().messages).toEqual([]);
  });

  it('from a promise, elects a leader that proposes in the new configuration only once its own write of the slots before is durable', () => {
    // The handover (docs/protocol.md): a phase-2 quorum of the new configuration must
    // hold every earlier slot durably. a learned slots 1 and 2 from b's promise; its
    // write of them is on its way to the disk when it wins, so b alone is no quorum.
    const { r, ballot } = candidateA();
    r.step({ type: 'promise', from: 'b', to: 'a', ballot, accepted: [], chosen: changeChosen(['a', 'b', 'c'], ['d']) });
    expect(r.role).toBe('leader');
    const won = r.takeOutput();
    expect(won.persist?.commitIndex).toBe(2);
    r.step({ type: 'heartbeatReply', from: 'b', to: 'a', ballot, commitIndex: 2, seq: 1 });
    expect(r.propose([new Uint8Array([1])])).toEqual({ ok: true });
    expect(r.takeOutput().messages).toEqual([]);
    r.persisted(won.persistSeq);
    const accepts = r.takeOutput().messages.filter((m) => m.type === 'accept');
    expect(accepts.map((m) => `${m.to}:${m.type === 'accept' ? m.firstSlot : ''}`)).toEqual(['b:3', 'c:3']);
  });
});

describe('an observer promoted and elected before its configuration governs', () => {
  it('may not propose in the slots the old configuration governs, so it hands leadership to a voter of that one', () => {
    // o is promoted at slot 1, governing from slot 5. a commits slot 1 (its accepts of
    // the no-ops at 2..4 are lost) and crashes; o, a voter of the configurations
    // governing from its commit index on, is elected. Slots 2..4 need a leader that votes
    // in them: o tells b or c to campaign, which then fills them.
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], observers: ['o'], windowSlots: 4 });
    c.elect('a');
    c.deliver();
    c.tick(['a'], 2);
    c.deliver();
    expect(c.changeMembers('a', { type: 'promote', id: 'o' })).toMatchObject({ ok: true, config: { id: 1 } });
    for (let round = 0; round < 20; round++) {
      if (round % 2 === 0) c.tick(['a']);
      for (const m of c.take(() => true)) if (m.type !== 'accept' || m.firstSlot < 2) c.inject(m);
    }
    c.crash('a');
    for (const id of ['b', 'c', 'o']) expect(c.status(id).commitIndex, id).toBe(1);
    c.elect('o', ['o', 'b', 'c']);
    const told: string[] = [];
    for (let i = 0; i < 60; i++) {
      c.tick(['o', 'b', 'c']);
      c.deliver((m) => {
        if (m.type === 'timeoutNow' && m.from === 'o' && !told.includes(m.to)) told.push(m.to);
        return true;
      });
    }
    // Elected, o hands over before any voter reported a commit index: to the first voter
    // of the old configuration, a (crashed). When that transfer runs out, b and c have
    // reported the same commit index, a none: the first of the two is told.
    expect(told).toEqual(['a', 'b']);
    expect(c.status('b').role).toBe('leader');
    for (const id of ['b', 'c', 'o']) expect(c.status(id).commitIndex, id).toBe(4);
  });

  it('proposes nothing in the last slot the old configuration governs, though the slots before it are chosen', () => {
    // As above with inflightSlotsMax 2: a gets slots 1..3 chosen, its accepts of slot 4
    // are lost. o, elected at commit index 3, would propose from slot 4, the old
    // configuration's last: it may not, and hands over instead.
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], observers: ['o'], windowSlots: 4, limits: { inflightSlotsMax: 2 } });
    c.elect('a');
    c.deliver();
    c.tick(['a'], 2);
    c.deliver();
    expect(c.changeMembers('a', { type: 'promote', id: 'o' })).toMatchObject({ ok: true, config: { id: 1 } });
    const holdsSlot4 = (m: Message): boolean => m.type === 'accept' && m.firstSlot + m.values.length > 4;
    for (let round = 0; round < 20; round++) {
      if (round % 2 === 0) c.tick(['a']);
      for (const m of c.take(() => true)) if (!holdsSlot4(m)) c.inject(m);
    }
    c.crash('a');
    for (const id of ['b', 'c', 'o']) expect(c.status(id).commitIndex, id).toBe(3);
    c.elect('o', ['o', 'b', 'c']);
    const fromO: Message[] = [];
    for (let i = 0; i < 60; i++) {
      c.tick(['o', 'b', 'c']);
      c.deliver((m) => {
        if (m.from === 'o' && m.type === 'accept' && !fromO.includes(m)) fromO.push(m);
        return true;
      });
    }
    expect(fromO.filter(holdsSlot4)).toEqual([]);
    expect(['b', 'c'].map((id) => c.status(id).role)).toContain('leader');
    for (const id of ['b', 'c', 'o']) expect(c.status(id).commitIndex, id).toBe(4);
  });
});

describe('a leader whose voters know more than it does', () => {
  it('proposes nothing in a new configuration before its own commit index reaches the slot before it, whatever its voters report', () => {
    // a promotes o at slot 1 (o votes from slot 3 on) and gets slots 1 and 2 chosen with
    // b; only o hears the commit index 2. b, elected with c, adopts slots 1 and 2 and
    // learns only slot 1 chosen. a and o report commit index 2 and b holds both slots:
    // a phase-2 quorum of the new voters holds every earlier slot. b still waits: its own
    // commit index is 1.
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], observers: ['o'], windowSlots: 2 });
    c.elect('a');
    c.deliver();
    c.tick(['a'], 2);
    c.deliver();
    expect(c.changeMembers('a', { type: 'promote', id: 'o' })).toMatchObject({ ok: true });
    c.propose('a', 'x');
    c.deliver((m) => (m.type === 'accept' && m.to === 'b') || (m.type === 'accepted' && m.to === 'a'));
    expect(c.status('a').commitIndex).toBe(2);
    const withO = (m: Message): boolean => (m.from === 'a' && m.to === 'o') || (m.from === 'o' && m.to === 'a');
    c.deliver(withO);
    c.tick(['a'], 2);
    c.deliver(withO);
    expect(c.status('o').commitIndex).toBe(2);
    c.take((m) => m.from === 'a' || m.to === 'a');
    c.elect('b', ['b', 'c']);
    expect(c.status('b').commitIndex).toBe(0);
    c.take((m) => m.type === 'precheck' || m.to === 'c' || m.from === 'c');
    // A late answer to a catch-up request: slot 1 is chosen.
    c.inject({ type: 'chosen', from: 'a', to: 'b', firstSlot: 1, values: [c.replica('a').chosenValue(1)!], commitIndex: 2 });
    c.deliver(() => false);
    expect(c.status('b')).toMatchObject({ role: 'leader', commitIndex: 1, configurationFrom: 3 });
    c.propose('b', 'z');
    c.tick(['b'], 2);
    const accepts: number[] = [];
    const reports: number[] = [];
    c.deliver((m) => {
      if (m.to === 'c' || m.from === 'c') return false;
      if (m.type === 'accept') accepts.push(m.firstSlot + m.values.length - 1);
      if (m.type === 'heartbeatReply') reports.push(m.commitIndex);
      // Nothing that would move b's commit index: a's acceptances and its chosen answers.
      return !(m.from === 'a' && (m.type === 'accepted' || m.type === 'chosen'));
    });
    expect(reports.length).toBeGreaterThan(0);
    expect(reports.every((r) => r === 2)).toBe(true);
    expect(c.status('b').commitIndex).toBe(1);
    expect(Math.max(...accepts)).toBe(2);
  });
});
