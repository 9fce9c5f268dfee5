import { describe, expect, it } from 'vitest';
import { ManualCluster } from '../../src/testing/index.js';

// Scripted scenarios: the exact interleavings random schedules reach only rarely.
describe('Replica scenarios', () => {
  it('does not count an accepted message from an earlier ballot (chosen = one ballot, Paxos Made Simple §2.2)', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c', 'd', 'e'] });
    c.elect('a');
    c.propose('a', 'v1');
    c.deliver((m) => m.type === 'accept' && m.to === 'b');
    const stale = c.take((m) => m.type === 'accepted' && m.from === 'b');
    expect(stale).toHaveLength(1);
    c.take(() => true);

    // c leads in a higher ballot without hearing of v1, and gets v2 accepted by a only.
    c.elect('c', ['c', 'd', 'e']);
    c.take(() => true);
    expect(c.propose('c', 'v2').ok).toBe(true);
    c.deliver((m) => m.type === 'accept' && m.to === 'a');
    c.take(() => true);

    // a leads again; it adopts v2 (the highest ballot reported) and d accepts it.
    c.elect('a', ['a', 'd', 'e']);
    c.deliver((m) => (m.type === 'accept' && m.to === 'd') || (m.type === 'accepted' && m.from === 'd'));
    expect(c.status('a').commitIndex).toBe(0);

    // b's acknowledgement of v1 in a's first ballot arrives now: it must not complete a quorum.
    c.inject(stale[0]!);
    expect(c.status('a').commitIndex).toBe(0);

    c.deliver();
    c.tick(undefined, 4);
    c.deliver();
    expect(c.status('a').commitIndex).toBe(1);
    for (const id of ['a', 'b', 'c', 'd', 'e']) expect(c.applied(id)).toEqual(['v2']);
  });

  it("a follower told a slot is committed applies its own value only if it accepted it in that leader's ballot", () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c', 'd', 'e'] });
    c.elect('a');
    c.take(() => true);
    c.propose('a', 'v1');
    c.deliver((m) => m.type === 'accept' && m.to === 'b');
    c.take(() => true);

    // c, d, e choose v2 for slot 1 in a higher ballot; b still holds v1 from ballot 1.a.
    c.elect('c', ['c', 'd', 'e']);
    c.take(() => true);
    c.propose('c', 'v2');
    c.deliverWithin(['c', 'd', 'e']);
    expect(c.status('c').commitIndex).toBe(1);

    // c's heartbeat tells b that slot 1 is committed: b must fetch the chosen value.
    c.tick(['c'], 2);
    c.deliver((m) => m.type === 'heartbeat' && m.to === 'b');
    expect(c.applied('b')).toEqual([]);
    expect(c.inFlight.some((m) => m.type === 'catchUp' && m.from === 'b')).toBe(true);
    c.deliver();
    expect(c.applied('b')).toEqual(['v2']);
  });

  it('a new leader re-proposes the highest-ballot values it learns in promises and fills holes with no-ops', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('a');
    c.take(() => true);
    for (const v of ['x', 'y', 'z']) c.propose('a', v);
    // b hears slots 1 and 3 only; nothing reaches c.
    c.deliver((m) => m.type === 'accept' && m.to === 'b' && m.firstSlot !== 2);
    c.take(() => true);
    c.crash('a');

    c.elect('b', ['b', 'c']);
    c.deliver();
    expect(c.status('b').commitIndex).toBe(3);
    expect(c.applied('b')).toEqual(['x', 'z']);
    expect(c.replica('b').chosenValue(2)).toEqual({ kind: 'noop' });
    c.tick(['b', 'c'], 2);
    c.deliver();
    expect(c.applied('c')).toEqual(['x', 'z']);
  });

  it('a node cut off from the leader but not from the others never disrupts the leader (partial connectivity)', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('a');
    c.deliver();
    const ballot = c.status('a').promised;
    const cut = (m: { from: string; to: string }): boolean => (m.from === 'a' && m.to === 'c') || (m.from === 'c' && m.to === 'a');
    for (let i = 0; i < 200; i++) {
      c.tick();
      c.take(cut);
      c.deliver((m) => !cut(m));
    }
    expect(c.status('a').role).toBe('leader');
    expect(c.status('a').promised).toEqual(ballot);
    expect(c.status('b').promised).toEqual(ballot);
    expect(c.status('c').role).not.toBe('leader');
    // c kept asking (pre-checks), but never raised a ballot anyone promised.
    expect(c.propose('a', 'still-leading').ok).toBe(true);
    c.take(cut);
    c.deliver((m) => !cut(m));
    expect(c.applied('a')).toEqual(['still-leading']);
  });

  it('a leader that no longer hears from a quorum steps down within electionTicksMin ticks', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], limits: { electionTicksMin: 10, electionTicksMax: 20 } });
    c.elect('a');
    c.deliver();
    expect(c.status('a').role).toBe('leader');
    for (let i = 0; i < 10; i++) {
      c.tick(['a']);
      c.take(() => true);
    }
    expect(c.status('a').role).toBe('follower');
  });

  it('an observer learns every chosen value but never votes', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], observers: ['o'] });
    c.elect('a');
    c.deliver();
    for (const v of ['1', '2', '3']) c.propose('a', v);
    c.deliver();
    expect(c.applied('o')).toEqual(['1', '2', '3']);

    c.crash('b');
    c.crash('c');
    c.propose('a', '4');
    c.deliver();
    c.tick(undefined, 3);
    c.deliver();
    expect(c.status('a').commitIndex).toBe(3);
    expect(c.applied('o')).toEqual(['1', '2', '3']);
  });

  it('a restarted follower catches up in bounded requests', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], limits: { catchUpSlotsMax: 3 } });
    c.elect('a');
    c.deliver();
    c.crash('c');
    const values = Array.from({ length: 10 }, (_, i) => `v${i}`);
    for (const v of values) c.propose('a', v);
    c.deliver();
    expect(c.status('a').commitIndex).toBe(10);
    c.restart('c');
    for (let i = 0; i < 10 && c.applied('c').length < 10; i++) {
      c.tick();
      c.deliver();
    }
    expect(c.applied('c')).toEqual(values);
  });

  it('refuses proposals it cannot take, saying why', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], limits: { proposalQueueMax: 2, batchCommandsMax: 1, inflightSlotsMax: 1, batchBytesMax: 8 } });
    c.elect('a');
    c.deliver();
    expect(c.propose('b', 'x')).toEqual({ ok: false, reason: 'not-leader', leaderHint: 'a' });
    expect(c.propose('a', 'too-large-command')).toMatchObject({ ok: false, reason: 'too-large', limit: 8 });
    expect(c.propose('a', 'p1').ok).toBe(true); // takes the one slot of the window
    expect(c.propose('a', 'p2').ok).toBe(true);
    expect(c.propose('a', 'p3').ok).toBe(true);
    expect(c.propose('a', 'p4')).toMatchObject({ ok: false, reason: 'overloaded', limit: 2 });
    c.deliver();
    c.tick(undefined, 2);
    c.deliver();
    expect(c.applied('a')).toEqual(['p1', 'p2', 'p3']);
  });

  it('a leader that steps down gives back the commands still queued', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], limits: { inflightSlotsMax: 1, batchCommandsMax: 1 } });
    c.elect('a');
    c.deliver();
    c.propose('a', 'p1');
    c.propose('a', 'p2');
    expect(c.status('a').queuedCommands).toBe(1);
    c.take(() => true);
    c.elect('b', ['b', 'c']);
    c.deliver((m) => m.to === 'a');
    expect(c.status('a').role).toBe('follower');
    expect(c.status('a').queuedCommands).toBe(0);
    expect(c.dropped).toEqual(['p2']);
  });
});
