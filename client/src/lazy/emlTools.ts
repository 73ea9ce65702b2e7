/** The feature bundle of the .eml commands: authentication (mailauth), signing, preview and sending. */
export { buildSendPlan } from '../preview/sendPlan';
export { envelopeFromHeaders, isPlausibleAddress, withoutBcc } from '../preview/envelope';
export { createResolver, parseDnsServer } from '../mailAuth/resolver';
export { verifyMessage } from '../mailAuth/verify';
export { formatReportMarkdown } from '../mailAuth/format';
export { DkimSignError, keyAlgorithm, publicKeyRecord, signMessage } from '../mailAuth/sign';
export { parseHeaderFields, firstField } from '../mailAuth/headers';
export { buildPreviewModel } from '../preview/model';
export { renderPreviewHtml } from '../preview/webviewHtml';
