import { describe, expect, it } from 'vitest';
import { type Ballot, ballotZero } from '../../src/core/ballot.js';
import { InvariantError } from '../../src/core/errors.js';
import type { AcceptedEntry } from '../../src/core/entries.js';
import type { ProbeReplyMessage } from '../../src/core/messages.js';
import { Rejoin } from '../../src/core/rejoin.js';
import { batch, type Value } from '../../src/core/value.js';

// The amnesia guard's rounds, one answer at a time: a first round that finds nothing
// (a new cluster), a first round that finds history (fence above every promise), and
// the fenced round whose answers make the rebuild plan: the highest promise, the
// highest commit index and who had it, and per slot above it the highest-ballot entry.

const b = (round: number, node = 'b'): Ballot => ({ round, node });
const cmd = (byte: number): Value => batch([new Uint8Array([byte])]);
const entry = (slot: number, ballot: Ballot, value: Value = cmd(slot)): AcceptedEntry => ({ slot, ballot, value });

function reply(from: string, fields: Partial<ProbeReplyMessage> = {}): ProbeReplyMessage {
  return { type: 'probeReply', from, to: 'a', fence: ballotZero, promised: ballotZero, commitIndex: 0, accepted: [], ...fields };
}

/** A rejoin of `a` asking `b` and `c`, past a first round that found `b` promised round 4. */
function fenced(): Rejoin {
  const r = new Rejoin('a', ['b', 'c']);
  r.onReply(reply('b', { promised: b(4) }));
  expect(r.onReply(reply('c'))).toBe('fence');
  return r;
}

describe('Rejoin', () => {
  it('needs at least one voter to ask', () => {
    expect(() => new Rejoin('a', [])).toThrow(new InvariantError('a rejoin needs other voters to ask'));
  });

  it('starts probing every voter, with the zero ballot and no plan', () => {
    const r = new Rejoin('a', ['b', 'c']);
    expect(r.state).toBe('probing');
    expect(r.fence).toEqual(ballotZero);
    expect(r.plan).toBeUndefined();
    expect(r.unanswered()).toEqual(['b', 'c']);
    expect(r.asks('b')).toBe(true);
    expect(r.asks('a')).toBe(false);
    expect(r.asks('d')).toBe(false);
  });

  describe('the first round', () => {
    it('waits for every voter, not a quorum', () => {
      const r = new Rejoin('a', ['b', 'c', 'd']);
      expect(r.onReply(reply('b'))).toBeUndefined();
      expect(r.onReply(reply('c'))).toBeUndefined();
      expect(r.unanswered()).toEqual(['d']);
      expect(r.onReply(reply('d'))).toBe('fresh');
    });

    it('counts a voter that answers twice once', () => {
      const r = new Rejoin('a', ['b', 'c']);
      expect(r.onReply(reply('b'))).toBeUndefined();
      expect(r.onReply(reply('b'))).toBeUndefined();
      expect(r.unanswered()).toEqual(['c']);
    });

    it('ignores an answer from a node it did not ask', () => {
      const r = new Rejoin('a', ['b', 'c']);
      expect(r.onReply(reply('d', { promised: b(9) }))).toBeUndefined();
      expect(r.onReply(reply('b'))).toBeUndefined();
      expect(r.onReply(reply('c'))).toBe('fresh');
    });

    it('ignores an answer to another round', () => {
      const r = new Rejoin('a', ['b']);
      expect(r.onReply(reply('b', { fence: b(1, 'a'), promised: b(9) }))).toBeUndefined();
      expect(r.unanswered()).toEqual(['b']);
    });

    it('finds a new cluster when no voter holds anything (a round-0 promise is only a mark)', () => {
      const r = new Rejoin('a', ['b', 'c']);
      r.onReply(reply('b', { promised: { round: 0, node: 'b' } }));
      expect(r.onReply(reply('c'))).toBe('fresh');
      expect(r.state).toBe('probing');
      expect(r.plan).toBeUndefined();
    });

    it('finds history in a promise, and fences one round above the highest', () => {
      const r = new Rejoin('a', ['b', 'c']);
      r.onReply(reply('b', { promised: b(5, 'b') }));
      expect(r.onReply(reply('c', { promised: b(3, 'c') }))).toBe('fence');
      expect(r.fence).toEqual(b(6, 'a'));
      expect(r.state).toBe('probing');
      // The new round asks everyone again.
      expect(r.unanswered()).toEqual(['b', 'c']);
    });

    it('finds history in a commit index alone', () => {
      const r = new Rejoin('a', ['b']);
      expect(r.onReply(reply('b', { commitIndex: 1 }))).toBe('fence');
      expect(r.fence).toEqual(b(1, 'a'));
    });

    it('finds history in an accepted entry alone', () => {
      const r = new Rejoin('a', ['b']);
      expect(r.onReply(reply('b', { accepted: [entry(1, b(0))] }))).toBe('fence');
      expect(r.fence).toEqual(b(1, 'a'));
    });
  });

  describe('the fenced round', () => {
    it('ignores answers to the first round from then on', () => {
      const r = fenced();
      expect(r.onReply(reply('b', { promised: b(4) }))).toBeUndefined();
      expect(r.unanswered()).toEqual(['b', 'c']);
    });

    it('waits for every voter, then plans the rebuild', () => {
      const r = fenced();
      const fence = r.fence;
      expect(r.onReply(reply('b', { fence, promised: fence }))).toBeUndefined();
      expect(r.state).toBe('probing');
      expect(r.onReply(reply('c', { fence, promised: fence }))).toBe('rebuild');
      expect(r.state).toBe('rebuilding');
      expect(r.plan).toEqual({ promised: fence, commitIndex: 0, source: undefined, accepted: [] });
    });

    it('takes the highest promise, a higher node breaking a tie of rounds', () => {
      const r = fenced();
      const fence = r.fence;
      r.onReply(reply('b', { fence, promised: b(7, 'b') }));
      r.onReply(reply('c', { fence, promised: b(7, 'c') }));
      expect(r.plan?.promised).toEqual(b(7, 'c'));
    });

    it('keeps the highest promise whatever the order of the answers', () => {
      const r = fenced();
      const fence = r.fence;
      r.onReply(reply('b', { fence, promised: b(9, 'b') }));
      r.onReply(reply('c', { fence, promised: fence }));
      expect(r.plan?.promised).toEqual(b(9, 'b'));
    });

    it('takes the highest commit index, and the first voter that had it as the source', () => {
      const r = new Rejoin('a', ['b', 'c', 'd']);
      r.onReply(reply('b', { commitIndex: 1 }));
      r.onReply(reply('c'));
      r.onReply(reply('d'));
      const fence = r.fence;
      r.onReply(reply('b', { fence, promised: fence, commitIndex: 3 }));
      r.onReply(reply('c', { fence, promised: fence, commitIndex: 5 }));
      r.onReply(reply('d', { fence, promised: fence, commitIndex: 5 }));
      expect(r.plan).toMatchObject({ commitIndex: 5, source: 'c' });
    });

    it('takes per slot above the commit index the entry of the highest ballot, in slot order', () => {
      const r = fenced();
      const fence = r.fence;
      r.onReply(reply('b', { fence, promised: fence, commitIndex: 2, accepted: [entry(3, b(2), cmd(30)), entry(5, b(3, 'c'), cmd(50))] }));
      r.onReply(
        reply('c', {
          fence,
          promised: fence,
          commitIndex: 1,
          accepted: [entry(2, b(1)), entry(4, b(1)), entry(3, b(3), cmd(31)), entry(5, b(3, 'b'), cmd(51))],
        }),
      );
      expect(r.plan).toEqual({
        promised: fence,
        commitIndex: 2,
        source: 'b',
        accepted: [entry(3, b(3), cmd(31)), entry(4, b(1)), entry(5, b(3, 'c'), cmd(50))],
      });
    });

    it('ignores every answer once planned', () => {
      const r = fenced();
      const fence = r.fence;
      r.onReply(reply('b', { fence, promised: fence }));
      r.onReply(reply('c', { fence, promised: fence }));
      const plan = r.plan;
      expect(r.onReply(reply('c', { fence, promised: b(20), commitIndex: 9 }))).toBeUndefined();
      expect(r.plan).toBe(plan);
    });

    it('refuses answers whose promises all lie below the fence (a voter that did not promise it)', () => {
      const r = fenced();
      const fence = r.fence;
      r.onReply(reply('b', { fence, promised: b(4) }));
      expect(() => r.onReply(reply('c', { fence, promised: b(4) }))).toThrow(
        new InvariantError('every voter promised the fence, yet the highest promise is below it'),
      );
    });
  });
});
