/**
 * Whether a DKIM-Signature header field can be verified at all (RFC 6376 §6.1.1): the one home of
 * that decision, used by `verifyMessage` for every DKIM-Signature field of a message. mailauth
 * (lib/dkim/dkim-verifier.js, `messageHeaders`) silently skips a field whose a= or c= it does not
 * know or that lacks d= or s=, and gives no result for it; it verifies fields that lack v= or h=, or
 * whose h= does not list From. RFC 6376 §6.1.1 makes each of these a PERMFAIL: "Implementers MUST
 * meticulously validate the format and values in the DKIM-Signature header field; any inconsistency
 * or unexpected values MUST cause the header field to be completely ignored and the Verifier to
 * return PERMFAIL (signature syntax error)". RFC 8601 §2.7.1 writes PERMFAIL as `permerror` ("the
 * message could not be verified due to some error that is unrecoverable, such as a required header
 * field being absent"); it is never `pass`, so it never counts for DMARC. mailauth also verifies
 * fields whose t=, x=, l=, q= or i= break RFC 6376 §3.5, throws on a t= or x= it cannot turn into a
 * date, and reads tag names case-insensitively; the field check says which fields it must not see
 * (`hiddenFromMailauth`) and which it would misread (`misreadByMailauth`); such a field without a
 * problem is verified by the product itself.
 * Pure; never throws.
 */
import { getTag, parseTagList, type TagList } from '../../../common/tagList';
import { dkimProblem, type DkimKeyRecordProblem, type DkimSignatureTags } from './dkimKeyCheck';
import { aLabelDomain, isDkimName } from '../../../common/dnsName';

/** One DKIM-Signature field as the verifier reads it. */
export interface DkimSignatureField {
  /** The tags the key-record decision needs (empty strings for absent ones). */
  tags: DkimSignatureTags;
  /** The b= value without white space, as mailauth reports it; undefined when absent or empty. */
  b?: string;
  /** The c= value as written, when the field has one. */
  canonicalization?: string;
  /** Why the field cannot be verified, when it cannot (RFC 6376 §6.1.1). */
  problem?: DkimKeyRecordProblem;
  /** Whether mailauth skips the field without a result (`mailauthSkips`). */
  skippedByMailauth: boolean;
  /**
   * Why the field must not be given to mailauth at all, when it must not (`mailauthThrows`: a t= or
   * x= it throws on): `verifyMessage` hides it from mailauth, which then gives it no result.
   */
  hiddenFromMailauth?: string;
  /**
   * How mailauth would misread the field, when it would (`caseClashes`: an upper-case unknown tag
   * read as the real one): its result is about another signature, so none is taken for the field.
   */
  misreadByMailauth?: string;
  /** The body length limit (l=, RFC 6376 §3.5) in octets, as written, when the field has a valid one. */
  bodyLength?: string;
  /** The signing time (t=, RFC 6376 §3.5) in seconds since the epoch, as written, when the field has a valid one. */
  timestamp?: string;
  /** The expiration (x=, RFC 6376 §3.5) in seconds since the epoch, as written, when the field has a valid one. */
  expiration?: string;
  /** The body hash (bh=) without folding white space, when present. */
  bodyHash?: string;
  /** The names h= lists, lower-cased, in order (RFC 6376 §3.5, §5.4.2), empty names dropped. */
  signedFields: string[];
}

/**
 * The tags mailauth 4.13.3 reads from a DKIM-Signature field (lib/dkim/dkim-verifier.js,
 * `signatureHeader.parsed?.X`). It reads tag names in lower case and keeps the last of a repeated
 * name (lib/parse-dkim-headers.js), so an upper-case tag such as `S=` (an unknown tag that RFC 6376
 * §3.2 tells verifiers to ignore) replaces the real `s=` when it comes after it, or stands in for an
 * absent optional tag (`X=` for x=, `L=` for l=).
 */
const MAILAUTH_READS: ReadonlySet<string> = new Set(['a', 'b', 'bh', 'c', 'd', 'h', 'i', 'l', 's', 't', 'x']);

/**
 * The upper-case (or mixed-case) tags of the field that mailauth would read in place of the
 * case-sensitive tag of the same name (MAILAUTH_READS): the last tag whose lower-cased name is a
 * name mailauth reads is not that exact lower-case tag.
 */
function caseClashes(list: TagList): string[] {
  const lastByLower = new Map<string, string>();
  for (const tag of list.tags) lastByLower.set(tag.name.toLowerCase(), tag.name);
  return [...lastByLower.entries()].filter(([lower, name]) => MAILAUTH_READS.has(lower) && name !== lower).map(([, name]) => name);
}

/**
 * Whether mailauth 4.13.3 throws on the field: it turns a t= or x= that `isNaN` accepts into a
 * number (lib/parse-dkim-headers.js) and calls `new Date(value * 1000).toISOString()`
 * (lib/dkim/dkim-verifier.js), which throws `RangeError: Invalid time value` beyond
 * 8.64e15 ms (t=99999999999999999999, t=1e30, t=Infinity). It reads the last t=/T= and x=/X=.
 */
function mailauthThrows(value: string): boolean {
  const list = parseTagList(value, { lowerCaseNames: true });
  for (const name of ['t', 'x']) {
    const tag = [...list.tags].reverse().find((t) => t.name === name);
    if (!tag) continue;
    const v = tag.value.replace(/\s+/g, ' ').trim();
    // mailauth's own tests, in its own order: `!isNaN(value)`, then `new Date(Number(value) * 1000)`.
    if (!Number.isNaN(Number(v)) && Number.isNaN(new Date(Number(v) * 1000).getTime())) return true;
  }
  return false;
}

/** How mailauth would misread the field's tags, if it would: an upper-case tag read as the real one (`caseClashes`). */
function mailauthMisreads(list: TagList): string | undefined {
  const clashes = caseClashes(list);
  if (clashes.length > 0) return `mailauth would read ${clashes.map((n) => `${n}=`).join(', ')} as ${clashes.map((n) => `${n.toLowerCase()}=`).join(', ')}`;
  return undefined;
}

/**
 * Whether mailauth 4.13.3 skips the field and gives no result for it (lib/dkim/dkim-verifier.js,
 * `messageHeaders`): a= whose first part is not rsa or ed25519 or whose last part is not sha256 or
 * sha1, a header or body canonicalization other than simple or relaxed (simple when absent), no d=
 * or no s=. mailauth reads tag names in lower case, and the last of a repeated tag.
 */
function mailauthSkips(value: string): boolean {
  const list = parseTagList(value, { lowerCaseNames: true });
  const last = (name: string): string => [...list.tags].reverse().find((t) => t.name === name)?.value.replace(/\s+/g, ' ').trim() ?? '';
  const algorithm = last('a').split('-');
  const signAlgo = (algorithm[0] ?? '').toLowerCase().trim();
  const hashAlgo = (algorithm[algorithm.length - 1] ?? '').toLowerCase().trim();
  const canon = last('c').split('/');
  const headerCanon = canon[0].toLowerCase().trim() || 'simple';
  const bodyCanon = (canon[1] || 'simple').toLowerCase().trim();
  return (
    !['rsa', 'ed25519'].includes(signAlgo) ||
    !['sha256', 'sha1'].includes(hashAlgo) ||
    !CANONICALIZATIONS.has(headerCanon) ||
    !CANONICALIZATIONS.has(bodyCanon) ||
    last('d') === '' ||
    last('s') === ''
  );
}

/** RFC 6376 §3.5: the tags a DKIM-Signature field must have, in the order the section lists them. */
const REQUIRED_TAGS = ['v', 'a', 'b', 'bh', 'd', 'h', 's'] as const;

/**
 * The signing algorithms a verifier knows: RFC 6376 §3.3 (rsa-sha1, rsa-sha256) and RFC 8463 §3
 * (ed25519-sha256). rsa-sha1 is known but not accepted (RFC 8301 §3.1): the key-record decision
 * (`dkimKeyRecordProblem`, code `dkim-signature-sha1`) says so with its own reason.
 */
const KNOWN_ALGORITHMS: ReadonlySet<string> = new Set(['rsa-sha256', 'rsa-sha1', 'ed25519-sha256']);

/** RFC 6376 §3.4: the canonicalization algorithms ("simple" and "relaxed"). */
const CANONICALIZATIONS: ReadonlySet<string> = new Set(['simple', 'relaxed']);

/**
 * A tag value without its folding white space: RFC 6376 §3.2 allows only FWS (SP, HTAB, CRLF)
 * between the parts of a value, so nothing else is removed (not VT, FF or U+00A0, which `\s` would
 * take): the one reading of a tag value that the field check and the product's own verifier share.
 */
export function withoutFws(value: string): string {
  return value.replace(/[ \t\r\n]+/g, '');
}

/**
 * RFC 6376 §3.2: tag-value = [ tval *( 1*(WSP / FWS) tval ) ], tval = 1*VALCHAR, VALCHAR =
 * %x21-3A / %x3C-7E; RFC 8616 §4 lets d=, i= and s= hold UTF-8. A control character (C0 other than
 * SP, HTAB, CR and LF; DEL; C1) is in neither, and verifiers that remove "white space" with
 * different rules (`\s` takes VT and FF) would read different values (`l=1<VT>0`).
 */
const CONTROL_IN_VALUE = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/;

/** RFC 6376 §3.5 b= and bh=: base64string = ALPHADIGITPS *([FWS] ALPHADIGITPS) [ [FWS] "=" [ [FWS] "=" ] ]. */
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A value from the field, shortened for a comment; the comment is made ASCII by `dkimProblem`. */
function shown(value: string): string {
  const one = value.replace(/[ \t\r\n]+/g, ' ');
  return one.length > 40 ? `${one.slice(0, 40)}...` : one;
}

const SYNTAX = 'RFC 6376 §3.2, §6.1.1';

/** The first reason the field cannot be verified, in RFC 6376 §6.1.1 order. */
function fieldProblem(list: TagList): DkimKeyRecordProblem | undefined {
  // RFC 6376 §3.2: the tag-list grammar; "Tags with duplicate names MUST NOT occur within a single
  // tag-list; if a tag name does occur more than once, the entire tag-list is invalid."
  const syntax = list.errors[0];
  if (syntax) return dkimProblem('dkim-signature-syntax', `signature syntax error: ${shown(syntax.message)}`, SYNTAX);
  const duplicate = list.duplicates[0];
  if (duplicate) return dkimProblem('dkim-signature-duplicate-tag', `signature syntax error: tag ${shown(duplicate.name)}= occurs more than once`, SYNTAX);
  // RFC 6376 §3.2: only FWS may separate the parts of a value (CONTROL_IN_VALUE).
  const control = list.tags.find((t) => CONTROL_IN_VALUE.test(t.value));
  if (control) {
    return dkimProblem('dkim-signature-syntax', `signature syntax error: the value of ${shown(control.name)}= holds a control character (only SP, HTAB and CRLF may fold a value)`, SYNTAX);
  }
  // RFC 6376 §6.1.1: "If any tag listed as "required" in Section 3.5 is omitted from the
  // DKIM-Signature header field, the Verifier MUST ignore the DKIM-Signature header field and
  // return PERMFAIL (signature missing required tag)." An empty value leaves the tag without meaning.
  const missing = REQUIRED_TAGS.filter((name) => (getTag(list, name)?.value.trim() ?? '') === '');
  if (missing.length > 0) {
    return dkimProblem('dkim-signature-missing-tag', `signature missing required tag ${missing.map((t) => `${t}=`).join(', ')}`, 'RFC 6376 §3.5, §6.1.1');
  }
  const value = (name: string): string => withoutFws(getTag(list, name)?.value ?? '');
  // RFC 6376 §3.5: v= "MUST have the value "1"", and §6.1.1: "Verifiers MUST return PERMFAIL
  // (incompatible version) when presented with a DKIM-Signature header field with a "v=" tag that
  // is inconsistent with this specification."
  if (value('v') !== '1') return dkimProblem('dkim-signature-version', `v=${shown(value('v'))} is not 1: incompatible version`, 'RFC 6376 §3.5, §6.1.1');
  // RFC 6376 §3.5 a=: sig-a-tag-k and sig-a-tag-h are ABNF literals, so case-insensitive.
  const algorithm = value('a');
  if (!KNOWN_ALGORITHMS.has(algorithm.toLowerCase())) {
    return dkimProblem('dkim-signature-algorithm', `a=${shown(algorithm)} is not a known signing algorithm: signature syntax error`, 'RFC 6376 §3.3, §3.5, §6.1.1, RFC 8463 §3');
  }
  // RFC 6376 §3.5 c=: "header/body"; a missing body algorithm is "simple", and so is a missing c=.
  const c = getTag(list, 'c');
  if (c !== undefined) {
    const parts = withoutFws(c.value).toLowerCase().split('/');
    const bad = parts.length > 2 ? c.value : parts.find((p) => !CANONICALIZATIONS.has(p));
    if (bad !== undefined) {
      return dkimProblem('dkim-signature-canonicalization', `c=${shown(c.value)}: ${shown(bad)} is not simple or relaxed: signature syntax error`, 'RFC 6376 §3.4, §3.5, §6.1.1');
    }
  }
  // RFC 6376 §6.1.1: "If the "h=" tag does not include the From header field, the Verifier MUST
  // ignore the DKIM-Signature header field and return PERMFAIL (From field not signed)."
  const signed = value('h').toLowerCase().split(':');
  if (!signed.includes('from')) return dkimProblem('dkim-signature-from-unsigned', 'h= does not include From: From field not signed', 'RFC 6376 §3.5, §6.1.1');
  // RFC 6376 §3.5 b= and bh= are base64 (BASE64); a lenient decoder would verify another value. dkimpy refuses them too.
  for (const name of ['b', 'bh']) {
    if (!BASE64.test(value(name))) return dkimProblem('dkim-signature-tag-value', `${name}=${shown(value(name))}: is not base64: signature syntax error`, TAG_VALUE);
  }
  // RFC 6376 §3.5 d=: domain-name, and s=: selector (sub-domains); RFC 8616 §4 allows U-labels,
  // checked in A-labels. A d= that is not a domain name is "an unexpected value" (§6.1.1).
  for (const name of ['d', 's']) {
    const ascii = aLabelDomain(value(name));
    if (ascii === undefined || !isDkimName(ascii) || (name === 's' && value(name).endsWith('.'))) {
      return dkimProblem('dkim-signature-tag-value', `${name}=${shown(value(name))}: is not a ${name === 'd' ? 'domain name' : 'selector'}: signature syntax error`, TAG_VALUE);
    }
  }
  const tagValue = tagValueProblem(list);
  if (tagValue) return tagValue;
  // RFC 6376 §3.2: "Tags with unknown names MUST be ignored", and tag names are case-sensitive, so
  // `S=` beside `s=` is an unknown tag, and no problem of the field. mailauth reads names in lower
  // case (MAILAUTH_READS) and would read the unknown tag in place of the real one; rewriting the tag
  // in its copy is no way out, as b= covers the field itself (RFC 6376 §3.7). mailauth's result for
  // such a field is not taken (`misreadByMailauth`); `verifyMessage` verifies it itself (dkimSelfVerify.ts).
  return undefined;
}

/** RFC 6376 §3.5: t= and x= are 1*12DIGIT. */
const TIMESTAMP = /^\d{1,12}$/;

/** RFC 6376 §3.5: l= is 1*76DIGIT. */
const BODY_LENGTH = /^\d{1,76}$/;

/** A domain name as RFC 6376 §3.5 `domain-name` has it (RFC 5321 sub-domains, dot-separated). */
const DOMAIN_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

const TAG_VALUE = 'RFC 6376 §3.5, §6.1.1';

/**
 * The tag values RFC 6376 §3.5 gives a grammar for and the earlier checks leave: t=, x=, l=, q=
 * and i=. Each invalid value is "an unexpected value" that §6.1.1 makes a PERMFAIL. The wording
 * follows the `.eml` linter's `eml-dkim-tag-value` (server/src/eml/authHeaders.ts).
 */
function tagValueProblem(list: TagList): DkimKeyRecordProblem | undefined {
  const raw = (name: string): string | undefined => {
    const tag = getTag(list, name);
    return tag === undefined ? undefined : withoutFws(tag.value);
  };
  const bad = (name: string, value: string, why: string): DkimKeyRecordProblem =>
    dkimProblem('dkim-signature-tag-value', `${name}=${shown(value)}: ${why}: signature syntax error`, TAG_VALUE);
  const t = raw('t');
  const x = raw('x');
  for (const [name, v] of [['t', t], ['x', x]] as const) {
    if (v !== undefined && !TIMESTAMP.test(v)) return bad(name, v, 'must be a decimal number of 1 to 12 digits');
  }
  // RFC 6376 §3.5 x=: "the value of the "x=" tag MUST be greater than the value of the "t=" tag".
  if (t !== undefined && x !== undefined && Number(x) <= Number(t)) {
    return bad('x', x, `the expiration must be later than the signing time (t=${t})`);
  }
  const l = raw('l');
  if (l !== undefined && !BODY_LENGTH.test(l)) return bad('l', l, 'must be a decimal number of 1 to 76 digits');
  // RFC 6376 §3.5 q=: a colon-separated list of query methods; "dns/txt" is the only one defined
  // (ABNF literals, so case-insensitive), and a verifier ignores the methods it does not know only
  // as long as one it knows is there.
  const q = raw('q');
  if (q !== undefined) {
    const methods = q.split(':');
    if (methods.some((m) => !/^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\/[\x21-\x3a\x3c-\x7e]*)?$/.test(m))) return bad('q', q, 'is not a colon-separated list of query methods');
    if (!methods.some((m) => m.toLowerCase() === 'dns/txt')) return bad('q', q, 'does not list dns/txt, the only query method defined');
  }
  // RFC 6376 §3.5 i=: [ Local-part ] "@" domain-name. The domain must also be d= or below it; the
  // key-record decision says so (`dkimKeyRecordProblem`, domain mismatch).
  const i = raw('i');
  if (i !== undefined) {
    const at = i.lastIndexOf('@');
    if (at === -1) return bad('i', i, 'has no @: it is [local-part]@domain');
    if (!DOMAIN_NAME.test(i.slice(at + 1))) return bad('i', i, `${shown(i.slice(at + 1))} is not a domain name`);
  }
  return undefined;
}

/**
 * Reads one DKIM-Signature field's value (unfolded or not). Tag names are case-sensitive (RFC 6376
 * §3.2): `A=` is not `a=`, which mailauth, lower-casing names, reads as the same tag.
 */
export function readDkimSignatureField(value: string): DkimSignatureField {
  const list = parseTagList(value);
  const tag = (name: string): string | undefined => {
    const found = getTag(list, name);
    return found === undefined ? undefined : withoutFws(found.value);
  };
  const identity = tag('i');
  const b = tag('b');
  const canonicalization = tag('c');
  const problem = fieldProblem(list);
  const hiddenFromMailauth = mailauthThrows(value) ? 'a t= or x= value mailauth cannot turn into a date' : undefined;
  const misreadByMailauth = mailauthMisreads(list);
  const l = tag('l');
  const t = tag('t');
  const x = tag('x');
  const bh = tag('bh');
  return {
    tags: { algorithm: tag('a') ?? '', domain: tag('d') ?? '', selector: tag('s') ?? '', ...(identity !== undefined ? { identity } : {}) },
    ...(b !== undefined && b !== '' ? { b } : {}),
    ...(canonicalization !== undefined ? { canonicalization } : {}),
    ...(problem ? { problem } : {}),
    skippedByMailauth: hiddenFromMailauth !== undefined || misreadByMailauth !== undefined || mailauthSkips(value),
    ...(hiddenFromMailauth !== undefined ? { hiddenFromMailauth } : {}),
    ...(misreadByMailauth !== undefined ? { misreadByMailauth } : {}),
    ...(l !== undefined && BODY_LENGTH.test(l) ? { bodyLength: l } : {}),
    ...(t !== undefined && TIMESTAMP.test(t) ? { timestamp: t } : {}),
    ...(x !== undefined && TIMESTAMP.test(x) ? { expiration: x } : {}),
    ...(bh !== undefined && bh !== '' ? { bodyHash: bh } : {}),
    signedFields: (tag('h') ?? '').toLowerCase().split(':').filter((n) => n !== ''),
  };
}
