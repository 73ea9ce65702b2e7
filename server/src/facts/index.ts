/**
 * RFC knowledge as data: SMTP commands, reply codes, enhanced status codes, ESMTP keywords and
 * parameters, and SASL mechanisms. Pure data and small lookups, with no editor dependency, so the
 * language server, the CLI and the engine can all use them.
 */
export * from './rfc';
export * from './commands';
export * from './replyCodes';
export * from './enhancedCodes';
export * from './esmtpKeywords';
export * from './authMechanisms';
export * from './scriptVocabulary';
