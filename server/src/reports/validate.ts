/**
 * The language server's entry point for report files opened as text: decides whether a document
 * is a report at all (so unrelated XML, JSON and mail files get no report diagnostics) and returns
 * the findings in the common Problem shape, offsets into the document's text. Links and default
 * severities are in reportProblems.ts (`reportProblemDefinition`). Pure; never throws.
 */
import type { Problem } from '../../../common/problem';
import { isFailureReportMessage, parseReportText } from './open';

/** Whether a document's text looks like a report of a kind this module reads. */
export function isReportDocument(fileName: string, text: string): boolean {
  const head = text.slice(0, 4096);
  if (/\.xml$/i.test(fileName)) return /<(?:[A-Za-z_][\w.-]*:)?feedback[\s>]/.test(head) || /<!DOCTYPE\s+feedback/i.test(head);
  if (/\.json$/i.test(fileName)) {
    // Two of the top-level members RFC 8460 §4.4 requires: one alone (a "policies" key, say) is
    // common in unrelated JSON, which must not get report findings.
    const keys = new Set([...head.matchAll(/"(organization-name|date-range|contact-info|report-id|policies)"\s*:/g)].map((m) => m[1]));
    return keys.size >= 2;
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
