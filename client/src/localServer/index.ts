/** The embedded local capture server (see docs/local-capture-server.md). Nothing here imports `vscode`. */
export {
  startCaptureServer,
  isLoopbackHost,
  formatAddress,
  DEFAULT_SIZE_LIMIT,
  type CaptureServer,
  type CaptureServerOptions,
  type CaptureAccount,
  type CaptureLogEntry,
  type CaptureEnvelope,
  type StoredMessage,
  type FiredRuleEvent,
} from './captureServer';
export { MessageStore } from './messageStore';
export { parseSummaryHeaders, type SummaryHeaders } from './messageHeaders';
export { generateSelfSignedCertificate, loadOrCreateLocalCertificate, isUsableCertificate, LOCAL_CERT_NAMES, CERT_FOLDER, type LocalCertificate } from './selfSignedCert';
export { parseCaptureRules, parseRuleReply, defaultCommands, CAPTURE_RULE_PROBLEMS, RULE_COMMANDS, KNOWN_EXTENSIONS, type CaptureRules, type CaptureRule, type CaptureRulesParse, type RuleAction, type RuleMatch, type RuleCommand } from '../../../common/captureRules';
export { CaptureRuleEngine, describeFiredRule, globMatches, type FiredRule, type RuleDecision, type RuleEvent, type SessionExtensions } from './captureRuleEngine';
export { parseJsonTree, type JsonNode, type JsonProperty, type JsonParseResult } from '../../../common/jsonTree';
export { startCaptureApi, messageMatches, messageJson, type CaptureApi, type CaptureApiOptions, type MessageFilter } from './captureApi';
export { capturedAuthentication, type CapturedAuthentication, type CapturedMethodResult } from './captureServer';
export { ruleNotes, type RuleNotes } from './ruleNotes';
export { loadRulesFile } from './rulesFile';
