/**
 * The header-level half of the bulk-sender check: what a message's own header fields say about the
 * requirements Gmail and Yahoo set for bulk senders from February 2024, without DNS and without
 * verifying a signature. It is the one home of these decisions: `checkBulkSender`
 * (client/src/reports/bulkSender.ts) builds its unsubscribe results with it, passing which DKIM
 * signatures verified; the language server's `.eml` linter calls `bulkHeaderProblems`, which knows
 * no verification result and so only reports what the header fields alone decide.
 *
 * Pure; never throws. Offsets are into the message text (latin1 for bytes).
 */
import type { Problem, ProblemDefinition, Severity } from '../../../common/problem';
import { docsLink, rfcLink } from '../../../common/problem';

export type BulkStatus = 'pass' | 'fail' | 'unknown';

export interface BulkRequirement {
  code: string;
  status: BulkStatus;
  /** The severity when not passing (fail: error or warning; unknown: info). */
  severity: Severity;
  title: string;
  message: string;
  link: string;
  /** The header field concerned, as offsets into the message (latin1), when there is one. */
  range: { start: number; end: number };
}

export const GMAIL_SENDER_GUIDELINES = 'https://support.google.com/a/answer/81126';
export const YAHOO_SENDER_REQUIREMENTS = 'https://senders.yahooinc.com/best-practices/';

/** The catalogue of the bulk-sender codes, for diagnostics' links and `--list-codes`. */
export const BULK_PROBLEMS: readonly ProblemDefinition[] = [
  { code: 'bulk-spf', severity: 'error', summary: 'Bulk senders must pass SPF (needs the connecting IP: `smtpwb verify --bulk --ip`).', link: GMAIL_SENDER_GUIDELINES },
  { code: 'bulk-dkim', severity: 'error', summary: 'Bulk senders must sign with DKIM, and a signature must pass.', link: GMAIL_SENDER_GUIDELINES },
  { code: 'bulk-dmarc-record', severity: 'error', summary: 'A DMARC record (p=none at least) must be published at the organizational domain.', link: rfcLink(9989) },
  { code: 'bulk-from-alignment', severity: 'error', summary: 'The From domain must align with the passing DKIM d= or the SPF domain.', link: rfcLink(9989) },
  { code: 'bulk-list-unsubscribe', severity: 'error', summary: 'List-Unsubscribe must carry an https URI for one-click unsubscribe.', link: rfcLink(8058, '3.1') },
  { code: 'bulk-one-click', severity: 'error', summary: 'List-Unsubscribe-Post must be `List-Unsubscribe=One-Click`.', link: rfcLink(8058, '3.1') },
  { code: 'bulk-unsubscribe-signed', severity: 'error', summary: "A passing DKIM signature's h= must cover List-Unsubscribe and List-Unsubscribe-Post.", link: rfcLink(8058, '4') },
  { code: 'bulk-tls', severity: 'error', summary: 'The message must be sent over TLS.', link: GMAIL_SENDER_GUIDELINES },
  { code: 'bulk-fcrdns', severity: 'error', summary: 'The sending IP must have forward-confirmed reverse DNS.', link: GMAIL_SENDER_GUIDELINES },
];

/** The link of a bulk-sender code (docs/reports.md when the code is not in the catalogue). */
export function bulkProblemLink(code: string): string {
  return BULK_PROBLEMS.find((d) => d.code === code)?.link ?? docsLink('reports.md', 'bulk-sender-requirements');
}

export interface HeaderField {
  /** The field name, lower-cased. */
  name: string;
  /** The unfolded value, trimmed. */
  value: string;
  start: number;
  end: number;
}

/** The header fields with their offsets (RFC 5322 §2.2; unfolded values). */
export function messageHeaderFields(text: string): HeaderField[] {
  const m = /\r?\n\r?\n/.exec(text);
  const end = m ? m.index : text.length;
  const fields: HeaderField[] = [];
  const re = /[^\n]*\n?/g;
  let line: RegExpExecArray | null;
  while (re.lastIndex < end && (line = re.exec(text)) !== null && line[0] !== '') {
    const start = line.index;
    const content = line[0].replace(/\r?\n$/, '');
    if ((content.startsWith(' ') || content.startsWith('\t')) && fields.length > 0) {
      const f = fields[fields.length - 1];
      f.value += content;
      f.end = start + content.length;
      continue;
    }
    const colon = content.indexOf(':');
    if (colon <= 0) continue;
    fields.push({ name: content.slice(0, colon).trim().toLowerCase(), value: content.slice(colon + 1).trim(), start, end: start + content.length });
  }
  return fields;
}

/** The tags of a DKIM-Signature value (RFC 6376 §3.2). */
export function dkimTags(value: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).replace(/\s+/g, ''));
  }
  return tags;
}

/** The URIs of a List-Unsubscribe value: `<uri>, <uri>` (RFC 2369 §2). */
export function listUnsubscribeUris(value: string): string[] {
  return [...value.matchAll(/<([^>]*)>/g)].map((m) => m[1].trim());
}

/** The range of a field, or of the message's first character when there is none. */
export function fieldRange(text: string, f: HeaderField | undefined): { start: number; end: number } {
  return f ? { start: f.start, end: f.end } : { start: 0, end: Math.min(text.length, 1) };
}

/** Builds a requirement; the severity defaults from the status (a failure is an error). */
export function requirement(r: Omit<BulkRequirement, 'severity'> & { severity?: Severity }): BulkRequirement {
  return { ...r, severity: r.severity ?? (r.status === 'fail' ? 'error' : 'info') };
}

/**
 * Whether a DKIM signature verified: given by the caller that verified the message. Without it the
 * signatures are unverified, and only what h= names can be judged.
 */
export type SignatureVerified = (domain: string, selector: string) => boolean;

/**
 * The one-click unsubscribe requirements (RFC 8058): `List-Unsubscribe` with an https URI (§3.1),
 * `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (§3.1), and both covered by a passing DKIM
 * signature's h= (§4). Without `verified`, a signature that names both fields gives the status
 * `unknown` (only verification can say it passes); one that does not is a failure either way.
 */
export function unsubscribeRequirements(text: string, fields: readonly HeaderField[], verified?: SignatureVerified): BulkRequirement[] {
  const field = (name: string): HeaderField | undefined => fields.find((f) => f.name === name);
  const out: BulkRequirement[] = [];
  const lu = field('list-unsubscribe');
  const uris = lu ? listUnsubscribeUris(lu.value) : [];
  const https = uris.filter((u) => /^https:\/\//i.test(u));
  const mailto = uris.filter((u) => /^mailto:/i.test(u));
  out.push(
    requirement({
      code: 'bulk-list-unsubscribe',
      status: https.length > 0 ? 'pass' : 'fail',
      title: 'List-Unsubscribe has an https URI',
      message: !lu
        ? 'the message has no List-Unsubscribe field'
        : https.length > 0
          ? `List-Unsubscribe has ${https.length} https URI(s)${mailto.length > 0 ? ` and ${mailto.length} mailto URI(s)` : ''}`
          : `List-Unsubscribe has no https URI (${uris.length === 0 ? 'no <URI> at all' : uris.map((u) => u.split(':')[0]).join(', ')}); one-click unsubscribe needs one (RFC 8058 §3.1)`,
      link: rfcLink(8058, '3.1'),
      range: fieldRange(text, lu),
    }),
  );
  const lup = field('list-unsubscribe-post');
  const oneClick = lup !== undefined && lup.value.trim() === 'List-Unsubscribe=One-Click';
  out.push(
    requirement({
      code: 'bulk-one-click',
      status: oneClick ? 'pass' : 'fail',
      title: 'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
      message: !lup ? 'the message has no List-Unsubscribe-Post field' : oneClick ? 'List-Unsubscribe-Post asks for one-click unsubscribe' : `List-Unsubscribe-Post is "${lup.value}", not "List-Unsubscribe=One-Click" (RFC 8058 §3.1)`,
      link: rfcLink(8058, '3.1'),
      range: fieldRange(text, lup),
    }),
  );
  // Both fields covered by a passing signature (RFC 8058 §4): the signature's h= names them.
  const signatures = fields.filter((f) => f.name === 'dkim-signature').map((f) => ({ field: f, tags: dkimTags(f.value) }));
  const namesBothFields = (tags: Map<string, string>): boolean => {
    const h = (tags.get('h') ?? '').toLowerCase().split(':');
    return h.includes('list-unsubscribe') && h.includes('list-unsubscribe-post');
  };
  const covering = verified ? signatures.find((s) => namesBothFields(s.tags) && verified((s.tags.get('d') ?? '').toLowerCase(), (s.tags.get('s') ?? '').toLowerCase())) : undefined;
  const namesBoth = signatures.find((s) => namesBothFields(s.tags));
  const status: BulkStatus = !lu || !lup ? 'fail' : covering ? 'pass' : namesBoth && !verified ? 'unknown' : 'fail';
  out.push(
    requirement({
      code: 'bulk-unsubscribe-signed',
      status,
      title: 'The unsubscribe fields are covered by DKIM',
      message: !lu || !lup
        ? 'there are no List-Unsubscribe and List-Unsubscribe-Post fields for a signature to cover'
        : covering
          ? `the passing signature d=${covering.tags.get('d')} covers List-Unsubscribe and List-Unsubscribe-Post in h=`
          : namesBoth && !verified
            ? `the signature d=${namesBoth.tags.get('d')} names both fields in h=; whether it passes needs verification (smtpwb verify --bulk)`
            : namesBoth
              ? `the signature d=${namesBoth.tags.get('d')} names both fields in h= but does not pass`
              : 'no DKIM signature names both List-Unsubscribe and List-Unsubscribe-Post in h= (RFC 8058 §4)',
      link: rfcLink(8058, '4'),
      range: fieldRange(text, covering?.field ?? namesBoth?.field ?? lup ?? lu),
    }),
  );
  return out;
}

/**
 * Whether a message presents itself as bulk or list mail: it has a List-Unsubscribe,
 * List-Unsubscribe-Post or List-Id field (RFC 2369, RFC 2919), or `Precedence: bulk|list`.
 */
export function looksLikeBulkMail(fields: readonly HeaderField[]): boolean {
  return fields.some(
    (f) => f.name === 'list-unsubscribe' || f.name === 'list-unsubscribe-post' || f.name === 'list-id' || (f.name === 'precedence' && /^(bulk|list)$/i.test(f.value.trim())),
  );
}

/**
 * The `.eml` linter's bulk-sender findings: only for a message that presents itself as bulk mail,
 * and only the requirements its header fields decide without DNS or verification (the unsubscribe
 * fields and what DKIM h= names). SPF, DKIM results, DMARC, alignment, TLS and reverse DNS need the
 * network or the transport: `smtpwb verify --bulk` checks those. Unknown results are not reported.
 */
export function bulkHeaderProblems(text: string): Problem[] {
  const fields = messageHeaderFields(text);
  if (!looksLikeBulkMail(fields)) return [];
  return unsubscribeRequirements(text, fields)
    .filter((r) => r.status === 'fail')
    .map((r) => ({ code: r.code, severity: 'warning' as const, message: `bulk sender: ${r.message}`, range: r.range }));
}
