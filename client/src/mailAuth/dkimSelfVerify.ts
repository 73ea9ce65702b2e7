/**
 * The product's own check of a DKIM-style signature (RFC 6376 §6.1.2, §6.1.3): the key fetched and
 * judged by DKIM's key-record decision, the body hash, and the signature over the signed header
 * fields. The ARC chain view (arcChain.ts) verifies ARC-Seals and ARC-Message-Signatures with it
 * (RFC 8617 §5.1.1, §5.2 verify them as DKIM signatures), and `verifyMessage` uses it for the one
 * DKIM case mailauth decides wrongly: `l=0`, which mailauth reads as "no limit" (lib/dkim/
 * dkim-verifier.js tests `parsed.l.value &&`, and 0 is false), while RFC 6376 §3.5 makes it "zero
 * octets of the body are signed", upper-case unknown tags it reads as the real ones, and signed
 * fields its relaxed canonicalization reads wrongly (verify.ts). The tags come from the one reading
 * of a DKIM-Signature field (dkimSignatureCheck.ts `readDkimSignatureField`), the same as the field
 * check's. Pure: the TXT lookup is a parameter; never throws.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { checkKeyRecord, MIN_RSA_KEY_BITS } from '../dns/dkim';
import type { Finding } from '../dns/types';
import { canonicalBody, selectHeaders, signedHeaderData, type RawField } from './dkimCanon';
import { dkimKeyRecordsProblem } from './dkimKeyCheck';
import type { DkimSignatureField } from './dkimSignatureCheck';
import { aLabelDomain } from '../../../common/dnsName';
import { visibleLine } from '../../../common/escape';

/**
 * The smallest RSA key a verifier accepts by default, in bits: RFC 8301 §3.2, "Verifiers MUST NOT
 * consider signatures using RSA keys of less than 1024 bits as valid signatures" (the value lives
 * with the DNS key check, dns/dkim.ts). `verifyMessage` gives it (or the caller's `minBitLength`)
 * to mailauth and to `fetchKey`.
 */
export const DEFAULT_MIN_RSA_BITS = MIN_RSA_KEY_BITS;

/** The TXT lookup: each record's character-strings, failing like `dns.promises.resolveTxt`. */
export type TxtLookup = (name: string) => Promise<string[][]>;

/**
 * A usable public key, or why there is none: `nokey` (no record, NXDOMAIN), `dns` (the query
 * failed), `record` (unusable), `weak` (an RSA key shorter than the verifier accepts, RFC 8301 §3.2).
 * The error is one line, peer text escaped (common/escape.ts `visibleLine`).
 */
export type KeyResult = { key: KeyObject; type: 'rsa' | 'ed25519' } | { error: string; kind: 'nokey' | 'dns' | 'record' | 'weak'; keyProblem?: string };

/**
 * Fetches the key of a DKIM signature, an ARC-Seal or an ARC-Message-Signature (RFC 8617 §4.1.2,
 * §4.1.3: the same `<selector>._domainkey.<domain>` records). The key-record decision is DKIM's,
 * `dkimKeyRecordsProblem` (dkimKeyCheck.ts): several records, an h= without the hash of a=, an s=
 * without email, t=s with an i= below d=, a v= other than DKIM1 or not first, a key type that does
 * not fit a=, a revoked key. A key that decision refuses verifies nothing, and neither does an RSA
 * key under `minBits` (RFC 8301 §3.2), which that decision leaves to the verifier's setting. The
 * name is queried in A-labels (RFC 8616 §4: d= and s= may be U-labels).
 */
export async function fetchKey(lookup: TxtLookup, selector: string, domain: string, algorithm: string, identity?: string, minBits = DEFAULT_MIN_RSA_BITS): Promise<KeyResult> {
  const name = visibleLine(`${aLabelDomain(selector) ?? selector}._domainkey.${aLabelDomain(domain) ?? domain}`);
  const query = `${aLabelDomain(selector) ?? selector}._domainkey.${aLabelDomain(domain) ?? domain}`;
  let records: string[];
  try {
    records = (await lookup(query)).map((c) => c.join(''));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOTFOUND' || code === 'ENODATA'
      ? { error: `no key record at ${name}`, kind: 'nokey' }
      : { error: `the key query for ${name} failed (${visibleLine(code ?? (err as Error).message)})`, kind: 'dns' };
  }
  if (records.length === 0) return { error: `no key record at ${name}`, kind: 'nokey' };
  const problem = dkimKeyRecordsProblem(records, { algorithm, domain, selector, ...(identity !== undefined ? { identity } : {}) });
  if (problem) return { error: `the key record at ${name} is unusable: ${problem.reason}`, kind: 'record', keyProblem: problem.code };
  const findings: Finding[] = [];
  const info = checkKeyRecord(selector, name, records[0], findings);
  if (info.revoked) return { error: `the key at ${name} is revoked (empty p=)`, kind: 'record' };
  if (!info.publicKey) return { error: `the record at ${name} holds no usable public key`, kind: 'record' };
  try {
    if (info.keyType === 'ed25519') {
      // RFC 8463 §4.2: the raw 32-byte key; Node takes it wrapped as SubjectPublicKeyInfo.
      const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), info.publicKey]);
      return { key: createPublicKey({ key: spki, format: 'der', type: 'spki' }), type: 'ed25519' };
    }
    const key = createPublicKey({ key: info.publicKey, format: 'der', type: 'spki' });
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < minBits) return { error: `the RSA key at ${name} has ${bits} bits; keys under ${minBits} bits are not valid (RFC 8301 §3.2)`, kind: 'weak' };
    return { key, type: 'rsa' };
  } catch {
    return { error: `the record at ${name} holds no usable public key`, kind: 'record' };
  }
}

/** Whether b= verifies over the data with the key (RFC 6376 §3.3 rsa-sha256, RFC 8463 §3 ed25519-sha256). */
export function verifySignature(algorithm: string, key: { key: KeyObject; type: 'rsa' | 'ed25519' }, data: Buffer, b: string): boolean {
  const text = b.replace(/[ \t\r\n]+/g, '');
  // RFC 6376 §3.5: b= is base64; Node's decoder skips what is not, so anything else verifies nothing.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return false;
  const signature = Buffer.from(text, 'base64');
  try {
    if (algorithm === 'ed25519-sha256' && key.type === 'ed25519') return cryptoVerify(null, createHash('sha256').update(data).digest(), key.key, signature);
    if (algorithm === 'rsa-sha256' && key.type === 'rsa') return cryptoVerify('sha256', data, key.key, signature);
  } catch {
    return false;
  }
  return false;
}

/** The product's own verdict on one DKIM-Signature field. */
export interface OwnDkimCheck {
  result: 'pass' | 'fail' | 'neutral' | 'temperror' | 'permerror' | 'policy';
  /** Why, as mailauth words the same outcome where it has one ("body hash did not verify", "bad signature", "no key"). */
  comment?: string;
  /** The key-record decision's code, when the key record could not verify the signature. */
  keyProblem?: string;
  /** The octets of the canonicalized body after the part l= signs (0 without l=; RFC 6376 §8.2). */
  unsignedOctets: number;
}

/**
 * Verifies one DKIM-Signature field against the message's header fields and body, in RFC 6376
 * §6.1.3 order: the body hash over the first l= octets of the canonicalized body, then the key, then
 * the signature over the h= fields and the field itself. `field` is the field's one reading
 * (`readDkimSignatureField`, its tags already checked: the caller verifies only a field without a
 * problem); `signature` is the same field as written. `now` (milliseconds) decides an x= in the past
 * (RFC 6376 §3.5: "expired"); `minBits` is the smallest RSA key accepted (RFC 8301 §3.2).
 */
export async function checkDkimField(fields: RawField[], signature: RawField, field: DkimSignatureField, body: Buffer, lookup: TxtLookup, now: number, minBits = DEFAULT_MIN_RSA_BITS): Promise<OwnDkimCheck> {
  const [headerCanon = 'simple', bodyCanon = 'simple'] = (field.canonicalization ?? 'simple/simple').toLowerCase().split('/');
  const canon = canonicalBody(body, bodyCanon === 'relaxed');
  const limit = field.bodyLength;
  const hashed = limit === undefined ? canon : canon.subarray(0, Math.min(canon.length, Number(limit)));
  const base = { unsignedOctets: canon.length - hashed.length };
  const algorithm = field.tags.algorithm.toLowerCase();
  const digest = createHash('sha256').update(hashed).digest('base64');
  if (digest !== field.bodyHash) return { ...base, result: 'fail', comment: 'body hash did not verify' };
  const key = await fetchKey(lookup, field.tags.selector, field.tags.domain, algorithm, field.tags.identity, minBits);
  if ('error' in key) {
    // RFC 8601 §2.7.1: a key that cannot be read for a DNS failure is temperror; mailauth says
    // neutral for a missing key, which the product counts as a failure (verify.ts, `isFailing`),
    // and policy for a key shorter than the verifier accepts (RFC 8601 §2.7.1: "not accepted
    // because of local policy"; RFC 8301 §3.2), as the product says here.
    if (key.kind === 'dns') return { ...base, result: 'temperror', comment: key.error };
    if (key.kind === 'nokey') return { ...base, result: 'neutral', comment: 'no key' };
    if (key.kind === 'weak') return { ...base, result: 'policy', comment: key.error };
    return { ...base, result: 'permerror', comment: key.error, ...(key.keyProblem ? { keyProblem: key.keyProblem } : {}) };
  }
  const others = fields.filter((f) => f !== signature);
  if (!verifySignature(algorithm, key, signedHeaderData(selectHeaders(others, field.signedFields), signature.raw, headerCanon === 'relaxed'), field.b ?? '')) {
    return { ...base, result: 'fail', comment: 'bad signature' };
  }
  const x = field.expiration;
  if (x !== undefined && Number(x) * 1000 < now) return { ...base, result: 'neutral', comment: 'expired' };
  return { ...base, result: 'pass' };
}
