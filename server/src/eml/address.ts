/**
 * Checks address fields (RFC 5322 §3.4): address lists made of mailboxes and groups, mailboxes with
 * display names and angle addresses, quoted local-parts, comments and domain literals. It reports
 * syntax errors with the range of the offending address and returns the mailboxes it found.
 */
import { OffsetRange, TextEdit } from '../../../common/problem';
import { ProblemSink } from './problems';
import { findEncodedWord, indexOfWithin, isSpecial, Token, tokenize } from './structured';

export interface Mailbox {
  range: OffsetRange;
  displayName?: OffsetRange;
  addrSpec: OffsetRange;
  /** The group the mailbox belongs to, if any. */
  group?: string;
}

export interface AddressListResult {
  mailboxes: Mailbox[];
  groups: number;
  /** The number of top-level addresses (mailboxes and groups). */
  addresses: number;
}

type Mode = 'address-list' | 'mailbox-list' | 'mailbox';

/**
 * Parses the value of an address field in `text[start, end)` and reports problems to `sink`.
 * `mode` is 'address-list' (To, Cc, Reply-To…), 'mailbox-list' (From) or 'mailbox' (Sender).
 */
export function checkAddressField(text: string, start: number, end: number, mode: Mode, fieldName: string, sink: ProblemSink): AddressListResult {
  // Comments may hold encoded words (RFC 2047 §5 (2)), so they need no check here.
  const { tokens, error } = tokenize(text, start, end);
  const result: AddressListResult = { mailboxes: [], groups: 0, addresses: 0 };
  if (error) {
    sink.add('eml-address-syntax', { start: error.start, end: error.end }, `${error.message} (RFC 5322 §3.2).`);
    return result;
  }
  let i = 0;
  let emptyReported = false;
  while (i < tokens.length) {
    if (isSpecial(text, tokens[i], ',')) {
      // obs-addr-list allows empty elements (RFC 5322 §4.4).
      if (!emptyReported) {
        sink.add('eml-address-obsolete', { start: tokens[i].start, end: tokens[i].end }, 'An empty element in an address list is obsolete syntax (RFC 5322 §4.4).');
        emptyReported = true;
      }
      i++;
      continue;
    }
    const next = parseAddress(text, tokens, i, mode, fieldName, result, sink, false);
    result.addresses++;
    i = next;
    if (i < tokens.length) {
      if (isSpecial(text, tokens[i], ',')) i++;
      else {
        const stop = skipTo(text, tokens, i, ',');
        sink.add('eml-address-syntax', { start: tokens[i].start, end: tokens[Math.max(i, stop - 1)].end }, 'Expected `,` between addresses (RFC 5322 §3.4).');
        i = stop + 1;
      }
    }
  }
  if (mode === 'mailbox' && result.mailboxes.length > 1) {
    sink.add('eml-address-single', { start, end }, `${fieldName} takes exactly one mailbox (RFC 5322 §3.6.2).`);
  }
  return result;
}

function skipTo(text: string, tokens: Token[], i: number, ch: string): number {
  let j = i;
  while (j < tokens.length && !isSpecial(text, tokens[j], ch)) j++;
  return j;
}

/** True when the token is a word (atom or quoted string, RFC 5322 §3.2.5). */
function isWord(t: Token | undefined): boolean {
  return t !== undefined && (t.kind === 'atom' || t.kind === 'quoted');
}

/** Parses one address starting at token `i`; returns the index of the token after it. */
function parseAddress(text: string, tokens: Token[], i: number, mode: Mode, fieldName: string, result: AddressListResult, sink: ProblemSink, inGroup: boolean, group?: string): number {
  const start = i;
  // Read a phrase (display name, or the local part of a bare addr-spec).
  let j = i;
  let phraseDot = -1;
  while (j < tokens.length && (isWord(tokens[j]) || isSpecial(text, tokens[j], '.'))) {
    if (isSpecial(text, tokens[j], '.') && phraseDot === -1) phraseDot = j;
    j++;
  }
  const t = tokens[j];
  if (isSpecial(text, t, '@')) {
    // A bare addr-spec: local-part "@" domain.
    const end = parseAddrSpecFrom(text, tokens, start, j, sink);
    const range = { start: tokens[start].start, end: tokens[end - 1].end };
    result.mailboxes.push({ range, addrSpec: range, group });
    return end;
  }
  if (isSpecial(text, t, '<')) {
    if (j > start) {
      checkPhrase(text, tokens, start, j, sink);
    }
    const close = skipTo(text, tokens, j + 1, '>');
    if (close >= tokens.length) {
      sink.add('eml-address-syntax', { start: tokens[j].start, end: tokens[tokens.length - 1].end }, 'The angle address is never closed with `>` (RFC 5322 §3.4).');
      return tokens.length;
    }
    let specStart = j + 1;
    // obs-route: "@domain,@domain:" before the addr-spec (RFC 5322 §4.4).
    if (isSpecial(text, tokens[specStart], '@')) {
      const colon = skipTo(text, tokens, specStart, ':');
      if (colon < close) {
        sink.add('eml-address-obsolete', { start: tokens[specStart].start, end: tokens[colon].end }, 'A source route before the address is obsolete syntax (RFC 5322 §4.4); remove it.');
        specStart = colon + 1;
      }
    }
    if (specStart === close) {
      // `<>` is the null reverse-path of SMTP, not a mailbox.
      sink.add('eml-address-syntax', { start: tokens[j].start, end: tokens[close].end }, 'An empty angle address `<>` is not a mailbox (RFC 5322 §3.4).');
    } else {
      const at = findAt(text, tokens, specStart, close);
      if (at === -1) {
        sink.add('eml-address-syntax', { start: tokens[specStart].start, end: tokens[close - 1].end }, 'An address needs `local-part@domain` (RFC 5322 §3.4.1).');
      } else {
        const end = parseAddrSpecFrom(text, tokens, specStart, at, sink, close);
        if (end < close) {
          sink.add('eml-address-syntax', { start: tokens[end].start, end: tokens[close - 1].end }, 'Unexpected text inside the angle address (RFC 5322 §3.4).');
        }
      }
    }
    const range = { start: tokens[start].start, end: tokens[close].end };
    result.mailboxes.push({
      range,
      displayName: j > start ? { start: tokens[start].start, end: tokens[j - 1].end } : undefined,
      addrSpec: { start: tokens[j].end, end: tokens[close].start },
      group,
    });
    return close + 1;
  }
  if (isSpecial(text, t, ':') && j > start && !inGroup) {
    // A group: display-name ":" [group-list] ";" (RFC 5322 §3.4).
    checkPhrase(text, tokens, start, j, sink);
    const groupName = text.slice(tokens[start].start, tokens[j - 1].end);
    result.groups++;
    if (mode !== 'address-list') {
      sink.add('eml-address-group-not-allowed', { start: tokens[start].start, end: tokens[j].end }, `${fieldName} takes mailboxes, not groups (RFC 5322 §3.6.2).`);
    }
    let k = j + 1;
    while (k < tokens.length && !isSpecial(text, tokens[k], ';')) {
      if (isSpecial(text, tokens[k], ',')) {
        k++;
        continue;
      }
      const next = parseAddress(text, tokens, k, 'mailbox-list', fieldName, result, sink, true, groupName);
      if (next === k) k++;
      else k = next;
      if (k < tokens.length && !isSpecial(text, tokens[k], ',') && !isSpecial(text, tokens[k], ';')) {
        sink.add('eml-address-syntax', { start: tokens[k].start, end: tokens[k].end }, 'Expected `,` or `;` in the group (RFC 5322 §3.4).');
        k = skipToAny(text, tokens, k);
      }
    }
    if (k >= tokens.length) {
      sink.add('eml-address-syntax', { start: tokens[start].start, end: tokens[tokens.length - 1].end }, 'The group is never closed with `;` (RFC 5322 §3.4).', {
        fixes: [{ title: 'Close the group with `;`', edits: [{ range: { start: tokens[tokens.length - 1].end, end: tokens[tokens.length - 1].end }, newText: ';' }] }],
      });
      return tokens.length;
    }
    return k + 1;
  }
  // Anything else is not an address.
  const stop = inGroup ? skipToAny(text, tokens, Math.max(j, i)) : skipTo(text, tokens, Math.max(j, i), ',');
  const last = Math.max(i, Math.min(stop, tokens.length) - 1);
  const range = { start: tokens[i].start, end: tokens[Math.min(last, tokens.length - 1)].end };
  sink.add('eml-address-syntax', range, j > start && (t === undefined || isSpecial(text, t, ',')) ? `\`${text.slice(range.start, range.end)}\` is not an address: it has no \`@domain\` (RFC 5322 §3.4).` : 'This is not a mailbox or group (RFC 5322 §3.4).');
  return Math.max(stop, i + 1);
}

function skipToAny(text: string, tokens: Token[], i: number): number {
  let j = i;
  while (j < tokens.length && !isSpecial(text, tokens[j], ',') && !isSpecial(text, tokens[j], ';')) j++;
  return j;
}

function findAt(text: string, tokens: Token[], from: number, to: number): number {
  for (let k = from; k < to; k++) if (isSpecial(text, tokens[k], '@')) return k;
  return -1;
}

/** Checks a display name: words, with `.` only in the obsolete form (RFC 5322 §4.1). */
function checkPhrase(text: string, tokens: Token[], from: number, to: number, sink: ProblemSink): void {
  for (let k = from; k < to; k++) {
    const t = tokens[k];
    if (isSpecial(text, t, '.')) {
      const edits = quotePhraseEdits(text, tokens, from, to);
      const whole = edits?.length === 1 && edits[0].range.start === tokens[from].start && edits[0].range.end === tokens[to - 1].end;
      sink.add('eml-address-obsolete', { start: t.start, end: t.end }, 'An unquoted `.` in a display name is obsolete syntax (RFC 5322 §4.1); quote the name.', {
        ...(edits ? { fixes: [{ title: whole ? 'Quote the display name' : 'Quote the words around the `.`', edits, preferred: true }] } : {}),
      });
      return;
    }
    if (t.kind === 'quoted' && findEncodedWord(text, t.start, t.end) !== -1) {
      sink.add('eml-ew-in-quoted', { start: t.start, end: t.end }, 'An encoded word inside a quoted string is not decoded by conforming readers (RFC 2047 §5 (3)); leave the display name unquoted.');
    }
  }
}

/** True when the token is, or holds, an encoded word (`=?…?=`), which must stay outside quotes. */
function isEncodedWordToken(text: string, token: Token): boolean {
  return token.kind === 'atom' && findEncodedWord(text, token.start, token.end) !== -1;
}

/**
 * The edits that quote the words of a display name (`phrase`, tokens `[from, to)`) around its
 * obsolete `.`s without changing what readers show, or undefined when no edit can do that. The name
 * is cut at encoded words and at comments: an encoded word inside quotes is no longer decoded
 * (RFC 2047 §5 (3)), and a comment inside quotes would become part of the name (RFC 5322 §3.2.2).
 * Each run of plain words between those cuts that holds a `.` becomes one quoted string whose
 * content is the run as written: atoms and dots as they are, quoted strings without their quotes
 * (their quoted pairs kept), and the white space between them (RFC 5322 §3.2.4). A run that touches an
 * encoded word without white space, or holds anything but words and dots, has no faithful quoting.
 */
function quotePhraseEdits(text: string, tokens: Token[], from: number, to: number): TextEdit[] | undefined {
  const edits: TextEdit[] = [];
  let k = from;
  while (k < to) {
    if (isEncodedWordToken(text, tokens[k])) {
      k++;
      continue;
    }
    let end = k + 1;
    while (end < to && !isEncodedWordToken(text, tokens[end]) && indexOfWithin(text, '(', tokens[end - 1].end, tokens[end].start) === -1) end++;
    const run = tokens.slice(k, end);
    if (run.some((t) => isSpecial(text, t, '.'))) {
      if (run.some((t) => t.kind !== 'atom' && t.kind !== 'quoted' && !isSpecial(text, t, '.'))) return undefined;
      // An encoded word must be separated from an adjacent word or special by white space (RFC 2047 §5 (3)).
      if (k > from && isEncodedWordToken(text, tokens[k - 1]) && !tokens[k].spaced) return undefined;
      if (end < to && isEncodedWordToken(text, tokens[end]) && !tokens[end].spaced) return undefined;
      let content = '';
      for (let i = 0; i < run.length; i++) {
        const t = run[i];
        if (i > 0) content += text.slice(run[i - 1].end, t.start);
        content += t.kind === 'quoted' ? text.slice(t.start + 1, t.end - 1) : text.slice(t.start, t.end);
      }
      edits.push({ range: { start: run[0].start, end: run[run.length - 1].end }, newText: `"${content}"` });
    }
    k = end;
  }
  return edits.length > 0 ? edits : undefined;
}

/**
 * Checks `local-part @ domain` whose `@` is token `at`; returns the index after the domain. The
 * local part is a dot-atom or a quoted string (RFC 5322 §3.4.1); mixtures are obsolete (§4.4).
 */
function parseAddrSpecFrom(text: string, tokens: Token[], from: number, at: number, sink: ProblemSink, limit = tokens.length): number {
  if (at === from) {
    sink.add('eml-address-syntax', { start: tokens[at].start, end: tokens[at].end }, 'The address has no local part before `@` (RFC 5322 §3.4.1).');
  } else {
    checkLocalPart(text, tokens, from, at, sink);
  }
  // Domain: dot-atom or domain literal.
  let k = at + 1;
  const domainStart = k;
  if (k < limit && tokens[k].kind === 'literal') {
    k++;
  } else {
    let expectWord = true;
    while (k < limit) {
      const t = tokens[k];
      if (expectWord && t.kind === 'atom') {
        if (k > domainStart && t.spaced) break;
        expectWord = false;
        k++;
      } else if (!expectWord && isSpecial(text, t, '.') && !t.spaced) {
        expectWord = true;
        k++;
      } else break;
    }
    if (k === domainStart) {
      sink.add('eml-address-syntax', { start: tokens[at].start, end: tokens[at].end }, 'The address has no domain after `@` (RFC 5322 §3.4.1).');
      return k;
    }
    if (expectWord) {
      sink.add('eml-address-syntax', { start: tokens[domainStart].start, end: tokens[k - 1].end }, 'The domain ends with `.` (RFC 5322 §3.4.1).');
    }
  }
  const domainRange = { start: tokens[domainStart].start, end: tokens[k - 1].end };
  if (findEncodedWord(text, domainRange.start, domainRange.end) !== -1) {
    sink.add('eml-ew-in-addr-spec', domainRange, 'Encoded words must not appear in an address (RFC 2047 §5 (3)).');
  }
  return k;
}

function checkLocalPart(text: string, tokens: Token[], from: number, at: number, sink: ProblemSink): void {
  const range = { start: tokens[from].start, end: tokens[at - 1].end };
  let expectWord = true;
  let obsolete = false;
  let bad = false;
  for (let k = from; k < at; k++) {
    const t = tokens[k];
    if (expectWord) {
      if (!isWord(t)) bad = true;
      else if (t.kind === 'quoted' && at - from > 1) obsolete = true;
      expectWord = false;
    } else if (isSpecial(text, t, '.')) expectWord = true;
    else bad = true;
    if (k > from && t.spaced) obsolete = true;
  }
  if (expectWord) bad = true;
  if (bad) {
    sink.add('eml-address-syntax', range, 'The local part must be a dot-atom (`first.last`) or a quoted string; it has consecutive, leading or trailing dots or stray characters (RFC 5322 §3.4.1).');
  } else if (obsolete) {
    sink.add('eml-address-obsolete', range, 'A local part mixing quoted strings and atoms, or with white space, is obsolete syntax (RFC 5322 §4.4).');
  }
  if (findEncodedWord(text, range.start, range.end) !== -1) {
    sink.add('eml-ew-in-addr-spec', range, 'Encoded words must not appear in an address (RFC 2047 §5 (3)).');
  }
}
