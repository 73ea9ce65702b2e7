/**
 * The catalogue of report findings: every code a report parser can produce, with its default
 * severity, a summary and the section of the standard (or the docs page) that decides it. The
 * language server, the CLI and the report view read links from here.
 */
import { docsLink, rfcLink, type ProblemDefinition, type Problem } from '../../../common/problem';

const DOCS = 'reports.md';

export const REPORT_PROBLEMS: readonly ProblemDefinition[] = [
  { code: 'report-xml-syntax', severity: 'error', summary: 'The report is not well-formed XML.', link: 'https://www.w3.org/TR/xml/#sec-well-formed' },
  { code: 'report-xml-truncated', severity: 'error', summary: 'The report ends before its XML does: the file is truncated.', link: docsLink(DOCS, 'truncated-reports') },
  { code: 'report-xml-dtd', severity: 'error', summary: 'A document type declaration; DTDs and external entities are refused, never resolved.', link: docsLink(DOCS, 'hostile-input') },
  { code: 'report-xml-entity', severity: 'error', summary: 'An entity reference other than the five predefined ones; never resolved.', link: docsLink(DOCS, 'hostile-input') },
  { code: 'report-xml-empty', severity: 'error', summary: 'The file holds no XML element.', link: rfcLink(9990) },
  { code: 'report-xml-limit', severity: 'error', summary: 'The XML nests too deep or has too many elements to be a report.', link: docsLink(DOCS, 'hostile-input') },
  { code: 'report-archive-limit', severity: 'error', summary: 'Decompressing would exceed the size or ratio limit (a zip or gzip bomb).', link: docsLink(DOCS, 'hostile-input') },
  { code: 'report-nesting', severity: 'error', summary: 'A mail inside a report attachment: reports travel as a mail holding an archive holding the report, so deeper nesting is not opened.', link: docsLink(DOCS, 'hostile-input') },
  { code: 'report-size-limit', severity: 'error', summary: 'The file is larger than a report can be (the 50 MiB limit decompressed output has); it is not read.', link: docsLink(DOCS, 'hostile-input') },
  { code: 'report-archive-corrupt', severity: 'error', summary: 'The gzip or zip container is damaged or truncated.', link: docsLink(DOCS, 'archives') },
  { code: 'report-archive-unsupported', severity: 'error', summary: 'A zip feature reports do not use (encryption, a compression method other than deflate or stored, an archive split over several disks, several reports).', link: rfcLink(7489, '7.2.1.1') },
  { code: 'report-encoding', severity: 'warning', summary: 'The text encoding is not as declared (UTF-16 without a byte order mark, a declaration that contradicts the BOM or the bytes, an encoding this reader does not know); the file is read as found.', link: 'https://www.w3.org/TR/xml/#charencoding' },
  { code: 'report-link-loop', severity: 'warning', summary: 'A folder reached again through a symbolic link (a loop, or two links to one folder) or given twice; its files are read once.', link: docsLink(DOCS, 'files-and-folders') },
  { code: 'report-unknown-format', severity: 'error', summary: 'The file is neither a DMARC aggregate report, a TLS-RPT report nor a failure report.', link: docsLink(DOCS, 'formats') },
  { code: 'report-unreadable', severity: 'error', summary: 'The file could not be read.', link: docsLink(DOCS) },
  { code: 'report-duplicate', severity: 'warning', summary: 'The same report was read more than once (the same file given twice, a.xml and a.xml.gz, two mails); it is counted once.', link: docsLink(DOCS, 'duplicate-reports') },
  { code: 'report-total-limit', severity: 'error', summary: 'Adding this record (or TLS-RPT policy) would take a total past 2^53 - 1 messages or sessions, beyond which totals cannot be added up exactly; it is left out of every total.', link: docsLink(DOCS, 'totals') },
  { code: 'dmarc-agg-root', severity: 'error', summary: 'The root element of an aggregate report is <feedback>.', link: rfcLink(9990, 'A') },
  { code: 'dmarc-agg-missing', severity: 'error', summary: 'An element the schema requires is missing.', link: rfcLink(9990, 'A') },
  { code: 'dmarc-agg-repeated', severity: 'error', summary: 'An element the schema allows once appears more than once.', link: rfcLink(9990, 'A') },
  { code: 'dmarc-agg-unknown', severity: 'warning', summary: 'An element the schema does not define, or an element of another namespace out of place (RFC 9990 allows those only at the end of a <record> and inside <extension>); it is not read.', link: rfcLink(9990, 'A') },
  { code: 'dmarc-agg-value', severity: 'error', summary: 'A value the schema does not allow (an unknown keyword, a count that is not a whole number of messages from 0 to 2^53 - 1, an IP address that is not one); a record without a usable count is left out of the totals.', link: rfcLink(9990, 'A') },
  { code: 'dmarc-agg-date-range', severity: 'error', summary: 'The date range begins after it ends.', link: rfcLink(9990) },
  { code: 'dmarc-agg-7489', severity: 'info', summary: 'The report uses the RFC 7489 format (no dmarc-2.0 namespace); its fields are read with the older schema.', link: rfcLink(7489, 'C') },
  { code: 'dmarc-agg-domain-mismatch', severity: 'error', summary: "The report's policy domain differs from the domain its file name or subject gives: the report lies about its domain.", link: rfcLink(7489, '7.2.1.1') },
  { code: 'dmarc-agg-foreign-record', severity: 'warning', summary: "A record's header_from is neither the policy domain nor one of its subdomains.", link: rfcLink(9990) },
  { code: 'dmarc-agg-inconsistent', severity: 'warning', summary: 'policy_evaluated says DKIM or SPF passed, but no authentication result for an aligned domain passed.', link: rfcLink(9990) },
  { code: 'tlsrpt-json-syntax', severity: 'error', summary: 'The TLS-RPT report is not valid JSON (RFC 8259).', link: rfcLink(8460, '4.4') },
  { code: 'tlsrpt-missing', severity: 'error', summary: 'A field RFC 8460 requires is missing.', link: rfcLink(8460, '4.4') },
  { code: 'tlsrpt-value', severity: 'error', summary: 'A field has a value RFC 8460 does not allow.', link: rfcLink(8460, '4.4') },
  { code: 'tlsrpt-unknown', severity: 'info', summary: 'A field RFC 8460 does not define.', link: rfcLink(8460, '4.4') },
  { code: 'tlsrpt-date-range', severity: 'error', summary: 'The date range begins (start-datetime) after it ends (end-datetime).', link: rfcLink(8460, '4.4') },
  { code: 'tlsrpt-failure-count', severity: 'error', summary: "A policy's failure details count more failed sessions than its total-failure-session-count.", link: rfcLink(8460, '4.4') },
  { code: 'tlsrpt-duplicate-key', severity: 'error', summary: 'A field appears twice in one JSON object; readers may take either value (RFC 8259 §4).', link: rfcLink(8259, '4') },
  { code: 'tlsrpt-domain-mismatch', severity: 'error', summary: "None of the report's policy domains is the domain its file name or subject gives (one report covers every policy domain the sender met, RFC 8460 §4.4): the report lies about its domain.", link: rfcLink(8460, '5.1') },
  { code: 'arf-no-report', severity: 'error', summary: 'The message has no message/feedback-report part.', link: rfcLink(5965, '2') },
  { code: 'arf-missing', severity: 'error', summary: 'A field RFC 5965 requires in the machine-readable part is missing.', link: rfcLink(5965, '3.1') },
  { code: 'arf-value', severity: 'error', summary: 'A feedback-report field has a value its RFC does not allow.', link: rfcLink(5965, '3.1') },
  { code: 'arf-domain-mismatch', severity: 'warning', summary: 'The Reported-Domain differs from the domain of the original message\'s From field.', link: rfcLink(9991, '3') },
];

const BY_CODE = new Map(REPORT_PROBLEMS.map((d) => [d.code, d]));

/** The definition of a code (every code a report parser produces is in the catalogue). */
export function reportProblemDefinition(code: string): ProblemDefinition | undefined {
  return BY_CODE.get(code);
}

/** The link of a code, or the report docs page for an unknown one. */
export function reportProblemLink(code: string): string {
  return BY_CODE.get(code)?.link ?? docsLink(DOCS);
}

/** Builds a finding with the catalogue's severity unless one is given. */
export function finding(code: string, message: string, start: number, end: number, severity?: Problem['severity']): Problem {
  const def = BY_CODE.get(code);
  return { code, severity: severity ?? def?.severity ?? 'error', message, range: { start, end: Math.max(start, end) } };
}
