/**
 * Verifies a message's authentication the way a receiving MTA would: DKIM (RFC 6376) per signature,
 * ARC (RFC 8617) and BIMI with mailauth; SPF (RFC 7208) and DMARC (RFC 9989) with the product's own
 * evaluators (spfResult.ts, dmarcVerify.ts), which follow the standards where mailauth does not. It
 * builds the `Authentication-Results` field (RFC 8601) in the order mailauth's `authenticate()` uses. The SMTP
 * identities SPF needs (client IP, HELO, MAIL FROM) come from the caller or, failing that, from the
 * topmost `Received` field and `Return-Path`. All DNS goes through the injected resolver.
 */
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { libmime } from './libmime';
import { mailauth, type MaArcResult, type MaDkimResult, type MaDkimVerifyResult, type MaSpfResult, type MaStatus } from './mailauthApi';
import { headerEnd, headerSectionProblem, isHeaderOnly, parseHeaderFields, startsWithBom, utf8FieldValue, withHeaderSeparator, type HeaderLineProblem } from './headers';
import { rawFields, messageBody, selectHeaders, type RawField } from './dkimCanon';
import { checkDkimField, DEFAULT_MIN_RSA_BITS, type OwnDkimCheck } from './dkimSelfVerify';
import { returnPath, topReceived } from './received';
import { trackResolver, type MailauthResolver, type TrackedResolver } from './resolver';
import { verifySpf } from './spfResult';
import { authorDomain, dmarcPermerrorInfo, escapeComment, verifyDmarc, type DmarcVerifyResult } from './dmarcVerify';
import { asciiComment, dkimKeyRecordsProblem, dkimProblem, type DkimKeyRecordProblem, type DkimSignatureTags } from './dkimKeyCheck';
import { readDkimSignatureField, type DkimSignatureField } from './dkimSignatureCheck';
import { propValue } from './spfResult';
import { analyzeArcChain } from './arcChain';
import type { SpfEvaluation } from '../dns/spfEval';

export type AuthMethod = 'dkim' | 'spf' | 'dmarc' | 'arc' | 'bimi';

/** Where an SMTP identity used for SPF came from. */
export type IdentitySource = 'caller' | 'received' | 'return-path' | 'derived' | 'none';

export interface VerifyOptions {
  /** The DNS resolver; every query goes through it. */
  resolver: MailauthResolver;
  /** The SMTP client's IP address. */
  ip?: string;
  /** The EHLO/HELO name. */
  helo?: string;
  /** The MAIL FROM address ('' for the null reverse-path). */
  mailFrom?: string;
  /** The authserv-id of the `Authentication-Results` field (RFC 8601 §2.5); the host name by default. */
  authServId?: string;
  /** Read missing identities from the topmost `Received` field and `Return-Path` (default true). */
  useReceived?: boolean;
  /** Smallest RSA key accepted, in bits (default 1024, as RFC 8301 §3.2 requires). */
  minBitLength?: number;
  /** The clock (milliseconds) for SPF's %{t} macro (RFC 7208 §7.3), a DKIM t= in the future and x=; the system clock by default. */
  now?: () => number;
}

/** One method's outcome. `result` is an RFC 8601 §2.7 result value. */
export interface MethodReport {
  method: AuthMethod;
  result: string;
  /** Why, in words (the comment mailauth puts in parentheses). */
  reason?: string;
  /** Whether this result counts as a failure for the exit status and the summary. */
  failed: boolean;
  /** The method's clause of the `Authentication-Results` field, e.g. `spf=pass (…) smtp.mailfrom=…`. */
  info: string;
  /** Extra facts worth showing (domain, selector, policy, DNS record…). */
  details: Record<string, string>;
}

export interface DkimSignatureReport extends MethodReport {
  method: 'dkim';
  domain?: string;
  selector?: string;
  algorithm?: string;
  canonicalization?: string;
  /** The From domain this signature aligns with (RFC 7489 §3.1.1), if any. */
  aligned?: string;
}

export interface SmtpIdentities {
  ip?: string;
  helo?: string;
  mailFrom?: string;
  sources: { ip: IdentitySource; helo: IdentitySource; mailFrom: IdentitySource };
  /** Which `Received` field the identities came from (0 = topmost), when one was used. */
  receivedIndex?: number;
  /**
   * The `Received` field (0 = topmost) whose client address is in no form the parser knows, when
   * the search for the client stopped there without an address (received.ts, `topReceived`).
   */
  unreadableReceivedIndex?: number;
}

export interface AuthReport {
  dkim: DkimSignatureReport[];
  spf: MethodReport;
  dmarc: MethodReport;
  arc: MethodReport;
  bimi: MethodReport;
  smtp: SmtpIdentities;
  /** The From addresses mailauth found (RFC 5322 §3.6.2). */
  headerFrom: string[];
  /** The `Authentication-Results` field, folded, with CRLF line ends and a final CRLF. */
  authenticationResults: string;
  /** The `Received-SPF` field (RFC 7208 §9.1), when SPF ran. */
  receivedSpf?: string;
  /** DNS queries that failed because the server did not answer. */
  dnsUnreachable: Array<{ name: string; rrtype: string; code: string }>;
  /** How many DNS queries the verification made. */
  dnsQueries: number;
  /** Whether any method failed (see `isFailing`). */
  failed: boolean;
  /** What the verifier noticed about the message as a whole that explains results (`messageNotes`). */
  notes?: VerifyNote[];
}

/** A note about the message as a whole: a stable code and one sentence. */
export interface VerifyNote {
  code: 'eml-bom' | 'header-only';
  message: string;
}

/**
 * Notes about the message as a whole that change what the verifier can read, so the report says why:
 * a UTF-8 byte order mark (the first field's name then starts with it, so a DKIM-Signature or From
 * written first is not read as one; `smtpwb lint` reports the same as eml-bom, and `smtpwb sign`
 * refuses such a file), and a message that is header fields only (RFC 5322 §3.5), verified as a
 * message with an empty body.
 */
function messageNotes(message: Buffer): VerifyNote[] {
  const notes: VerifyNote[] = [];
  if (startsWithBom(message)) {
    const firstField = parseHeaderFields(message)[0];
    const first = firstField?.name.startsWith('\xEF\xBB\xBF') ? utf8FieldValue(firstField.name.slice(3)) : undefined;
    notes.push({
      code: 'eml-bom',
      message: `the message starts with a UTF-8 byte order mark (EF BB BF), which becomes part of the first field name${first ? `: the first field is not read as "${first}"` : ''}; save the file without it (RFC 5322 §2.2)`,
    });
  }
  if (isHeaderOnly(message)) {
    notes.push({ code: 'header-only', message: 'the message has header fields only (no empty line and no body, RFC 5322 §3.5): it was verified as a message with an empty body (RFC 6376 §3.4.3, §3.4.4)' });
  }
  return notes;
}

/**
 * Why a value cannot be the authserv-id of an Authentication-Results field, or undefined when it
 * can. RFC 8601 §2.2: authserv-id = value, and a value is a token or a quoted-string (RFC 2045
 * §5.1): a token is printable US-ASCII without SPACE and tspecials ( ) < > @ , ; : \ " / [ ] ? =.
 * Anything else (CR or LF above all) would change the field it is written into.
 */
export function authServIdProblem(value: string): string | undefined {
  if (value === '') return 'the authserv-id is empty';
  if (/^[!#-'*+\-.0-9A-Z^-~]+$/.test(value)) return undefined;
  if (/^"(?:[\t \x21\x23-\x5b\x5d-\x7e]|\\[\t \x21-\x7e])*"$/.test(value)) return undefined;
  return 'an authserv-id is a token (printable US-ASCII without spaces or ( ) < > @ , ; : \\ " / [ ] ? =) or a "quoted string" without line breaks (RFC 8601 §2.2, RFC 2045 §5.1)';
}

/**
 * Decides whether a result is a failure. fail, softfail, permerror, temperror and policy are; so is
 * DKIM's neutral, which mailauth gives a signature it could not check (no key, an unusable key, an
 * expired signature). SPF's neutral is a policy statement (RFC 7208 §2.6.2), not a failure, and
 * BIMI's skipped only says that DMARC did not allow a logo.
 */
export function isFailing(method: AuthMethod, result: string): boolean {
  if (['fail', 'softfail', 'permerror', 'temperror', 'temperr', 'policy'].includes(result)) return true;
  return method === 'dkim' && result === 'neutral';
}

/** mailauth's comment for a signature whose body hash (`bh=`) does not match the body. */
const BODY_HASH_MISMATCH = 'body hash did not verify';

/** mailauth's comments for a key record it fetched and could not use (lib/dkim/dkim-verifier.js). */
const MAILAUTH_KEY_COMMENTS: ReadonlySet<string> = new Set(['unknown key version', 'unknown key type', 'invalid public key']);

/** The DKIM-Signature fields of the message, in order (RFC 6376 §6.1.1 reads each of them). */
function dkimSignatureFields(message: Buffer): DkimSignatureField[] {
  return parseHeaderFields(message)
    .filter((field) => field.name.toLowerCase() === 'dkim-signature')
    // RFC 6532 §3.2: field values may hold UTF-8 (a d= or s= in U-labels); mailauth reads them so too.
    .map((field) => readDkimSignatureField(utf8FieldValue(field.value)));
}

/** The name a hidden field gets in the copy of the message given to mailauth (`hideFields`). */
const HIDDEN_FIELD_NAME = 'X-Smtpwb-Hidden';

/**
 * A copy of the message in which the header fields `hide` picks (by lower-cased name and by their
 * index among the fields of that name) are renamed `X-Smtpwb-Hidden-<name>`, so that mailauth does
 * not read them as what they were. Only the header section changes; the fields are counted the way
 * `parseHeaderFields` counts them, so index k is the k-th field of `dkimSignatureFields`.
 */
function hideFields(message: Buffer, hide: (name: string, index: number) => boolean): Buffer {
  const { headerLength } = headerEnd(message);
  const parts = message.subarray(0, headerLength).toString('latin1').split(/(\r?\n)/);
  const seen = new Map<string, number>();
  let changed = false;
  let fields = 0;
  for (let k = 0; k < parts.length; k += 2) {
    const line = parts[k];
    if (line === '' || ((line.startsWith(' ') || line.startsWith('\t')) && fields > 0)) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields += 1;
    const name = line.slice(0, colon).trim().toLowerCase();
    const index = seen.get(name) ?? 0;
    seen.set(name, index + 1);
    if (!hide(name, index)) continue;
    parts[k] = `${HIDDEN_FIELD_NAME}-${line.slice(0, colon).trim()}${line.slice(colon)}`;
    changed = true;
  }
  return changed ? Buffer.concat([Buffer.from(parts.join(''), 'latin1'), message.subarray(headerLength)]) : message;
}

/** The signature fields mailauth reads: DKIM-Signature, and the ARC set (RFC 8617 §4.1). */
const SIGNATURE_FIELD_NAMES: ReadonlySet<string> = new Set(['dkim-signature', 'arc-seal', 'arc-message-signature', 'arc-authentication-results']);

/** A thrown value in words, for a reason. */
function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * Runs mailauth's DKIM verification, which must never end verification with an internal error.
 * Fields mailauth would throw on (`hiddenFromMailauth`, dkimSignatureCheck.ts: a t= or x= it
 * cannot turn into a date, also an upper-case `T=` it reads as t=) are hidden from it in a copy of
 * the message (`hideFields`); fields it would only misread (`misreadByMailauth`) are given to it,
 * and its result for them is not taken. The trade-off: a signature whose h= lists DKIM-Signature no
 * longer verifies when one of the fields it signed is hidden, and that includes an
 * ARC-Message-Signature (mailauth's ARC sealing signs DKIM-Signature by default), whose chain
 * mailauth then fails while the chain view, reading the message itself, may not; that is
 * acceptable, as the hidden field is nearly always itself invalid (a PERMFAIL, RFC 6376 §6.1.1),
 * and mailauth would otherwise throw.
 * If mailauth throws anyway (an ARC-Message-Signature with such a t=, or a bug of its own), it runs
 * again on a copy without any signature field, which still gives the From addresses and the header
 * fields DMARC and BIMI read, and `failure` says why.
 */
async function dkimVerifySafely(message: Buffer, fields: readonly DkimSignatureField[], options: Parameters<typeof mailauth.dkimVerify>[1]): Promise<{ result: MaDkimVerifyResult; failure?: string }> {
  const copy = hideFields(message, (name, index) => name === 'dkim-signature' && fields[index]?.hiddenFromMailauth !== undefined);
  try {
    return { result: await mailauth.dkimVerify(copy, options) };
  } catch (err) {
    const failure = `the DKIM verifier (mailauth) failed on this message: ${errorText(err)}`;
    try {
      return { result: await mailauth.dkimVerify(hideFields(message, (name) => SIGNATURE_FIELD_NAMES.has(name)), options), failure };
    } catch {
      return { result: { results: [], headerFrom: [] }, failure };
    }
  }
}

/** Whether mailauth's result reports this field's a=, d= and s= (it takes them from the field itself). */
function sameSignature(r: MaDkimResult, tags: DkimSignatureTags): boolean {
  return tags.algorithm === (r.algo ?? '') && tags.domain === (r.signingDomain ?? '') && tags.selector === (r.selector ?? '');
}

/**
 * Pairs every DKIM-Signature field with mailauth's result for it, in the order of the fields, so
 * that each field has exactly one line in the report. mailauth gives no result for a field it
 * skips (lib/dkim/dkim-verifier.js: an a= or c= it does not know, no d= or no s=): such a field
 * is paired with nothing, and `verifyMessage` gives it the product's own result. A result that
 * belongs to no DKIM-Signature field is dropped: mailauth's "message not signed" placeholder, and
 * an ARC-Seal that carries c= (mailauth files it among its DKIM results). A message without any
 * DKIM-Signature field keeps mailauth's results as they are.
 */
function pairDkimResults(fields: readonly DkimSignatureField[], results: readonly MaDkimResult[]): Array<{ field?: DkimSignatureField; result?: MaDkimResult }> {
  if (fields.length === 0) return results.map((result) => ({ result }));
  const used = new Set<MaDkimResult>();
  return fields.map((field) => {
    // A field mailauth skipped must not take the result of a later field with the same b=, a=, d=
    // and s= (a copy with c=strict on top of the genuine field would otherwise take its pass).
    if (field.skippedByMailauth) return { field };
    const result = results.find((r) => !used.has(r) && r.signature !== undefined && r.signature.replace(/\s+/g, '') === field.b && sameSignature(r, field.tags));
    if (result) used.add(result);
    return { field, ...(result ? { result } : {}) };
  });
}

/** One DKIM line of the report before it is rendered: mailauth's result (if any) and the product's verdict. */
interface DkimOutcome {
  raw?: MaDkimResult;
  field?: DkimSignatureField;
  status: MaStatus;
  info: string;
  bodyHashMismatch: boolean;
  /** The key record (or records) could not verify the signature (dkimKeyCheck.ts). */
  keyProblem?: DkimKeyRecordProblem;
  /** The field itself could not be verified (dkimSignatureCheck.ts). */
  signatureProblem?: DkimKeyRecordProblem;
  /** Every record the key query returned, when there were several. */
  keyRecords?: string[];
  /** The product's own verdict, when it decided in mailauth's place (`l=0`, dkimSelfVerify.ts). */
  ownCheck?: OwnDkimCheck;
  /** Why mailauth's own result was not taken, when the product verified a field mailauth had a result for. */
  ownReason?: string;
}

/** A t= this far ahead of the verifier's clock (seconds) is worth a warning: more than ordinary clock skew. */
const FUTURE_TOLERANCE_SECONDS = 300;

/** A number of seconds in words, rounded down to the largest unit. */
function aheadText(seconds: number): string {
  const [n, unit] = seconds >= 86400 ? [Math.floor(seconds / 86400), 'day'] : seconds >= 3600 ? [Math.floor(seconds / 3600), 'hour'] : [Math.floor(seconds / 60), 'minute'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** Whether the field signs zero octets of the body (`l=0`, `l=00`…), which mailauth reads as no limit. */
function signsNoBody(field: DkimSignatureField | undefined): boolean {
  return field?.bodyLength !== undefined && /^0+$/.test(field.bodyLength);
}

/**
 * Characters JavaScript's `\s` takes in a latin1 ("binary") string besides SP, HTAB, CR and LF: VT,
 * FF and U+00A0 (byte 0xA0, the last byte of UTF-8 "à"). mailauth's relaxed header canonicalization
 * (lib/tools.js formatRelaxedLine: `.replace(/\s+/g, ' ').trim()`) reduces and trims them; RFC 6376
 * §3.4.2 reduces and removes only WSP (SP, HTAB), as dkimpy and the product's own (dkimCanon.ts) do.
 */
const MAILAUTH_EXTRA_SPACE = /[\x0b\x0c\xa0]/;

/**
 * Why mailauth would canonicalize the data this field signs differently from RFC 6376 §3.4.2, or
 * undefined: relaxed header canonicalization (c=relaxed/...) and a signed field, or the signature
 * field itself, holding VT, FF or byte 0xA0 (MAILAUTH_EXTRA_SPACE). mailauth's result for such a
 * field is about other data; the product verifies the field itself. Patching mailauth is not an
 * option (node_modules is not the product's), so this routes the field instead.
 */
function mailauthMiscanonicalizes(field: DkimSignatureField, signature: RawField | undefined, raws: RawField[]): string | undefined {
  if (!signature || !(field.canonicalization ?? '').toLowerCase().startsWith('relaxed')) return undefined;
  const selected = selectHeaders(raws.filter((f) => f !== signature), field.signedFields);
  if (![signature, ...selected].some((f) => MAILAUTH_EXTRA_SPACE.test(f.raw))) return undefined;
  return 'mailauth would remove VT, FF or U+00A0 from a signed field, where relaxed canonicalization removes only SP and HTAB (RFC 6376 §3.4.2)';
}

/**
 * Whether the product verifies the field itself (dkimSelfVerify.ts) rather than take mailauth's
 * result: an `l=0` (`signsNoBody`) that mailauth checked, a field mailauth would canonicalize
 * wrongly (`miscanonicalized`, `mailauthMiscanonicalizes`), or a field hidden from mailauth or
 * misread by it (`hiddenFromMailauth`, `misreadByMailauth`: an upper-case unknown tag it would read
 * as the real one, with a value it would throw on or not) that has no problem of its own. Never when
 * mailauth failed on the message, the key records were refused, or mailauth's verdict is one the
 * product's own check would not reach otherwise: `policy` (a key shorter than the verifier accepts,
 * RFC 8301 §3.2), or a `fail` over the signed header fields (bad signature) that is not about the
 * canonicalization mailauth gets wrong.
 */
function verifiedByProduct(outcome: DkimOutcome, failure: string | undefined, miscanonicalized: string | undefined): boolean {
  const field = outcome.field;
  if (!field || field.problem || failure !== undefined || outcome.keyProblem) return false;
  if (outcome.raw) {
    if (outcome.status.result === 'policy') return false;
    if (outcome.status.result === 'fail' && !outcome.bodyHashMismatch && miscanonicalized === undefined) return false;
    return signsNoBody(field) || miscanonicalized !== undefined;
  }
  return field.hiddenFromMailauth !== undefined || field.misreadByMailauth !== undefined;
}

/**
 * The problem every DKIM signature of a message with a malformed header section has (`headerSectionProblem`,
 * headers.ts): the fields a verifier would check are not the ones a reader sees, so none can pass.
 * RFC 8601 §2.7.1 permerror: "the message could not be verified due to some error that is unrecoverable".
 */
function headerSectionDkimProblem(problem: HeaderLineProblem): DkimKeyRecordProblem {
  return {
    code: 'dkim-header-section',
    comment: asciiComment(`header line ${problem.line} is not a header field: the message cannot be verified (RFC 5322 §2.2, §3.5)`),
    reason: `${problem.reason}: the message cannot be verified`,
  };
}

/**
 * The outcome of a field the product verified itself (`checkDkimField`) in mailauth's place, with
 * mailauth's clause properties (header.i, header.s, header.a, header.b) after the new result, or
 * the field's own when mailauth did not see it.
 */
function ownOutcomeOf(own: OwnDkimCheck, r: MaDkimResult | undefined, field: DkimSignatureField, why?: string): DkimOutcome {
  const comment = own.comment === undefined ? '' : ` (${escapeComment(asciiComment(own.comment))})`;
  const base = { field, bodyHashMismatch: false, ownCheck: own, ...(why !== undefined ? { ownReason: why } : {}) };
  if (!r) {
    const { header, props } = fieldProperties(field);
    return { ...base, status: { result: own.result, comment: own.comment ?? false, header }, info: `dkim=${own.result}${comment}${props}` };
  }
  let rest = r.info.replace(/^dkim=[a-z]+/, '');
  if (typeof r.status.comment === 'string' && r.status.comment !== '') rest = rest.replace(` (${mailauthComment(r.status.comment)})`, '');
  return {
    ...base,
    raw: r,
    status: { ...r.status, result: own.result, comment: own.comment ?? false, underSized: own.unsignedOctets },
    info: `dkim=${own.result}${comment}${rest}`,
  };
}

/**
 * A `permerror` for a problem the product found, keeping what mailauth's clause says after the
 * result: its header.* properties follow `dkim=<result>`, an optional undersized note and the
 * comment (formatAuthHeaderRow). Without a mailauth result (a field it skipped), the properties are
 * written from the field as mailauth writes them: header.i=@d, header.s, header.a, header.b (the
 * first 8 characters).
 */
function permerrorOf(problem: DkimKeyRecordProblem, r: MaDkimResult | undefined, field: DkimSignatureField | undefined): { status: MaStatus; info: string } {
  if (r) {
    let rest = r.info.replace(/^dkim=[a-z]+/, '');
    if (typeof r.status.comment === 'string' && r.status.comment !== '') rest = rest.replace(` (${mailauthComment(r.status.comment)})`, '');
    return { status: { ...r.status, result: 'permerror', comment: problem.reason }, info: `dkim=permerror (${escapeComment(problem.comment)})${rest}` };
  }
  const { header, props } = fieldProperties(field);
  return { status: { result: 'permerror', comment: problem.reason, header }, info: `dkim=permerror (${escapeComment(problem.comment)})${props}` };
}

/**
 * The clause properties of a field mailauth gave no result for, written as mailauth writes them:
 * header.i=@d, header.s, header.a, header.b (the first 8 characters).
 */
function fieldProperties(field: DkimSignatureField | undefined): { header: Record<string, string | false>; props: string } {
  const t = field?.tags;
  const header: Record<string, string | false> = {
    i: t?.domain ? `@${t.domain}` : false,
    s: t?.selector || false,
    a: t?.algorithm || false,
    b: field?.b ? field.b.slice(0, 8) : false,
  };
  const props = Object.entries(header)
    .filter((e): e is [string, string] => typeof e[1] === 'string')
    .map(([k, v]) => ` header.${k}=${propValue(v)}`)
    .join('');
  return { header, props };
}

/**
 * Turns mailauth's result for one DKIM-Signature field into the product's: the one place that does,
 * so `smtpwb verify`, the capture server's stored authentication, ARC sealing and the editor (all
 * through `verifyMessage`) agree. In RFC 6376 §6.1 order:
 * - §6.1.1: a field that cannot be verified (dkimSignatureCheck.ts: syntax, a required tag missing,
 *   v= not 1, an unknown a= or c=, h= without From) is `permerror`, whatever mailauth said, and also
 *   when mailauth skipped the field and said nothing;
 * - §6.1.2: a key query that returned several TXT records is `permerror` (dkimKeyCheck.ts,
 *   `dkimKeyRecordsProblem`, RFC 6376 §3.6.2.2): mailauth read the first one only;
 * - §6.1.3: mailauth reports a body hash mismatch as `neutral`; RFC 6376 says "If the hash does not
 *   match, the Verifier SHOULD ignore the signature and return PERMFAIL (body hash did not verify)",
 *   and RFC 8601 §2.7.1 gives that outcome as `fail` ("the message was signed and the signature or
 *   signatures were acceptable to the ADMD, but they failed the verification test(s)");
 * - §6.1.2 again, for the one record mailauth used: mailauth reads only p=, v= (case-insensitively)
 *   and k= of the key record (lib/tools.js getPublicKey), so it verifies with records RFC 6376 tells
 *   verifiers to ignore: an h= without the signature's hash (§3.6.1, §6.1.2), an s= without email
 *   (§3.6.1), t=s with an i= in a subdomain (§3.6.1), a v= that is not exactly DKIM1 or not first
 *   (§3.6.1). It also accepts rsa-sha1 (RFC 8301 §3.1) and an i= outside d= (§6.1.1). When mailauth
 *   used the record it fetched (`rr`: a pass, a bad signature, or its own objection to the record),
 *   the product's key-record decision (`dkimKeyRecordProblem`) has the last word.
 * An unusable field or record is a PERMFAIL, which RFC 8601 §2.7.1 writes as `permerror` ("the
 * message could not be verified due to some error that is unrecoverable"); a result other than
 * pass never counts for DMARC. mailauth's other results are kept as they are.
 */
function dkimOutcomeOf(field: DkimSignatureField | undefined, r: MaDkimResult | undefined, tracked: TrackedResolver, failure?: string): DkimOutcome {
  if (field?.problem) return { raw: r, field, ...permerrorOf(field.problem, r, field), bodyHashMismatch: false, signatureProblem: field.problem };
  if (failure !== undefined && field) {
    // The verifier failed (dkimVerifySafely): the signature was not checked. RFC 8601 §2.7.1
    // temperror: "the message could not be verified due to some error"; a fixed verifier would check it.
    const problem = dkimProblem('dkim-verifier-error', failure, 'RFC 8601 §2.7.1');
    const { info } = permerrorOf(problem, undefined, field);
    return { field, status: { result: 'temperror', comment: problem.reason }, info: info.replace(/^dkim=permerror/, 'dkim=temperror'), bodyHashMismatch: false, signatureProblem: problem };
  }
  if (!r) {
    // mailauth skipped a field the product finds nothing wrong with: it was not verified, so it cannot pass.
    const skipped = dkimProblemOfSkip();
    return { field, ...permerrorOf(skipped, undefined, field), bodyHashMismatch: false, signatureProblem: skipped };
  }
  const tags = field?.tags;
  const records = r.selector && r.signingDomain ? tracked.txtRecords(`${r.selector}._domainkey.${r.signingDomain}`) : undefined;
  if (tags && records !== undefined && records.length > 1) {
    const keyProblem = dkimKeyRecordsProblem(records, tags);
    if (keyProblem) return { raw: r, field, ...permerrorOf(keyProblem, r, field), bodyHashMismatch: false, keyProblem, keyRecords: records };
  }
  const bodyHashMismatch = r.status.result === 'neutral' && r.status.comment === BODY_HASH_MISMATCH;
  if (bodyHashMismatch) {
    // mailauth's clause starts with `dkim=<result>` (formatAuthHeaderRow); only the result changes.
    return { raw: r, field, status: { ...r.status, result: 'fail' }, info: r.info.replace(/^dkim=neutral(?=[ ;]|$)/, 'dkim=fail'), bodyHashMismatch };
  }
  const used = r.status.result === 'pass' || r.status.result === 'fail' || (r.status.result === 'neutral' && MAILAUTH_KEY_COMMENTS.has(String(r.status.comment)));
  if (!used || r.rr === undefined || !tags) return { raw: r, field, status: r.status, info: r.info, bodyHashMismatch };
  const keyProblem = dkimKeyRecordsProblem([r.rr], tags);
  if (!keyProblem) return { raw: r, field, status: r.status, info: r.info, bodyHashMismatch };
  return { raw: r, field, ...permerrorOf(keyProblem, r, field), bodyHashMismatch, keyProblem };
}

/**
 * The problem of a field mailauth skipped though the product's field check found nothing: a safety
 * net, so that no DKIM-Signature field is ever left without a result or passes unverified.
 */
function dkimProblemOfSkip(): DkimKeyRecordProblem {
  return dkimProblem('dkim-signature-skipped', 'the signature was not verified: the verifier could not read it', 'RFC 6376 §6.1.1');
}

/** mailauth's escaping of a comment in a clause (lib/tools.js escapeCommentValue), to find it there. */
function mailauthComment(value: string): string {
  return value.replace(/[\x00-\x1F]+/g, ' ').replace(/\s+/g, ' ').trim().replace(/[\\)]/g, (c) => `\\${c}`);
}

/** What mailauth alone said, for the details when the product's verdict differs: `result (comment)`. */
function mailauthSaid(status: MaStatus): string {
  return `${status.result ?? 'none'}${typeof status.comment === 'string' && status.comment !== '' ? ` (${status.comment})` : ''}`;
}

function reasonOf(status: MaStatus | undefined): string | undefined {
  return typeof status?.comment === 'string' && status.comment !== '' ? status.comment : undefined;
}

function report(method: AuthMethod, status: MaStatus | undefined, info: string | undefined, details: Record<string, string> = {}): MethodReport {
  const result = status?.result ?? 'none';
  return { method, result, reason: reasonOf(status), failed: isFailing(method, result), info: info ?? `${method}=${result}`, details };
}

function clean(details: Record<string, string | number | boolean | undefined | null | false>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(details)) if (v !== undefined && v !== null && v !== false && v !== '') out[k] = String(v);
  return out;
}

/** Works out the SMTP identities for SPF from the options and the message's trace fields. */
export function smtpIdentities(message: Buffer, options: Pick<VerifyOptions, 'ip' | 'helo' | 'mailFrom' | 'useReceived'>): SmtpIdentities {
  const fields = parseHeaderFields(message);
  const useReceived = options.useReceived !== false;
  const rcvd = useReceived ? topReceived(fields) : undefined;
  const sources: SmtpIdentities['sources'] = { ip: 'none', helo: 'none', mailFrom: 'none' };
  let ip = options.ip;
  if (ip !== undefined) sources.ip = 'caller';
  else if (rcvd?.ip !== undefined) {
    ip = rcvd.ip;
    sources.ip = 'received';
  }
  let helo = options.helo;
  if (helo !== undefined) sources.helo = 'caller';
  else if (rcvd?.helo !== undefined && (options.ip === undefined || options.ip === rcvd.ip)) {
    // The HELO name of a Received field describes that field's connection only; it is not mixed
    // with an IP address the caller gave for a different connection.
    helo = rcvd.helo;
    sources.helo = 'received';
  } else if (ip !== undefined) {
    helo = `[${ip}]`;
    sources.helo = 'derived';
  }
  let mailFrom = options.mailFrom;
  if (mailFrom !== undefined) sources.mailFrom = 'caller';
  else if (rcvd?.envelopeFrom !== undefined) {
    mailFrom = rcvd.envelopeFrom;
    sources.mailFrom = 'received';
  } else if (useReceived) {
    const rp = returnPath(fields);
    if (rp !== undefined) {
      mailFrom = rp;
      sources.mailFrom = 'return-path';
    }
  }
  const identities: SmtpIdentities = { ip, helo, mailFrom, sources };
  if (rcvd && (sources.ip === 'received' || sources.helo === 'received' || sources.mailFrom === 'received')) identities.receivedIndex = rcvd.index;
  if (rcvd?.unreadable && ip === undefined) identities.unreadableReceivedIndex = rcvd.index;
  return identities;
}

/** Verifies the message. Never throws for DNS problems: they become temperror results. */
export async function verifyMessage(message: Buffer, options: VerifyOptions): Promise<AuthReport> {
  const tracked = trackResolver(options.resolver);
  const resolver = tracked.resolve;
  // The authserv-id is written into the Authentication-Results field: a caller's value must be one (RFC 8601 §2.2).
  const idProblem = options.authServId === undefined ? undefined : authServIdProblem(options.authServId);
  if (idProblem !== undefined) throw new RangeError(`invalid authserv-id: ${idProblem}`);
  const mta = options.authServId ?? hostname();
  const notes = messageNotes(message);
  const clock = options.now?.() ?? Date.now();
  const smtp = smtpIdentities(message, options);
  // RFC 8301 §3.2: the smallest RSA key accepted, one setting for mailauth and the product's own checks.
  const minBits = options.minBitLength ?? DEFAULT_MIN_RSA_BITS;
  // A header section with a line that is not a field (headers.ts `headerSectionProblem`) cannot be verified.
  const headerProblem = headerSectionProblem(message);

  const signatureFields = dkimSignatureFields(message);
  // mailauth needs the empty line after the header; a header-only message gets one (an empty body).
  const { result: dkimResult, failure: mailauthFailure } = await dkimVerifySafely(withHeaderSeparator(message), signatureFields, {
    resolver,
    // mailauth reads Return-Path itself when no sender is given; pass ours so both agree.
    sender: smtp.mailFrom === '' ? undefined : smtp.mailFrom,
    minBitLength: minBits,
  });
  // Every DKIM-Signature field gets one result, also those mailauth skipped (pairDkimResults).
  const dkimResults = pairDkimResults(signatureFields, dkimResult.results).map(({ field, result }) => dkimOutcomeOf(field, result, tracked, mailauthFailure));
  // The fields mailauth cannot decide (`verifiedByProduct`): RFC 6376 §3.5 l=0 signs no octet of
  // the body, which mailauth reads as "no limit"; an upper-case unknown tag (RFC 6376 §3.2) it would
  // read as the real one. The product verifies them itself (dkimSelfVerify.ts), with the same
  // key-record decision.
  // Signed fields holding VT, FF or U+00A0, which mailauth's relaxed canonicalization changes
  // (`mailauthMiscanonicalizes`), are verified by the product too.
  const raws = rawFields(message);
  const sigRaws = raws.filter((f) => f.name.toLowerCase() === 'dkim-signature');
  const miscanonicalized = (field: DkimSignatureField | undefined): string | undefined =>
    field === undefined ? undefined : mailauthMiscanonicalizes(field, sigRaws[signatureFields.indexOf(field)], raws);
  if (headerProblem !== undefined) {
    // No signature of such a message passes (RFC 5322 §2.2, §3.5): every DKIM result is permerror.
    const problem = headerSectionDkimProblem(headerProblem);
    for (let k = 0; k < dkimResults.length; k++) {
      const { raw: r, field } = dkimResults[k];
      if (!field && !r?.signature) continue;
      dkimResults[k] = { raw: r, field, ...permerrorOf(problem, r, field), bodyHashMismatch: false, signatureProblem: problem };
    }
  } else if (dkimResults.some((o) => verifiedByProduct(o, mailauthFailure, miscanonicalized(o.field)))) {
    const lookup = async (name: string): Promise<string[][]> => (await resolver(name, 'TXT')) as string[][];
    for (let k = 0; k < dkimResults.length; k++) {
      const outcome = dkimResults[k];
      const field = outcome.field;
      const canonWhy = miscanonicalized(field);
      if (!field || !verifiedByProduct(outcome, mailauthFailure, canonWhy)) continue;
      const sigRaw = sigRaws[signatureFields.indexOf(field)];
      if (!sigRaw) continue;
      const why = outcome.raw ? canonWhy ?? 'mailauth reads l=0 as no limit' : undefined;
      dkimResults[k] = ownOutcomeOf(await checkDkimField(raws, sigRaw, field, messageBody(message), lookup, clock, minBits), outcome.raw, field, why);
    }
  }

  // SPF (RFC 7208 §4) needs the client IP; without one there is nothing to check. The product's own
  // evaluator decides it (RFC 7208 exactly); mailauth's SPF is not used.
  let spfResult: MaSpfResult | undefined;
  let spfEvaluation: SpfEvaluation | undefined;
  if (smtp.ip !== undefined && isIP(smtp.ip) !== 0) {
    // A HELO that is an address is an address literal (RFC 5321 §4.1.3); an absent one is empty.
    const helo = smtp.helo === undefined ? '' : isIP(smtp.helo) !== 0 ? `[${smtp.helo}]` : smtp.helo;
    const spf = await verifySpf({ ip: smtp.ip, mailFrom: smtp.mailFrom ?? '', helo, mta, resolver, now: options.now });
    spfResult = spf;
    spfEvaluation = spf.evaluation;
  }

  // When mailauth failed, its second run saw no ARC set; a message that has one gets temperror, never "none".
  const hasArc = parseHeaderFields(message).some((f) => f.name.toLowerCase() === 'arc-seal');
  // mailauth's ARC verification must not end verification with an internal error either.
  const arcTemperror = (why: string): MaArcResult => ({ status: { result: 'temperror', comment: why }, info: `arc=temperror (${escapeComment(asciiComment(why))})` });
  let arcResult: MaArcResult;
  if (mailauthFailure !== undefined && hasArc) arcResult = arcTemperror(mailauthFailure);
  else {
    try {
      arcResult = await mailauth.arc(dkimResult.arc, { resolver, minBitLength: minBits });
    } catch (err) {
      arcResult = arcTemperror(`the ARC verifier (mailauth) failed on this message: ${errorText(err)}`);
    }
  }

  // The chain view (arcChain.ts) explains the verdict per instance: which signature failed and what changed.
  const arcView = arcResult.status.result === 'none' || mailauthFailure !== undefined ? undefined : await analyzeArcChain(message, async (name) => (await resolver(name, 'TXT')) as string[][], minBits);
  const arcDetails: Record<string, string | number | false | undefined> = { instance: arcResult.i, chain: arcView?.reason };
  for (const v of arcView?.instances ?? []) {
    arcDetails[`i=${v.instance}`] = `cv=${v.cv ?? '?'}: AS ${v.seal.result} (d=${v.seal.domain ?? '?'}: ${v.seal.reason}); AMS ${v.messageSignature.result} (d=${v.messageSignature.domain ?? '?'}: ${v.messageSignature.reason})`;
  }
  // mailauth reads only p=, k= and v= of an ARC key record (and v= not even that: lib/tools.js
  // getPublicKey checks it for DKIM only), and the first record of several. RFC 8617 §5.1.1 and §5.2
  // verify the ARC-Seal and ARC-Message-Signature as DKIM signatures, with the same key records, so
  // the chain view applies DKIM's key-record decision (arcChain.ts `fetchKey`). When the signature
  // that decides the chain's verdict (the latest AMS, §5.2 step 4, or any AS, step 6) has an unusable
  // key record, the chain fails: "cv=fail" (§5.2), with the view's reason, whatever mailauth said.
  let arcStatus = arcResult.status;
  let arcInfo = arcResult.info;
  if (headerProblem !== undefined && hasArc) {
    // RFC 8617 §5.2: a chain whose signatures cannot be verified fails (arc= has none, pass and
    // fail only, RFC 8617 §10.1); the header section is malformed (`headerSectionProblem`).
    const why = `${headerProblem.reason}: the chain cannot be verified`;
    arcDetails['mailauth result'] = mailauthSaid(arcResult.status);
    arcStatus = { ...arcResult.status, result: 'fail', comment: why };
    arcInfo = `arc=fail (${escapeComment(asciiComment(`header line ${headerProblem.line} is not a header field: the chain cannot be verified (RFC 5322 section 2.2)`))})`;
  } else if (arcView?.result === 'fail' && arcView.keyProblem !== undefined) {
    arcDetails['key record problem'] = arcView.keyProblem;
    arcDetails['mailauth result'] = mailauthSaid(arcResult.status);
    arcStatus = { ...arcResult.status, result: 'fail', comment: arcView.reason };
    arcInfo = `arc=fail (${escapeComment(asciiComment(arcView.reason))})`;
  } else if (arcView && arcView.result !== arcResult.status.result) {
    arcDetails['chain view'] = `the chain view says ${arcView.result}, mailauth ${arcResult.status.result ?? 'none'}`;
  }

  // DMARC is RFC 9989: the product's own tree-walk discovery and alignment (dmarcVerify.ts), the
  // same code as the Mail DNS check; mailauth's RFC 7489 discovery uses the public suffix list.
  // The Author Domain (RFC 9989 §5.3.1): exactly one From field naming exactly one domain, or a
  // permerror that says why (dmarcVerify.ts, `authorDomain`).
  let dmarcResult: DmarcVerifyResult | false = false;
  const fromFields = parseHeaderFields(message).filter((f) => f.name.toLowerCase() === 'from').length;
  // A malformed header section has no reliable Author Domain: a reader's client ends the header at
  // the line that is not a field, so the From field it shows may not be the one a verifier reads.
  const author: ReturnType<typeof authorDomain> = headerProblem !== undefined
    ? { problem: `${headerProblem.reason}, so the Author Domain cannot be determined (RFC 9989 §5.3.1)`, domains: [] }
    : authorDomain(fromFields, dkimResult.headerFrom ?? []);
  if ('domain' in author) {
    dmarcResult = await verifyDmarc({
      fromDomain: author.domain,
      spfDomain: spfResult && spfResult.status.result === 'pass' && spfResult.domain ? spfResult.domain : undefined,
      dkimDomains: dkimResults
        .map((r) => (r.status.result === 'pass' ? r.raw?.signingDomain ?? (r.ownCheck ? r.field?.tags.domain : undefined) : undefined))
        .filter((d): d is string => d !== undefined && d !== ''),
      resolver,
    });
  }
  const bimiResult = await mailauth.bimi({ dmarc: dmarcResult, headers: dkimResult.headers, resolver });

  // Assemble the Authentication-Results field in mailauth's order: DKIM, SPF, ARC, DMARC, BIMI.
  const clauses: string[] = [];
  for (const r of dkimResults) clauses.push(libmime.foldLines(r.info, 160));
  const spfInfo = spfResult ? spfResult.info : 'spf=none (no SMTP client IP address known)';
  clauses.push(libmime.foldLines(spfInfo, 160));
  if (arcInfo) clauses.push(libmime.foldLines(arcInfo, 160));
  if (dmarcResult && dmarcResult.info) clauses.push(libmime.foldLines(dmarcResult.info, 160));
  else if ('problem' in author) clauses.push(libmime.foldLines(dmarcPermerrorInfo(author.problem), 160));
  if (bimiResult && bimiResult.info) clauses.push(libmime.foldLines(bimiResult.info, 160));
  const authenticationResults = `Authentication-Results: ${mta};\r\n ${clauses.join(';\r\n ')}\r\n`;

  const dkim: DkimSignatureReport[] = dkimResults.map(({ raw: r, field, status, info, bodyHashMismatch, keyProblem, signatureProblem, keyRecords, ownCheck, ownReason }) => {
    const domain = r?.signingDomain ?? field?.tags.domain;
    const selector = r?.selector ?? field?.tags.selector;
    const algorithm = r?.algo ?? field?.tags.algorithm;
    const canonicalization = r?.format ?? field?.canonicalization;
    const changed = keyProblem ?? signatureProblem;
    // RFC 6376 §8.2: with l= only the first l octets of the canonicalized body are signed, and
    // anything appended after them does not change the verdict. mailauth counts the canonicalized
    // octets after the signed part (`underSized`).
    const unsigned = ownCheck ? ownCheck.unsignedOctets : r?.status.underSized ?? 0;
    const counted = r !== undefined || ownCheck !== undefined;
    const partly = field?.bodyLength === undefined
      ? undefined
      : signsNoBody(field)
        ? `the body is not signed at all: l=${field.bodyLength} covers none of the canonicalized body${counted ? `, and its ${unsigned} octet${unsigned === 1 ? '' : 's'} ${unsigned === 1 ? 'is' : 'are'} not signed` : ''} (RFC 6376 §3.5, §8.2)`
        : `the body is only partly signed: l=${field.bodyLength} covers the first ${field.bodyLength} octets of the canonicalized body${counted ? `, and ${unsigned} octet${unsigned === 1 ? '' : 's'} after the signed part ${unsigned === 1 ? 'is' : 'are'} not signed` : ''} (RFC 6376 §8.2)`;
    // RFC 6376 §3.5 t=: "Verifiers MAY ignore signatures with a timestamp in the future." The
    // product does not (mailauth does not either), but says so: dkimpy refuses a t= more than 10
    // hours ahead, and a signer's clock that far off is worth knowing.
    const ahead = field?.timestamp === undefined ? 0 : Number(field.timestamp) - Math.floor(clock / 1000);
    const base = report('dkim', status, info, clean({
      domain,
      selector,
      algorithm,
      canonicalization,
      aligned: r?.status.aligned,
      'key bits': r?.modulusLength,
      'signed at': r?.signTime,
      'signing time warning': ahead > FUTURE_TOLERANCE_SECONDS ? `t=${field?.timestamp} is ${aheadText(ahead)} in the future: RFC 6376 §3.5 lets verifiers ignore such a signature (dkimpy refuses one more than 10 hours ahead); the signer's clock may be wrong` : undefined,
      'expires at': r?.expiresAfter,
      'body hash (computed)': bodyHashMismatch ? r?.bodyHash : undefined,
      'body hash (signed)': bodyHashMismatch ? r?.bodyHashExpecting : undefined,
      'DNS record': keyRecords === undefined ? r?.rr : undefined,
      'DNS records': keyRecords?.map((record, k) => `#${k + 1}: ${record}`).join(' | '),
      'signature problem': signatureProblem?.code,
      'body length limit': partly,
      'unsigned body octets': field?.bodyLength !== undefined && counted ? unsigned : undefined,
      'key record problem': keyProblem?.code ?? ownCheck?.keyProblem,
      // What mailauth alone said, beside the product's verdict; "skipped" when it gave the field no result.
      'mailauth result': ownCheck
        ? r
          ? `${mailauthSaid(r.status)} (${ownReason ?? 'mailauth reads l=0 as no limit'}; the product verified the signature itself)`
          : field?.hiddenFromMailauth !== undefined
            ? `none (not given to mailauth: ${field.hiddenFromMailauth}; the product verified the signature itself)`
            : `none (${field?.misreadByMailauth ?? 'mailauth gave no result'}; the product verified the signature itself)`
        : !changed
        ? undefined
        : r
          ? mailauthSaid(r.status)
          : field?.hiddenFromMailauth !== undefined
            ? `none (not given to mailauth: ${field.hiddenFromMailauth})`
            : mailauthFailure !== undefined
              ? 'none (mailauth failed)'
              : 'none (skipped the field without a result)',
    }));
    // The partly signed body is said in the reason too, which the text output shows (format.ts).
    if (partly !== undefined && counted && !changed) base.reason = base.reason ? `${base.reason}; ${partly}` : partly;
    const sig: DkimSignatureReport = { ...base, method: 'dkim' };
    if (domain) sig.domain = domain;
    if (selector) sig.selector = selector;
    if (algorithm) sig.algorithm = algorithm;
    if (canonicalization) sig.canonicalization = canonicalization;
    if (typeof status.aligned === 'string') sig.aligned = status.aligned;
    return sig;
  });

  const spf: MethodReport = spfResult
    ? report('spf', spfResult.status, spfResult.info, clean({
        domain: spfResult.domain,
        'client IP': spfResult['client-ip'],
        HELO: spfResult.helo,
        'MAIL FROM': spfResult['envelope-from'],
        'SPF record': spfResult.rr,
        'DNS lookups': spfResult.lookups ? `${spfResult.lookups.count} of ${spfResult.lookups.limit}` : undefined,
        'void lookups': spfResult.lookups ? `${spfResult.lookups.void} of 2` : undefined,
        identity: spfEvaluation?.identity,
        'matched term': spfEvaluation?.mechanism ? `${spfEvaluation.mechanism.term} (in ${spfEvaluation.mechanism.domain})` : undefined,
        explanation: spfEvaluation?.explanation,
        evaluation: spfEvaluation?.reason,
      }))
    : {
        method: 'spf',
        result: 'none',
        reason:
          smtp.unreadableReceivedIndex === undefined
            ? 'no SMTP client IP address: give one, or verify a message with a Received field'
            : `no SMTP client IP address: Received field #${smtp.unreadableReceivedIndex + 1} from the top records a client in a form that cannot be read, and the fields below it may have been written by the sender, so the search stops there (RFC 5321 §4.4); give the address with --ip`,
        failed: false,
        info: spfInfo,
        details: {},
      };

  const dmarc: MethodReport = dmarcResult
    ? report('dmarc', dmarcResult.status, dmarcResult.info, clean({
        domain: dmarcResult.domain,
        policy: dmarcResult.policy,
        p: dmarcResult.p,
        sp: dmarcResult.sp,
        pct: dmarcResult.pct,
        'DMARC record': dmarcResult.rr,
        'SPF alignment': dmarcResult.alignment?.spf?.result,
        'DKIM alignment': dmarcResult.alignment?.dkim?.result,
        // Discovery decides (RFC 9989 §4.7): a tag twice makes the record invalid, and no policy is read from it.
        'duplicate tags': dmarcResult.discovery.values?.duplicateTags.length ? `${dmarcResult.discovery.values.duplicateTags.join(', ')} (a tag twice makes the record invalid, RFC 9989 §4.7: no policy is read from it)` : undefined,
        'policy domain': dmarcResult.discovery.policyDomain,
        'requested policy': dmarcResult.discovery.policy ? `${dmarcResult.discovery.policyTag}=${dmarcResult.discovery.policy}` : undefined,
        'policy discovery': dmarcResult.discovery.steps.map((st) => `${st.name}: ${st.outcome}`).join('; '),
        'walk stopped': dmarcResult.discovery.stop,
        'organizational domain': `${dmarcResult.discovery.organizationalDomain} (${dmarcResult.discovery.organizationalReason})`,
        'test mode': dmarcResult.discovery.values?.t === 'y' ? 't=y: one level less is applied' : undefined,
        alignment: dmarcResult.alignmentNotes.join('; '),
        error: dmarcResult.error,
      }))
    : {
        // Without exactly one Author Domain DMARC cannot be evaluated, which is a failure, never "none".
        method: 'dmarc',
        result: 'permerror',
        reason: 'problem' in author ? author.problem : 'the message has no Author Domain',
        failed: true,
        info: dmarcPermerrorInfo('problem' in author ? author.problem : 'the message has no Author Domain'),
        details: clean({ 'From fields': String(fromFields), 'From domains': 'problem' in author ? author.domains.join(', ') : undefined }),
      };

  const arc = report('arc', arcStatus, arcInfo, clean(arcDetails));
  const bimi: MethodReport = bimiResult
    ? report('bimi', bimiResult.status, bimiResult.info, clean({
        location: bimiResult.location,
        authority: bimiResult.authority,
        'BIMI record': bimiResult.rr,
        // mailauth's pass is about the record and DMARC enforcement only: say what it did not look at.
        'not checked': bimiResult.status.result === 'pass' ? 'the logo (SVG Tiny PS) and the mark certificate are not fetched by verify; smtpwb dns checks them' : undefined,
      }))
    : { method: 'bimi', result: 'none', reason: 'DMARC was not evaluated', failed: false, info: 'bimi=none', details: {} };

  const all = [...dkim, spf, dmarc, arc, bimi];
  return {
    dkim,
    spf,
    dmarc,
    arc,
    bimi,
    smtp,
    headerFrom: dkimResult.headerFrom ?? [],
    authenticationResults,
    receivedSpf: spfResult?.header,
    dnsUnreachable: [...tracked.unreachable],
    dnsQueries: tracked.queries(),
    failed: all.some((m) => m.failed),
    ...(notes.length > 0 ? { notes } : {}),
  };
}
