import { SynodError } from '../core/errors.js';

/**
 * A frame the codec cannot read: bad magic, unknown version or type, a length beyond
 * what is left or beyond the limits, a field out of range, bytes left over. The
 * transport drops the frame and counts it; it never reaches the node.
 */
export class CodecError extends SynodError {
  constructor(why: string) {
    super('CODEC', `malformed frame: ${why}`);
  }
}
