/**
 * Session expiry and wall clocks (DESIGN rule 9: deadlines in the log are elapsed
 * time). Three KV nodes on one virtual clock, each node on its own view whose wall
 * clock a test steps by hours (`stepWallTime`) while its monotonic clock runs on. Two
 * sessions: one kept alive by its `KvSession`, one abandoned after a few keepalives
 * sent by hand (so the test knows when the last one was applied). The checks:
 * - a wall clock stepped ±2 h on the leader or on a follower changes no expiry;
 * - a session with keepalives never expires;
 * - an abandoned session expires no sooner than TTL after its last keepalive, and no
 *   later than TTL plus a bound after the later of its last keepalive and the current
 *   leader's takeover: also when the leadership changes, to a node whose wall clock is
 *   hours off.
 * Then a property over seeded schedules of steps, leader isolations and heals.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork, MemoryStorage, type NodeId } from '../../src/index.js';
import { type KvNode, type KvSession, createKvNode } from '../../src/kv/index.js';
import { Prng, VirtualClock, type VirtualClockView } from '../../src/testing/index.js';

const hourMs = 3_600_000;
const tickMs = 10;
const sessionCheckMs = 50;
const keptTtlMs = 1_000;
const abandonedTtlMs = 2_000;
/**
 * How late past TTL the leader may expire a session: a check to see its last renewal,
 * a check to see it due (`sessionCheckMs` each), and the expiry's trip through the log
 * (a few ms here), rounded up.
 */
const lateMsMax = 2 * sessionCheckMs + 100;

/** When something happened, in virtual ms. */
interface Abandoned {
  id: number;
  /** When the last keepalive that was applied resolved (the create counts as one). */
  lastRenewedAt: number;
  /** When the session was first missing from a replica's table that had it. */
  goneAt: number | undefined;
  /** The replicas whose table had it. */
  readonly seenOn: Set<NodeId>;
}

/** Three KV nodes on virtual time, each with a wall clock of its own. */
class ClockedCluster {
  readonly clock = new VirtualClock();
  readonly ids: readonly NodeId[] = ['a', 'b', 'c'];
  readonly network: MemoryNetwork;
  readonly views = new Map<NodeId, VirtualClockView>();
  readonly nodes = new Map<NodeId, KvNode>();
  /** Every node that became leader, and when. */
  readonly takeovers: { id: NodeId; at: number }[] = [];
  readonly isolated = new Set<NodeId>();
  private readonly watched: Abandoned[] = [];

  constructor(seed: number) {
    const random = new Prng(seed);
    this.network = new MemoryNetwork({ clock: this.clock, random: () => random.next(), delayMs: { min: 0, max: 2 } });
    for (const id of this.ids) {
      const view = this.clock.child();
      const nodeRandom = new Prng(seed * 31 + id.charCodeAt(0));
      const node = createKvNode({
        id,
        members: this.ids,
        transport: this.network.transport(id),
        storage: new MemoryStorage(),
        clock: view,
        random: () => nodeRandom.next(),
        tickMs,
        electionTicks: { min: 20, max: 40 },
        proposeTimeoutMs: 2_000,
        readTimeoutMs: 2_000,
        sessionCheckMs,
        kv: { snapshotPause: () => Promise.resolve() },
      });
      node.node.on('roleChange', ({ role }) => {
        if (role === 'leader') this.takeovers.push({ id, at: this.clock.now() });
      });
      this.views.set(id, view);
      this.nodes.set(id, node);
    }
    this.watch();
  }

  static async start(seed: number): Promise<ClockedCluster> {
    const c = new ClockedCluster(seed);
    current = c;
    await c.wait(Promise.all([...c.nodes.values()].map((n) => n.start())), 'the nodes started');
    await c.runUntil(() => c.leader() !== undefined, 2_000, 'a leader');
    return c;
  }

  kv(id: NodeId): KvNode {
    return this.nodes.get(id)!;
  }

  view(id: NodeId): VirtualClockView {
    return this.views.get(id)!;
  }

  get now(): number {
    return this.clock.now();
  }

  /** The leader among the nodes not isolated. */
  leader(): NodeId | undefined {
    return this.ids.find((id) => !this.isolated.has(id) && this.kv(id).node.status().role === 'leader');
  }

  followers(): NodeId[] {
    const leader = this.leader();
    return this.ids.filter((id) => id !== leader);
  }

  /** The last takeover at or before `at`. */
  takeoverBefore(at: number): number {
    return Math.max(0, ...this.takeovers.filter((t) => t.at <= at).map((t) => t.at));
  }

  isolate(id: NodeId): void {
    this.isolated.add(id);
    this.network.isolate(id);
  }

  heal(): void {
    this.isolated.clear();
    this.network.heal();
  }

  async run(ms: number): Promise<void> {
    await this.clock.advance(ms);
  }

  async runUntil(done: () => boolean, msMax: number, what: string): Promise<void> {
    if (!(await this.clock.runUntil(done, msMax))) throw new Error(`no ${what} within ${msMax} virtual ms`);
  }

  /** Runs virtual time until `promise` settles (within `msMax`), and returns it. */
  async wait<T>(promise: Promise<T>, what: string, msMax = 5_000): Promise<T> {
    let settled = false;
    void promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    await this.runUntil(() => settled, msMax, what);
    return promise;
  }

  /** A session kept alive by `owner`'s `KvSession` (keepalive every ttl / 3). */
  async keptSession(owner: NodeId): Promise<KvSession> {
    return this.wait(this.kv(owner).createSession({ ttlMs: keptTtlMs }), 'a session created');
  }

  /**
   * A session that `owner` keeps alive by hand, a keepalive every 500 ms, until
   * `stopAt`; then nothing. Resolves once created.
   */
  async abandonedSession(owner: NodeId, stopAt: number): Promise<Abandoned> {
    const created = await this.wait(this.kv(owner).node.propose({ type: 'session-create', ttlMs: abandonedTtlMs }), 'a session created');
    if (created.type !== 'session') throw new Error(`session-create answered ${created.type}`);
    const session: Abandoned = { id: created.session.id, lastRenewedAt: this.now, goneAt: undefined, seenOn: new Set() };
    this.watched.push(session);
    const beat = (): void => {
      if (this.now >= stopAt || session.goneAt !== undefined) return;
      this.kv(owner)
        .node.propose({ type: 'session-keepalive', session: session.id })
        .then(
          (result) => {
            if (result.type === 'session') session.lastRenewedAt = this.now;
          },
          () => {},
        );
      this.clock.setTimer(beat, 500);
    };
    this.clock.setTimer(beat, 500);
    return session;
  }

  /** The session is still in some replica's table that is not cut off. */
  has(id: number): boolean {
    return this.ids.some((n) => !this.isolated.has(n) && this.kv(n).machine.sessionTable.get(id) !== undefined);
  }

  async close(): Promise<void> {
    this.heal();
    await this.wait(Promise.all([...this.nodes.values()].map((n) => n.close())), 'the nodes closed');
  }

  /** Every 5 ms: the first time a watched session is missing from a replica's table that had it. */
  private watch(): void {
    this.clock.setTimer(() => {
      for (const s of this.watched) {
        if (s.goneAt !== undefined) continue;
        for (const n of this.ids) {
          const has = this.kv(n).machine.sessionTable.get(s.id) !== undefined;
          if (has) s.seenOn.add(n);
          else if (s.seenOn.has(n) && s.goneAt === undefined) s.goneAt = this.now;
        }
      }
      this.watch();
    }, 5);
  }
}

let current: ClockedCluster | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

/** The abandoned session ended within its bounds: no sooner than TTL after its last keepalive, no later than TTL + `lateMsMax` after that or the last takeover. */
function expectExpiredInBounds(c: ClockedCluster, s: Abandoned): void {
  expect(s.goneAt, `session ${s.id} (last keepalive at ${s.lastRenewedAt}) never expired; now ${c.now}`).toBeDefined();
  const silentMs = s.goneAt! - s.lastRenewedAt;
  expect(silentMs, `expired ${silentMs} ms after its last keepalive, before its TTL`).toBeGreaterThanOrEqual(abandonedTtlMs);
  const from = Math.max(s.lastRenewedAt, c.takeoverBefore(s.goneAt!));
  expect(
    s.goneAt! - from,
    `expired ${s.goneAt! - from} ms after the later of its last keepalive (${s.lastRenewedAt}) and the takeover (${c.takeoverBefore(s.goneAt!)})`,
  ).toBeLessThanOrEqual(abandonedTtlMs + lateMsMax);
}

function expectAlive(c: ClockedCluster, session: KvSession): void {
  expect(session.isOver, `session ${session.id} ended`).toBe(false);
  for (const id of c.ids) if (!c.isolated.has(id)) expect(c.kv(id).machine.sessionTable.get(session.id), `session ${session.id} on ${id}`).toBeDefined();
}

describe('session expiry follows elapsed time, not wall clocks', () => {
  for (const [first, second] of [
    [+2, -2],
    [-2, +2],
  ] as const) {
    it(`the leader's wall clock stepped ${first > 0 ? 'forward' : 'back'} 2 h, then ${second > 0 ? 'forward' : 'back'} 2 h: a kept-alive session lives, an abandoned one expires after its TTL`, async () => {
      const c = await ClockedCluster.start(1);
      const leader = c.leader()!;
      const owner = c.followers()[0]!;
      const kept = await c.keptSession(owner);
      const abandoned = await c.abandonedSession(owner, c.now + 1_000);
      await c.run(1_000);
      c.view(leader).stepWallTime(first * hourMs);
      await c.run(1_000);
      expectAlive(c, kept);
      expect(c.has(abandoned.id), `expired ${c.now - abandoned.lastRenewedAt} ms after its last keepalive, before its TTL`).toBe(true);
      c.view(leader).stepWallTime(second * hourMs);
      await c.run(3_000);
      expect(c.leader(), 'the leader stayed').toBe(leader);
      expectAlive(c, kept);
      expectExpiredInBounds(c, abandoned);
    });
  }

  it("a follower's wall clock stepped ±2 h changes nothing, also once it leads", async () => {
    const c = await ClockedCluster.start(2);
    const [owner, stepped] = c.followers() as [NodeId, NodeId];
    const kept = await c.keptSession(owner);
    const first = await c.abandonedSession(owner, c.now + 500);
    c.view(stepped).stepWallTime(2 * hourMs);
    await c.run(1_000);
    c.view(stepped).stepWallTime(-4 * hourMs);
    await c.run(2_500);
    expectAlive(c, kept);
    expectExpiredInBounds(c, first);

    // The follower 2 h behind takes over: nothing expires early, nothing stays.
    const second = await c.abandonedSession(owner, c.now + 500);
    await c.wait(c.kv(c.leader()!).node.transferLeadership(stepped), 'a leadership transfer');
    await c.runUntil(() => c.leader() === stepped, 2_000, `${stepped} leading`);
    await c.run(3_500);
    expectAlive(c, kept);
    expectExpiredInBounds(c, second);

    // Now 2 h ahead, while leading.
    const third = await c.abandonedSession(owner, c.now + 500);
    c.view(stepped).stepWallTime(4 * hourMs);
    await c.run(3_500);
    expect(c.leader()).toBe(stepped);
    expectAlive(c, kept);
    expectExpiredInBounds(c, third);
  });

  it('across a leader change: the leader whose clock jumped is cut off; the new one, 2 h ahead, keeps the live session and expires the abandoned one after its TTL', async () => {
    const c = await ClockedCluster.start(3);
    const leader = c.leader()!;
    const [owner, other] = c.followers() as [NodeId, NodeId];
    c.view(other).stepWallTime(2 * hourMs); // perhaps the next leader: 2 h ahead
    const kept = await c.keptSession(owner);
    await c.run(500);
    c.view(leader).stepWallTime(2 * hourMs);
    await c.run(1_500);
    expectAlive(c, kept);
    const abandoned = await c.abandonedSession(owner, c.now + 1_000);
    await c.run(1_200);
    c.view(leader).stepWallTime(-4 * hourMs); // now 2 h behind
    await c.run(300);
    c.isolate(leader);
    await c.runUntil(() => c.leader() !== undefined, 3_000, 'a new leader');
    await c.run(4_000);
    expectAlive(c, kept);
    expectExpiredInBounds(c, abandoned);
    c.heal();
    await c.run(1_000);
    expectAlive(c, kept);
  });

  // Found by the property below (seed 1523393330): the leader cut off for 162 ms made one
  // keepalive time out (a whole interval), and the next came a whole interval after that:
  // three intervals, the whole TTL, without a renewal, and the leader expired the session.
  it('a kept session outlives a keepalive lost to a short leader isolation', async () => {
    await runSchedule(
      1,
      [
        { at: 1513, what: 'isolate-leader' },
        { at: 1675, what: 'heal' },
      ],
      505,
    );
  });

  it('holds over seeded schedules of wall clock steps, leader isolations and heals', async () => {
    const event: fc.Arbitrary<ScheduledEvent> = fc.oneof(
      fc.record({ at: fc.integer({ min: 0, max: 5_000 }), what: fc.constant('step' as const), node: fc.nat(2), hours: fc.constantFrom(-2, -1, 1, 2) }),
      fc.record({ at: fc.integer({ min: 0, max: 5_000 }), what: fc.constantFrom('isolate-leader' as const, 'heal' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), fc.array(event, { maxLength: 6 }), fc.integer({ min: 0, max: 3_000 }), runSchedule),
      { numRuns: Number(process.env['SYNOD_SESSION_CLOCK_RUNS'] ?? 40) },
    );
  });
});

type ScheduledEvent =
  | { readonly at: number; readonly what: 'step'; readonly node: number; readonly hours: number }
  | { readonly at: number; readonly what: 'isolate-leader' | 'heal' };

/**
 * One schedule: a kept-alive session and one abandoned after `abandonAfterMs`, on a
 * cluster seeded with `seed`, while `events` step wall clocks and isolate the leader
 * (never the sessions' owner) or heal, within the first 5 s; then healed.
 */
async function runSchedule(seed: number, events: readonly ScheduledEvent[], abandonAfterMs: number): Promise<void> {
  const c = await ClockedCluster.start(seed);
  try {
    const owner = c.followers()[0]!;
    const kept = await c.keptSession(owner);
    const abandoned = await c.abandonedSession(owner, c.now + abandonAfterMs);
    const start = c.now;
    for (const e of [...events].sort((x, y) => x.at - y.at)) {
      await c.run(Math.max(0, start + e.at - c.now));
      if (e.what === 'step') c.view(c.ids[e.node]!).stepWallTime(e.hours * hourMs);
      else if (e.what === 'heal') c.heal();
      else {
        const leader = c.leader();
        // The owner stays connected: its keepalives must get through for the kept session to live.
        if (leader !== undefined && leader !== owner) c.isolate(leader);
      }
    }
    await c.run(Math.max(0, start + 5_000 - c.now));
    c.heal();
    await c.runUntil(() => c.leader() !== undefined, 3_000, 'a leader after healing');
    await c.run(abandonedTtlMs + 2_000);
    expectAlive(c, kept);
    expectExpiredInBounds(c, abandoned);
  } finally {
    await c.close();
    current = undefined;
  }
}
