/**
 * The linearizability checker's model of one key (`versionedKvModel` in synod/testing)
 * must be the KV's real behaviour, or the checker would judge histories against the
 * wrong specification. Random single-key operations, applied to both, answer alike.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { type KvResult, KvStateMachine } from '../../src/kv/index.js';
import { type KvInput, type KvOutput, type KvState, versionedKvModel } from '../../src/testing/index.js';

const input: fc.Arbitrary<KvInput> = fc.oneof(
  fc.constant<KvInput>({ op: 'get' }),
  fc.constantFrom('a', 'b').map((value): KvInput => ({ op: 'put', value })),
  fc.record({ value: fc.constantFrom('a', 'b'), expectedVersion: fc.nat(3) }).map((p): KvInput => ({ op: 'put', ...p })),
  fc
    .option(fc.integer({ min: 1, max: 3 }), { nil: undefined })
    .map((v): KvInput => (v === undefined ? { op: 'delete' } : { op: 'delete', expectedVersion: v })),
);

function onMachine(machine: KvStateMachine, i: KvInput, slot: number): KvOutput {
  const meta = { slot, timestamp: slot, clientId: 'c', seq: slot, origin: 'a' };
  if (i.op === 'get') {
    const kv = machine.view.range({ key: 'k' }, 1).kvs[0];
    return kv === undefined ? { type: 'absent' } : { type: 'value', value: new TextDecoder().decode(kv.value), version: kv.version };
  }
  const command =
    i.op === 'put'
      ? {
          type: 'put' as const,
          key: 'k',
          value: new TextEncoder().encode(i.value),
          ...(i.expectedVersion === undefined ? {} : { expectedVersion: i.expectedVersion }),
        }
      : { type: 'delete' as const, key: 'k', ...(i.expectedVersion === undefined ? {} : { expectedVersion: i.expectedVersion }) };
  const r: KvResult = machine.apply(command, meta);
  switch (r.type) {
    case 'put':
      return { type: 'written', version: r.version };
    case 'delete':
      return r.deleted ? { type: 'deleted' } : { type: 'absent' };
    case 'conflict':
      return { type: 'conflict', version: r.version };
    default:
      throw new Error(`unexpected result ${JSON.stringify(r)}`);
  }
}

it('versionedKvModel answers every single-key operation as the KV state machine does', () => {
  fc.assert(
    fc.property(fc.array(input, { maxLength: 40 }), (inputs) => {
      const machine = new KvStateMachine();
      let state: KvState = versionedKvModel.init();
      inputs.forEach((i, n) => {
        const step = versionedKvModel.step(state, i, undefined);
        expect(onMachine(machine, i, n + 1), `operation ${n}: ${JSON.stringify(i)}`).toEqual(step.output);
        state = step.state;
      });
    }),
    { numRuns: 500 },
  );
});
