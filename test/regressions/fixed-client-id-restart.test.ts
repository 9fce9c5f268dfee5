/**
 * Bug: a node given a fixed `clientId` restarted its sequence numbers at 1, so its
 * first proposal after a restart collided with request 1 of the previous run: it was
 * answered with the old result and never applied (an acknowledged write lost).
 * Sequence numbers now start from the wall clock at every start.
 */
import { expect, it } from 'vitest';
import { MemoryNetwork, MemoryStorage, createNode } from '../../src/index.js';

class Log {
  readonly entries: string[] = [];
  apply(command: string): number {
    this.entries.push(command);
    return this.entries.length;
  }
}

it('a restarted node with a fixed clientId applies its new proposals', async () => {
  const network = new MemoryNetwork();
  let storage = new MemoryStorage();
  const first = new Log();
  const before = createNode<string, number>({
    id: 'a',
    members: ['a'],
    clientId: 'a-client',
    transport: network.transport('a'),
    storage,
    stateMachine: first,
    tickMs: 5,
  });
  await before.start();
  expect(await before.propose('A')).toBe(1);
  await before.close();

  storage = storage.reopen();
  const second = new Log();
  const after = createNode<string, number>({
    id: 'a',
    members: ['a'],
    clientId: 'a-client',
    transport: network.transport('a'),
    storage,
    stateMachine: second,
    tickMs: 5,
  });
  await after.start();
  expect(await after.propose('B')).toBe(2);
  expect(second.entries).toEqual(['A', 'B']);
  await after.close();
});
