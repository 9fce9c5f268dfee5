/**
 * The many-groups simulation itself: it checks its configuration, replays exactly from
 * its seed, and crashes a process's nodes of every group together.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/index.js';
import { GroupsSimulation, RuntimeSimulation, runGroupsSimulation } from '../../src/testing/index.js';

const twoGroups = [
  { id: 1, members: [0, 1, 2] },
  { id: 300, members: [1, 2, 3] },
];

describe('GroupsSimulation', () => {
  it('refuses bad hosts, no groups, duplicate or out-of-range group ids, and members outside the hosts', () => {
    expect(() => new GroupsSimulation({ seed: 1, hosts: 0, groups: twoGroups })).toThrow(ConfigError);
    expect(() => new GroupsSimulation({ seed: 1, hosts: 4, groups: [] })).toThrow(ConfigError);
    expect(() => new GroupsSimulation({ seed: 1, hosts: 4, groups: [twoGroups[0]!, { id: 1, members: [3] }] })).toThrow(/distinct/);
    expect(() => new GroupsSimulation({ seed: 1, hosts: 4, groups: [{ id: -1, members: [0] }] })).toThrow(ConfigError);
    expect(() => new GroupsSimulation({ seed: 1, hosts: 3, groups: twoGroups })).toThrow(/host indexes/);
    expect(() => new GroupsSimulation({ seed: 1, hosts: 4, groups: [{ id: 1, members: [1, 1] }] })).toThrow(/host indexes/);
    expect(() => new RuntimeSimulation({ seed: 1, voters: 2, voterIds: ['n1'] })).toThrow(/voterIds/);
  });

  it('a crash takes down every group on the host at once; a restart brings them all back', async () => {
    const sim = new GroupsSimulation({ seed: 3, hosts: 4, groups: twoGroups });
    await sim.start();
    await sim.runUntil(() => sim.groups.every((g) => g.sim.leader() !== undefined), 5_000);
    sim.crash('n2');
    expect(sim.groups.map((g) => g.sim.isUp('n2'))).toEqual([false, false]);
    expect(sim.group(1).sim.isUp('n1')).toBe(true);
    await sim.restart('n2');
    expect(sim.groups.map((g) => g.sim.isUp('n2'))).toEqual([true, true]);
    expect(sim.groups.map((g) => g.sim.incarnation('n2'))).toEqual([2, 2]);
    await sim.runUntil(() => sim.converged(), 5_000);
    expect(sim.converged()).toBe(true);
    sim.finish();
  });

  it('replays exactly from its seed', async () => {
    const config = {
      seed: 11,
      hosts: 4,
      groups: twoGroups,
      proposals: 12,
      safetyMs: 800,
      faults: [
        { at: 200, fault: { kind: 'crash', node: 1 } },
        { at: 300, fault: { kind: 'network', lossRate: 0.1, duplicateRate: 0.1, delayTicksMax: 4 } },
        { at: 500, fault: { kind: 'restart', node: 1 } },
      ],
    } as const;
    const first = await runGroupsSimulation(config);
    const second = await runGroupsSimulation(config);
    expect(second).toEqual(first);
    expect(first.groups.every((g) => g.commands > 0)).toBe(true);
  });
});
