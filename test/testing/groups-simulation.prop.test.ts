/**
 * Many consensus groups over shared processes, in the simulator: each process runs one
 * GroupHost over one simulated transport (every message through the binary codec, group
 * id and all), groups with different members drawn from the hosts, all the process
 * faults (crashes, restarts, partitions, one-way cuts, bridges, leader crashes and
 * isolation, transfers, slow clocks, loss, duplication, reordering, stragglers).
 *
 * 1. Every group keeps every invariant of the runtime simulation (agreement, validity,
 *    persist before send, prefix agreement, exactly-once, linearizable reads, nothing
 *    acknowledged lost, liveness once healed), checked per group, and takes only
 *    messages its own group sent (isolation).
 * 2. The must-fail canary: a broken host that hands some of one group's messages to
 *    another group is caught, in every run.
 * 3. Without the isolation check, the groups' Paxos checks alone still catch one group's
 *    commands chosen in another group's log (validity).
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import type { NodeId } from '../../src/core/index.js';
import type { NodeMessage, Transport } from '../../src/runtime/index.js';
import {
  type GroupsSimulationConfig,
  Prng,
  SafetyViolation,
  assertGroupsSimulations,
  groupsSimulationArbitrary,
  runGroupsSimulation,
  simulationParameters,
} from '../../src/testing/index.js';

it('every group stays safe and converges: many groups over one transport per process, under process faults', async () => {
  const seen = {
    runs: 0,
    groups: 0,
    acknowledged: 0,
    delivered: 0,
    faults: 0,
    sharedHosts: 0,
    quiescent: 0,
    pings: 0,
    suspicions: 0,
    heartbeats: 0,
    heartbeatMessages: 0,
  };
  const started = Date.now();
  await assertGroupsSimulations(groupsSimulationArbitrary(), simulationParameters<GroupsSimulationConfig>(500, process.env), (result, config) => {
    seen.runs++;
    seen.groups += config.groups.length;
    seen.faults += config.faults.length;
    seen.acknowledged += result.groups.reduce((n, g) => n + g.acknowledged, 0);
    seen.delivered += result.hosts.delivered;
    if (config.quiescence !== undefined) seen.quiescent++;
    seen.pings += result.hosts.pingsReceived;
    seen.suspicions += result.hosts.suspicions;
    seen.heartbeats += result.hosts.heartbeats;
    seen.heartbeatMessages += result.hosts.heartbeatMessages;
    // Runs where some host carries two groups' messages on its one transport.
    const perHost = new Map<number, number>();
    for (const g of config.groups) for (const h of g.members) perHost.set(h, (perHost.get(h) ?? 0) + 1);
    if ([...perHost.values()].some((n) => n >= 2)) seen.sharedHosts++;
    // Every group's members got each other's messages through the hosts, none for a group not running there.
    expect(result.hosts.dropped.malformed + result.hosts.dropped.untagged).toBe(0);
  });
  console.log(`groups simulation: ${seen.runs} schedules in ${Date.now() - started} ms`, seen);
  expect(seen.acknowledged).toBeGreaterThan(seen.runs);
  expect(seen.delivered).toBeGreaterThan(0);
  expect(seen.sharedHosts).toBeGreaterThan(seen.runs / 2);
  // Half the runs quiesce idle groups; their hosts ping each other, and crashes and cuts get peers suspected.
  expect(seen.quiescent).toBeGreaterThan(seen.runs / 4);
  expect(seen.pings).toBeGreaterThan(0);
  expect(seen.suspicions).toBeGreaterThan(0);
  // Every heartbeat and reply travels in a host's message, through the codec, and is rebuilt at the other end.
  expect(seen.heartbeatMessages).toBeGreaterThan(seen.runs);
  expect(seen.heartbeats).toBeGreaterThanOrEqual(seen.heartbeatMessages);
}, 600_000);

/**
 * A host whose routing is broken: of the messages tagged for group `from` that reach
 * it, a share `rate` is handed to group `to` instead (when `to` runs there). Built as a
 * decorator of the shared transport that rewrites the tag before the real host routes.
 */
function misrouting(from: number, to: number, rate: number, seed: number, types?: readonly string[]): (host: NodeId, transport: Transport) => Transport {
  const random = new Prng(seed);
  const misrouted = (m: NodeMessage): boolean =>
    m.type === 'group' && m.group === from && (types === undefined || types.includes(m.message.type)) && random.chance(rate);
  return (_host, transport) => ({
    start: (handlers) =>
      transport.start({
        ...handlers,
        deliver: (m: NodeMessage) => handlers.deliver(m.type === 'group' && misrouted(m) ? { ...m, group: to } : m),
      }),
    send: (m) => transport.send(m),
    close: () => transport.close(),
  });
}

/** Runs of two or three groups where the first two, of three voters each, share at least one host: the broken routing has a node to hand messages to. */
// Groups that never quiesce: the canaries count on traffic to misroute.
const overlapping = groupsSimulationArbitrary({ hosts: [4, 5], groups: [2, 3], faultsMax: 4 })
  .filter((c) => {
    const [a, b] = c.groups;
    return a!.members.length === 3 && b!.members.length === 3 && a!.members.some((h) => b!.members.includes(h));
  })
  .map((c): GroupsSimulationConfig => ({ ...c, quiescence: undefined }));

it('the canary: a host that hands one group a few of another group messages is caught in every run', async () => {
  const configs = fc.sample(overlapping, { numRuns: 20, seed: 20_26 });
  const outcomes: string[] = [];
  for (const config of configs) {
    const [a, b] = config.groups;
    const outcome = await runGroupsSimulation({ ...config, wrapTransport: misrouting(a!.id, b!.id, 0.1, config.seed) }).then(
      () => 'not caught',
      (error: unknown) => (error instanceof SafetyViolation ? `caught: ${error.property}` : `failed otherwise: ${String(error)}`),
    );
    outcomes.push(outcome);
  }
  expect(
    outcomes.filter((o) => !o.startsWith('caught')),
    outcomes.join('\n'),
  ).toEqual([]);
}, 600_000);

it("the canary without the isolation check: the groups' own Paxos checks catch another group's commands in a group's log", async () => {
  // Half of one group's forwarded commands handed to the other group at every host: when
  // the other group's leader takes one, it proposes a command its group never saw, and
  // that group's validity check goes red. Runs where no such forward reaches a leader pass.
  const configs = fc.sample(overlapping, { numRuns: 20, seed: 2026 });
  const outcomes: string[] = [];
  for (const config of configs) {
    const [a, b] = config.groups;
    const outcome = await runGroupsSimulation({
      ...config,
      checkIsolation: false,
      livenessMsMax: 5_000,
      wrapTransport: misrouting(a!.id, b!.id, 0.5, config.seed, ['forward']),
    }).then(
      () => 'not caught',
      (error: unknown) => (error instanceof SafetyViolation ? `caught: ${error.property}` : `failed otherwise: ${String(error)}`),
    );
    outcomes.push(outcome);
  }
  expect(
    outcomes.filter((o) => o.startsWith('failed otherwise')),
    outcomes.join('\n'),
  ).toEqual([]);
  // Deterministic runs: 7 of these 20 are caught, each by validity.
  expect(outcomes.filter((o) => o === 'caught: validity').length, outcomes.join('\n')).toBeGreaterThanOrEqual(5);
}, 600_000);
