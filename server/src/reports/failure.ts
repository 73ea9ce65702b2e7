/**
 * DMARC failure reports (RFC 9991), which use the Abuse Reporting Format (RFC 5965) with the
 * authentication-failure extensions of RFC 6591: a multipart/report message (RFC 6522) whose
 * `message/feedback-report` part holds the machine-readable fields, followed by the original
 * message or its header. Offsets are into the message read as latin1 (one char per octet).
 * Never throws.
 */
import type { Problem } from '../../../common/problem';
import { withinDomain } from './aggregate';
import { attachmentFileName } from './attachmentName';
import { tokenize } from '../eml/structured';
import { finding } from './reportProblems';
import { utf8FieldValue } from '../../../common/mailText';

export interface FailureReport {
  kind: 'dmarc-failure';
  /** Every field of the feedback-report part, names lower-cased, values unfolded, in order. */
  fields: Array<{ name: string; value: string }>;
  feedbackType: string;
  userAgent: string;
  version: string;
  authFailure?: string;
  reportedDomain?: string;
  sourceIp?: string;
  arrivalDate?: string;
  originalMailFrom?: string;
  originalRcptTo: string[];
  deliveryResult?: string;
  dkimDomain?: string;
  dkimSelector?: string;
  spfDns?: string;
  identityAlignment?: string;
  /** From the returned original message or header part. */
  originalFrom?: string;
  originalSubject?: string;
  subject?: string;
}

export interface FailureParse {
  report: FailureReport | undefined;
  problems: Problem[];
}

interface Field {
  name: string;
  value: string;
  start: number;
  end: number;
}

function parseHeader(text: string, start: number, end: number): Field[] {
  const fields: Field[] = [];
  const re = /[^\r\n]*(?:\r?\n|$)/g;
  re.lastIndex = start;
  while (re.lastIndex < end) {
    const lineStart = re.lastIndex;
    const m = re.exec(text);
    if (!m || m[0] === '') break;
    const line = m[0].replace(/\r?\n$/, '');
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length > 0) {
      fields[fields.length - 1].value += ' ' + line.trim();
      fields[fields.length - 1].end = lineStart + line.length;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim(), start: lineStart, end: lineStart + line.length });
  }
  return fields;
}

/** The end of the header section starting at `start` and where the body starts. */
function headerBounds(text: string, start: number, limit: number): { headerEnd: number; bodyStart: number } {
  const re = /\r?\n\r?\n/g;
  re.lastIndex = start;
  const m = re.exec(text);
  if (!m || m.index >= limit) return { headerEnd: limit, bodyStart: limit };
  return { headerEnd: m.index, bodyStart: m.index + m[0].length };
}

/**
 * A structured field value with its comments blanked out: MIME fields are structured (RFC 2045
 * §5.1 Content-Type, §6.1 Content-Transfer-Encoding), so comments (RFC 822 §3.1.4, nested, with
 * quoted pairs) may stand between their tokens, as in `base64 (sent by X)`. Quoted strings are
 * kept as they are, so a `(` inside a quoted boundary stays.
 */
function uncommented(value: string): string {
  const { comments } = tokenize(value, 0, value.length);
  let out = '';
  let at = 0;
  for (const c of comments) {
    out += value.slice(at, c.start) + ' ';
    at = c.end;
  }
  return out + value.slice(at);
}

function param(value: string, name: string): string | undefined {
  const m = new RegExp(`;\\s*${name}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, 'i').exec(uncommented(value));
  return m ? (m[1] ?? m[2]) : undefined;
}

/** The media type of a Content-Type value, lower-cased, without parameters or comments (RFC 2045 §5.1). */
function mediaType(value: string | undefined): string {
  return uncommented(value ?? 'text/plain').split(';')[0].replace(/\s+/g, '').toLowerCase();
}

interface Part {
  headerStart: number;
  headerEnd: number;
  bodyStart: number;
  end: number;
  fields: Field[];
}

/** Splits a multipart body into its parts (RFC 2046 §5.1.1). */
function splitParts(text: string, start: number, end: number, boundary: string): Part[] {
  const parts: Part[] = [];
  const delimiter = '--' + boundary;
  let pos = text.indexOf(delimiter, start);
  while (pos >= 0 && pos < end) {
    const lineEnd = text.indexOf('\n', pos);
    if (text.startsWith(delimiter + '--', pos) || lineEnd < 0) break;
    const partStart = lineEnd + 1;
    let next = text.indexOf('\n' + delimiter, partStart - 1);
    if (next < 0 || next > end) next = end;
    const partEnd = next > 0 && text[next - 1] === '\r' ? next - 1 : next;
    const { headerEnd, bodyStart } = headerBounds(text, partStart, partEnd);
    parts.push({ headerStart: partStart, headerEnd, bodyStart, end: partEnd, fields: parseHeader(text, partStart, headerEnd) });
    pos = next + 1;
    if (next === end) break;
  }
  return parts;
}

function get(fields: Field[], name: string): Field | undefined {
  return fields.find((f) => f.name === name);
}

/**
 * The mechanism of a Content-Transfer-Encoding value: a token, compared without regard to case,
 * in a structured field where comments and white space may surround it (RFC 2045 §6.1, RFC 822
 * §3.1.4), as `base64 (sent by X)` is; the eml parser reads it the same way (eml/parser.ts).
 */
function transferEncoding(value: string): string {
  return uncommented(value).trim().toLowerCase();
}

/**
 * A part's body with its Content-Transfer-Encoding undone (RFC 2045 §6.7 quoted-printable, §6.8
 * base64; 7bit, 8bit and binary as they are), as latin1 text (one char per octet), and whether it
 * was encoded (then offsets into it are not offsets into the message).
 */
function partBody(text: string, fields: Field[], bodyStart: number, end: number): { text: string; encoded: boolean } {
  const encoding = transferEncoding(get(fields, 'content-transfer-encoding')?.value ?? '7bit');
  const body = text.slice(bodyStart, end);
  if (encoding === 'base64') return { text: Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64').toString('latin1'), encoded: true };
  if (encoding === 'quoted-printable') {
    return { text: body.replace(/=[ \t]*\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), encoded: true };
  }
  return { text: body, encoded: false };
}

/**
 * The fields of a part whose body is a header-like block (a feedback report, RFC 5965 §3.1; a
 * returned header, RFC 6522 §3). When the body is transfer-encoded (a base64 feedback report, which
 * RFC 5965 §2 does not forbid and some receivers send), the fields are read from the decoded body
 * and each field's range is the whole encoded body, the closest place in the message.
 */
function bodyFields(text: string, part: Part): Field[] {
  const body = partBody(text, part.fields, part.bodyStart, part.end);
  if (!body.encoded) return parseHeader(text, part.bodyStart, part.end);
  return parseHeader(body.text, 0, body.text.length).map((f) => ({ ...f, start: part.bodyStart, end: part.end }));
}

/** The domain of the first address in a From field value (read as UTF-8 when it is: RFC 6532), U-labels included. */
function fromDomain(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const m = /@([\p{L}\p{M}\p{N}.-]+)\s*>?/u.exec(utf8FieldValue(value));
  return m ? m[1].toLowerCase() : undefined;
}

/** Parses a failure report message (the raw message as latin1 text). Never throws. */
export function parseFailureReport(text: string): FailureParse {
  const problems: Problem[] = [];
  const top = headerBounds(text, 0, text.length);
  const topFields = parseHeader(text, 0, top.headerEnd);
  const ct = get(topFields, 'content-type')?.value;
  const subject = get(topFields, 'subject')?.value;
  let reportPart: Part | undefined;
  let original: Part | undefined;
  // Find the feedback-report part, one level of nesting deep or two (a forwarded report).
  const search = (contentType: string | undefined, start: number, end: number, depth: number): void => {
    const boundary = contentType ? param(contentType, 'boundary') : undefined;
    if (!boundary || depth > 3) return;
    for (const part of splitParts(text, start, end, boundary)) {
      const type = mediaType(get(part.fields, 'content-type')?.value);
      if (type === 'message/feedback-report' && !reportPart) reportPart = part;
      else if ((type === 'message/rfc822' || type === 'text/rfc822-headers') && !original) original = part;
      else if (type.startsWith('multipart/')) search(get(part.fields, 'content-type')?.value, part.bodyStart, part.end, depth + 1);
    }
  };
  if (mediaType(ct) === 'multipart/report' || mediaType(ct).startsWith('multipart/')) search(ct, top.bodyStart, text.length, 0);
  if (!reportPart) {
    problems.push(finding('arf-no-report', 'the message has no message/feedback-report part (RFC 5965 §2: a multipart/report with report-type=feedback-report)', 0, Math.max(1, top.headerEnd)));
    return { report: undefined, problems };
  }
  const rp: Part = reportPart;
  // The feedback-report body is itself a header-like block of fields (RFC 5965 §3.1).
  const fields = bodyFields(text, rp);
  const value = (name: string): string | undefined => get(fields, name)?.value;
  for (const required of ['feedback-type', 'user-agent', 'version']) {
    if (!get(fields, required)) problems.push(finding('arf-missing', `the feedback report has no ${required} field (RFC 5965 §3.1)`, rp.bodyStart, Math.min(rp.end, rp.bodyStart + 1)));
  }
  const version = get(fields, 'version');
  if (version && version.value !== '1') problems.push(finding('arf-value', `Version is "${version.value}"; RFC 5965 §3.1 defines 1`, version.start, version.end));
  const ft = get(fields, 'feedback-type');
  const feedbackType = (ft?.value ?? '').toLowerCase();
  if (ft && !['abuse', 'fraud', 'other', 'virus', 'auth-failure', 'not-spam'].includes(feedbackType)) {
    problems.push(finding('arf-value', `Feedback-Type is "${ft.value}", not a registered type (RFC 5965 §7.3, RFC 6591)`, ft.start, ft.end, 'warning'));
  }
  if (feedbackType === 'auth-failure') {
    // RFC 6591 §3.1: an auth-failure report carries Auth-Failure; RFC 9991 asks for Reported-Domain.
    for (const required of ['auth-failure', 'reported-domain']) {
      if (!get(fields, required)) problems.push(finding('arf-missing', `an auth-failure report has no ${required} field (RFC 6591 §3.1, RFC 9991)`, rp.bodyStart, Math.min(rp.end, rp.bodyStart + 1)));
    }
    const af = get(fields, 'auth-failure');
    if (af && !['adsp', 'bodyhash', 'revoked', 'signature', 'spf', 'dmarc'].includes(af.value.toLowerCase())) {
      problems.push(finding('arf-value', `Auth-Failure is "${af.value}", not a registered value (RFC 6591 §3.1, RFC 7489 §7.3.1)`, af.start, af.end, 'warning'));
    }
  }
  let originalFrom: string | undefined;
  let originalSubject: string | undefined;
  const orig: Part | undefined = original;
  if (orig) {
    // A returned header (text/rfc822-headers) may be base64 too; a message/rfc822 part may not (RFC 2046 §5.2.1).
    const body = partBody(text, orig.fields, orig.bodyStart, orig.end);
    const innerFields = body.encoded ? parseHeader(body.text, 0, headerBounds(body.text, 0, body.text.length).headerEnd) : parseHeader(text, orig.bodyStart, headerBounds(text, orig.bodyStart, orig.end).headerEnd);
    originalFrom = get(innerFields, 'from')?.value;
    originalSubject = get(innerFields, 'subject')?.value;
  }
  const reported = get(fields, 'reported-domain');
  const fd = fromDomain(originalFrom);
  // Both are compared in A-labels (withinDomain, normalForm.ts), so bücher.example and
  // xn--bcher-kva.example are one domain (RFC 5890 §2.3.2.1).
  const reportedDomain = reported ? utf8FieldValue(reported.value) : undefined;
  if (reported && reportedDomain !== undefined && fd && !withinDomain(fd, reportedDomain)) {
    problems.push(finding('arf-domain-mismatch', `Reported-Domain is "${reportedDomain}" but the original message is from "${fd}"`, reported.start, reported.end));
  }
  const report: FailureReport = {
    kind: 'dmarc-failure',
    fields: fields.map((f) => ({ name: f.name, value: f.value })),
    feedbackType,
    userAgent: value('user-agent') ?? '',
    version: value('version') ?? '',
    originalRcptTo: fields.filter((f) => f.name === 'original-rcpt-to').map((f) => f.value),
  };
  const optional: Array<[keyof FailureReport, string]> = [
    ['authFailure', 'auth-failure'],
    ['reportedDomain', 'reported-domain'],
    ['sourceIp', 'source-ip'],
    ['arrivalDate', 'arrival-date'],
    ['originalMailFrom', 'original-mail-from'],
    ['deliveryResult', 'delivery-result'],
    ['dkimDomain', 'dkim-domain'],
    ['dkimSelector', 'dkim-selector'],
    ['spfDns', 'spf-dns'],
    ['identityAlignment', 'identity-alignment'],
  ];
  for (const [key, name] of optional) {
    // Field values are read as UTF-8 when they are (RFC 6532: an SMTPUTF8 report may carry U-labels).
    const v = value(name);
    if (v !== undefined) (report as unknown as Record<string, string>)[key] = utf8FieldValue(v);
  }
  if (originalFrom !== undefined) report.originalFrom = utf8FieldValue(originalFrom);
  if (originalSubject !== undefined) report.originalSubject = originalSubject;
  if (subject !== undefined) report.subject = subject;
  return { report, problems };
}

/** A report attached to a mail (an aggregate or TLS-RPT report sent to a rua= address). */
export interface ReportAttachment {
  filename: string;
  contentType: string;
  data: Buffer;
}

const REPORT_TYPES = [
  'application/gzip',
  'application/x-gzip',
  'application/zip',
  'application/x-zip-compressed',
  'application/xml',
  'text/xml',
  'application/tlsrpt+gzip',
  'application/tlsrpt+json',
  'application/octet-stream',
];

/**
 * The report attachments of a message (the raw message as latin1 text): parts whose type is one
 * reports use (RFC 7489 §7.2.1.1, RFC 8460 §5.3) or whose file name ends in a report extension,
 * decoded from base64 or quoted-printable. A message that is itself a single report part counts.
 */
export function reportAttachments(text: string): ReportAttachment[] {
  const out: ReportAttachment[] = [];
  const visit = (fields: Field[], bodyStart: number, end: number, depth: number): void => {
    const ct = get(fields, 'content-type')?.value;
    const type = mediaType(ct);
    if (type.startsWith('multipart/')) {
      const boundary = ct ? param(ct, 'boundary') : undefined;
      if (!boundary || depth > 4) return;
      for (const part of splitParts(text, bodyStart, end, boundary)) visit(part.fields, part.bodyStart, part.end, depth + 1);
      return;
    }
    const cd = get(fields, 'content-disposition')?.value ?? '';
    const filename = attachmentFileName(cd, ct);
    const byName = /\.(xml|xml\.gz|zip|json|json\.gz|gz)$/i.test(filename);
    if (!byName && !(REPORT_TYPES.includes(type) && type !== 'application/octet-stream')) return;
    out.push({ filename, contentType: type, data: Buffer.from(partBody(text, fields, bodyStart, end).text, 'latin1') });
  };
  const top = headerBounds(text, 0, text.length);
  visit(parseHeader(text, 0, top.headerEnd), top.bodyStart, text.length, 0);
  return out;
}

/** The Subject field of a message, unfolded (for the "Report Domain:" claim). */
export function messageSubject(text: string): string | undefined {
  const top = headerBounds(text, 0, text.length);
  return get(parseHeader(text, 0, top.headerEnd), 'subject')?.value;
}
