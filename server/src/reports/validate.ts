/**
 * The language server's entry point for report files opened as text: decides whether a document
 * is a report at all (so unrelated XML, JSON and mail files get no report diagnostics) and returns
 * the findings in the common Problem shape, offsets into the document's text. Links and default
 * severities are in reportProblems.ts (`reportProblemDefinition`). Pure; never throws.
 */
import type { Problem } from '../../../common/problem';
import { parseJsonTree } from '../../../common/jsonTree';
import { domainFromReportFileName } from './aggregate';
import { isFailureReportMessage, parseReportText } from './open';
import { isTlsRptShaped } from './tlsRpt';

/** Whether a document's text looks like a report of a kind this module reads. */
export function isReportDocument(fileName: string, text: string): boolean {
  const head = text.slice(0, 4096);
  if (/\.xml$/i.test(fileName)) return /<(?:[A-Za-z_][\w.-]*:)?feedback[\s>]/.test(head) || /<!DOCTYPE\s+feedback/i.test(head);
  if (/\.json$/i.test(fileName)) {
    // The decision is tlsRpt.ts `isTlsRptShaped`, as `smtpwb report` takes it; a file that names
    // none of RFC 8460 §4.4's members near its start is not parsed for it.
    const claimed = domainFromReportFileName(fileName) !== undefined;
    if (!claimed && !/"(?:organization-name|date-range|contact-info|report-id|policies)"\s*:/.test(head)) return false;
    return isTlsRptShaped(text, parseJsonTree(text).root, claimed);
  }
  if (/\.eml$/i.test(fileName)) return isFailureReportMessage(text.slice(0, 65536));
  return false;
}

/**
 * The findings of a report document. For `.eml` files the offsets are into the text as given (the
 * language server's text is the file decoded; headers and the feedback part are ASCII, so offsets
 * agree with the bytes there).
 */
export function validateReportDocument(fileName: string, text: string): Problem[] {
  if (!isReportDocument(fileName, text)) return [];
  return parseReportText(fileName, text).problems;
}
