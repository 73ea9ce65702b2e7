/**
 * Opens a report file of any kind from its name and bytes: gzip and zip containers are unpacked
 * under limits (archive.ts), then the content decides the parser: `{` a TLS-RPT report (RFC 8460),
 * `<` a DMARC aggregate report (RFC 9990 / RFC 7489), a mail either a failure report (RFC 9991,
 * ARF) or a mail that carries report attachments (as sent to a rua= address). Pure: the caller
 * reads the file. Never throws.
 */
import type { Problem } from '../../../common/problem';
import { domainFromReportFileName, domainFromReportSubject, parseAggregateXml, type AggregateReport } from './aggregate';
import { DEFAULT_ARCHIVE_LIMITS, gunzipReport, isGzip, isZip, unzipReport, type ArchiveLimits } from './archive';
import { messageSubject, parseFailureReport, reportAttachments, type FailureReport } from './failure';
import { finding } from './reportProblems';
import { parseTlsRptJson, type TlsRptReport } from './tlsRpt';

export type ParsedReport = AggregateReport | TlsRptReport | FailureReport;

export interface OpenedReport {
  /** The file name, with `#attachment-name` for a report found inside a mail or an archive. */
  source: string;
  report: ParsedReport | undefined;
  /** Findings; their offsets are into `text` (the decompressed content) when `text` is set. */
  problems: Problem[];
  /** The text the offsets refer to (present when it differs from the file's own bytes). */
  text?: string;
}

export interface OpenOptions {
  limits?: ArchiveLimits;
  /** Keep the decompressed text on the result (for positions); off by default to save memory. */
  keepText?: boolean;
  /** A domain claim from outside the file (a mail's subject). */
  claimedDomain?: string;
  claimSource?: string;
}

const utf8 = new TextDecoder('utf-8');

/**
 * Decodes report text: UTF-8 (RFC 8460 requires it for TLS-RPT; aggregate reports are UTF-8 unless
 * their XML declaration names another encoding, XML 1.0 §4.3.3, which is honoured when the
 * platform's TextDecoder knows it), a BOM removed.
 */
export function decodeReportText(bytes: Buffer): string {
  if (bytes[0] === 0x3c && bytes[1] === 0x3f) {
    const declared = /^<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(bytes.subarray(0, 200).toString('latin1'))?.[1];
    if (declared && !/^utf-?8$/i.test(declared)) {
      try {
        return new TextDecoder(declared).decode(bytes);
      } catch {
        // An encoding the platform does not know: read as UTF-8.
      }
    }
  }
  return utf8.decode(bytes);
}

/** Parses report text whose kind is known from its first non-blank character. */
export function parseReportText(name: string, text: string, options: OpenOptions = {}): OpenedReport {
  const first = /\S/.exec(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)?.[0];
  const fileClaim = domainFromReportFileName(name.replace(/#.*$/, '')) ?? domainFromReportFileName(name.replace(/^.*#/, ''));
  const claimedDomain = options.claimedDomain ?? fileClaim;
  const claimSource = options.claimedDomain ? (options.claimSource ?? 'subject') : 'file name';
  if (first === '{' || first === '[') {
    const r = parseTlsRptJson(text, { claimedDomain });
    return { source: name, report: r.report, problems: r.problems };
  }
  if (first === '<') {
    const r = parseAggregateXml(text, { claimedDomain, claimSource });
    return { source: name, report: r.report, problems: r.problems };
  }
  if (/^[\x21-\x39\x3b-\x7e]+:/.test(text)) {
    const r = parseFailureReport(text);
    return { source: name, report: r.report, problems: r.problems };
  }
  return { source: name, report: undefined, problems: [finding('report-unknown-format', 'not a DMARC aggregate report (XML), a TLS-RPT report (JSON) or a failure report (a mail)', 0, Math.min(text.length, 1))] };
}

/**
 * Opens a file's bytes. A mail that is not a failure report is searched for report attachments,
 * each opened in turn (so the result is a list). Never throws.
 */
export function openReportBytes(name: string, bytes: Buffer, options: OpenOptions = {}): OpenedReport[] {
  const limits = options.limits ?? DEFAULT_ARCHIVE_LIMITS;
  let data: Buffer = bytes;
  let inner = name;
  let containerProblems: Problem[] = [];
  if (isGzip(bytes)) {
    const u = gunzipReport(bytes, limits);
    if (!u.data) return [{ source: name, report: undefined, problems: u.problems }];
    data = u.data;
  } else if (isZip(bytes)) {
    const u = unzipReport(bytes, limits);
    containerProblems = u.problems;
    if (!u.data) return [{ source: name, report: undefined, problems: u.problems }];
    data = u.data;
    if (u.name) inner = `${name}#${u.name}`;
  }
  const text = decodeReportText(data);
  const first = /\S/.exec(text.slice(0, 64))?.[0];
  const looksLikeMail = first !== '<' && first !== '{' && first !== '[' && /^[\x21-\x39\x3b-\x7e]+:/.test(text);
  if (looksLikeMail) {
    const latin1 = data.toString('latin1');
    if (/message\/feedback-report/i.test(latin1)) {
      const r = parseFailureReport(latin1);
      return [{ source: inner, report: r.report, problems: [...containerProblems, ...r.problems], ...(options.keepText ? { text: latin1 } : {}) }];
    }
    const attachments = reportAttachments(latin1);
    if (attachments.length === 0) {
      return [{ source: inner, report: undefined, problems: [finding('report-unknown-format', 'a mail without a feedback report or a report attachment', 0, 1)] }];
    }
    const subject = messageSubject(latin1);
    const claim = subject ? domainFromReportSubject(subject) : undefined;
    return attachments.flatMap((a) =>
      openReportBytes(`${inner}#${a.filename || a.contentType}`, a.data, { ...options, ...(claim ? { claimedDomain: claim, claimSource: 'subject' } : {}) }),
    );
  }
  const opened = parseReportText(inner, text, options);
  opened.problems = [...containerProblems, ...opened.problems];
  if (options.keepText) opened.text = text;
  return [opened];
}
