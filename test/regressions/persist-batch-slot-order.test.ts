/**
 * Regression: one output could record accepted entries out of slot order (an accept
 * for slots 4-5, then a new leader's accept for slot 2 in the same turn), and the
 * PersistBatch went to storage that way. FileStorage refuses such a batch, so the node
 * stopped: in the KV nemesis test, restarted servers died on their first write. The
 * builder now hands out every list in strictly increasing slot order, the last entry
 * of a slot winning; SimStorage checks the contract, so the simulator catches a
 * relapse at once.
 */
import { expect, it } from 'vitest';
import { OutputBuilder } from '../../src/core/output-builder.js';

const ballot = (round: number) => ({ round, node: 'n1' });
const value = (n: number) => ({ kind: 'batch' as const, commands: [new Uint8Array([n])] });

it('hands out accepted and chosen entries in strictly increasing slot order, the last of a slot winning', () => {
  const out = new OutputBuilder();
  out.persistAccepted({ slot: 4, ballot: ballot(1), value: value(4) });
  out.persistAccepted({ slot: 5, ballot: ballot(1), value: value(5) });
  out.persistAccepted({ slot: 2, ballot: ballot(2), value: value(2) });
  out.persistAccepted({ slot: 4, ballot: ballot(2), value: value(40) });
  out.persistChosen({ slot: 9, value: value(9) });
  out.persistChosen({ slot: 7, value: value(7) });
  const { persist } = out.take();
  expect(persist?.accepted.map((e) => [e.slot, e.ballot.round])).toEqual([
    [2, 2],
    [4, 2],
    [5, 1],
  ]);
  expect(persist?.chosen.map((e) => e.slot)).toEqual([7, 9]);
});
