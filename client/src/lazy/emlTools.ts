/** The feature bundle of the .eml commands (authentication with mailauth, signing, preview, sending) and of the report view. */
export { buildSendPlan } from '../preview/sendPlan';
export { envelopeFromHeaders, isPlausibleAddress, withoutBcc } from '../preview/envelope';
export { createResolver, parseDnsServer } from '../mailAuth/resolver';
export { verifyMessage } from '../mailAuth/verify';
export { formatReportMarkdown } from '../mailAuth/format';
export { DkimSignError, keyAlgorithm, publicKeyRecord, signMessage, signWarnings } from '../mailAuth/sign';
export { parseHeaderFields, firstField } from '../mailAuth/headers';
export { buildPreviewModel } from '../preview/model';
export { renderPreviewHtml } from '../preview/webviewHtml';
// The report view (views/reportView.ts): reading, summarising and rendering DMARC and TLS-RPT reports.
export { reportFilesOf, summariseReportFiles } from '../reports/collect';
export { renderReportHtml } from '../reports/reportHtml';
export { summaryCsv, summaryJson } from '../reports/render';
export { fetchReportsOverImap, imapFetchRefusal } from '../reports/imapFetch';
