/**
 * `synod txn JSON` is checked field by field (issue 17): malformed JSON printed a stack
 * trace, and `[]` ran as an empty transaction.
 */
import { expect, it } from 'vitest';
import { txnFromJson } from '../../src/cli/txn-json.js';
import { UsageError } from '../../src/cli/usage-error.js';

it('refuses what is not a transaction, naming the field at fault', () => {
  const cases: [string, RegExp][] = [
    ['not json', /`JSON` is not JSON/],
    ['null', /`JSON` must be a JSON object, not null/],
    ['[]', /`JSON` must be a JSON object, not \[\]/],
    ['{}', /`JSON` holds no compare and no operation/],
    ['{"compare":"x"}', /`compare` must be a JSON array, not "x"/],
    ['{"compare":[{"key":"k","target":"version","op":"==","value":-1}]}', /`compare\[0\]\.value` must be a non-negative integer/],
    ['{"compare":[{"key":"k","target":"value","op":"<","value":"a"}]}', /`compare\[0\]\.op` must be == or != for target value/],
    ['{"compare":[{"key":"k","target":"size","op":"==","value":1}]}', /`compare\[0\]\.target` must be one of/],
    ['{"success":[{"op":"put","key":"k"}]}', /`success\[0\]\.value` must be a string/],
    ['{"success":[{"op":"put","key":"k","value":"v","ttl":3}]}', /`success\[0\]\.ttl` is not a field here/],
    ['{"success":[{"op":"range"}]}', /`success\[0\]` must name a key, a prefix, or a start and an end/],
    ['{"failure":[{"op":"upsert","key":"k"}]}', /`failure\[0\]\.op` must be put, delete or range/],
    ['{"succes":[]}', /`JSON\.succes` is not a field here/],
  ];
  for (const [json, message] of cases) expect(() => txnFromJson(json), json).toThrow(message);
  expect(() => txnFromJson('null')).toThrow(UsageError);
});

it('reads a transaction with values as text', () => {
  const txn = txnFromJson(
    '{"compare":[{"key":"k","target":"version","op":"==","value":0},{"key":"k","target":"value","op":"!=","value":"x"}],"success":[{"op":"put","key":"k","value":"v"}],"failure":[{"op":"range","prefix":"k","limit":2},{"op":"delete","key":"j"}]}',
  );
  expect(txn).toEqual({
    compare: [
      { key: 'k', target: 'version', op: '==', value: 0 },
      { key: 'k', target: 'value', op: '!=', value: new TextEncoder().encode('x') },
    ],
    success: [{ op: 'put', key: 'k', value: new TextEncoder().encode('v') }],
    failure: [
      { op: 'range', range: { prefix: 'k' }, limit: 2 },
      { op: 'delete', key: 'j' },
    ],
  });
});
