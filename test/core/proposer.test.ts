import { describe, expect, it } from 'vitest';
import type { Ballot } from '../../src/core/ballot.js';
import { InvariantError } from '../../src/core/errors.js';
import { defaultLimits, type Limits } from '../../src/core/limits.js';
import type { AcceptedEntry } from '../../src/core/entries.js';
import { Candidacy, Leadership, resendBackoffRoundsMax } from '../../src/core/proposer.js';
import { majority } from '../../src/core/quorum/majority.js';
import { batch, noop, type Value } from '../../src/core/value.js';
import type { Configuration } from '../../src/core/configuration/configuration.js';

// The proposer's bookkeeping, one input at a time: phase 1's promises and the values a
// new leader must propose (Paxos Made Simple §2.3: the highest-ballot value of each
// slot, a no-op in a hole, a chosen value above all), and phase 2's slots, batches,
// acknowledgements, commit quorum, read confirmations and liveness window.

const b = (round: number, node = 'a'): Ballot => ({ round, node });
const bytes = (byte: number, size = 1): Uint8Array => new Uint8Array(size).fill(byte);
const cmd = (byte: number): Value => batch([bytes(byte)]);
const entry = (slot: number, ballot: Ballot, value: Value = cmd(slot)): AcceptedEntry => ({ slot, ballot, value });
const abc = majority(['a', 'b', 'c']);

describe('Candidacy', () => {
  const ballot = b(5);

  it('is won by a phase-1 quorum of promises, lost by enough refusals, pending between', () => {
    const c = new Candidacy(ballot, 1);
    expect(c.vote(abc)).toBe('pending');
    c.onPromise('a', [], []);
    expect(c.vote(abc)).toBe('pending');
    c.onRefusal('b');
    expect(c.vote(abc)).toBe('pending');
    c.onPromise('c', [], []);
    expect(c.vote(abc)).toBe('won');
    const lost = new Candidacy(ballot, 1);
    lost.onRefusal('b');
    lost.onRefusal('c');
    expect(lost.vote(abc)).toBe('lost');
  });

  it('knows who answered, and who promised', () => {
    const c = new Candidacy(ballot, 1);
    c.onPromise('a', [], []);
    c.onRefusal('b');
    expect(c.hasAnswered('a')).toBe(true);
    expect(c.hasAnswered('b')).toBe(true);
    expect(c.hasAnswered('c')).toBe(false);
    expect(c.promisers()).toEqual(['a']);
  });

  it('starts counting ticks from 0', () => {
    expect(new Candidacy(ballot, 1).elapsed).toBe(0);
  });

  it('asks the silent voters again every heartbeatTicks ticks', () => {
    const c = new Candidacy(ballot, 1);
    expect([c.tick(3), c.tick(3), c.tick(3), c.tick(3), c.tick(3), c.tick(3)]).toEqual([false, false, true, false, false, true]);
    expect(c.elapsed).toBe(6);
  });

  describe('the values to propose', () => {
    it('are none when no promise reports anything', () => {
      const c = new Candidacy(ballot, 4);
      c.onPromise('a', [], []);
      expect(c.adoptedValues()).toEqual([]);
    });

    it('are, per slot from the first, the value of the highest ballot, a no-op in a hole', () => {
      const c = new Candidacy(ballot, 3);
      c.onPromise('a', [entry(3, b(1), cmd(31)), entry(5, b(4), cmd(51))], []);
      c.onPromise('b', [entry(3, b(2, 'b'), cmd(32)), entry(5, b(3, 'c'), cmd(52))], []);
      expect(c.adoptedValues()).toEqual([cmd(32), noop, cmd(51)]);
    });

    it('break a tie of rounds by node, whichever promise came first', () => {
      const c = new Candidacy(ballot, 1);
      c.onPromise('a', [entry(1, b(2, 'c'), cmd(1))], []);
      c.onPromise('b', [entry(1, b(2, 'b'), cmd(2))], []);
      expect(c.adoptedValues()).toEqual([cmd(1)]);
      const d = new Candidacy(ballot, 1);
      d.onPromise('b', [entry(1, b(2, 'b'), cmd(2))], []);
      d.onPromise('a', [entry(1, b(2, 'c'), cmd(1))], []);
      expect(d.adoptedValues()).toEqual([cmd(1)]);
    });

    it('take a value reported chosen over every accepted one of its slot, and reach the last chosen slot', () => {
      const c = new Candidacy(ballot, 2);
      c.onPromise('a', [entry(2, b(4), cmd(20))], [{ slot: 2, value: cmd(21) }]);
      c.onPromise('b', [], [{ slot: 4, value: cmd(40) }]);
      expect(c.adoptedValues()).toEqual([cmd(21), noop, cmd(40)]);
    });

    it('reach the last accepted slot past a lower chosen one', () => {
      const c = new Candidacy(ballot, 1);
      c.onPromise('a', [entry(3, b(1))], [{ slot: 1, value: cmd(10) }]);
      expect(c.adoptedValues()).toEqual([cmd(10), noop, cmd(3)]);
    });

    it('count a promise sent twice once, its second copy replacing the first', () => {
      const c = new Candidacy(ballot, 1);
      c.onPromise('a', [entry(1, b(1), cmd(1))], []);
      c.onPromise('a', [], []);
      expect(c.adoptedValues()).toEqual([]);
      expect(c.promisers()).toEqual(['a']);
    });
  });

  describe('refuses a promise that breaks phase 1', () => {
    it('an accepted slot below the first slot', () => {
      expect(() => new Candidacy(ballot, 3).onPromise('b', [entry(2, b(1))], [])).toThrow(
        new InvariantError("promise from b reports slot 2 below the prepare's first slot 3"),
      );
    });

    it('an entry accepted in this ballot or a higher one', () => {
      expect(() => new Candidacy(ballot, 1).onPromise('b', [entry(1, b(5))], [])).toThrow(
        new InvariantError('promise from b for 5.a reports slot 1 accepted in 5.a'),
      );
      expect(() => new Candidacy(ballot, 1).onPromise('b', [entry(1, b(5, 'b'))], [])).toThrow(
        new InvariantError('promise from b for 5.a reports slot 1 accepted in 5.b'),
      );
    });

    it('a chosen slot below the first slot', () => {
      expect(() => new Candidacy(ballot, 3).onPromise('b', [], [{ slot: 2, value: cmd(2) }])).toThrow(
        new InvariantError("promise from b reports chosen slot 2 below the prepare's first slot 3"),
      );
    });

    it('two chosen values for one slot', () => {
      const c = new Candidacy(ballot, 1);
      c.onPromise('a', [], [{ slot: 1, value: cmd(1) }]);
      c.onPromise('b', [], [{ slot: 1, value: cmd(1) }]);
      expect(() => c.onPromise('c', [], [{ slot: 1, value: cmd(2) }])).toThrow(new InvariantError('promises report two chosen values for slot 1'));
    });

    it('takes entries at the first slot and below its ballot', () => {
      const c = new Candidacy(ballot, 3);
      c.onPromise('b', [entry(3, b(4, 'z'))], [{ slot: 3, value: cmd(3) }]);
      expect(c.adoptedValues()).toEqual([cmd(3)]);
    });
  });
});

describe('Leadership', () => {
  const ballot = b(5);
  const limits: Limits = { ...defaultLimits, batchCommandsMax: 3, batchBytesMax: 10 };

  /** A leadership of `a` from `firstSlot`, with `b` and `c` voting, and `proposed` slots assigned (its accept of them in write 1). */
  function leading(firstSlot = 1, proposed = 0): Leadership {
    const l = new Leadership(ballot, firstSlot, 'a', 0);
    l.addVoter('b', firstSlot, 0);
    l.addVoter('c', firstSlot, 0);
    if (proposed > 0) l.assigned(proposed, 1);
    return l;
  }

  describe('at its start', () => {
    it('assigns from the first slot, has adopted nothing, and counts itself a voter', () => {
      const l = new Leadership(ballot, 4, 'a', 7);
      expect(l.nextSlot).toBe(4);
      expect(l.adoptedEnd).toBe(3);
      expect(l.acknowledgedThrough('a')).toBe(3);
      expect(l.sendNext.get('a')).toBe(4);
      expect(l.lastHeard.get('a')).toBe(7);
      expect(l.elapsed).toBe(0);
      expect(l.heartbeatElapsed).toBe(0);
      expect(l.heartbeatSeq).toBe(0);
      expect(l.firstReadSeq).toBe(Infinity);
      expect(l.hasReads).toBe(false);
      expect(l.queued).toBe(0);
    });

    it('counts the slots below the first for itself only once the write that holds them is durable', () => {
      const l = new Leadership(ballot, 4, 'a', 0, 6);
      expect(l.acknowledgedThrough('a')).toBe(0);
      l.persisted(5);
      expect(l.acknowledgedThrough('a')).toBe(0);
      l.persisted(6);
      expect(l.acknowledgedThrough('a')).toBe(3);
    });
  });

  describe('adopting what phase 1 found', () => {
    it('proposes the adopted values first, a no-op in a hole, and knows who promised', () => {
      const l = leading(3);
      l.adopt([cmd(3), noop, cmd(5)], ['a', 'b']);
      expect(l.adoptedEnd).toBe(5);
      expect(l.adoptedValue(3)).toEqual(cmd(3));
      expect(l.adoptedValue(4)).toBe(noop);
      expect(l.adoptedValue(5)).toEqual(cmd(5));
      expect([...l.promisers]).toEqual(['a', 'b']);
    });

    it('refuses to adopt once a slot is assigned', () => {
      const l = leading(3, 1);
      expect(() => l.adopt([cmd(3)], ['a'])).toThrow(new InvariantError('values adopted after slot 4 was assigned'));
    });

    describe('a promise that arrives while leading', () => {
      it('joins its entries for unassigned slots, extending the adopted range', () => {
        const l = leading(1);
        l.adopt([cmd(1)], ['a', 'b']);
        l.onLatePromise('c', [entry(3, b(2), cmd(30))], []);
        expect(l.promisers.has('c')).toBe(true);
        expect(l.adoptedEnd).toBe(3);
        expect(l.adoptedValue(1)).toEqual(cmd(1));
        expect(l.adoptedValue(2)).toBe(noop);
        expect(l.adoptedValue(3)).toEqual(cmd(30));
      });

      it("skips the slots already assigned, and its own ballot's accepts", () => {
        const l = leading(1, 2);
        l.onLatePromise('c', [entry(2, b(1), cmd(20)), entry(3, ballot, cmd(30)), entry(4, b(1), cmd(40))], []);
        expect(l.adoptedEnd).toBe(4);
        expect(l.adoptedValue(2)).toBe(noop);
        expect(l.adoptedValue(3)).toBe(noop);
        expect(l.adoptedValue(4)).toEqual(cmd(40));
      });

      it('replaces a value of a lower ballot, and only that', () => {
        const l = leading(1);
        l.onLatePromise('b', [entry(1, b(2), cmd(10)), entry(2, b(3), cmd(20))], []);
        l.onLatePromise('c', [entry(1, b(3), cmd(11)), entry(2, b(2), cmd(21))], []);
        expect(l.adoptedValue(1)).toEqual(cmd(11));
        expect(l.adoptedValue(2)).toEqual(cmd(20));
        // An equal ballot keeps what was there.
        l.onLatePromise('b', [entry(1, b(3), cmd(12))], []);
        expect(l.adoptedValue(1)).toEqual(cmd(11));
      });

      it('never replaces what phase 1 adopted, a no-op in a hole included (adopt records no ballot for it)', () => {
        const l = leading(1);
        l.adopt([cmd(1), noop, cmd(3)], ['a', 'b']);
        l.onLatePromise('c', [entry(1, b(4), cmd(2)), entry(2, b(4), cmd(2))], []);
        expect(l.adoptedValue(1)).toEqual(cmd(1));
        expect(l.adoptedValue(2)).toBe(noop);
      });

      it('takes a chosen value over any accepted one, and keeps it', () => {
        const l = leading(1, 1);
        l.onLatePromise(
          'b',
          [entry(2, b(4), cmd(20))],
          [
            { slot: 2, value: cmd(21) },
            { slot: 1, value: cmd(10) },
          ],
        );
        expect(l.adoptedValue(2)).toEqual(cmd(21));
        expect(l.adoptedEnd).toBe(2);
        l.onLatePromise('c', [entry(2, b(4, 'z'), cmd(22))], []);
        expect(l.adoptedValue(2)).toEqual(cmd(21));
        // Slot 1 was assigned already.
        expect(l.adoptedValue(1)).toBe(noop);
      });

      it('takes a chosen value at the next slot to assign', () => {
        const l = leading(1, 1);
        l.onLatePromise('b', [entry(2, b(1), cmd(20))], []);
        expect(l.adoptedValue(2)).toEqual(cmd(20));
        l.onLatePromise('c', [], [{ slot: 2, value: cmd(21) }]);
        expect(l.adoptedValue(2)).toEqual(cmd(21));
      });

      it('does not move the adopted end back', () => {
        const l = leading(1);
        l.onLatePromise('b', [entry(5, b(1))], []);
        l.onLatePromise('c', [entry(2, b(1))], []);
        expect(l.adoptedEnd).toBe(5);
      });

      it('refuses an entry accepted in a higher ballot', () => {
        const l = leading(1);
        expect(() => l.onLatePromise('b', [entry(1, b(6))], [])).toThrow(new InvariantError('promise from b for 5.a reports slot 1 accepted in 6.a'));
      });
    });
  });

  describe('members', () => {
    it('adds a voter from a slot once: acknowledged before it, sent from it, heard now', () => {
      const l = new Leadership(ballot, 1, 'a', 0);
      l.addVoter('b', 4, 9);
      l.addVoter('b', 7, 12);
      expect(l.acknowledgedThrough('b')).toBe(3);
      expect(l.sendNext.get('b')).toBe(4);
      expect(l.lastHeard.get('b')).toBe(9);
    });

    it('adds an observer once, keeping when it was last heard', () => {
      const l = new Leadership(ballot, 1, 'a', 0);
      l.addObserver('o', 4, 9);
      l.addObserver('o', 7, 12);
      expect(l.observerNext.get('o')).toBe(4);
      expect(l.lastHeard.get('o')).toBe(9);
      l.heard('p', 2);
      l.addObserver('p', 1, 12);
      expect(l.lastHeard.get('p')).toBe(2);
      expect(l.acknowledgedThrough('o')).toBe(0);
    });
  });

  describe('the command queue', () => {
    it('counts, and drains, what is queued', () => {
      const l = leading();
      l.enqueue([bytes(1), bytes(2)]);
      l.enqueue([bytes(3)]);
      expect(l.queued).toBe(3);
      expect(l.drain()).toEqual([bytes(1), bytes(2), bytes(3)]);
      expect(l.queued).toBe(0);
      expect(l.drain()).toEqual([]);
    });

    it('cuts batches of at most batchCommandsMax commands', () => {
      const l = leading();
      l.enqueue([1, 2, 3, 4, 5].map((i) => bytes(i)));
      expect(l.takeBatches(10, limits)).toEqual([batch([bytes(1), bytes(2), bytes(3)]), batch([bytes(4), bytes(5)])]);
      expect(l.queued).toBe(0);
    });

    it('cuts batches of at most batchBytesMax bytes, a larger command alone', () => {
      const l = leading();
      l.enqueue([bytes(1, 6), bytes(2, 4), bytes(3, 1), bytes(4, 11), bytes(5, 1)]);
      expect(l.takeBatches(10, limits)).toEqual([batch([bytes(1, 6), bytes(2, 4)]), batch([bytes(3, 1)]), batch([bytes(4, 11)]), batch([bytes(5, 1)])]);
    });

    it('cuts no more batches than there is room for, leaving the rest queued in order', () => {
      const l = leading();
      l.enqueue([1, 2, 3, 4, 5, 6, 7].map((i) => bytes(i)));
      expect(l.takeBatches(1, limits)).toEqual([batch([bytes(1), bytes(2), bytes(3)])]);
      expect(l.queued).toBe(4);
      expect(l.takeBatches(0, limits)).toEqual([]);
      expect(l.drain()).toEqual([4, 5, 6, 7].map((i) => bytes(i)));
    });

    it('cuts nothing from an empty queue', () => {
      expect(leading().takeBatches(5, limits)).toEqual([]);
    });

    it('keeps its order across thousands of commands taken in small batches', () => {
      const l = leading();
      const commands = Array.from({ length: 5000 }, (_, i) => bytes(i % 256));
      l.enqueue(commands);
      const taken: Uint8Array[] = [];
      while (l.queued > 4000) for (const v of l.takeBatches(100, limits)) if (v.kind === 'batch') taken.push(...v.commands);
      l.enqueue([bytes(7)]);
      for (const v of l.takeBatches(5000, limits)) if (v.kind === 'batch') taken.push(...v.commands);
      expect(taken.map((c) => c[0])).toEqual([...commands, bytes(7)].map((c) => c[0]));
      expect(taken.length).toBe(5001);
      expect(l.queued).toBe(0);
    });
  });

  describe("this node's own accepts", () => {
    it('count once the write that holds them is durable, in order', () => {
      const l = leading();
      l.assigned(2, 3);
      l.assigned(3, 4);
      expect(l.nextSlot).toBe(6);
      expect(l.acknowledgedThrough('a')).toBe(0);
      l.persisted(2);
      expect(l.acknowledgedThrough('a')).toBe(0);
      l.persisted(3);
      expect(l.acknowledgedThrough('a')).toBe(2);
      l.persisted(9);
      expect(l.acknowledgedThrough('a')).toBe(5);
      l.persisted(10);
      expect(l.acknowledgedThrough('a')).toBe(5);
    });

    it('count every write a persist covers, up to the last', () => {
      const l = leading();
      l.assigned(2, 3);
      l.assigned(3, 4);
      l.persisted(4);
      expect(l.acknowledgedThrough('a')).toBe(5);
    });

    it('refuse a durable slot never proposed', () => {
      const l = leading();
      l.assigned(2, 3);
      l.selfAccepted(4, 3);
      expect(() => l.persisted(4)).toThrow(new InvariantError('a acknowledged slot 3, never proposed (next 3)'));
    });

    it('refuse an assignment of no slot', () => {
      expect(() => leading().assigned(0, 3)).toThrow(new InvariantError('0 slots assigned from slot 1'));
    });
  });

  describe('acknowledgements', () => {
    it('move a voter on when they follow its last', () => {
      const l = leading(1, 9);
      l.acknowledge('b', 1, 2);
      expect(l.acknowledgedThrough('b')).toBe(2);
      l.acknowledge('b', 3, 3);
      expect(l.acknowledgedThrough('b')).toBe(3);
    });

    it('take an overlapping range, and ignore an old one', () => {
      const l = leading(1, 9);
      l.acknowledge('b', 1, 4);
      l.acknowledge('b', 2, 6);
      expect(l.acknowledgedThrough('b')).toBe(6);
      l.acknowledge('b', 1, 3);
      l.acknowledge('b', 6, 6);
      expect(l.acknowledgedThrough('b')).toBe(6);
    });

    it('hold an out-of-order range until the gap fills, then merge every range that connects', () => {
      const l = leading(1, 9);
      l.acknowledge('b', 6, 7);
      l.acknowledge('b', 3, 4);
      expect(l.acknowledgedThrough('b')).toBe(0);
      l.acknowledge('b', 1, 2);
      expect(l.acknowledgedThrough('b')).toBe(4);
      l.acknowledge('b', 5, 5);
      expect(l.acknowledgedThrough('b')).toBe(7);
    });

    it('merge a range that overlaps the new end, and one inside it', () => {
      const l = leading(1, 9);
      l.acknowledge('b', 3, 3);
      l.acknowledge('b', 2, 6);
      expect(l.acknowledgedThrough('b')).toBe(0);
      l.acknowledge('b', 1, 4);
      expect(l.acknowledgedThrough('b')).toBe(6);
    });

    it('keep a range that does not connect', () => {
      const l = leading(1, 9);
      l.acknowledge('b', 5, 6);
      l.acknowledge('b', 1, 3);
      expect(l.acknowledgedThrough('b')).toBe(3);
      l.acknowledge('b', 4, 4);
      expect(l.acknowledgedThrough('b')).toBe(6);
    });

    it('keep only the newest ranges when trimmed', () => {
      const l = leading(1, 20);
      l.acknowledge('b', 10, 10);
      l.acknowledge('b', 5, 5);
      l.acknowledge('b', 3, 3);
      l.trimRanges(2);
      l.acknowledge('b', 1, 4);
      expect(l.acknowledgedThrough('b')).toBe(5);
      l.trimRanges(5);
      l.acknowledge('b', 6, 9);
      expect(l.acknowledgedThrough('b')).toBe(9);
    });

    it('trim each voter to exactly the bound', () => {
      const l = leading(1, 20);
      l.acknowledge('b', 7, 7);
      l.acknowledge('b', 5, 5);
      l.acknowledge('b', 3, 3);
      l.trimRanges(3);
      l.acknowledge('b', 1, 2);
      expect(l.acknowledgedThrough('b')).toBe(3);
      l.acknowledge('b', 4, 4);
      l.acknowledge('b', 6, 6);
      expect(l.acknowledgedThrough('b')).toBe(7);
    });

    it('refuse a voter that does not vote, and a slot never proposed', () => {
      const l = leading(1, 3);
      expect(() => l.acknowledge('d', 1, 1)).toThrow(new InvariantError('acknowledgement from d, who does not vote'));
      expect(() => l.acknowledge('b', 1, 4)).toThrow(new InvariantError('b acknowledged slot 4, never proposed (next 4)'));
      l.acknowledge('b', 1, 3);
      expect(l.acknowledgedThrough('b')).toBe(3);
    });

    it('give the commit index of a phase-2 quorum', () => {
      const l = leading(1, 9);
      l.acknowledge('b', 1, 4);
      l.acknowledge('c', 1, 6);
      expect(l.committedSlot(abc)).toBe(4);
      // Its own accept of slots 1-9 (write 1) is durable.
      l.persisted(1);
      expect(l.committedSlot(abc)).toBe(6);
    });

    it('are 0 for a node that is not a voter', () => {
      expect(leading().acknowledgedThrough('d')).toBe(0);
    });
  });

  describe('a snapshot sent to a voter', () => {
    it('counts its slots acknowledged, merges the ranges that connect, and sends after it', () => {
      const l = leading(1, 9);
      l.acknowledge('b', 6, 7);
      l.skipTo('b', 5);
      expect(l.acknowledgedThrough('b')).toBe(7);
      expect(l.sendNext.get('b')).toBe(6);
    });

    it('moves nothing back', () => {
      const l = leading(1, 9);
      l.acknowledge('b', 1, 6);
      l.sentTo('b', 8, 0);
      l.skipTo('b', 4);
      expect(l.acknowledgedThrough('b')).toBe(6);
      expect(l.sendNext.get('b')).toBe(8);
      l.skipTo('b', 6);
      expect(l.acknowledgedThrough('b')).toBe(6);
      l.skipTo('b', 8);
      expect(l.sendNext.get('b')).toBe(9);
      expect(l.acknowledgedThrough('b')).toBe(8);
    });

    it('is refused for a node that does not vote', () => {
      expect(() => leading(1, 9).skipTo('d', 3)).toThrow(new InvariantError('snapshot for d, who does not vote'));
    });
  });

  describe('go-back-N', () => {
    it('resends everything after its last acknowledgement to a voter stalled since the last heartbeat', () => {
      const l = leading(1, 6);
      l.acknowledge('b', 1, 2);
      l.acknowledge('c', 1, 2);
      l.sentTo('b', 7, 0);
      l.sentTo('c', 7, 0);
      l.retransmitStalled();
      // Both moved since the round before: nothing resent yet.
      expect(l.sendNext.get('b')).toBe(7);
      l.acknowledge('c', 3, 3);
      l.retransmitStalled();
      expect(l.sendNext.get('b')).toBe(3);
      expect(l.sendNext.get('c')).toBe(7);
      expect(l.sendNext.get('a')).toBe(1);
    });

    it('resends nothing to a voter that acknowledged every slot proposed', () => {
      const l = leading(1, 4);
      l.acknowledge('b', 1, 4);
      l.sentTo('b', 3, 0);
      l.retransmitStalled();
      l.retransmitStalled();
      expect(l.sendNext.get('b')).toBe(3);
    });

    it('never touches where it sends to itself', () => {
      const l = leading(1, 4);
      l.sentTo('a', 9, 0);
      l.retransmitStalled();
      l.retransmitStalled();
      expect(l.sendNext.get('a')).toBe(9);
    });

    it('backs off: a voter that stays stalled gets the window again after 1, then 2, 4 and 8 stalled rounds, and every 8 rounds after', () => {
      const l = leading(1, 6);
      l.acknowledge('b', 1, 2);
      l.sentTo('b', 7, 0);
      l.retransmitStalled(); // the round that sees where b is
      const resentAt: number[] = [];
      for (let round = 1; round <= 40; round++) {
        l.sentTo('b', 7, 0); // what was resent went out again
        l.retransmitStalled();
        if (l.sendNext.get('b') === 3) resentAt.push(round);
      }
      expect(resentAt).toEqual([1, 3, 7, 15, 23, 31, 39]);
      expect(resendBackoffRoundsMax).toBe(8);
    });

    it('keeps the backoff while a lagging voter moves, and resets it once the voter holds every slot proposed', () => {
      const l = leading(1, 9);
      l.acknowledge('b', 1, 1);
      l.sentTo('b', 10, 0);
      l.retransmitStalled();
      l.retransmitStalled(); // stalled: resent at once, next after 2 stalled rounds
      expect(l.sendNext.get('b')).toBe(2);
      l.sentTo('b', 10, 0);
      l.acknowledge('b', 2, 3); // it moved: not stalled this round
      l.retransmitStalled();
      l.retransmitStalled(); // stalled 1 round of the 2 it now needs
      expect(l.sendNext.get('b')).toBe(10);
      l.retransmitStalled(); // 2 rounds: resent
      expect(l.sendNext.get('b')).toBe(4);
      l.sentTo('b', 10, 0);
      l.acknowledge('b', 4, 9); // it holds every slot proposed: back to one round
      l.retransmitStalled();
      l.assigned(1, 2); // slot 10
      l.sentTo('b', 11, 0);
      l.retransmitStalled();
      l.retransmitStalled();
      expect(l.sendNext.get('b')).toBe(10);
    });

    it('resends to a voter stalled one slot short', () => {
      const l = leading(1, 4);
      l.acknowledge('b', 1, 3);
      l.sentTo('b', 5, 0);
      l.retransmitStalled();
      l.retransmitStalled();
      expect(l.sendNext.get('b')).toBe(4);
    });
  });

  describe('reads', () => {
    it('are confirmed by a phase-2 quorum answering a round sent after they came, once the adopted slots are committed', () => {
      const l = leading();
      l.adopt([noop, noop], ['a', 'b']);
      l.addRead(1, 7);
      expect(l.hasReads).toBe(true);
      expect(l.readRoundWanted).toBe(true);
      // Rounds before the adopted slots are committed confirm nothing.
      expect(l.heartbeatRound(1, ['b', 'c'])).toBe(1);
      expect(l.readRoundWanted).toBe(false);
      expect(l.echo('b', 1, abc)).toEqual([]);
      expect(l.heartbeatRound(2, ['b', 'c'])).toBe(2);
      expect(l.firstReadSeq).toBe(2);
      expect(l.commitSent.get('c')).toBe(2);
      expect(l.confirmedReads(abc)).toEqual([]);
      expect(l.echo('b', 2, abc)).toMatchObject([{ id: 1, index: 7 }]);
      expect(l.hasReads).toBe(false);
    });

    it('need a round sent after the read: an answer to an earlier round does not count', () => {
      const l = leading();
      for (let i = 0; i < 3; i++) l.heartbeatRound(0, []);
      expect(l.firstReadSeq).toBe(1);
      l.addRead(1, 7);
      expect(l.echo('b', 3, abc)).toEqual([]);
      expect(l.echo('c', 3, abc)).toEqual([]);
      expect(l.echo('c', 4, abc)).toMatchObject([{ id: 1, index: 7 }]);
    });

    it('are confirmed in order, as far as the answers reach', () => {
      const l = leading();
      l.addRead(1, 5);
      l.heartbeatRound(0, []);
      l.addRead(2, 6);
      l.heartbeatRound(0, []);
      expect(l.echo('b', 1, abc)).toMatchObject([{ id: 1, index: 5 }]);
      expect(l.echo('c', 2, abc)).toMatchObject([{ id: 2, index: 6 }]);
      expect(l.hasReads).toBe(false);
    });

    it('keep the highest round a voter answered', () => {
      const l = leading();
      l.heartbeatRound(0, []);
      l.addRead(1, 5);
      expect(l.echo('b', 3, abc)).toMatchObject([{ id: 1, index: 5 }]);
      l.heartbeatRound(0, []);
      l.addRead(2, 6);
      // Round 3 is at least the round this read waits for: b's late answer to round 1 changes nothing.
      expect(l.echo('b', 1, abc)).toMatchObject([{ id: 2, index: 6 }]);
    });

    it('are never confirmed before the adopted slots are committed, even by a quorum of one', () => {
      const l = new Leadership(ballot, 1, 'a', 0);
      l.adopt([noop], ['a']);
      l.addRead(1, 0);
      for (let i = 0; i < 5; i++) l.heartbeatRound(0, []);
      expect(l.confirmedReads(majority(['a']))).toEqual([]);
      l.heartbeatRound(1, []);
      expect(l.firstReadSeq).toBe(6);
      expect(l.confirmedReads(majority(['a']))).toMatchObject([{ id: 1, index: 0 }]);
    });

    it('are drained on step-down', () => {
      const l = leading();
      l.addRead(4, 1);
      l.addRead(5, 1);
      expect(l.drainReads()).toEqual([4, 5]);
      expect(l.hasReads).toBe(false);
    });
  });

  describe('its clock', () => {
    const timing: Limits = { ...defaultLimits, electionTicksMin: 4, electionTicksMax: 6, heartbeatTicks: 2, ackRangesMax: 1 };

    it('asks for a heartbeat round every heartbeatTicks ticks, resending to stalled voters and trimming their ranges', () => {
      const l = leading(1, 6);
      l.acknowledge('b', 1, 2);
      l.acknowledge('b', 4, 4);
      l.acknowledge('b', 6, 6);
      expect(l.tick(0, timing, abc)).toBeUndefined();
      expect(l.heartbeatElapsed).toBe(1);
      expect(l.tick(0, timing, abc)).toBe('heartbeat');
      expect(l.heartbeatElapsed).toBe(0);
      expect(l.elapsed).toBe(2);
      l.tick(0, timing, abc);
      expect(l.tick(0, timing, abc)).toBe('heartbeat');
      // Stalled since the round before: sent again from its last acknowledgement.
      expect(l.sendNext.get('b')).toBe(3);
      // Only the newest out-of-order range was kept: slot 3 connects to 4, not to 6.
      l.acknowledge('b', 3, 3);
      expect(l.acknowledgedThrough('b')).toBe(3);
    });

    it('reports a lost quorum once electionTicksMin ticks passed without a phase-2 quorum heard within them', () => {
      const l = leading();
      l.heard('b', 2);
      for (let now = 1; now <= 5; now++) expect(l.tick(now, timing, abc)).not.toBe('lost-quorum');
      expect(l.tick(6, timing, abc)).toBe('lost-quorum');
    });

    it('gives a new leader electionTicksMin ticks before it checks that it hears a quorum', () => {
      // Its voters were last heard at tick 0; its first ticks come much later.
      const l = leading();
      for (let now = 100; now < 103; now++) expect(l.tick(now, timing, abc)).not.toBe('lost-quorum');
      expect(l.tick(103, timing, abc)).toBe('lost-quorum');
    });

    it('gives a transfer up after electionTicksMax ticks', () => {
      const l = leading();
      l.startTransfer('b');
      for (let now = 1; now <= 5; now++) {
        l.heard('b', now);
        l.tick(now, timing, abc);
      }
      expect(l.transfer).toEqual({ to: 'b', elapsed: 5, told: false });
      l.tick(6, timing, abc);
      expect(l.transfer).toBeUndefined();
    });
  });

  describe('a transfer', () => {
    it('tells its target once, when it accepted every slot proposed', () => {
      const l = leading(1, 3);
      l.startTransfer('b');
      expect(l.transferDue(3)).toBeUndefined();
      l.acknowledge('b', 1, 3);
      expect(l.transferDue(3)).toBe('b');
      expect(l.transfer?.told).toBe(true);
      expect(l.transferDue(3)).toBeUndefined();
    });

    it('is refused to itself', () => {
      expect(() => leading().startTransfer('a')).toThrow(new InvariantError('a transfers leadership to itself'));
    });
  });

  describe('a membership change', () => {
    const next = { id: 1, voters: ['a', 'b'], quorum: { kind: 'majority' }, observers: [], addresses: {}, windowSlots: 4 } as unknown as Configuration;

    it('is queued one at a time and taken at the slot it is proposed in', () => {
      const l = leading(1, 2);
      l.queueChange(next);
      expect(l.pendingChange).toBe(next);
      expect(() => l.queueChange(next)).toThrow(new InvariantError('a change is queued already, to configuration 1'));
      expect(() => l.takeChange(2)).toThrow(new InvariantError('a change proposed at slot 2, below the next free slot 3'));
      expect(l.takeChange(3)).toBe(next);
      expect(l.pendingChange).toBeUndefined();
      expect(l.changeSlot).toBe(3);
      expect(() => l.takeChange(4)).toThrow(new InvariantError('no change queued for slot 4'));
    });
  });

  describe('asking for promises after the election', () => {
    it('asks a voter at most once within the interval', () => {
      const l = leading();
      expect(l.askToPromise('d', 10, 2)).toBe(true);
      expect(l.askToPromise('d', 11, 2)).toBe(false);
      expect(l.askToPromise('d', 12, 2)).toBe(true);
    });
  });

  describe('heartbeat rounds', () => {
    it('are wanted for the handover once per commit index', () => {
      const l = leading();
      expect(l.heartbeatWanted(0)).toBe(false);
      l.wantCommitReports(4);
      expect(l.heartbeatWanted(4)).toBe(true);
      l.heartbeatRound(4, []);
      l.wantCommitReports(4);
      expect(l.heartbeatWanted(4)).toBe(false);
      l.wantCommitReports(5);
      expect(l.heartbeatWanted(5)).toBe(true);
    });

    it('are wanted when reads wait and no round may confirm them yet, once the adopted slots are committed', () => {
      const l = leading();
      l.adopt([noop, noop], ['a', 'b']);
      l.addRead(1, 2);
      l.heartbeatRound(1, []);
      expect(l.heartbeatWanted(1)).toBe(false);
      expect(l.heartbeatWanted(2)).toBe(true);
    });
  });

  describe('what members report', () => {
    it('keeps the highest commit index a member reported, and when it was heard', () => {
      const l = leading();
      l.reported('b', 5, 7);
      l.reported('b', 3, 8);
      expect(l.reportedCommit.get('b')).toBe(5);
      expect(l.lastHeard.get('b')).toBe(8);
    });

    it('refuses sends to a node that neither votes nor observes', () => {
      const l = leading();
      expect(() => l.sentTo('d', 1, 0)).toThrow(new InvariantError('slots sent to d, who does not vote'));
      expect(() => l.pushedTo('o', 1)).toThrow(new InvariantError('chosen slots pushed to o, not an observer of this leader'));
    });
  });

  describe('being idle (may quiesce)', () => {
    const change = { id: 1, voters: ['a', 'b'], quorum: { kind: 'majority' }, observers: [], addresses: {}, windowSlots: 4 } as unknown as Configuration;

    /** Two slots assigned and committed, a heartbeat round sent at commit index 2 (reads may be confirmed), b and c reporting 2 at tick 10. */
    function settled(): Leadership {
      const l = leading(1, 2);
      l.heartbeatRound(2, ['b', 'c']);
      l.reported('b', 2, 10);
      l.reported('c', 2, 10);
      return l;
    }
    const idle = (l: Leadership, commitIndex = 2, now = 12): boolean => l.idle(commitIndex, ['b', 'c'], now, 5);

    it('is idle with nothing under way and every peer heard lately at the commit index', () => {
      expect(idle(settled())).toBe(true);
    });

    it('is not, each for one thing under way', () => {
      const queued = settled();
      queued.enqueue([bytes(1)]);
      expect(idle(queued)).toBe(false);
      // A slot it assigned is not committed yet.
      expect(idle(settled(), 1)).toBe(false);
      // No heartbeat round was sent since what phase 1 adopted was committed.
      const fresh = leading(1, 2);
      fresh.reported('b', 2, 10);
      fresh.reported('c', 2, 10);
      expect(idle(fresh)).toBe(false);
      const reading = settled();
      reading.addRead(1, 2);
      reading.heartbeatRound(2, ['b', 'c']); // the round the read waits for is sent: only the read itself is left
      expect(idle(reading)).toBe(false);
      const round = settled();
      round.wantCommitReports(2);
      expect(idle(round)).toBe(false);
      const queuedChange = settled();
      queuedChange.queueChange(change);
      expect(idle(queuedChange)).toBe(false);
      const proposedChange = settled();
      proposedChange.queueChange(change);
      proposedChange.takeChange(3);
      expect(idle(proposedChange)).toBe(false);
      const transfer = settled();
      transfer.startTransfer('b');
      expect(idle(transfer)).toBe(false);
    });

    it('is not while a peer reported a lower commit index, or never reported one', () => {
      const behind = leading(1, 2);
      behind.heartbeatRound(2, ['b', 'c']);
      behind.reported('b', 2, 10);
      behind.reported('c', 1, 10);
      expect(idle(behind)).toBe(false);
      // Nothing committed yet, the round sent: b and c were heard (at the election) but never answered one.
      const l = leading();
      l.heartbeatRound(0, ['b', 'c']);
      expect(l.idle(0, ['b', 'c'], 0, 5)).toBe(false);
      l.reported('b', 0, 1);
      l.reported('c', 0, 1);
      expect(l.idle(0, ['b', 'c'], 1, 5)).toBe(true);
    });

    it('is not once a peer was last heard windowTicks ago or more', () => {
      expect(idle(settled(), 2, 14)).toBe(true);
      expect(idle(settled(), 2, 15)).toBe(false);
    });
  });

  describe('the epochs it may propose in', () => {
    it('knows those marked ready, and only those', () => {
      const l = leading();
      const e = { from: 1 } as unknown as Parameters<Leadership['markReady']>[0];
      const other = { from: 5 } as unknown as Parameters<Leadership['markReady']>[0];
      expect(l.isReady(e)).toBe(false);
      l.markReady(e);
      expect(l.isReady(e)).toBe(true);
      expect(l.isReady(other)).toBe(false);
    });
  });

  describe('hearing a quorum', () => {
    it('counts itself and the voters heard within the window', () => {
      const l = leading();
      l.heard('b', 10);
      l.heard('c', 3);
      expect(l.hearsQuorum(14, 5, abc)).toBe(true);
      expect(l.hearsQuorum(15, 5, abc)).toBe(false);
    });

    it('does not count a voter never heard', () => {
      // b and c were never added, so never heard.
      const l = new Leadership(ballot, 1, 'a', 0);
      expect(l.hearsQuorum(0, 5, abc)).toBe(false);
      l.addVoter('b', 1, 0);
      expect(l.hearsQuorum(0, 5, abc)).toBe(true);
    });
  });
});
