import { it } from 'vitest';
import { checkLinearizabilityInParallel, versionedKvModel } from '../../../src/testing/index.js';
import { get, info, type KvOperation, ok, put, value } from './fixtures.js';
function hardHistory(writers: number, key: string): KvOperation[] {
  const history: KvOperation[] = [];
  for (let i = 0; i < writers; i++) history.push(info(`c${i}`, put(`v${i}`), i, key));
  history.push(ok('r', get, 0, 2000, value('never', 1), key));
  return history;
}
it('dbg', async () => {
  const t0 = performance.now();
  console.log(
    await checkLinearizabilityInParallel(
      [...hardHistory(40, 'x'), ...hardHistory(0, 'z').slice(0, 0), ok('a', put('1'), 0, 1, { type: 'written', version: 1 }, 'y')],
      versionedKvModel,
      { workers: 2, timeBudgetMs: 20_000 },
    ),
    performance.now() - t0,
  );
}, 120_000);
