/**
 * The binary codec of synod's messages: pure (no Node imports), so any transport, in
 * Node or in a browser, can frame messages with it.
 */
export { encodeMessage, decodeMessage, type CodecLimits, defaultCodecLimits, protocolVersion } from './message-codec.js';
