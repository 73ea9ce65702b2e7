/** The feature bundle of the local capture server (smtp-server), its message store, its behaviour rules and the verifier's resolver. */
export { loadRulesFile, MessageStore, parseCaptureRules, ruleNotes, startCaptureServer } from '../localServer';
export { createResolver, parseDnsServer } from '../mailAuth';
