/**
 * The meta group's ledger of first starts in a split's group: a member's first start
 * goes on record once, ever, and only in a group a split made (one the cluster was
 * created with has no ledger: its members start as any voter does).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ShardedKv } from '../../../src/kv/index.js';
import { recordFirstStart } from '../../../src/kv/shard/group-births.js';
import { started } from './sharded-cluster.js';

const open: ShardedKv[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((kv) => kv.close()));
});

describe('recordFirstStart', () => {
  it('records a first start once per member, only in a group a split made', async () => {
    const kvs = await started(open);
    const meta = kvs[0]!.shard(0)!;
    // Groups the cluster was created with, and a group no split made: no ledger, no record.
    expect(await recordFirstStart(meta, 3, 'a')).toBe(false);
    expect(await recordFirstStart(meta, 99, 'd')).toBe(false);
    expect(await meta.get('births/3/a')).toBeUndefined();
    expect(await meta.get('births/99/d')).toBeUndefined();
    await kvs[0]!.splitRange('t');
    // Every member put its first start in group 4 on record as it hosted it.
    await expect.poll(async () => (await meta.range({ prefix: 'births/4/' })).kvs.map((kv) => kv.key)).toEqual(['births/4/a', 'births/4/b', 'births/4/c']);
    for (const kv of kvs) expect(await recordFirstStart(meta, 4, kv.host.id)).toBe(false);
    // A member new to the group: its first start goes on record, once.
    expect(await recordFirstStart(meta, 4, 'd')).toBe(true);
    expect(await recordFirstStart(meta, 4, 'd')).toBe(false);
  });
});
