/**
 * The amnesia guard on real timers: a voter whose storage is erased restarts under the
 * same id, says so in the log, does not vote until it learned the chosen log, then
 * serves again; the cluster never loses a committed command.
 */
import { expect, it } from 'vitest';
import type { Logger } from '../../src/index.js';
import { clusterPerTest } from './local-cluster.js';

const clusters = clusterPerTest();

it('a wiped voter rebuilds from its peers before it votes, and says so in the log', async () => {
  const lines: string[] = [];
  const logger: Logger = {
    debug: () => {},
    info: (_o, message) => lines.push(`info ${message ?? ''}`),
    warn: (_o, message) => lines.push(`warn ${message ?? ''}`),
    error: (_o, message) => lines.push(`error ${message ?? ''}`),
  };
  const c = await clusters.start({ voters: 3, node: { logger } });
  const leader = await c.waitForLeader();
  for (let i = 0; i < 50; i++) await c.node(leader).propose({ key: 'k', add: 1 });
  const wiped = c.ids.find((id) => id !== leader)!;
  lines.length = 0;
  const node = await c.wipe(wiped);
  await c.waitFor(() => node.status().appliedIndex >= c.node(leader).status().appliedIndex, 'the wiped node to catch up', 10_000);
  expect(c.machines.get(wiped)!.values.get('k')).toBe(50);
  // Said at warn once the voters' answers show it lost history: rebuilding, or caught up within the probe.
  await c.waitFor(() => lines.some((l) => l.startsWith('warn the cluster has history') || l.startsWith('warn caught up after amnesia')), 'the warning');
  // (It may learn the log while it still probes, and so rebuild within one step.)
  // (At warn if no rebuilding warning came before it.)
  await c.waitFor(() => lines.some((l) => /^(info|warn) caught up after amnesia/.test(l)), 'the rejoin');
  expect(lines.some((l) => l.startsWith('info every voter answered and none holds anything'))).toBe(false);
  // It votes again: with the leader's peer gone, the two of them still commit.
  const other = c.ids.find((id) => id !== leader && id !== wiped)!;
  await c.node(other).close();
  expect(await c.node(leader).propose({ key: 'k', add: 1 })).toBe(51);
});

it('a new cluster starts without a warning: its voters find no history, so having no promise on record is news for info', async () => {
  const lines: string[] = [];
  const logger: Logger = {
    debug: () => {},
    info: (_o, message) => lines.push(`info ${message ?? ''}`),
    warn: (_o, message) => lines.push(`warn ${message ?? ''}`),
    error: (_o, message) => lines.push(`error ${message ?? ''}`),
  };
  const c = await clusters.start({ voters: 3, node: { logger } });
  const leader = await c.waitForLeader();
  expect(await c.node(leader).propose({ key: 'k', add: 1 })).toBe(1);
  expect(lines.filter((l) => l.startsWith('info no promise on record'))).toHaveLength(3);
  expect(lines.filter((l) => !l.startsWith('info') && !l.startsWith('debug'))).toEqual([]);
});
