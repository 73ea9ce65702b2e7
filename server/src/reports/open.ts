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
import { DEFAULT_ARCHIVE_LIMITS, gunzipReport, isGzip, isZip, namePart, unzipReport, type ArchiveLimits } from './archive';
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
 * The most bytes decodeReportBytes decodes: below V8's longest string (0x1fffffe8 UTF-16 units),
 * and even, so that a UTF-16 text is never cut inside a code unit.
 */
const MAX_DECODED_BYTES = (0x1fffffe8 >> 1) & ~1;

/** Names of UTF-16 (the encoding names XML 1.0 §4.3.3 and the IANA registry give it). */
const UTF16_NAME = /^(?:utf-?16(?:[lb]e)?|ucs-?2|iso-10646-ucs-2|unicode(?:fffe|feff)?|csunicode)$/i;

/** The encoding name of an XML declaration at the start of a text, with its offset. */
function declaredEncoding(head: string): { name: string; start: number } | undefined {
  const m = /^\uFEFF?<\?xml\s[^>]*?\bencoding\s*=\s*(["'])([A-Za-z0-9._:-]+)\1/.exec(head);
  return m ? { name: m[2], start: m.index + m[0].length - 1 - m[2].length } : undefined;
}

/** XML white space (XML 1.0 §2.3 `S`: space, tab, CR, LF), which JSON's (RFC 8259 §2) is too. */
function isXmlSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a;
}

/**
 * The byte order of UTF-16 text without a byte order mark, told from its first character that is
 * not white space (XML 1.0 Appendix F; RFC 8259 §2 allows white space before JSON too): `<` or `{`
 * as `3C 00` / `7B 00` little-endian or `00 3C` / `00 7B` big-endian, after any number of white
 * space characters in the same byte order (`20 00`, `0A 00`, ... or `00 20`, `00 0A`, ...).
 * Undefined when the bytes do not start that way.
 */
function bomlessUtf16(input: Buffer): 'utf-16le' | 'utf-16be' | undefined {
  if (input.length < 2) return undefined;
  const le = input[1] === 0 && input[0] !== 0;
  const be = input[0] === 0 && input[1] !== 0;
  if (!le && !be) return undefined;
  // The significant byte of each unit: the first little-endian, the second big-endian.
  const at = le ? 0 : 1;
  for (let i = 0; i + 1 < input.length; i += 2) {
    const byte = input[i + at];
    if (input[i + 1 - at] !== 0) return undefined;
    if (isXmlSpace(byte)) continue;
    return byte === 0x3c || byte === 0x7b ? (le ? 'utf-16le' : 'utf-16be') : undefined;
  }
  return undefined;
}

/** Decoded report text and what was wrong with its encoding (offsets into the text). */
export interface DecodedReport {
  text: string;
  /** The encoding the bytes were read in (WHATWG name). */
  encoding: string;
  problems: Problem[];
}

/**
 * Decodes report bytes to text, as XML 1.0 §4.3.3 and Appendix F have a processor do: a byte
 * order mark decides (UTF-8 `EF BB BF`, UTF-16 big-endian `FE FF` or little-endian `FF FE`; it
 * is removed and wins over the declaration); without one, UTF-16 is recognised from its first
 * character after any leading white space (`3C 00` `<` little-endian, `00 3C` big-endian; JSON's
 * `{` likewise; `bomlessUtf16`), which XML
 * requires to have a BOM (a `report-encoding` warning); else the XML declaration's encoding is
 * honoured when the platform's TextDecoder knows it, and UTF-8 is the default (RFC 8460 requires it
 * for TLS-RPT). A declaration that names UTF-16 in a file whose bytes are not UTF-16, an encoding
 * the platform does not know, and a declaration that contradicts the BOM are `report-encoding`
 * warnings, and the file is read as found. Every encoding decodes to at most one UTF-16 unit per
 * byte, so the text is never longer than the bytes and the size limits on bytes bound it too.
 * Never throws.
 */
export function decodeReportBytes(bytes: Buffer): DecodedReport {
  // Callers refuse files over the size limit (a finding) before decoding; this bound only keeps
  // a direct caller from reaching the platform's longest string (about 512 Mi characters).
  const input = bytes.length > MAX_DECODED_BYTES ? bytes.subarray(0, MAX_DECODED_BYTES) : bytes;
  const problems: Problem[] = [];
  const warn = (message: string, start: number, end: number): void => {
    problems.push(finding('report-encoding', message, start, end));
  };
  let encoding = 'utf-8';
  let bom = false;
  let bomless16 = false;
  if (input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf) bom = true;
  else if (input[0] === 0xff && input[1] === 0xfe) [encoding, bom] = ['utf-16le', true];
  else if (input[0] === 0xfe && input[1] === 0xff) [encoding, bom] = ['utf-16be', true];
  else {
    const order = bomlessUtf16(input);
    if (order !== undefined) [encoding, bomless16] = [order, true];
  }
  let declaredUnknown: string | undefined;
  if (!bom && !bomless16 && input[0] === 0x3c && input[1] === 0x3f) {
    const declared = declaredEncoding(input.subarray(0, 200).toString('latin1'));
    if (declared && !/^utf-?8$/i.test(declared.name) && !UTF16_NAME.test(declared.name)) {
      try {
        encoding = new TextDecoder(declared.name).encoding;
      } catch {
        declaredUnknown = declared.name;
      }
    }
  }
  let text: string;
  try {
    text = encoding === 'utf-8' ? utf8.decode(input) : new TextDecoder(encoding).decode(input);
  } catch {
    // Out of memory for the string: nothing is readable, which the parser reports as a finding.
    return { text: '', encoding, problems };
  }
  const declared = declaredEncoding(text.slice(0, 200));
  const at = (d: { name: string; start: number }): [number, number] => [d.start, d.start + d.name.length];
  if (bomless16) {
    warn(`the file is UTF-16 (${encoding === 'utf-16le' ? 'little' : 'big'}-endian) without a byte order mark, which XML 1.0 §4.3.3 requires of UTF-16: read as UTF-16`, 0, Math.min(1, text.length));
  }
  if (declared && encoding.startsWith('utf-16') && !UTF16_NAME.test(declared.name)) {
    warn(`the XML declaration says "${declared.name}", but the file is ${bom ? 'UTF-16 with a byte order mark' : 'UTF-16'}: read as UTF-16 (XML 1.0 Appendix F)`, ...at(declared));
  } else if (declared && bom && encoding === 'utf-8' && !/^utf-?8$/i.test(declared.name)) {
    warn(`the XML declaration says "${declared.name}", but the file starts with a UTF-8 byte order mark: read as UTF-8 (XML 1.0 Appendix F)`, ...at(declared));
  } else if (declared && encoding === 'utf-8' && UTF16_NAME.test(declared.name)) {
    warn(`the XML declaration says "${declared.name}", but the file has no byte order mark and its bytes are not UTF-16 (XML 1.0 §4.3.3 requires a BOM of UTF-16): read as UTF-8`, ...at(declared));
  } else if (declared && declaredUnknown !== undefined) {
    warn(`the XML declaration names the encoding "${declaredUnknown}", which this reader does not know: read as UTF-8`, ...at(declared));
  }
  return { text, encoding, problems };
}

/** Decodes report bytes to text (decodeReportBytes without its findings). */
export function decodeReportText(bytes: Buffer): string {
  return decodeReportBytes(bytes).text;
}

/** Parses report text whose kind is known from its first non-blank character. */
export function parseReportText(name: string, text: string, options: OpenOptions = {}): OpenedReport {
  const first = /\S/.exec(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)?.[0];
  const fileClaim = domainFromReportFileName(name.replace(/#.*$/, '')) ?? domainFromReportFileName(name.replace(/^.*#/, ''));
  const claimedDomain = options.claimedDomain ?? fileClaim;
  const claimSource = options.claimedDomain ? (options.claimSource ?? 'subject') : 'file name';
  if (first === '{' || first === '[') {
    const r = parseTlsRptJson(text, { claimedDomain, claimSource });
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
  const { text, problems: encodingProblems } = decodeReportBytes(data);
  const opened = parseReportText(inner, text, options);
  opened.problems = [...containerProblems, ...encodingProblems, ...opened.problems];
  if (options.keepText) opened.text = text;
  return [opened];
}
