/**
 * Moved to server/src/reports/open.ts: the language server validates and explains reports with it,
 * and server/src/ imports only common/. This re-export keeps the imports of client/src working.
 */
export * from '../../../server/src/reports/open';
