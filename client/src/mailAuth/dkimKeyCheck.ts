/**
 * Whether a DKIM private key matches the key record published for it, as `opendkim-testkey` decides:
 * the one home of that decision, used by `smtpwb dkim check` and available to the editor's Mail DNS
 * view for a key file the user picks. Pure: the caller reads the file and fetches the TXT records.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { checkKeyRecord } from '../dns/dkim';
import type { Finding } from '../dns/types';
import { isDkimName } from '../../../common/dnsName';
import { visibleLine } from '../../../common/escape';

/** The public key a private key holds, in the form key records carry (SPKI DER for RSA, raw 32 bytes for Ed25519, RFC 8463 §4.2). */
export function dkimPublicKeyOf(pem: string): { type: 'rsa' | 'ed25519'; key: Buffer } | { error: string } {
  let keyObject;
  try {
    keyObject = createPrivateKey(pem);
  } catch {
    try {
      createPublicKey(pem);
      return { error: 'the file holds a public key; the check needs the private key that signs' };
    } catch {
      return { error: 'the file holds no PEM private key' };
    }
  }
  const type = keyObject.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ed25519') return { error: `the key type ${type ?? 'unknown'} is not used by DKIM (rsa or ed25519)` };
  const spki = createPublicKey(keyObject).export({ type: 'spki', format: 'der' });
  return { type, key: type === 'ed25519' ? spki.subarray(spki.length - 32) : spki };
}

export interface DkimKeyMatch {
  /** True when the record is usable and publishes exactly this key. */
  ok: boolean;
  /** One sentence; "the private key" stands for the file, so callers can name it. */
  message: string;
  /** The key record's own findings (revoked, h=, key size, syntax), as the Mail DNS check gives them. */
  findings: Finding[];
  /** The key record that was compared, when there was exactly one. */
  record?: string;
}

/**
 * Compares a private key with the TXT records at `<selector>._domainkey.<domain>` (`name`). No record,
 * several records (RFC 6376 §3.6.2.2), a revoked key (empty p=, §3.6.1), another key or key type, an
 * h= that leaves no accepted hash (RFC 8301 §3.1), or any other error-severity finding about the record
 * (verifiers reject it) is not a match.
 */
export function matchDkimKey(pem: string, selector: string, name: string, txtRecords: readonly string[]): DkimKeyMatch {
  const findings: Finding[] = [];
  const mine = dkimPublicKeyOf(pem);
  if ('error' in mine) return { ok: false, message: mine.error, findings };
  if (txtRecords.length === 0) return { ok: false, message: `no DKIM key record at ${name}`, findings };
  if (txtRecords.length > 1) return { ok: false, message: multipleKeyRecords(name, txtRecords.length).reason, findings };
  const record = txtRecords[0];
  const info = checkKeyRecord(selector, name, record, findings);
  const publishedType = info.keyType ?? 'rsa';
  const fail = (message: string): DkimKeyMatch => ({ ok: false, message, findings, record });
  if (info.revoked) return fail(`the key at ${name} is revoked (empty p=)`);
  if (!info.publicKey) return fail(`the record at ${name} holds no usable public key`);
  if (publishedType !== mine.type) return fail(`the record at ${name} publishes a ${publishedType} key, the file holds an ${mine.type} key`);
  if (!info.publicKey.equals(mine.key)) return fail(`the key published at ${name} does not match the private key`);
  if (!info.usableHash) return fail(`the keys match, but h= at ${name} leaves no hash verifiers accept`);
  // Any error-severity finding (v= other than DKIM1, s= without email, a duplicate tag, a key under
  // 1024 bits, ...) makes verifiers reject the record (RFC 6376 §3.6.1, RFC 8301), so the record is
  // unusable even though the keys are the same.
  const error = findings.find((f) => f.severity === 'error');
  if (error) return fail(`the keys match, but the record at ${name} is unusable: ${error.message.replace(/^Selector [^:]*: /, '').replace(/\.$/, '')}`);
  return { ok: true, message: `the private key matches the ${mine.type === 'rsa' ? `RSA-${info.bits ?? '?'}` : 'Ed25519'} key published at ${name}`, findings, record };
}

/** A domain name or selector (RFC 6376 §3.1): the one rule lives in common/dnsName.ts. */
export { isDkimName };

/** The TXT lookup the check needs: the records' character-strings, failing like `dns.promises.resolveTxt`. */
export type TxtLookup = (name: string) => Promise<string[][]>;

export interface DkimKeyCheck extends DkimKeyMatch {
  /** The name that was queried, `<selector>._domainkey.<domain>`. */
  name: string;
}

/**
 * The whole key-file check, shared by `smtpwb dkim check` and the Mail DNS view: fetches the TXT
 * records at `<selector>._domainkey.<domain>` (no such name or no TXT record: no key record; any
 * other failure is an error, never a verdict about the key) and compares them with the private key.
 */
export async function checkDkimKey(pem: string, domain: string, selector: string, lookupTxt: TxtLookup): Promise<DkimKeyCheck | { error: string; code?: string }> {
  if (!isDkimName(domain)) return { error: `"${domain}" is not a domain name` };
  if (!isDkimName(selector)) return { error: `"${selector}" is not a valid selector` };
  const name = `${selector.toLowerCase()}._domainkey.${domain.replace(/\.$/, '').toLowerCase()}`;
  let txt: string[];
  try {
    // RFC 6376 §3.6.2.2: the character-strings of one record are joined without separators.
    txt = (await lookupTxt(name)).map((chunks) => chunks.join(''));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') txt = [];
    else return { error: `the TXT query for ${name} failed (${code ?? (err as Error).message})`, code };
  }
  return { name, ...matchDkimKey(pem, selector.toLowerCase(), name, txt) };
}

/** The tags of one DKIM-Signature field that the key-record decision needs (RFC 6376 §3.5). */
export interface DkimSignatureTags {
  /** a=, e.g. `rsa-sha256`. */
  algorithm: string;
  /** d=, the Signing Domain Identifier. */
  domain: string;
  /** s=, the selector. */
  selector: string;
  /** i=, the Agent or User Identifier, when the field has one. */
  identity?: string;
}

/** Why a key record cannot verify a signature. */
export interface DkimKeyRecordProblem {
  /** The finding code of the record check, or `dkim-signature-*` for a fault of the signature itself. */
  code: string;
  /** A short ASCII sentence for the Authentication-Results comment (RFC 8601 §2.2), naming the tag. */
  comment: string;
  /** The comment followed by the RFC sections that decide it. */
  reason: string;
}

/**
 * The record checks whose error makes a key record unusable for every signature, in the order a
 * verifier meets them (RFC 6376 §6.1.2), each with the sections that decide it. A finding with an
 * error severity that is not listed here (other than the key size, see below) still makes the record
 * unusable, with the finding's own words.
 */
const RECORD_PROBLEMS: ReadonlyArray<{ code: string; comment: (value: string, message: string) => string; rfc: string }> = [
  // RFC 6376 §3.6.1: "Records beginning with a "v=" tag with any other value MUST be discarded",
  // and "Verifiers must do a string comparison on this value".
  { code: 'dkim-version', comment: (v) => `key v=${v} is not DKIM1, so the record is discarded`, rfc: 'RFC 6376 §3.6.1' },
  // RFC 6376 §3.6.1: v= "MUST be the first tag in the record"; a record that does not adhere to the
  // format is ignored, PERMFAIL (key syntax error), §6.1.2.
  { code: 'dkim-version-position', comment: (v) => `key ${v} is not the first tag: key syntax error`, rfc: 'RFC 6376 §3.6.1, §6.1.2' },
  { code: 'dkim-syntax', comment: (_v, m) => `key syntax error: ${m}`, rfc: 'RFC 6376 §3.2, §6.1.2' },
  { code: 'dkim-duplicate-tag', comment: (_v, m) => `key syntax error: ${m}`, rfc: 'RFC 6376 §3.2, §6.1.2' },
  { code: 'dkim-no-key', comment: () => 'key syntax error: no p= tag', rfc: 'RFC 6376 §3.6.1, §6.1.2' },
  { code: 'dkim-key-type', comment: (v) => `key k=${v} is not a known key type: key syntax error`, rfc: 'RFC 6376 §3.6.1, §6.1.2' },
  { code: 'dkim-key-base64', comment: () => 'key syntax error: p= is not base64', rfc: 'RFC 6376 §3.6.1, §6.1.2' },
  { code: 'dkim-key-invalid', comment: (_v, m) => `key syntax error: ${m}`, rfc: 'RFC 6376 §3.6.1, §6.1.2' },
  // RFC 6376 §3.6.1: "Verifiers for a given service type MUST ignore this record if the appropriate
  // type is not listed"; ignored, the record leaves the signature without a key.
  { code: 'dkim-service-type', comment: (v) => `key s=${v} does not list email or *, so the record does not apply to email`, rfc: 'RFC 6376 §3.6.1' },
];

/** `RFC n §s` for a finding's link (common/problem.ts `rfcLink`). */
function rfcOfLink(link: string): string {
  const m = /rfc(\d+)(?:[^#]*#section-([\d.]+))?/i.exec(link);
  return m ? `RFC ${m[1]}${m[2] ? ` §${m[2]}` : ''}` : link;
}

/**
 * Text for a comment of a header field, which stays ASCII (RFC 5322 §2.2): a section sign is spelt
 * out, and any other non-ASCII character (from a record or a field) is replaced.
 */
export function asciiComment(text: string): string {
  return text.replace(/§\s*/g, 'section ').replace(/[^\x20-\x7e]/g, '?');
}

/** A problem with its comment made fit for a header field; the one way every DKIM problem is worded. */
export function dkimProblem(code: string, comment: string, rfc: string): DkimKeyRecordProblem {
  // The comment quotes peer text (a key record, a tag value): the reason is one line, escaped here,
  // at its source (common/escape.ts `visibleLine`), so no output can show a forged line from it.
  return { code, comment: asciiComment(comment), reason: visibleLine(`${comment} (${rfc})`) };
}

/**
 * Decides whether the key record a verifier fetched may verify this signature: the one home of that
 * decision, used by `verifyMessage` for every DKIM signature after mailauth checked it. The record
 * is read by `checkKeyRecord` (client/src/dns/dkim.ts), the same checks as the Mail DNS report and
 * `smtpwb dkim check`, so an unusable record is unusable in all three. In RFC 6376 §6.1.1 and §6.1.2
 * order, it is not usable when:
 * - the signature uses SHA-1, which RFC 8301 §3.1 forbids verifiers to accept;
 * - the i= domain is neither d= nor a subdomain of it: PERMFAIL (domain mismatch), §6.1.1;
 * - v= is not DKIM1 or not first, the record does not parse, or s= excludes email (RECORD_PROBLEMS);
 * - h= does not list the hash of a=: PERMFAIL (inappropriate hash algorithm), §3.6.1 and §6.1.2;
 * - p= is empty: PERMFAIL (key revoked), §6.1.2;
 * - k= is not the key type of a=: PERMFAIL (inappropriate key algorithm), §6.1.2;
 * - t= has "s" and the i= domain is a subdomain of d= ("the "i=" domain MUST NOT be a subdomain of
 *   "d="", §3.6.1);
 * - any other error-severity finding about the record. The key size is not decided here: it is the
 *   verifier's setting (`minBitLength`, RFC 8301 §3.2), which mailauth applies on its path and
 *   `fetchKey` (dkimSelfVerify.ts, `DEFAULT_MIN_RSA_BITS`) on the product's own; a caller that
 *   fetches a key itself must apply it too.
 */
export function dkimKeyRecordProblem(record: string, signature: DkimSignatureTags): DkimKeyRecordProblem | undefined {
  const [signAlgo, hashAlgo] = signature.algorithm.toLowerCase().split('-');
  if (hashAlgo === 'sha1') {
    return dkimProblem('dkim-signature-sha1', `a=${signature.algorithm} uses SHA-1, which verifiers must not accept`, 'RFC 8301 §3.1');
  }
  const domain = signature.domain.toLowerCase().replace(/\.$/, '');
  const identityDomain = signature.identity === undefined ? undefined : signature.identity.slice(signature.identity.lastIndexOf('@') + 1).toLowerCase().replace(/\.$/, '');
  if (identityDomain !== undefined && identityDomain !== domain && !identityDomain.endsWith(`.${domain}`)) {
    return dkimProblem('dkim-signature-domain', `i= domain ${identityDomain} is not d=${domain} or a subdomain of it: domain mismatch`, 'RFC 6376 §3.5, §6.1.1');
  }
  const selector = signature.selector.toLowerCase();
  const name = `${selector}._domainkey.${domain}`;
  const findings: Finding[] = [];
  const info = checkKeyRecord(selector, name, record, findings);
  const errors = findings.filter((f) => f.severity === 'error');
  const messageOf = (f: Finding): string => f.message.replace(/^Selector [^:]*: /, '').replace(/\.$/, '');
  for (const p of RECORD_PROBLEMS) {
    const f = errors.find((e) => e.code === p.code);
    if (!f) continue;
    const value = f.record?.range ? f.record.text.slice(f.record.range.start, f.record.range.end) : '';
    return dkimProblem(p.code, p.comment(value, messageOf(f)), p.rfc);
  }
  if (info.hashes !== undefined && !info.hashes.includes(hashAlgo)) {
    return dkimProblem('dkim-hash-excluded', `key h=${info.hashes.join(':')} does not list ${hashAlgo}, the hash of a=${signature.algorithm}: inappropriate hash algorithm`, 'RFC 6376 §3.6.1, §6.1.2');
  }
  if (info.revoked) return dkimProblem('dkim-revoked', 'key revoked (empty p=)', 'RFC 6376 §3.6.1, §6.1.2');
  const keyType = info.keyType ?? 'rsa';
  if (keyType !== signAlgo) {
    return dkimProblem('dkim-key-algorithm', `key k=${keyType} does not fit a=${signature.algorithm}: inappropriate key algorithm`, 'RFC 6376 §6.1.2, RFC 8463 §3');
  }
  if (info.strictSubdomain && identityDomain !== undefined && identityDomain !== domain) {
    return dkimProblem('dkim-strict-subdomain', `key t=s, but the i= domain ${identityDomain} is a subdomain of d=${domain}`, 'RFC 6376 §3.6.1');
  }
  // The key size is the verifier's setting (minBitLength, RFC 8301 §3.2), applied by the caller.
  const other = errors.find((e) => e.code !== 'dkim-key-too-short');
  if (other) return dkimProblem(other.code, `key record unusable: ${messageOf(other)}`, rfcOfLink(other.link));
  return undefined;
}

/**
 * RFC 6376 §3.6.2.2: "TXT RRs MUST be unique for a particular selector name; that is, if there are
 * multiple records in an RRset, the results are undefined." §6.1.2 step 4 lets a verifier pick one or
 * try each, and the order of the records in an answer is unspecified, so verifiers (and the same
 * verifier on two queries) can reach different verdicts. The product does not pick: the key query
 * found no single key record, which is not a transient condition, so it is a PERMFAIL (RFC 8601
 * §2.7.1 `permerror`, "some error that is unrecoverable"), not a `temperror`.
 */
function multipleKeyRecords(name: string, count: number): DkimKeyRecordProblem {
  return dkimProblem('dkim-key-multiple', `${count} key records at ${name}: the verdict would depend on which one is read`, 'RFC 6376 §3.6.2.2, §6.1.2');
}

/**
 * The key-record decision on every TXT record the key query returned (`records`, each record's
 * character-strings already joined, RFC 6376 §3.6.2.2): several records are unusable as such (see
 * `multipleKeyRecords`); one record is decided by `dkimKeyRecordProblem`. No record is not decided
 * here: that is "no key for signature" (§6.1.2 step 3), which each verifier reports in its own words.
 * `verifyMessage` (DKIM), the ARC chain view (ARC-Seal and ARC-Message-Signature keys, RFC 8617
 * §5.1.1, §5.2) and `matchDkimKey` make the same decision through it.
 */
export function dkimKeyRecordsProblem(records: readonly string[], signature: DkimSignatureTags): DkimKeyRecordProblem | undefined {
  if (records.length === 0) return undefined;
  if (records.length > 1) {
    const name = `${signature.selector.toLowerCase()}._domainkey.${signature.domain.toLowerCase().replace(/\.$/, '')}`;
    return multipleKeyRecords(name, records.length);
  }
  return dkimKeyRecordProblem(records[0], signature);
}
