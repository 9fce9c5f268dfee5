import { describe, expect, it } from 'vitest';
import { Election } from '../../src/core/election.js';
import { InvariantError } from '../../src/core/errors.js';
import { defaultLimits, type Limits } from '../../src/core/limits.js';
import { majority } from '../../src/core/quorum/majority.js';

// The election timer and the pre-check round, one input at a time: the random timeout
// drawn within [electionTicksMin, electionTicksMax], when a voter grants a pre-check,
// and how grants and refusals add up to a phase-1 vote.

const limits: Limits = { ...defaultLimits, electionTicksMin: 10, electionTicksMax: 20 };

/** A generator that returns `draws` in turn, then the last one forever. */
function draws(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
}

function ticked(e: Election, n: number): Election {
  for (let i = 0; i < n; i++) e.tick();
  return e;
}

describe('Election', () => {
  describe('the random timeout', () => {
    it('is electionTicksMin when random() returns 0', () => {
      expect(new Election(limits, draws(0)).timeout).toBe(10);
    });

    it('is electionTicksMax when random() returns just under 1', () => {
      expect(new Election(limits, draws(0.999)).timeout).toBe(20);
    });

    it('spreads [0, 1) evenly over the 11 ticks from 10 to 20', () => {
      // floor(0.5 * 11) = 5; floor(1/11 * 11) = 1, the first draw past 10.
      expect(new Election(limits, draws(0.5)).timeout).toBe(15);
      expect(new Election(limits, draws(1 / 11)).timeout).toBe(11);
      expect(new Election(limits, draws(1 / 11 - 1e-9)).timeout).toBe(10);
    });

    it('is the one value when min and max are equal', () => {
      expect(new Election({ ...limits, electionTicksMax: 10 }, draws(0.999)).timeout).toBe(10);
    });

    it('refuses a draw outside [0, 1), naming it', () => {
      expect(() => new Election(limits, draws(1))).toThrow(new InvariantError('random() returned 1, outside [0, 1)'));
      expect(() => new Election(limits, draws(-0.25))).toThrow(new InvariantError('random() returned -0.25, outside [0, 1)'));
    });
  });

  describe('the timer', () => {
    it('starts with nothing elapsed', () => {
      const e = new Election(limits, draws(0));
      expect(e.elapsed).toBe(0);
      expect(e.leaderElapsed).toBe(0);
      expect(e.timedOut).toBe(false);
    });

    it('counts each tick in both counters', () => {
      const e = ticked(new Election(limits, draws(0)), 3);
      expect(e.elapsed).toBe(3);
      expect(e.leaderElapsed).toBe(3);
    });

    it('times out at exactly the timeout, not a tick before', () => {
      const e = ticked(new Election(limits, draws(0.5)), 14);
      expect(e.timedOut).toBe(false);
      e.tick();
      expect(e.timedOut).toBe(true);
      e.tick();
      expect(e.timedOut).toBe(true);
    });

    it('restarts with a fresh draw on resetTimer, keeping the time since the leader', () => {
      const e = ticked(new Election(limits, draws(0, 0.999)), 4);
      e.resetTimer();
      expect(e.elapsed).toBe(0);
      expect(e.timeout).toBe(20);
      expect(e.leaderElapsed).toBe(4);
    });

    it('restarts both counters, with a fresh draw, when the leader is heard', () => {
      const e = ticked(new Election(limits, draws(0, 0.5)), 12);
      e.heardLeader();
      expect(e.elapsed).toBe(0);
      expect(e.leaderElapsed).toBe(0);
      expect(e.timeout).toBe(15);
    });
  });

  describe('granting a pre-check', () => {
    const waited = (n: number): Election => ticked(new Election(limits, draws(0)), n);

    it('refuses while a leader was heard within electionTicksMin ticks (a restart counts as heard)', () => {
      expect(waited(0).grantsPrecheck(false, 5, 5)).toBe(false);
      expect(waited(9).grantsPrecheck(false, 5, 5)).toBe(false);
    });

    it('grants from electionTicksMin ticks on, to an asker as up to date as itself', () => {
      expect(waited(10).grantsPrecheck(false, 5, 5)).toBe(true);
      expect(waited(10).grantsPrecheck(false, 6, 5)).toBe(true);
    });

    it('refuses an asker whose commit index is behind its own', () => {
      expect(waited(10).grantsPrecheck(false, 4, 5)).toBe(false);
    });

    it('refuses whenever it leads itself', () => {
      expect(waited(30).grantsPrecheck(true, 6, 5)).toBe(false);
    });

    it('refuses again once a leader is heard', () => {
      const e = waited(10);
      e.heardLeader();
      expect(e.grantsPrecheck(false, 5, 5)).toBe(false);
    });
  });

  describe('the pre-check round', () => {
    const quorum = majority(['a', 'b', 'c']);

    it('is not under way at first, and its vote is pending', () => {
      const e = new Election(limits, draws(0));
      expect(e.prechecking).toBe(false);
      expect(e.precheckVote(quorum)).toBe('pending');
    });

    it('counts this node as granting, and one more grant of three wins', () => {
      const e = new Election(limits, draws(0));
      e.startPrecheck('a');
      expect(e.prechecking).toBe(true);
      expect(e.precheckVote(quorum)).toBe('pending');
      e.onPrecheckReply('b', true);
      expect(e.precheckVote(quorum)).toBe('won');
    });

    it('loses on two refusals of three', () => {
      const e = new Election(limits, draws(0));
      e.startPrecheck('a');
      e.onPrecheckReply('b', false);
      expect(e.precheckVote(quorum)).toBe('pending');
      e.onPrecheckReply('c', false);
      expect(e.precheckVote(quorum)).toBe('lost');
    });

    it('restarts the timer when it starts', () => {
      const e = ticked(new Election(limits, draws(0, 0.999)), 10);
      e.startPrecheck('a');
      expect(e.elapsed).toBe(0);
      expect(e.timeout).toBe(20);
      expect(e.leaderElapsed).toBe(10);
    });

    it('forgets the refusals of the round before', () => {
      const e = new Election(limits, draws(0));
      e.startPrecheck('a');
      e.onPrecheckReply('b', false);
      e.onPrecheckReply('c', false);
      e.startPrecheck('a');
      expect(e.precheckVote(quorum)).toBe('pending');
      e.onPrecheckReply('c', false);
      expect(e.precheckVote(quorum)).toBe('pending');
    });

    it('forgets the grants of the round before', () => {
      const e = new Election(limits, draws(0));
      e.startPrecheck('a');
      e.onPrecheckReply('b', true);
      e.startPrecheck('c');
      expect(e.precheckVote(quorum)).toBe('pending');
    });

    it('ignores replies while no round is under way', () => {
      const e = new Election(limits, draws(0));
      e.onPrecheckReply('b', true);
      e.onPrecheckReply('c', false);
      expect(e.prechecking).toBe(false);
      expect(e.precheckVote(quorum)).toBe('pending');
      e.startPrecheck('a');
      expect(e.precheckVote(quorum)).toBe('pending');
    });

    it('ends on stopPrecheck: its vote is pending again and replies are ignored', () => {
      const e = new Election(limits, draws(0));
      e.startPrecheck('a');
      e.onPrecheckReply('b', true);
      e.stopPrecheck();
      expect(e.prechecking).toBe(false);
      expect(e.precheckVote(quorum)).toBe('pending');
    });

    it('ends when the leader is heard', () => {
      const e = new Election(limits, draws(0));
      e.startPrecheck('a');
      e.heardLeader();
      expect(e.prechecking).toBe(false);
      e.onPrecheckReply('b', true);
      expect(e.precheckVote(quorum)).toBe('pending');
    });
  });
});
