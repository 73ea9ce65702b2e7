/**
 * Opens a report file of any kind from its name and bytes: gzip and zip containers are unpacked
 * under limits (archive.ts), then the content decides the parser: `{` a TLS-RPT report (RFC 8460),
 * `<` a DMARC aggregate report (RFC 9990 / RFC 7489), a mail either a failure report (RFC 9991,
 * ARF) or a mail that carries report attachments (as sent to a rua= address). The archive limits
 * are one budget for the whole file (all of a mail's attachments together), a mail is looked into
 * one level deep (a mail in an attachment is a `report-nesting` finding), and a plain file over the
 * size limit is a `report-size-limit` finding. Pure: the caller reads the file. Never throws.
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

/** The most bytes decodeReportText decodes: below V8's longest string (0x1fffffe8 UTF-16 units). */
const MAX_DECODED_BYTES = 0x1fffffe8 >> 1;

/**
 * Decodes report text: UTF-8 (RFC 8460 requires it for TLS-RPT; aggregate reports are UTF-8 unless
 * their XML declaration names another encoding, XML 1.0 §4.3.3, which is honoured when the
 * platform's TextDecoder knows it), a BOM removed.
 */
export function decodeReportText(bytes: Buffer): string {
  // Callers refuse files over the size limit (a finding) before decoding; this bound only keeps
  // a direct caller from reaching the platform's longest string (about 512 Mi characters).
  const input = bytes.length > MAX_DECODED_BYTES ? bytes.subarray(0, MAX_DECODED_BYTES) : bytes;
  if (input[0] === 0x3c && input[1] === 0x3f) {
    const declared = /^<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(input.subarray(0, 200).toString('latin1'))?.[1];
    if (declared && !/^utf-?8$/i.test(declared)) {
      try {
        return new TextDecoder(declared).decode(input);
      } catch {
        // An encoding the platform does not know: read as UTF-8.
      }
    }
  }
  try {
    return utf8.decode(input);
  } catch {
    // Out of memory for the string: nothing is readable, which the parser reports as a finding.
    return '';
  }
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
 * True when a raw message (latin1 text) is a failure report: a `multipart/report` with a
 * `message/feedback-report` part (RFC 6591, RFC 9991). The one decision for `smtpwb report`,
 * `report fetch`, the Local Inbox and the report view: a rua= mail whose text merely mentions the
 * media type is not one, and keeps its report attachments.
 */
export function isFailureReportMessage(text: string): boolean {
  return /^content-type:\s*multipart\/report[^\n]*(\n[ \t][^\n]*)*/im.test(text) && /message\/feedback-report/i.test(text);
}

/**
 * The finding for a file over the size limit (the limit decompressed output has, so a plain report
 * and a compressed one are bounded alike): `smtpwb report` gives it before reading such a file.
 */
export function sizeLimitFinding(size: number, limit: number): Problem {
  return finding('report-size-limit', `the file holds ${size} bytes, more than the ${limit}-byte limit for a report: not read`, 0, 0);
}

/**
 * How many mails deep a report is looked for: the file itself may be a mail (a rua= mail, perhaps
 * gzipped), and its attachments (each perhaps a gzip or zip archive) hold the reports. A mail found
 * inside an attachment is a `report-nesting` finding and is not opened, so a mail holding an
 * archive holding a mail ... (a nesting bomb) costs one pass over the bytes, never recursion.
 */
const MAX_MAIL_LEVELS = 1;

/** The longest name part (an attachment or zip entry name) kept in a source name. */
const MAX_NAME_PART = 200;

function namePart(name: string): string {
  return name.length > MAX_NAME_PART ? `${name.slice(0, MAX_NAME_PART)}…` : name;
}

/**
 * The decompression budget of one file: the documented limits (`maxBytes`, `maxRatio` × the
 * file's size once past 1 MiB) apply to the sum of everything decompressed from the file, all of a
 * mail's attachments together, not to each attachment.
 */
interface Budget {
  total: number;
  remaining: number;
  exhausted: boolean;
}

const RATIO_FLOOR = 1024 * 1024;

/**
 * Opens a file's bytes. A mail that is not a failure report is searched for report attachments,
 * each opened in turn (so the result is a list). Never throws.
 */
export function openReportBytes(name: string, bytes: Buffer, options: OpenOptions = {}): OpenedReport[] {
  const limits = options.limits ?? DEFAULT_ARCHIVE_LIMITS;
  const total = Math.min(limits.maxBytes, Math.max(RATIO_FLOOR, bytes.length * limits.maxRatio));
  try {
    return openAt(name, bytes, options, limits, { total, remaining: total, exhausted: false }, 0);
  } catch (error) {
    // A last guard: the parsers do not throw, but a platform limit (memory, string length) must not end a run.
    const message = error instanceof Error ? error.message : String(error);
    return [{ source: name, report: undefined, problems: [finding('report-unreadable', `the file cannot be opened: ${message}`, 0, 0)] }];
  }
}

function openAt(name: string, bytes: Buffer, options: OpenOptions, limits: ArchiveLimits, budget: Budget, mailLevel: number): OpenedReport[] {
  let data: Buffer = bytes;
  let inner = name;
  let containerProblems: Problem[] = [];
  const compressed = isGzip(bytes) || isZip(bytes);
  if (compressed) {
    const budgetLimits: ArchiveLimits = { maxBytes: budget.remaining, maxRatio: limits.maxRatio };
    const u = isGzip(bytes) ? gunzipReport(bytes, budgetLimits) : unzipReport(bytes, budgetLimits);
    containerProblems = u.problems;
    if (u.name) inner = `${name}#${namePart(u.name)}`;
    if (!u.data) {
      if (budget.remaining < budget.total && u.problems.some((p) => p.code === 'report-archive-limit')) {
        // Earlier attachments used part of the budget: say so rather than quote the remainder as the limit.
        budget.exhausted = true;
        const problems = u.problems.map((p) =>
          p.code === 'report-archive-limit'
            ? { ...p, message: `the attachment decompresses to more than the ${budget.remaining} bytes left of the file's ${budget.total}-byte decompression budget (limits: ${limits.maxBytes} bytes, ${limits.maxRatio}× the compressed size, for all of a file's attachments together)` }
            : p,
        );
        return [{ source: inner, report: undefined, problems }];
      }
      return [{ source: inner, report: undefined, problems: u.problems }];
    }
    data = u.data;
    budget.remaining -= data.length;
  } else if (bytes.length > limits.maxBytes) {
    // The same limit as decompressed text: a plain file that large is not a report (M2).
    return [{ source: name, report: undefined, problems: [sizeLimitFinding(bytes.length, limits.maxBytes)] }];
  }
  const head = data.subarray(0, 1024).toString('latin1');
  const first = /\S/.exec(head.charCodeAt(0) === 0xef ? head.slice(3) : head)?.[0];
  const looksLikeMail = first !== '<' && first !== '{' && first !== '[' && /^[\x21-\x39\x3b-\x7e]+:/.test(head);
  if (looksLikeMail) {
    if (mailLevel >= MAX_MAIL_LEVELS) {
      return [
        {
          source: inner,
          report: undefined,
          problems: [
            ...containerProblems,
            finding('report-nesting', 'a mail inside a report attachment: reports travel as a mail holding an archive holding the report, so deeper nesting is not opened', 0, 0),
          ],
        },
      ];
    }
    const latin1 = data.toString('latin1');
    if (isFailureReportMessage(latin1)) {
      const r = parseFailureReport(latin1);
      return [{ source: inner, report: r.report, problems: [...containerProblems, ...r.problems], ...(options.keepText ? { text: latin1 } : {}) }];
    }
    const attachments = reportAttachments(latin1);
    if (attachments.length === 0) {
      return [{ source: inner, report: undefined, problems: [...containerProblems, finding('report-unknown-format', 'a mail without a feedback report or a report attachment', 0, 1)] }];
    }
    const subject = messageSubject(latin1);
    const claim = subject ? domainFromReportSubject(subject) : undefined;
    const childOptions: OpenOptions = { ...options, ...(claim ? { claimedDomain: claim, claimSource: 'subject' } : {}) };
    const out: OpenedReport[] = [];
    for (let i = 0; i < attachments.length; i++) {
      const a = attachments[i];
      if (budget.exhausted || (budget.remaining <= 0 && (isGzip(a.data) || isZip(a.data)))) {
        const left = attachments.length - i;
        out.push({
          source: inner,
          report: undefined,
          problems: [
            finding(
              'report-archive-limit',
              `the file's decompression budget (${budget.total} bytes for all its attachments together; limits: ${limits.maxBytes} bytes, ${limits.maxRatio}× the file's size) is used up: ${left} more attachment(s) not opened`,
              0,
              0,
            ),
          ],
        });
        break;
      }
      out.push(...openAt(`${inner}#${namePart(a.filename || a.contentType)}`, a.data, childOptions, limits, budget, mailLevel + 1));
    }
    if (containerProblems.length > 0 && out.length > 0) out[0].problems = [...containerProblems, ...out[0].problems];
    return out;
  }
  const text = decodeReportText(data);
  const opened = parseReportText(inner, text, options);
  opened.problems = [...containerProblems, ...opened.problems];
  if (options.keepText) opened.text = text;
  return [opened];
}
