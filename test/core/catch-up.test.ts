import { describe, expect, it } from 'vitest';
import { Acceptor } from '../../src/core/acceptor.js';
import { CatchUp } from '../../src/core/catch-up.js';
import type { Configuration } from '../../src/core/configuration/configuration.js';
import type { ConfigurationState } from '../../src/core/configuration/epochs.js';
import type { DurableState } from '../../src/core/durable-state.js';
import { type Message, majority, Replica } from '../../src/core/index.js';
import { Learner } from '../../src/core/learner.js';
import { defaultLimits, type Limits } from '../../src/core/limits.js';
import { batch, type Value } from '../../src/core/value.js';

// Catch-up, one input at a time: the asker's one outstanding request (its range, its
// cooldown, what frees it early) and what a replica that knows the chosen values answers.

// Small byte bounds keep the values small (serve does not check how the limits relate).
const limits: Limits = { ...defaultLimits, heartbeatTicks: 2, catchUpSlotsMax: 3, messageBytesMax: 10 };
const cmd = (byte: number, size = 1): Value => batch([new Uint8Array(size).fill(byte)]);
const config: Configuration = { id: 0, voters: ['a', 'b', 'c'], quorum: 'majority', observers: [], addresses: {}, windowSlots: 4 };
const first: ConfigurationState = [{ from: 1, source: 0, config }];

/** A learner that knows `values` chosen from slot `snapshotSlot + 1`, all committed. */
function learnerOf(values: Value[], snapshotSlot = 0): Learner {
  const chosen = values.map((value, i) => ({ slot: snapshotSlot + 1 + i, value }));
  const state: DurableState = { promised: { round: 1, node: 'a' }, accepted: [], chosen, commitIndex: snapshotSlot + values.length };
  return new Learner(state, new Acceptor(state, snapshotSlot), snapshotSlot, first);
}

function ticked(c: CatchUp, n: number): CatchUp {
  for (let i = 0; i < n; i++) c.tick();
  return c;
}

describe('CatchUp', () => {
  describe('asking', () => {
    it('asks from the first missing slot to the known commit index', () => {
      expect(new CatchUp(limits).request(4, 5)).toEqual([4, 5]);
    });

    it('asks for one slot when the first missing one is the known commit index', () => {
      expect(new CatchUp(limits).request(5, 5)).toEqual([5, 5]);
    });

    it('asks for nothing when nothing known is missing', () => {
      const c = new CatchUp(limits);
      expect(c.request(6, 5)).toBeUndefined();
      // ... and that asked nothing: the next request goes out at once.
      expect(c.request(5, 5)).toEqual([5, 5]);
    });

    it('asks for at most catchUpSlotsMax slots', () => {
      expect(new CatchUp(limits).request(4, 100)).toEqual([4, 6]);
    });

    it('asks one request at a time', () => {
      const c = new CatchUp(limits);
      c.request(4, 5);
      expect(c.request(4, 5)).toBeUndefined();
      expect(c.request(6, 9)).toBeUndefined();
    });
  });

  describe('an unanswered request', () => {
    it('may be sent again after twice heartbeatTicks ticks, not before', () => {
      const c = new CatchUp(limits);
      c.request(4, 5);
      ticked(c, 3);
      expect(c.request(4, 5)).toBeUndefined();
      c.tick();
      expect(c.request(4, 5)).toEqual([4, 5]);
    });

    it('waits its whole cooldown again once sent again', () => {
      const c = new CatchUp(limits);
      c.request(4, 5);
      ticked(c, 4);
      c.request(4, 5);
      ticked(c, 3);
      expect(c.request(4, 5)).toBeUndefined();
    });

    it('counts no cooldown while nothing is outstanding', () => {
      const c = ticked(new CatchUp(limits), 10);
      c.request(4, 5);
      ticked(c, 3);
      expect(c.request(4, 5)).toBeUndefined();
    });
  });

  describe('what frees the next request at once', () => {
    it('the answer to the outstanding request', () => {
      const c = new CatchUp(limits);
      c.request(4, 9);
      c.received(4);
      expect(c.request(7, 9)).toEqual([7, 9]);
    });

    it('not values from another slot (pushed, or the answer to an earlier request)', () => {
      const c = new CatchUp(limits);
      c.request(4, 9);
      c.received(3);
      c.received(5);
      expect(c.request(7, 9)).toBeUndefined();
    });

    it('an answer freed the request for good: its cooldown is over', () => {
      const c = new CatchUp(limits);
      c.request(4, 9);
      c.received(4);
      c.tick();
      expect(c.request(7, 9)).toEqual([7, 9]);
    });

    it('an installed snapshot', () => {
      const c = new CatchUp(limits);
      c.request(4, 9);
      c.reset();
      expect(c.request(12, 20)).toEqual([12, 14]);
      // The snapshot ended the cooldown too: the new request waits a whole one.
      ticked(c, 3);
      expect(c.request(15, 20)).toBeUndefined();
    });
  });

  describe('serving', () => {
    it('answers with the chosen values asked for and its commit index', () => {
      const l = learnerOf([cmd(1), cmd(2), cmd(3)]);
      expect(CatchUp.serve(l, 'a', 'b', 2, 3, limits)).toEqual({
        type: 'chosen',
        from: 'a',
        to: 'b',
        firstSlot: 2,
        values: [cmd(2), cmd(3)],
        commitIndex: 3,
      });
    });

    it('answers one slot asked for alone', () => {
      const l = learnerOf([cmd(1), cmd(2), cmd(3)]);
      expect(CatchUp.serve(l, 'a', 'b', 1, 1, limits)).toMatchObject({ firstSlot: 1, values: [cmd(1)] });
    });

    it('answers up to its commit index when asked for more', () => {
      const l = learnerOf([cmd(1), cmd(2)]);
      expect(CatchUp.serve(l, 'a', 'b', 2, 9, limits)).toMatchObject({ firstSlot: 2, values: [cmd(2)], commitIndex: 2 });
    });

    it('answers at most catchUpSlotsMax slots', () => {
      const l = learnerOf([cmd(1), cmd(2), cmd(3), cmd(4), cmd(5)]);
      expect(CatchUp.serve(l, 'a', 'b', 1, 5, limits)).toMatchObject({ firstSlot: 1, values: [cmd(1), cmd(2), cmd(3)], commitIndex: 5 });
    });

    it('answers as many slots as messageBytesMax holds, and always the first', () => {
      const half = limits.messageBytesMax / 2;
      const l = learnerOf([cmd(1, half), cmd(2, half), cmd(3, 1)]);
      expect(CatchUp.serve(l, 'a', 'b', 1, 3, limits)).toMatchObject({ values: [cmd(1, half), cmd(2, half)] });
      const big = learnerOf([cmd(1, limits.messageBytesMax + 1), cmd(2)]);
      expect(CatchUp.serve(big, 'a', 'b', 1, 2, limits)).toMatchObject({ values: [cmd(1, limits.messageBytesMax + 1)] });
    });

    it('answers nothing for slots beyond its commit index', () => {
      const l = learnerOf([cmd(1), cmd(2)]);
      expect(CatchUp.serve(l, 'a', 'b', 3, 5, limits)).toBeUndefined();
    });

    it('answers nothing for an empty or reversed range', () => {
      const l = learnerOf([cmd(1), cmd(2), cmd(3)]);
      expect(CatchUp.serve(l, 'a', 'b', 2, 1, limits)).toBeUndefined();
    });

    it('answers "snapshot" for a slot compacted away, and the values from the first one it still has', () => {
      const l = learnerOf([cmd(4), cmd(5)], 3);
      expect(CatchUp.serve(l, 'a', 'b', 3, 5, limits)).toBe('snapshot');
      expect(CatchUp.serve(l, 'a', 'b', 1, 5, limits)).toBe('snapshot');
      expect(CatchUp.serve(l, 'a', 'b', 4, 5, limits)).toMatchObject({ firstSlot: 4, values: [cmd(4), cmd(5)] });
    });
  });
});

// A replica stepping `chosen` messages: what it learns, writes and asks for next.
describe('Replica, on chosen values', () => {
  const noop: Value = { kind: 'noop' };
  const ballot = { round: 1, node: 'a' };
  /** Follower b, promised to a's ballot 1.a, that chose `commitIndex` no-ops. */
  function follower(commitIndex = 0): Replica {
    const chosen = Array.from({ length: commitIndex }, (_, i) => ({ slot: i + 1, value: noop }));
    const r = new Replica({ id: 'b', quorum: majority(['a', 'b', 'c']), random: () => 0, state: { promised: ballot, accepted: [], chosen, commitIndex } });
    r.takeOutput();
    return r;
  }
  const chosen = (firstSlot: number, values: Value[], commitIndex: number): Message => ({ type: 'chosen', from: 'a', to: 'b', firstSlot, values, commitIndex });

  it('a follower that filled its gap marks the slots it accepted from its leader chosen, and asks for nothing more', () => {
    const r = follower();
    // b accepted slots 3..4 in a's ballot; slots 1..2 it lacks, so it asks a for them.
    r.step({ type: 'accept', from: 'a', to: 'b', ballot, firstSlot: 3, values: [cmd(3), cmd(4)], commitIndex: 4 });
    expect(r.takeOutput().messages.filter((m) => m.type === 'catchUp')).toEqual([{ type: 'catchUp', from: 'b', to: 'a', firstSlot: 1, lastSlot: 4 }]);
    // The answer holds slots 1..2 only (as a byte bound may cut it): 3..4 it accepted in
    // the ballot of the leader that announced them chosen.
    r.step(chosen(1, [cmd(1), cmd(2)], 4));
    expect(r.status.commitIndex).toBe(4);
    expect(r.takeOutput().messages).toEqual([]);
  });

  it('writes no slot at or below its commit index again, though compacted away', () => {
    const r = follower(3);
    r.applied(3);
    r.compact(3);
    r.step(chosen(2, [noop, noop, noop], 4));
    expect(r.takeOutput().persist?.chosen).toEqual([{ slot: 4, value: noop }]);
  });

  it('a promise reports the chosen values known beyond a gap in them', () => {
    const r = follower();
    r.step(chosen(3, [cmd(3)], 3));
    expect(r.status.commitIndex).toBe(0);
    r.takeOutput();
    r.step({ type: 'prepare', from: 'c', to: 'b', ballot: { round: 2, node: 'c' }, firstSlot: 1 });
    expect(r.takeOutput().messages).toMatchObject([{ type: 'promise', to: 'c', chosen: [{ slot: 3, value: cmd(3) }] }]);
  });
});
