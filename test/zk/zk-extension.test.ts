/**
 * The tree as the KV's extension: its commands ride in the KV's log and its state in
 * the KV's snapshots (format version 4); a snapshot from before the extension (version
 * 3) restores it empty; bytes it cannot read are refused as invalid, changing nothing.
 */
import { describe, expect, it } from 'vitest';
import { KvStateMachine } from '../../src/kv/index.js';
import type { ApplyMeta } from '../../src/runtime/index.js';
import { ZkExtension, openAcl, zkKvCommand, zkResultOf } from '../../src/zk/index.js';

const meta = (slot: number): ApplyMeta => ({ slot, timestamp: 1_000 + slot, clientId: 'c', seq: slot, origin: 'a' });

describe('ZkExtension in the KV state machine', () => {
  it('applies zk commands beside KV writes, and round-trips through a KV snapshot', async () => {
    const zk = new ZkExtension();
    const kv = new KvStateMachine({ extension: zk });
    kv.apply({ type: 'put', key: 'k', value: new Uint8Array([1]) }, meta(1));
    const opened = zkResultOf(kv.apply(zkKvCommand({ type: 'session-create', password: new Uint8Array(16), ttlMs: 5_000 }), meta(2)));
    expect(opened.type).toBe('session');
    const session = opened.type === 'session' ? opened.session : 0;
    const created = zkResultOf(
      kv.apply(
        zkKvCommand({
          type: 'write',
          session,
          auth: [],
          request: { op: 'create', path: '/e', data: new Uint8Array([7]), acl: openAcl, flags: 1, withStat: true },
        }),
        meta(3),
      ),
    );
    expect(created).toMatchObject({ type: 'written', result: { op: 'create', path: '/e' } });
    const bytes = await kv.snapshot().write();
    expect(bytes[3]).toBe(4);
    const copy = new ZkExtension();
    new KvStateMachine({ extension: copy }).restore(bytes);
    expect(copy.snapshot()).toEqual(zk.snapshot());
    expect(copy.machine.tree.ephemerals(session)).toEqual(['/e']);
  });

  it('restores an older snapshot without the extension as an empty tree', async () => {
    const plain = new KvStateMachine();
    plain.apply({ type: 'put', key: 'k', value: new Uint8Array([1]) }, meta(1));
    const bytes = await plain.snapshot().write();
    expect(bytes[3]).toBe(3);
    const zk = new ZkExtension();
    const kv = new KvStateMachine({ extension: zk });
    kv.apply(zkKvCommand({ type: 'session-create', password: new Uint8Array(16), ttlMs: 5_000 }), meta(1));
    kv.restore(bytes);
    expect(zk.machine.sessions.size).toBe(0);
    expect(zk.machine.tree.children('/')).toEqual(['zookeeper']);
  });

  it('answers invalid to bytes it cannot read, and a KV without an extension refuses extension commands', () => {
    const zk = new ZkExtension();
    const kv = new KvStateMachine({ extension: zk });
    expect(zkResultOf(kv.apply({ type: 'extension', data: new Uint8Array([99]) }, meta(1)))).toMatchObject({ type: 'invalid' });
    expect(new KvStateMachine().apply({ type: 'extension', data: new Uint8Array([1]) }, meta(1))).toMatchObject({ type: 'invalid' });
  });
});
