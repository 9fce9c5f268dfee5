/**
 * Quiescence through group hosts, in the simulator: idle groups stop every timer of
 * their nodes, the hosts ping each other instead (one ping per peer host, however many
 * groups), and when a host that leads quiesced groups dies, the others suspect it and
 * wake those groups, which elect new leaders and take writes again. Without the
 * suspicion (a `suspectAfterMs` beyond the run) they never would: that is what the
 * second test shows, the canary of the first.
 */
import { describe, expect, it } from 'vitest';
import { GroupsSimulation, type GroupsSimulationOptions } from '../../src/testing/index.js';

const groups = [
  { id: 1, members: [0, 1, 2] },
  { id: 2, members: [0, 1, 2] },
  { id: 7, members: [1, 2, 3] },
];

/** Proposes `command` to `group`'s leader and runs the simulation until it is applied. */
async function write(sim: GroupsSimulation, group: number, command: string): Promise<void> {
  const g = sim.group(group).sim;
  let done = false;
  const result = g.propose(g.leader()!, command).then(() => (done = true));
  expect(await sim.runUntil(() => done, 5_000)).toBe(true);
  await result;
}

async function quiesced(options: Partial<GroupsSimulationOptions['quiescence']> = {}): Promise<GroupsSimulation> {
  const sim = new GroupsSimulation({ seed: 5, hosts: 4, groups, quiescence: { afterTicks: 3, pingMs: 20, suspectAfterMs: 100, ...options } });
  await sim.start();
  expect(await sim.runUntil(() => sim.groups.every((g) => g.sim.leader() !== undefined), 5_000)).toBe(true);
  for (const g of sim.groups) await write(sim, g.id, `first in ${g.id}`);
  const asleep = (): boolean => sim.groups.every((g) => g.members.every((m) => g.sim.status(m)?.quiesced === true));
  expect(await sim.runUntil(asleep, 5_000)).toBe(true);
  return sim;
}

describe('GroupHost quiescence', () => {
  it('idle groups sleep; when a host leading some dies, the others suspect it and those groups elect new leaders and take writes', async () => {
    const sim = await quiesced();
    const victim = sim.group(1).sim.leader()!;
    const led = sim.groups.filter((g) => g.sim.leader() === victim);
    sim.crash(victim);
    const elected = (): boolean => led.every((g) => g.sim.leader() !== undefined && g.sim.leader() !== victim);
    expect(await sim.runUntil(elected, 3_000)).toBe(true);
    for (const g of led) await write(sim, g.id, `after the crash in ${g.id}`);
    // The groups the victim did not lead stayed asleep, their leaders untouched.
    for (const g of sim.groups.filter((x) => !led.includes(x))) expect(g.sim.leader()).not.toBe(victim);
    // The victim comes back and catches up; every group converges.
    await sim.restart(victim);
    expect(await sim.runUntil(() => sim.converged(), 5_000)).toBe(true);
    sim.finish();
  });

  it('without the suspicion (suspectAfterMs beyond the run), a quiesced group whose leader died never elects another', async () => {
    const sim = await quiesced({ suspectAfterMs: 1_000_000 });
    const victim = sim.group(1).sim.leader()!;
    sim.crash(victim);
    const elected = (): boolean => {
      const l = sim.group(1).sim.leader();
      return l !== undefined && l !== victim;
    };
    expect(await sim.runUntil(elected, 3_000)).toBe(false);
  });
});
