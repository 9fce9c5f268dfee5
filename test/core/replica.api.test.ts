import { describe, expect, it } from 'vitest';
import { ConfigError, InvariantError, Replica, flexible, majority } from '../../src/core/index.js';
import { joint } from '../../src/core/quorum/joint.js';
import { ManualCluster } from '../../src/testing/index.js';
import { configError } from '../config-error.js';

// The replica's calls one at a time, with what each says when refused: its options word
// for word, and the contract a driver breaks (an InvariantError naming the numbers).

const quorum = majority(['a', 'b', 'c']);
const bytes = (n: number): Uint8Array => new Uint8Array(n);

describe('Replica options', () => {
  it('names the fault of each refused option', () => {
    for (const id of ['', 7 as unknown as string]) {
      expect(configError(() => new Replica({ id, quorum, random: () => 0 })).message).toBe('Replica: `id` must be a non-empty string');
    }
    expect(configError(() => new Replica({ id: 'a', quorum, random: 'x' as unknown as () => number })).message).toBe(
      'Replica: `random` must be a function returning a number in [0, 1)',
    );
    expect(configError(() => new Replica({ id: 'z', quorum, random: () => 0 })).message).toBe('Replica: `id` z is neither a voter nor an observer');
    expect(configError(() => new Replica({ id: 'a', quorum, random: () => 0, limits: { heartbeatTicks: 0 } })).message).toBe(
      'Replica: `limits.heartbeatTicks` must be a positive integer, got 0',
    );
    for (const snapshotSlot of [-1, 1.5]) {
      expect(configError(() => new Replica({ id: 'a', quorum, random: () => 0, snapshotSlot })).message).toBe(
        `Replica: \`snapshotSlot\` must be a slot (an integer >= 0), got ${snapshotSlot}`,
      );
    }
    for (const configuration of [[], {} as never]) {
      expect(configError(() => new Replica({ id: 'a', quorum, random: () => 0, configuration })).message).toBe(
        'Replica: `configuration` must list at least one configuration',
      );
    }
    const notThreshold = joint(quorum, majority(['a', 'b', 'd']));
    expect(configError(() => new Replica({ id: 'a', quorum: notThreshold, random: () => 0 })).message).toBe(
      'Replica: `quorum` must be majority(...) or flexible(...): a configuration records its rule',
    );
  });

  it('checks every configuration it is given, and takes a member of one it was not built from', () => {
    const config = { id: 3, voters: ['a', 'b'], quorum: 'majority' as const, observers: [], addresses: {}, windowSlots: 4 };
    expect(
      configError(() => new Replica({ id: 'a', quorum, random: () => 0, configuration: [{ from: 1, source: 0, config: { ...config, voters: [] } }] })),
    ).toBeInstanceOf(ConfigError);
    // Restored from a snapshot: the configuration, not `quorum`, says who votes.
    const r = new Replica({ id: 'a', quorum: majority(['x']), random: () => 0, configuration: [{ from: 1, source: 0, config }] });
    expect(r.role).toBe('follower');
    expect(r.status.configuration).toEqual(config);
    // Not a member of the restored configuration: removed, not refused.
    expect(new Replica({ id: 'z', quorum, random: () => 0, configuration: [{ from: 1, source: 0, config }] }).role).toBe('removed');
  });

  it('records the first configuration from quorum, observers, addresses and windowSlots, with their defaults', () => {
    const r = new Replica({
      id: 'a',
      quorum: flexible(['a', 'b', 'c'], { phase1: 3, phase2: 1 }),
      observers: ['o'],
      addresses: { a: 'h:1' },
      windowSlots: 7,
      random: () => 0,
    });
    expect(r.status.configuration).toEqual({
      id: 0,
      voters: ['a', 'b', 'c'],
      quorum: { phase1: 3, phase2: 1 },
      observers: ['o'],
      addresses: { a: 'h:1' },
      windowSlots: 7,
    });
    const d = new Replica({ id: 'a', quorum, random: () => 0 });
    expect(d.status.configuration).toEqual({ id: 0, voters: ['a', 'b', 'c'], quorum: 'majority', observers: [], addresses: {}, windowSlots: 256 });
    expect(d.status.configurationFrom).toBe(1);
  });

  it('a new voter asks the others before it votes; one with a promise on record, or alone, votes at once', () => {
    const fresh = new Replica({ id: 'a', quorum, random: () => 0 });
    expect(fresh.status.rejoining).toBe('probing');
    expect(
      fresh
        .takeOutput()
        .messages.map((m) => `${m.type}>${m.to}`)
        .sort(),
    ).toEqual(['probe>b', 'probe>c']);
    const known = new Replica({ id: 'a', quorum, random: () => 0, state: { promised: { round: 1, node: 'b' }, accepted: [], chosen: [], commitIndex: 0 } });
    expect(known.status.rejoining).toBeUndefined();
    expect(known.takeOutput().messages).toEqual([]);
    expect(new Replica({ id: 'a', quorum: majority(['a']), random: () => 0 }).status.rejoining).toBeUndefined();
  });

  it('an observer records that it joined (round 0, its own id), once', () => {
    const o = new Replica({ id: 'o', quorum, observers: ['o'], random: () => 0 });
    expect(o.status.promised).toEqual({ round: 0, node: 'o' });
    expect(o.takeOutput().persist?.promised).toEqual({ round: 0, node: 'o' });
    const again = new Replica({
      id: 'o',
      quorum,
      observers: ['o'],
      random: () => 0,
      state: { promised: { round: 0, node: 'o' }, accepted: [], chosen: [], commitIndex: 0 },
    });
    expect(again.takeOutput().persist).toBeUndefined();
  });
});

describe('Replica calls', () => {
  function leading(limits = {}): ManualCluster {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], observers: ['o'], limits });
    c.elect('a');
    c.deliver();
    return c;
  }

  it('propose: refuses off the leader with its hint, a command over batchBytesMax, and a queue over proposalQueueMax', () => {
    const c = leading({ batchBytesMax: 8, batchCommandsMax: 2, proposalQueueMax: 3 });
    expect(c.replica('b').propose([bytes(1)])).toEqual({ ok: false, reason: 'not-leader', leaderHint: 'a' });
    const a = c.replica('a');
    expect(a.propose([bytes(8)])).toEqual({ ok: true });
    expect(a.propose([bytes(1), bytes(9)])).toEqual({ ok: false, reason: 'too-large', bytes: 9, limit: 8 });
    expect(a.status.queuedCommands).toBe(1);
    expect(a.propose([bytes(1), bytes(1)])).toEqual({ ok: true });
    expect(a.propose([bytes(1)])).toEqual({ ok: false, reason: 'overloaded', queued: 3, limit: 3 });
    expect(a.status.queuedCommands).toBe(3);
  });

  it('readIndex: refuses off the leader with its hint; a read id must be an integer', () => {
    const c = leading();
    expect(c.replica('b').readIndex(1)).toEqual({ ok: false, reason: 'not-leader', leaderHint: 'a' });
    expect(() => c.replica('a').readIndex(1.5)).toThrow(new InvariantError('read id 1.5 is not an integer'));
    expect(c.replica('a').readIndex(2)).toEqual({ ok: true });
  });

  it('transferLeadership: to itself is done already, no transfer begins', () => {
    const c = leading();
    expect(c.replica('a').transferLeadership('a')).toEqual({ ok: true });
    expect(c.status('a').transferTarget).toBeUndefined();
  });

  it('persisted and applied: beyond what was handed out, or going back, breaks the contract', () => {
    // An observer persists its joined mark first: one persist handed out.
    const o = new Replica({ id: 'o', quorum, observers: ['o'], random: () => 0 });
    expect(o.takeOutput().persistSeq).toBe(1);
    expect(() => o.persisted(2)).toThrow(new InvariantError('persisted(2) but only 1 persists were handed out'));
    o.persisted(1);
    expect(() => o.persisted(0)).toThrow(new InvariantError('persisted(0) goes back from 1'));
    expect(() => o.persisted(1)).not.toThrow();
    expect(() => o.applied(1)).toThrow(new InvariantError('applied(1) beyond the last slot handed out, 0'));
  });

  it('compact: a slot must be a count; at or below what was compacted it does nothing', () => {
    const c = leading();
    c.propose('a', 'v1');
    c.propose('a', 'v2');
    c.deliver();
    const a = c.replica('a');
    for (const bad of [-1, 0.5]) expect(() => a.compact(bad)).toThrow(new InvariantError(`compact(${bad}): not a slot`));
    a.compact(0);
    expect(a.status.compactedThrough).toBe(0);
    a.compact(2);
    expect(a.status.compactedThrough).toBe(2);
    a.compact(1);
    expect(a.status.compactedThrough).toBe(2);
    expect(a.chosenValue(2)).toBeUndefined();
    expect(() => a.compact(3)).toThrow(InvariantError);
  });

  it('installSnapshot: must be ahead of the applied slot, and carry its configuration once members changed', () => {
    const c = leading();
    const b = c.replica('b');
    expect(() => b.installSnapshot(0)).toThrow(new InvariantError('installSnapshot(0) is not ahead of the applied slot 0'));
    expect(() => b.installSnapshot(1.5)).toThrow(new InvariantError('installSnapshot(1.5) is not ahead of the applied slot 0'));
    const changed = { id: 1, voters: ['a', 'b', 'c'], quorum: 'majority' as const, observers: [], addresses: {}, windowSlots: 4 };
    const r = new Replica({
      id: 'b',
      quorum,
      random: () => 0,
      configuration: [{ from: 1, source: 0, config: changed }],
      state: { promised: { round: 1, node: 'a' }, accepted: [], chosen: [], commitIndex: 0 },
    });
    expect(() => r.installSnapshot(3)).toThrow(
      new InvariantError("installSnapshot(3) without the snapshot's configuration, in a cluster that changed members"),
    );
    r.installSnapshot(3, [{ from: 1, source: 0, config: changed }]);
    expect(r.status.appliedIndex).toBe(3);
    expect(r.status.commitIndex).toBe(3);
  });

  it('installSnapshot: a candidate steps down first too', () => {
    const r = new Replica({ id: 'a', quorum, random: () => 0, state: { promised: { round: 1, node: 'b' }, accepted: [], chosen: [], commitIndex: 0 } });
    for (let i = 0; i < 30 && r.status.role === 'follower'; i++) {
      r.tick();
      for (const m of r.takeOutput().messages) {
        if (m.type === 'precheck') r.step({ type: 'precheckReply', from: m.to, to: 'a', granted: true, promised: { round: 1, node: 'b' } });
      }
    }
    expect(r.role).toBe('candidate');
    r.installSnapshot(3);
    expect(r.role).toBe('follower');
    expect(r.status.commitIndex).toBe(3);
  });

  it('installSnapshot: a follower keeps the leader it follows, and asks nothing when the snapshot covers what the leader announced', () => {
    const c = leading();
    const b = c.replica('b');
    const ballot = c.status('b').heardLeader!;
    b.step({ type: 'heartbeat', from: 'a', to: 'b', ballot, commitIndex: 3, seq: 50 });
    b.takeOutput();
    b.installSnapshot(4);
    expect(b.status.leader).toBe('a');
    expect(b.takeOutput().messages).toEqual([]);
  });

  it('persisted: a candidate counts its own promise only once the persist that holds it is durable', () => {
    const r = new Replica({ id: 'a', quorum, random: () => 0, state: { promised: { round: 1, node: 'b' }, accepted: [], chosen: [], commitIndex: 0 } });
    // An earlier persist still on its way: an accept of b's.
    r.step({ type: 'accept', from: 'b', to: 'a', ballot: { round: 1, node: 'b' }, firstSlot: 1, values: [{ kind: 'noop' }], commitIndex: 0 });
    const early = r.takeOutput().persistSeq;
    for (let i = 0; i < 30 && r.role === 'follower'; i++) {
      r.tick();
      for (const m of r.takeOutput().messages) {
        if (m.type === 'precheck') r.step({ type: 'precheckReply', from: m.to, to: 'a', granted: true, promised: { round: 1, node: 'b' } });
      }
    }
    expect(r.role).toBe('candidate');
    const promiseSeq = r.takeOutput().persistSeq;
    expect(promiseSeq).toBeGreaterThan(early);
    r.persisted(early);
    r.step({ type: 'promise', from: 'c', to: 'a', ballot: r.status.promised, accepted: [], chosen: [] });
    expect(r.role).toBe('candidate');
    r.persisted(promiseSeq);
    expect(r.role).toBe('leader');
  });

  it('installSnapshot: a leader steps down first; a follower then asks its leader for what follows', () => {
    const c = leading();
    c.propose('a', 'v1');
    c.deliver();
    c.tick(['a'], 2);
    c.deliver();
    const a = c.replica('a');
    a.installSnapshot(5);
    expect(a.role).toBe('follower');
    expect(a.status.appliedIndex).toBe(5);
    // b heard a lead at commit index 1 and has applied it; a snapshot at 1 is not ahead.
    const ballot = c.status('b').heardLeader!;
    const b = c.replica('b');
    b.step({ type: 'heartbeat', from: 'a', to: 'b', ballot, commitIndex: 9, seq: 50 });
    b.takeOutput();
    b.installSnapshot(4);
    const asked = b.takeOutput().messages.filter((m) => m.type === 'catchUp');
    expect(asked).toEqual([{ type: 'catchUp', from: 'b', to: 'a', firstSlot: 5, lastSlot: 9 }]);
  });
});
