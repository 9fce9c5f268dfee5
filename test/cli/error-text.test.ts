import { expect, it } from 'vitest';
import { StorageError } from '../../src/runtime/index.js';
import { errorFields, errorLine } from '../../src/cli/error-text.js';

it('writes an error with its whole cause chain: the cause says which disk is full', () => {
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', path: '/data/a/wal-3.log' });
  const error = new StorageError('persist', enospc);
  expect(errorLine(error)).toBe(`StorageError: ${error.message}; caused by Error: ENOSPC: no space left on device, write`);
  expect(errorFields(error)).toEqual({
    name: 'StorageError',
    message: error.message,
    code: 'STORAGE',
    cause: { name: 'Error', message: 'ENOSPC: no space left on device, write', code: 'ENOSPC', path: '/data/a/wal-3.log' },
  });
  // A bug (not a SynodError) keeps its stack.
  expect(errorLine(new TypeError('x is undefined'))).toMatch(/^TypeError: x is undefined\n\s+at /);
});
