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
} from './captureServer';
export { MessageStore } from './messageStore';
export { parseSummaryHeaders, type SummaryHeaders } from './messageHeaders';
export { generateSelfSignedCertificate, loadOrCreateLocalCertificate, isUsableCertificate, LOCAL_CERT_NAMES, CERT_FOLDER, type LocalCertificate } from './selfSignedCert';
