/** The session engine: runs `.smtp` session plans against real servers. */
export { runSession, nodeIo } from './session';
export { runParallel, type ParallelResult } from './parallel';
export { ReplyParser, ReplyProtocolError, parseCapabilities, enhancedCodeOf, MAX_REPLY_LINE } from './replies';
export { checkExpectation, describeExpectation } from './expect';
export { Masker, MASK } from './mask';
export { canonicalMessage, inlineDataBytes, inlineBdatMessage } from './data';
export { lookupMx } from './mx';
export * from './types';
