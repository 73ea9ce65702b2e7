/**
 * `lintMessage`: the parser's lexical and structural problems plus the checks of each header field
 * (RFC 5322, RFC 2045–2049, RFC 2047, RFC 6532, RFC 6376, RFC 8601, RFC 8617) and of each body.
 */
import { OffsetRange, Problem } from '../../../common/problem';
import { checkAddressField } from './address';
import { checkArc, checkDkimSignature, parseAuthResults } from './authHeaders';
import { checkPartBody } from './bodyChecks';
import { parseDateTime } from './dateTime';
import { findEncodedWords } from './encodedWords';
import { isKnownCharset } from './facts/charsets';
import { headerFact, HeaderKind } from './facts/headers';
import { parseMimeValue } from './mimeParams';
import { clampProblems, HeaderField, MimePart, parseMessage, ParsedMessage } from './parser';
import { noteInternalError, ProblemSink } from './problems';
import { isSpecial, skipComment, tokenize } from './structured';

export interface LintOptions {
  /**
   * The message is the DATA of a `.smtp` script. Its lines are joined with CRLF when sent, so line
   * ending problems are skipped; the submission server adds Message-ID and may add Date (RFC 6409
   * §8.2, §8.3), so a missing Message-ID is not reported and a missing Date is a warning.
   */
  embedded?: boolean;
  /**
   * The file the text was read from starts with a UTF-8 byte-order mark that is not in the text:
   * VS Code removes the mark from a document it opens (and writes it back when it saves), so the
   * language server reads the file's first bytes and says so here (server/src/server.ts).
   */
  fileStartsWithBom?: boolean;
}

/** Kinds whose values hold encoded words only where RFC 2047 §5 allows them (phrases, comments, text). */
const NO_ENCODED_WORD_SCAN: ReadonlySet<HeaderKind> = new Set<HeaderKind>(['dkim', 'arc-seal', 'arc-message-signature', 'arc-auth-results', 'auth-results', 'received', 'content-type', 'content-disposition', 'msg-id', 'msg-id-list', 'date', 'cte', 'mime-version']);

/** Lints a message; never throws. Problems are sorted by offset. */
export function lintMessage(text: string, options: LintOptions = {}): Problem[] {
  try {
    const parsed = parseMessage(text, { embedded: options.embedded });
    return lintParsed(parsed, options);
  } catch (error) {
    // The analysers are written not to throw; this keeps the editor alive should one still do so.
    noteInternalError(error);
    return [{ code: 'eml-header-syntax', severity: 'error', message: `Internal error while checking this message: ${String(error)}`, range: { start: 0, end: 0 } }];
  }
}

/** Lints an already parsed message. */
function lintParsed(parsed: ParsedMessage, options: LintOptions = {}): Problem[] {
  const text = parsed.text;
  const sink = new ProblemSink();
  const root = parsed.root;
  const hasMime = root.headers.some((h) => h.lname === 'mime-version');
  const international = internationalisedParts(text, root);
  for (const part of parsed.parts) {
    checkHeaderSection(text, part, sink, options, part === root, international.has(part));
    checkPartBody(text, part, hasMime || part !== root, sink, parsed.lineBreaks);
  }
  checkMimeVersion(text, root, sink);
  const bom = text.charCodeAt(0) === 0xfeff;
  if (bom || options.fileStartsWithBom === true) {
    // RFC 5322 §2.2: a field name is printable US-ASCII; verifiers and servers read the mark as part of it.
    // The problem is the point before the first character whether the mark is in the text (`smtpwb
    // lint`, an editor that keeps it) or only in the file (VS Code), so both report the same range.
    // Only a mark in the text can be removed by an edit; VS Code's is dropped by saving the file
    // with the encoding "UTF-8" instead of "UTF-8 with BOM".
    sink.add(
      'eml-bom',
      { start: 0, end: 0 },
      'The message starts with a UTF-8 byte-order mark (U+FEFF): servers and DKIM verifiers read it as part of the first field name. Save the file without a BOM.',
      bom ? { fixes: [{ title: 'Remove the byte-order mark', edits: [{ range: { start: 0, end: 1 }, newText: '' }], preferred: true }] } : undefined,
    );
  }
  const headerRanges = parsed.parts.map((part) => part.headerRange);
  let fffd = text.indexOf('\uFFFD');
  while (fffd !== -1) {
    const at = fffd;
    if (headerRanges.some((r) => r.start <= at && at < r.end)) {
      // The bytes were not UTF-8 when the file was read: RFC 6532 §3.1 allows only well-formed UTF-8 in fields.
      let end = at + 1;
      while (text.charCodeAt(end) === 0xfffd) end++;
      sink.add('eml-utf8-invalid', { start: at, end }, 'Bytes that are not valid UTF-8 in a header field (shown as U+FFFD): RFC 6532 §3.1 allows only well-formed UTF-8 there; encode the text with RFC 2047 encoded words.');
      fffd = text.indexOf('\uFFFD', end);
      continue;
    }
    sink.add('eml-replacement-char', { start: at, end: at + 1 }, 'A U+FFFD replacement character: the file was probably read with the wrong charset, and the original bytes are lost.');
    fffd = text.indexOf('\uFFFD', at + 1);
  }
  // A quoted-printable line over 76 characters is reported once, not also as a line over 78.
  const qpEnds = new Set(sink.problems.filter((p) => p.code === 'eml-qp-line-length').map((p) => p.range.end));
  let lexical = qpEnds.size === 0 ? parsed.problems : parsed.problems.filter((p) => p.code !== 'eml-line-over-78' || !qpEnds.has(p.range.end));
  // The byte-order mark is reported once, as itself, not also as a bad first field name.
  if (bom) lexical = lexical.filter((p) => !(p.range.start === 0 && (p.code === 'eml-header-name-invalid' || p.code === 'eml-header-syntax')));
  const all = lexical.concat(clampProblems(sink.problems, text.length));
  all.sort((a, b) => a.range.start - b.range.start || a.range.end - b.range.end);
  return all;
}

function checkMimeVersion(text: string, root: MimePart, sink: ProblemSink): void {
  const version = root.headers.find((h) => h.lname === 'mime-version');
  if (!version) {
    const mimeField = root.headers.find((h) => h.lname === 'content-type' || h.lname === 'content-transfer-encoding');
    if (mimeField) {
      const at = root.headers[0]?.range.start ?? root.headerRange.start;
      const eol = text.indexOf('\r\n') !== -1 ? '\r\n' : '\n';
      sink.add('eml-mime-version-missing', mimeField.nameRange, `${mimeField.name} is a MIME field, but the message has no \`MIME-Version: 1.0\`; readers may ignore the MIME fields (RFC 2045 §4).`, {
        fixes: [{ title: 'Add MIME-Version: 1.0', edits: [{ range: { start: at, end: at }, newText: `MIME-Version: 1.0${eol}` }], preferred: true }],
      });
    }
    return;
  }
  const { tokens } = tokenize(text, version.valueRange.start, version.valueRange.end);
  const value = tokens.map((t) => text.slice(t.start, t.end)).join('');
  if (value !== '1.0') {
    const range = tokens.length > 0 ? { start: tokens[0].start, end: tokens[tokens.length - 1].end } : version.nameRange;
    sink.add('eml-mime-version-value', range, `MIME-Version must be 1.0, not \`${value}\` (RFC 2045 §4).`, {
      fixes: [{ title: 'Change to 1.0', edits: [{ range, newText: '1.0' }], preferred: true }],
    });
  }
}

function valueIsBlank(text: string, field: HeaderField): boolean {
  for (let i = field.valueRange.start; i < field.valueRange.end; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 13 && c !== 10) return false;
  }
  return true;
}

/**
 * The parts whose header fields may hold raw UTF-8 (RFC 6532 §3): those inside a message/global
 * (RFC 6532 §3.7), and every part of a message whose trace fields show it travelled with SMTPUTF8
 * (a `Received: … with UTF8SMTP…` or `UTF8LMTP…` protocol, RFC 6531 §4.3).
 */
function internationalisedParts(text: string, root: MimePart): Set<MimePart> {
  const out = new Set<MimePart>();
  const viaSmtputf8 = root.headers.some((h) => h.lname === 'received' && /\bwith\s+UTF8(?:SMTP|LMTP)\w*/i.test(text.slice(h.valueRange.start, h.valueRange.end)));
  const walk = (part: MimePart, inside: boolean): void => {
    if (inside) out.add(part);
    for (const child of part.children) walk(child, inside || part.mediaType === 'message/global');
  };
  walk(root, viaSmtputf8);
  return out;
}

function checkHeaderSection(text: string, part: MimePart, sink: ProblemSink, options: LintOptions, isRoot: boolean, international: boolean): void {
  const isMessage = part.kind === 'message';
  const seen = new Map<string, HeaderField>();
  for (const field of part.headers) {
    // A byte-order mark before the first field is reported as eml-bom; the field is checked as what it was meant to be.
    const lname = field.lname.charCodeAt(0) === 0xfeff ? field.lname.slice(1) : field.lname;
    const fact = headerFact(lname);
    // Fields that may occur once (RFC 5322 §3.6); in body parts only the MIME fields apply (RFC 2045 §3).
    if (fact?.once && (isMessage || fact.rfc !== 5322)) {
      const first = seen.get(lname);
      if (first) {
        sink.add('eml-header-duplicate', field.nameRange, `${fact.name} may occur only once, and already occurs above (RFC ${fact.rfc} §${fact.section}); readers pick different copies.`);
      } else seen.set(lname, field);
    }
    checkUtf8(text, field, sink, international);
    const kind = fact?.kind ?? 'other';
    if (!NO_ENCODED_WORD_SCAN.has(kind) && !field.lname.startsWith('arc-')) {
      findEncodedWords(text, field.valueRange.start, field.valueRange.end, sink);
    }
    const blank = valueIsBlank(text, field);
    switch (kind) {
      case 'date':
        if (blank) emptyField(field, sink);
        else parseDateTime(text, field.valueRange.start, field.valueRange.end, sink);
        break;
      case 'mailbox':
      case 'mailbox-list':
      case 'address-list':
        if (blank) {
          // Bcc may be empty (RFC 5322 §3.6.3).
          if (field.lname !== 'bcc' && field.lname !== 'resent-bcc') emptyField(field, sink);
        } else checkAddressField(text, field.valueRange.start, field.valueRange.end, kind, fact?.name ?? field.name, sink);
        break;
      case 'msg-id':
      case 'msg-id-list':
        if (blank) emptyField(field, sink);
        else checkMsgIds(text, field, kind === 'msg-id', sink);
        break;
      case 'received':
        checkReceived(text, field, sink);
        break;
      case 'dkim':
        checkDkimSignature(text, field, sink);
        break;
      case 'auth-results':
        parseAuthResults(text, field.valueRange.start, field.valueRange.end, sink);
        break;
      case 'content-type':
        if (field === part.contentTypeField) checkContentTypeParams(part, sink);
        break;
      case 'content-disposition':
        parseMimeValue(text, field.valueRange.start, field.valueRange.end, sink, 'disposition');
        break;
      default:
        break;
    }
  }
  if (isMessage) checkArc(text, part.headers, sink);
  if (!isRoot) return;
  // Date and From are required (RFC 5322 §3.6); Message-ID should be present (§3.6.4).
  const anchor: OffsetRange = part.headers.length > 0 ? part.headers[0].nameRange : { start: part.headerRange.start, end: part.headerRange.start };
  for (const name of ['Date', 'From']) {
    if (!seen.has(name.toLowerCase())) {
      const embeddedDate = options.embedded && name === 'Date';
      sink.add('eml-header-missing', anchor, `The message has no ${name} field, which RFC 5322 §3.6 requires${embeddedDate ? '; a submission server may add it (RFC 6409 §8.2)' : ''}.`, embeddedDate ? { severity: 'warning' } : undefined);
    }
  }
  if (!seen.has('message-id') && !options.embedded) {
    sink.add('eml-message-id-missing', anchor, 'The message has no Message-ID; every message should have one (RFC 5322 §3.6.4).');
  }
  const from = seen.get('from');
  if (from && !seen.has('sender')) {
    const silent = new ProblemSink();
    const result = checkAddressField(text, from.valueRange.start, from.valueRange.end, 'mailbox-list', 'From', silent);
    if (result.mailboxes.length > 1) {
      sink.add('eml-sender-required', from.nameRange, `From lists ${result.mailboxes.length} mailboxes, so a Sender field must name the one who sent the message (RFC 5322 §3.6.2).`);
    }
  }
}

function emptyField(field: HeaderField, sink: ProblemSink): void {
  sink.add('eml-header-empty', field.range, `${field.name} is empty; it needs a value (RFC 5322 §3.6).`);
}

/**
 * RFC 6532 §3 allows UTF-8 in header fields only where the message travels with SMTPUTF8: a warning
 * when the message declares no such context, a note when it does. A U+FFFD is invalid UTF-8, reported
 * as such; a byte-order mark at the start is reported as itself.
 */
function checkUtf8(text: string, field: HeaderField, sink: ProblemSink, international: boolean): void {
  for (let i = field.range.start; i < field.range.end; i++) {
    const c = text.charCodeAt(i);
    if (c > 127 && c !== 0xfffd && !(i === 0 && c === 0xfeff)) {
      let j = i;
      while (j < field.range.end && text.charCodeAt(j) > 127 && text.charCodeAt(j) !== 0xfffd) j++;
      if (international) {
        sink.add('eml-utf8-header', { start: i, end: j }, `Raw UTF-8 in the ${field.name} field, allowed here because the message travels with SMTPUTF8 (RFC 6532 §3).`, { severity: 'info' });
      } else {
        sink.add('eml-utf8-header', { start: i, end: j }, `Raw UTF-8 in the ${field.name} field, but nothing declares an internationalised message: it can only be sent to servers that support SMTPUTF8 (RFC 6532 §3, RFC 6531). Use encoded words (RFC 2047) for a plain ASCII header.`);
      }
      return;
    }
  }
}

function checkContentTypeParams(part: MimePart, sink: ProblemSink): void {
  const charset = part.contentType?.params.get('charset');
  if (charset && !isKnownCharset(charset.value)) {
    sink.add('eml-charset-unknown', charset.valueRange, `Charset \`${charset.value}\` is not registered with IANA; readers may show the text wrongly (RFC 2046 §4.1.2).`);
  }
}

/** Checks `<left@right>` message identifiers (RFC 5322 §3.6.4). */
function checkMsgIds(text: string, field: HeaderField, single: boolean, sink: ProblemSink): void {
  const { tokens, error } = tokenize(text, field.valueRange.start, field.valueRange.end);
  if (error) {
    sink.add('eml-message-id-syntax', error, `${error.message} (RFC 5322 §3.6.4).`);
    return;
  }
  let i = 0;
  let count = 0;
  while (i < tokens.length) {
    const open = tokens[i];
    if (!isSpecial(text, open, '<')) {
      // obs-references and obs-in-reply-to allow phrases between identifiers (RFC 5322 §4.5.4).
      if (!single && (open.kind === 'atom' || open.kind === 'quoted' || isSpecial(text, open, ','))) {
        i++;
        continue;
      }
      let j = i;
      while (j < tokens.length && !isSpecial(text, tokens[j], '<')) j++;
      sink.add('eml-message-id-syntax', { start: open.start, end: tokens[j - 1].end }, 'A message identifier is written `<left@right>` with angle brackets (RFC 5322 §3.6.4).');
      i = j;
      continue;
    }
    let j = i + 1;
    while (j < tokens.length && !isSpecial(text, tokens[j], '>')) j++;
    const range = { start: open.start, end: j < tokens.length ? tokens[j].end : tokens[tokens.length - 1].end };
    count++;
    if (j >= tokens.length) {
      sink.add('eml-message-id-syntax', range, 'The message identifier is never closed with `>` (RFC 5322 §3.6.4).');
      return;
    }
    const inner = tokens.slice(i + 1, j);
    const at = inner.findIndex((t) => isSpecial(text, t, '@'));
    let ok = at > 0 && at < inner.length - 1 && inner.every((t, k) => k === 0 || !t.spaced) && !tokens[j].spaced;
    if (ok) {
      ok = dotAtom(text, inner.slice(0, at)) && (dotAtom(text, inner.slice(at + 1)) || (inner.length - at - 1 === 1 && inner[at + 1].kind === 'literal'));
    }
    if (!ok) {
      sink.add('eml-message-id-syntax', range, 'A message identifier is `<left@right>` where both sides are dot-atoms without spaces, e.g. `<20261123.1234@host.example>` (RFC 5322 §3.6.4).');
    } else if (text.slice(range.start, range.end).includes('=?')) {
      sink.add('eml-ew-in-addr-spec', range, 'Encoded words must not appear in a message identifier (RFC 2047 §5).');
    }
    i = j + 1;
  }
  if (single && count > 1) {
    sink.add('eml-message-id-syntax', field.valueRange, `${field.name} holds exactly one identifier (RFC 5322 §3.6.4).`);
  }
}

function dotAtom(text: string, tokens: Array<{ kind: string; start: number; end: number }>): boolean {
  if (tokens.length === 0 || tokens.length % 2 === 0) return false;
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    if (k % 2 === 0 ? t.kind !== 'atom' : !(t.kind === 'special' && text[t.start] === '.')) return false;
  }
  return true;
}

/** Finds the last `;` outside comments of a Received field: the date-time follows it (RFC 5321 §4.4). */
export function receivedDateStart(text: string, field: HeaderField): number {
  let last = -1;
  for (let i = field.valueRange.start; i < field.valueRange.end; i++) {
    const c = text.charCodeAt(i);
    if (c === 40) {
      const after = skipComment(text, i, field.valueRange.end);
      if (after === -1) break;
      i = after - 1;
    } else if (c === 59) last = i;
  }
  return last;
}

function checkReceived(text: string, field: HeaderField, sink: ProblemSink): void {
  const semi = receivedDateStart(text, field);
  if (semi !== -1) parseDateTime(text, semi + 1, field.valueRange.end, sink);
}
