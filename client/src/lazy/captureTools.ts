/** The feature bundle of the local capture server (smtp-server), its message store, its behaviour rules and the verifier's resolver. */
export { DEFAULT_SIZE_LIMIT, loadRulesFile, MessageStore, parseCaptureRules, ruleNotes, startCaptureServer } from '../localServer';
export { sizeLimitProblems } from '../../../common/captureRules';
export { createResolver, parseDnsServer } from '../mailAuth';
