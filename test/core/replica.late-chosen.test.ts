/**
 * A leader that learns, from a `chosen` message, of slots chosen that it has not
 * assigned: a later leader's, or values it adopted but may not propose. It steps down
 * rather than assign slots the log holds already (it did: a command went into a chosen
 * slot, a compacted leader failed on an invariant, and a promoted observer accepted a
 * slot of a configuration it does not vote in).
 */
import { describe, expect, it } from 'vitest';
import { batch, type Message, type Value } from '../../src/core/index.js';
import { ManualCluster } from '../../src/testing/index.js';

/**
 * a leads in 1.a, is cut off, and c leads in 2.c and gets x1..x5 chosen; a's precheck
 * to c, held back since before, then reaches c, whose answer tells a of slots 1..5.
 */
function staleLeader(): ManualCluster {
  const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
  c.elect('a', ['a', 'b']);
  const held = c.take((m) => m.to === 'c' || m.from === 'a' || m.to === 'a');
  c.elect('c', ['b', 'c']);
  c.take((m) => m.to === 'a' || m.from === 'a');
  for (const x of ['x1', 'x2', 'x3', 'x4', 'x5']) {
    c.propose('c', x);
    c.deliverWithin(['b', 'c']);
    c.take((m) => m.to === 'a' || m.from === 'a');
  }
  expect(c.status('a').role).toBe('leader');
  c.inject(held.find((m) => m.type === 'precheck' && m.to === 'c')!);
  const chosen = c.take((m) => m.to === 'a').filter((m) => m.type === 'chosen');
  expect(chosen.length).toBeGreaterThan(0);
  for (const m of chosen) c.inject(m);
  return c;
}

describe('a leader told of slots chosen beyond the ones it assigned', () => {
  it('steps down, having learned them, and assigns none of them', () => {
    const c = staleLeader();
    expect(c.status('a')).toMatchObject({ role: 'follower', commitIndex: 5 });
    const proposed = c.propose('a', 'y');
    expect(proposed.ok).toBe(false);
    expect(c.inFlight.filter((m) => m.type === 'accept' && m.from === 'a')).toEqual([]);
    // The cluster goes on under c, with every replica's log the same (the cluster's
    // invariants are checked as messages go).
    c.propose('c', 'x6');
    c.deliver();
    c.tick(['a', 'b', 'c'], 4);
    c.deliver();
    for (const id of ['a', 'b', 'c']) expect(c.status(id).commitIndex, id).toBe(6);
  });

  it('steps down after compacting too, rather than fail on an acknowledgement of a slot it never proposed', () => {
    const c = staleLeader();
    c.replica('a').compact(4);
    expect(() => {
      c.propose('a', 'y');
      c.deliver();
    }).not.toThrow();
    expect(c.status('a').role).toBe('follower');
  });

  it('a promoted observer leading with slots adopted in a configuration it does not vote in steps down when told they are chosen, and never accepts them', () => {
    // Four voters: o takes a's place in one step, chosen at slot 1, governing from slot
    // 5. b gets slots 2..4 chosen with c and d and is cut off; o, elected by a, c and d,
    // adopts them but may not propose them (it votes in no configuration before 5). b's
    // answer to o's precheck tells o they are chosen.
    const c = new ManualCluster({ voters: ['a', 'b', 'c', 'd'], observers: ['o'], windowSlots: 4 });
    c.elect('b');
    c.deliver();
    c.tick(['b'], 2);
    c.deliver();
    expect(c.changeMembers('b', { type: 'replace', remove: 'a', add: 'o' })).toMatchObject({ ok: true, config: { id: 1 } });
    const slot1 = (m: Message): boolean => m.type !== 'accept' || m.firstSlot === 1;
    c.deliver(slot1);
    c.tick(['b'], 2);
    c.deliver(slot1);
    c.deliver((m) => (m.type === 'accept' && m.to !== 'o') || (m.type === 'accepted' && m.from !== 'a'));
    c.take((m) => m.from === 'b' || m.to === 'b');
    expect(c.status('b').commitIndex).toBe(4);
    c.elect('o', ['o', 'a', 'c', 'd']);
    expect(c.status('o')).toMatchObject({ role: 'leader', commitIndex: 1, lastAcceptedSlot: 0 });
    let steppedDown = false;
    for (let i = 0; i < 40; i++) {
      // The invariants (no replica accepts a slot of a configuration it does not vote
      // in, one value chosen per slot) are checked on every delivery.
      c.tick(['o', 'b', 'c', 'd']);
      c.deliver((m) => m.to !== 'a' && m.from !== 'a');
      if (c.status('o').role !== 'leader') steppedDown = true;
    }
    expect(steppedDown).toBe(true);
    c.propose(c.status('c').leader!, 'after');
    c.deliver((m) => m.to !== 'a' && m.from !== 'a');
    c.tick(['o', 'b', 'c', 'd'], 4);
    c.deliver((m) => m.to !== 'a' && m.from !== 'a');
    for (const id of ['b', 'c', 'd', 'o']) expect(c.status(id).commitIndex, id).toBeGreaterThanOrEqual(5);
  });
});

describe('a leader told of slots chosen up to the ones it assigned', () => {
  const x = (command: string): Value => batch([new TextEncoder().encode(command)]);
  /** a leads, with x1 and x2 chosen in slots 1 and 2: the next slot it assigns is 3. */
  function leader(): ManualCluster {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('a');
    c.propose('a', 'x1');
    c.propose('a', 'x2');
    c.deliver();
    expect(c.status('a')).toMatchObject({ role: 'leader', commitIndex: 2, lastAcceptedSlot: 2 });
    return c;
  }
  const chosen = (firstSlot: number, values: Value[], from = 'b'): Message => ({
    type: 'chosen',
    from,
    to: 'a',
    firstSlot,
    values,
    commitIndex: firstSlot + values.length - 1,
  });

  it('keeps leading when they end at its last assigned slot', () => {
    const c = leader();
    c.inject(chosen(1, [x('x1'), x('x2')]));
    expect(c.status('a').role).toBe('leader');
  });

  it('steps down when they reach the slot it would assign next', () => {
    // a is cut off; c leads in 2.c with b and gets x3 chosen in slot 3; c's answer to a
    // request for slot 3 reaches a.
    const c = leader();
    const cutOff = (m: Message): boolean => m.to === 'a' || m.from === 'a';
    c.take(cutOff);
    c.elect('c', ['b', 'c']);
    c.take(cutOff);
    c.propose('c', 'x3');
    c.deliverWithin(['b', 'c']);
    c.take(cutOff);
    c.inject({ type: 'catchUp', from: 'a', to: 'c', firstSlot: 3, lastSlot: 3 });
    expect(c.take((m) => m.to === 'a')).toEqual([chosen(3, [x('x3')], 'c')]);
    c.inject(chosen(3, [x('x3')], 'c'));
    expect(c.status('a')).toMatchObject({ role: 'follower', commitIndex: 3 });
  });

  it('keeps leading on a chosen message with no values, whatever slot it names', () => {
    const c = leader();
    c.inject({ type: 'chosen', from: 'b', to: 'a', firstSlot: 9, values: [], commitIndex: 0 });
    expect(c.status('a').role).toBe('leader');
  });
});
