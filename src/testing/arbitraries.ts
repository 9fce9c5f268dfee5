import { fc } from './fast-check.js';
import type { Limits } from '../core/index.js';
import type { Fault, ScheduledFault } from './faults.js';
import type { SimulatedGroup } from './groups-simulation.js';
import type { GroupsSimulationConfig } from './run-groups-simulation.js';
import type { RuntimeSimulationConfig } from './run-runtime-simulation.js';
import type { SimulationConfig } from './run-simulation.js';
import type { QuorumSpec, SimSnapshotOptions } from './simulator.js';

/** Shape of the clusters {@link simulationArbitrary} draws. */
export interface SimulationArbitraryOptions {
  /** Voter counts to draw from. Default [1, 3, 5, 7]. */
  readonly voters?: readonly number[];
  /** Most observers. Default 1. */
  readonly observersMax?: number;
  /** Quorum kinds to draw from. Default both. */
  readonly quorums?: readonly QuorumSpec['kind'][];
  /** Commands per run. Default 200. */
  readonly proposals?: number;
  /** Range of the safety phase, in ticks. Default [300, 700]. */
  readonly safetyTicks?: readonly [min: number, max: number];
  /** Most faults per run. Default 14. */
  readonly faultsMax?: number;
  /** The faults to draw from, for a cluster of `nodes` nodes. Default {@link faultArbitrary}. */
  readonly fault?: (nodes: number) => fc.Arbitrary<Fault>;
  /** Whether nodes snapshot and compact their logs (often, so transfers happen amid faults). Default false. */
  readonly snapshots?: boolean;
  /**
   * Membership changes inside the schedules: two spare nodes, a small configuration
   * window (1 to 6 slots, so changes take effect fast and overlap everything), and
   * `changeMembers` faults among the others. Default false.
   */
  readonly membership?: boolean;
  /**
   * Idle leaders quiesce their groups after 1 to 8 idle ticks, and a quiesced replica
   * whose leader is down or cut off is woken after 1 to 10 ticks (the simulator plays
   * a group host's liveness); reads every 5 to 60 ticks instead of 3. Default false.
   */
  readonly quiescence?: boolean;
}

/** A fault against one of `nodes` nodes. */
export function faultArbitrary(nodes: number): fc.Arbitrary<Fault> {
  const node = fc.integer({ min: 0, max: nodes - 1 });
  return fc.oneof(
    { weight: 4, arbitrary: node.map((n): Fault => ({ kind: 'crash', node: n })) },
    { weight: 4, arbitrary: node.map((n): Fault => ({ kind: 'restart', node: n })) },
    {
      weight: 3,
      arbitrary: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: nodes, maxLength: nodes }).map((groupOf): Fault => {
        const groups: number[][] = [[], [], []];
        groupOf.forEach((g, n) => groups[g]!.push(n));
        return { kind: 'partition', groups: groups.filter((g) => g.length > 0) };
      }),
    },
    { weight: 2, arbitrary: fc.record({ from: node, to: node }).map(({ from, to }): Fault => ({ kind: 'cut', from, to })) },
    { weight: 2, arbitrary: fc.record({ a: node, b: node, c: node }).map(({ a, b, c }): Fault => ({ kind: 'bridge', a, b, c })) },
    { weight: 3, arbitrary: fc.constant<Fault>({ kind: 'crashLeader' }) },
    { weight: 2, arbitrary: fc.constant<Fault>({ kind: 'isolateLeader' }) },
    { weight: 3, arbitrary: node.map((n): Fault => ({ kind: 'transferLeader', to: n })) },
    {
      weight: 2,
      arbitrary: fc.record({ node, factor: fc.integer({ min: 1, max: 4 }) }).map(({ node: n, factor }): Fault => ({ kind: 'slowClock', node: n, factor })),
    },
    { weight: 4, arbitrary: fc.constant<Fault>({ kind: 'heal' }) },
    {
      weight: 3,
      arbitrary: fc
        .record({
          lossRate: fc.constantFrom(0, 0.02, 0.1, 0.3),
          duplicateRate: fc.constantFrom(0, 0.05, 0.2),
          delayTicksMax: fc.integer({ min: 0, max: 8 }),
          stragglerRate: fc.constantFrom(0, 0, 0.01, 0.05),
          stragglerTicksMax: fc.constantFrom(50, 200),
        })
        .map((n): Fault => ({ kind: 'network', ...n })),
    },
  );
}

/**
 * Faults that leave a deposed leader believing it still leads while another takes
 * over: slow clocks (a leader whose clock lags holds on while its followers time out)
 * and leadership transfers whose prepare may not reach the old leader (one-way cuts,
 * loss). The schedule that catches a read served without a quorum round.
 */
export function transferFaultArbitrary(nodes: number): fc.Arbitrary<Fault> {
  const node = fc.integer({ min: 0, max: nodes - 1 });
  return fc.oneof(
    { weight: 6, arbitrary: node.map((n): Fault => ({ kind: 'transferLeader', to: n })) },
    {
      weight: 4,
      arbitrary: fc.record({ node, factor: fc.integer({ min: 2, max: 4 }) }).map(({ node: n, factor }): Fault => ({ kind: 'slowClock', node: n, factor })),
    },
    { weight: 4, arbitrary: fc.record({ from: node, to: node }).map(({ from, to }): Fault => ({ kind: 'cut', from, to })) },
    { weight: 2, arbitrary: fc.constant<Fault>({ kind: 'heal' }) },
    { weight: 1, arbitrary: fc.constant<Fault>({ kind: 'isolateLeader' }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(0.05, 0.2).map((lossRate): Fault => ({ kind: 'network', lossRate, duplicateRate: 0, delayTicksMax: 3 })),
    },
  );
}

/** Replica limits small enough to exercise windows, batching and message splitting. */
export function limitsArbitrary(): fc.Arbitrary<Partial<Limits>> {
  return fc.oneof(
    fc.constant({}),
    fc
      .record({
        inflightSlotsMax: fc.integer({ min: 1, max: 32 }),
        batchCommandsMax: fc.integer({ min: 1, max: 8 }),
        acceptSlotsMax: fc.integer({ min: 1, max: 8 }),
        catchUpSlotsMax: fc.integer({ min: 1, max: 8 }),
        ackRangesMax: fc.integer({ min: 1, max: 4 }),
        proposalQueueMax: fc.constant(4096),
        // Small enough that accept, chosen and promise messages split by bytes too.
        batchBytesMax: fc.integer({ min: 64, max: 256 }),
        messageBytesMax: fc.integer({ min: 64, max: 512 }),
      })
      .map((l) => ({ ...l, messageBytesMax: Math.max(l.messageBytesMax, l.batchBytesMax) })),
  );
}

/**
 * A quorum system over `voters` voters: majority, or flexible with phase1 + phase2 =
 * voters + 1. A phase-2 quorum of every voter is drawn only for one voter: with it, a
 * voter that restarts with empty storage (which the schedules do) can never rejoin, by
 * design (see the amnesia guard in `docs/protocol.md`).
 */
export function quorumArbitrary(voters: number, kinds: readonly QuorumSpec['kind'][]): fc.Arbitrary<QuorumSpec> {
  const options: fc.Arbitrary<QuorumSpec>[] = [];
  if (kinds.includes('majority')) options.push(fc.constant<QuorumSpec>({ kind: 'majority' }));
  if (kinds.includes('flexible')) {
    options.push(fc.integer({ min: 1, max: Math.max(1, voters - 1) }).map((phase2): QuorumSpec => ({ kind: 'flexible', phase1: voters - phase2 + 1, phase2 })));
  }
  return fc.oneof(...options);
}

/**
 * Whole simulation configurations: cluster size and quorum system, limits, disk and
 * network conditions, a schedule of faults, and a seed for everything else.
 */
export function simulationArbitrary(options: SimulationArbitraryOptions = {}): fc.Arbitrary<SimulationConfig> {
  const [ticksMin, ticksMax] = options.safetyTicks ?? [300, 700];
  return fc
    .record({
      voters: fc.constantFrom(...(options.voters ?? [1, 3, 5, 7])),
      observers: fc.integer({ min: 0, max: options.observersMax ?? 1 }),
      safetyTicks: fc.integer({ min: ticksMin, max: ticksMax }),
    })
    .chain(({ voters, observers, safetyTicks }) =>
      fc.record({
        seed: fc.integer({ min: 0, max: 0x7fffffff }),
        voters: fc.constant(voters),
        observers: fc.constant(observers),
        quorum: quorumArbitrary(voters, options.quorums ?? ['majority', 'flexible']),
        limits: limitsArbitrary(),
        diskDelayTicksMax: fc.integer({ min: 0, max: 3 }),
        proposals: fc.constant(options.proposals ?? 200),
        safetyTicks: fc.constant(safetyTicks),
        faults: fc.array(
          fc.record({
            at: fc.integer({ min: 1, max: safetyTicks }),
            fault:
              options.membership === true
                ? fc.oneof(membershipFaultArbitrary(voters + observers + sparesOf(options)), (options.fault ?? faultArbitrary)(voters + observers))
                : (options.fault ?? faultArbitrary)(voters + observers),
          }),
          { maxLength: options.faultsMax ?? 14 },
        ) as fc.Arbitrary<ScheduledFault[]>,
        ...(options.snapshots === true ? { snapshots: snapshotOptionsArbitrary() } : {}),
        ...(options.membership === true ? { spares: fc.constant(sparesOf(options)), windowSlots: fc.integer({ min: 1, max: 6 }) } : {}),
        ...(options.quiescence === true
          ? {
              quiescence: fc.record({ afterTicks: fc.integer({ min: 1, max: 8 }), suspectTicks: fc.integer({ min: 1, max: 10 }) }),
              // Reads rouse a leader: sparse enough that idle groups quiesce between them.
              readEveryTicks: fc.integer({ min: 5, max: 60 }),
            }
          : {}),
      }),
    );
}

function sparesOf(options: SimulationArbitraryOptions): number {
  return options.membership === true ? 2 : 0;
}

/**
 * Membership changes for a cluster of `nodes` nodes (voters, observers and spares, by
 * index): add a spare as an observer, promote, demote, remove, replace, or the leader
 * removing itself. Each is resolved against the configuration of the moment.
 */
function membershipFaultArbitrary(nodes: number): fc.Arbitrary<Fault> {
  return fc.record({
    kind: fc.constant('changeMembers' as const),
    change: fc.constantFrom('addObserver', 'promote', 'demote', 'remove', 'replace', 'removeLeader', 'addObserver', 'promote'),
    node: fc.integer({ min: 0, max: nodes - 1 }),
  });
}

/** Snapshot schedules for the simulator: frequent, with few or no trailing slots kept. */
export function snapshotOptionsArbitrary(): fc.Arbitrary<SimSnapshotOptions> {
  return fc.record({ everySlots: fc.integer({ min: 1, max: 40 }), trailingSlots: fc.integer({ min: 0, max: 16 }) });
}

/** Shape of the runs {@link runtimeSimulationArbitrary} draws. */
export interface RuntimeSimulationArbitraryOptions {
  /** Voter counts to draw from. Default [1, 3, 5]. */
  readonly voters?: readonly number[];
  /** Most observers. Default 1. */
  readonly observersMax?: number;
  /** Quorum kinds to draw from. Default both. */
  readonly quorums?: readonly QuorumSpec['kind'][];
  /** Commands per run. Default 30. */
  readonly proposals?: number;
  /** Range of the safety phase, in virtual ms. Default [1,500, 4,000] (150 to 400 ticks of 10 ms). */
  readonly safetyMs?: readonly [min: number, max: number];
  /** Most faults per run. Default 10. */
  readonly faultsMax?: number;
  /**
   * Draw membership changes among the faults ({@link membershipFaultArbitrary}), with
   * two spares to add and a configuration window of 1 to 6 slots. Default false.
   */
  readonly membership?: boolean;
}

/**
 * Runs of real runtime nodes for {@link runRuntimeSimulation}: cluster size and quorum
 * system, small batching and pipeline limits, followers that forward proposals or
 * refuse them, disk delays, and a schedule of faults (drawn by {@link faultArbitrary},
 * at virtual ms of the safety phase; with `membership`, also membership changes).
 *
 * @example
 * ```ts
 * await fc.assert(fc.asyncProperty(runtimeSimulationArbitrary(), async (config) => {
 *   await runRuntimeSimulation(config);
 * }), { numRuns: 100 });
 * ```
 */
export function runtimeSimulationArbitrary(options: RuntimeSimulationArbitraryOptions = {}): fc.Arbitrary<RuntimeSimulationConfig> {
  const [msMin, msMax] = options.safetyMs ?? [1_500, 4_000];
  return fc
    .record({
      voters: fc.constantFrom(...(options.voters ?? [1, 3, 5])),
      observers: fc.integer({ min: 0, max: options.observersMax ?? 1 }),
      safetyMs: fc.integer({ min: msMin, max: msMax }),
    })
    .chain(({ voters, observers, safetyMs }) =>
      fc.record({
        seed: fc.integer({ min: 0, max: 0x7fffffff }),
        voters: fc.constant(voters),
        observers: fc.constant(observers),
        quorum: quorumArbitrary(voters, options.quorums ?? ['majority', 'flexible']),
        proposals: fc.constant(options.proposals ?? 30),
        safetyMs: fc.constant(safetyMs),
        persistDelayMsMax: fc.integer({ min: 0, max: 15 }),
        node: fc
          .tuple(
            fc.oneof(fc.constant({}), fc.record({ batchCommandsMax: fc.integer({ min: 1, max: 4 }), inflightSlotsMax: fc.integer({ min: 1, max: 8 }) })),
            fc.constantFrom<'forward' | 'reject'>('forward', 'forward', 'forward', 'reject'),
            // Frequent snapshots, tiny chunks, few trailing slots: restarted and lagging
            // nodes get snapshots streamed to them amid the faults.
            fc.option(
              fc.record({
                everySlots: fc.integer({ min: 1, max: 12 }),
                trailingSlots: fc.integer({ min: 0, max: 4 }),
                chunkBytes: fc.integer({ min: 16, max: 512 }),
                inflightBytesMax: fc.integer({ min: 1, max: 2_048 }),
              }),
              { freq: 2 },
            ),
          )
          .map(([limits, followerProposals, snapshot]) => ({ ...limits, followerProposals, ...(snapshot !== null ? { snapshot } : {}) })),
        faults: fc.array(
          fc.record({
            at: fc.integer({ min: 1, max: safetyMs }),
            fault:
              options.membership === true
                ? fc.oneof(membershipFaultArbitrary(voters + observers + runtimeSparesOf(options)), faultArbitrary(voters + observers))
                : faultArbitrary(voters + observers),
          }),
          { maxLength: options.faultsMax ?? 10 },
        ) as fc.Arbitrary<ScheduledFault[]>,
        ...(options.membership === true ? { spares: fc.constant(runtimeSparesOf(options)), windowSlots: fc.integer({ min: 1, max: 6 }) } : {}),
      }),
    );
}

function runtimeSparesOf(options: RuntimeSimulationArbitraryOptions): number {
  return options.membership === true ? 2 : 0;
}

/** Shape of the runs {@link groupsSimulationArbitrary} draws. */
export interface GroupsSimulationArbitraryOptions {
  /** Host counts to draw from. Default [3, 4, 5]. */
  readonly hosts?: readonly number[];
  /** Fewest and most groups. Default [2, 5]. */
  readonly groups?: readonly [min: number, max: number];
  /** Commands per run, over all groups. Default 16. */
  readonly proposals?: number;
  /** Range of the safety phase, in virtual ms. Default [600, 1,500]. */
  readonly safetyMs?: readonly [min: number, max: number];
  /** Most faults per run. Default 8. */
  readonly faultsMax?: number;
}

/**
 * Runs of many groups over shared processes for {@link runGroupsSimulation}: a host
 * count, 2 to 5 groups (by default) whose voters are drawn from the hosts (three
 * mostly, one at times, so placement differs per group), group ids from the one-byte
 * and two-byte varint ranges and the largest, small batching and pipeline limits, disk
 * delays, and a schedule of process faults ({@link faultArbitrary}) over the hosts.
 *
 * @example
 * ```ts
 * await fc.assert(fc.asyncProperty(groupsSimulationArbitrary(), async (config) => {
 *   await runGroupsSimulation(config);
 * }), { numRuns: 100 });
 * ```
 */
export function groupsSimulationArbitrary(options: GroupsSimulationArbitraryOptions = {}): fc.Arbitrary<GroupsSimulationConfig> {
  const [msMin, msMax] = options.safetyMs ?? [600, 1_500];
  const [groupsMin, groupsMax] = options.groups ?? [2, 5];
  return fc
    .record({
      hosts: fc.constantFrom(...(options.hosts ?? [3, 4, 5])),
      groupCount: fc.integer({ min: groupsMin, max: groupsMax }),
      safetyMs: fc.integer({ min: msMin, max: msMax }),
    })
    .chain(({ hosts, groupCount, safetyMs }) => {
      const indexes = Array.from({ length: hosts }, (_, i) => i);
      const members = fc
        .constantFrom(...[3, 3, 3, 1].filter((n) => n <= hosts))
        .chain((size) => fc.shuffledSubarray(indexes, { minLength: size, maxLength: size }));
      const ids = fc.uniqueArray(fc.oneof(fc.integer({ min: 0, max: 127 }), fc.integer({ min: 128, max: 20_000 }), fc.constant(0xffff_ffff)), {
        minLength: groupCount,
        maxLength: groupCount,
      });
      const groups = fc
        .tuple(ids, fc.array(members, { minLength: groupCount, maxLength: groupCount }))
        .map(([groupIds, sets]): SimulatedGroup[] => groupIds.map((id, i) => ({ id, members: sets[i]! })));
      return fc.record({
        seed: fc.integer({ min: 0, max: 0x7fffffff }),
        hosts: fc.constant(hosts),
        groups,
        proposals: fc.constant(options.proposals ?? 16),
        safetyMs: fc.constant(safetyMs),
        persistDelayMsMax: fc.integer({ min: 0, max: 10 }),
        node: fc.oneof(fc.constant({}), fc.record({ batchCommandsMax: fc.integer({ min: 1, max: 4 }), inflightSlotsMax: fc.integer({ min: 1, max: 8 }) })),
        faults: fc.array(fc.record({ at: fc.integer({ min: 1, max: safetyMs }), fault: faultArbitrary(hosts) }), {
          maxLength: options.faultsMax ?? 8,
        }) as fc.Arbitrary<ScheduledFault[]>,
        // Half the runs quiesce idle groups, with the hosts' pings and suspicions (virtual ms, 10 ms ticks).
        quiescence: fc.oneof(
          fc.constant(undefined),
          fc
            .record({ afterTicks: fc.integer({ min: 1, max: 8 }), pingMs: fc.integer({ min: 5, max: 40 }), suspectAfterMs: fc.integer({ min: 20, max: 200 }) })
            .filter((q) => q.suspectAfterMs > q.pingMs),
        ),
      });
    });
}
