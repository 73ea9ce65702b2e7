/**
 * The product's own check of a DKIM-style signature (RFC 6376 §6.1.2, §6.1.3): the key fetched and
 * judged by DKIM's key-record decision, the body hash, and the signature over the signed header
 * fields. The ARC chain view (arcChain.ts) verifies ARC-Seals and ARC-Message-Signatures with it
 * (RFC 8617 §5.1.1, §5.2 verify them as DKIM signatures), and `verifyMessage` uses it for the one
 * DKIM case mailauth decides wrongly: `l=0`, which mailauth reads as "no limit" (lib/dkim/
 * dkim-verifier.js tests `parsed.l.value &&`, and 0 is false), while RFC 6376 §3.5 makes it "zero
 * octets of the body are signed". Pure: the TXT lookup is a parameter; never throws.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { checkKeyRecord } from '../dns/dkim';
import type { Finding } from '../dns/types';
import { canonicalBody, selectHeaders, signedHeaderData, valueOf, type RawField } from './dkimCanon';
import { dkimKeyRecordsProblem } from './dkimKeyCheck';

/** The TXT lookup: each record's character-strings, failing like `dns.promises.resolveTxt`. */
export type TxtLookup = (name: string) => Promise<string[][]>;

/** A usable public key, or why there is none: `nokey` (no record, NXDOMAIN), `dns` (the query failed), `record` (unusable). */
export type KeyResult = { key: KeyObject; type: 'rsa' | 'ed25519' } | { error: string; kind: 'nokey' | 'dns' | 'record'; keyProblem?: string };

/**
 * Fetches the key of a DKIM signature, an ARC-Seal or an ARC-Message-Signature (RFC 8617 §4.1.2,
 * §4.1.3: the same `<selector>._domainkey.<domain>` records). The key-record decision is DKIM's,
 * `dkimKeyRecordsProblem` (dkimKeyCheck.ts): several records, an h= without the hash of a=, an s=
 * without email, t=s with an i= below d=, a v= other than DKIM1 or not first, a key type that does
 * not fit a=, a revoked key. A key that decision refuses verifies nothing.
 */
export async function fetchKey(lookup: TxtLookup, selector: string, domain: string, algorithm: string, identity?: string): Promise<KeyResult> {
  const name = `${selector}._domainkey.${domain}`;
  let records: string[];
  try {
    records = (await lookup(name)).map((c) => c.join(''));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOTFOUND' || code === 'ENODATA'
      ? { error: `no key record at ${name}`, kind: 'nokey' }
      : { error: `the key query for ${name} failed (${code ?? (err as Error).message})`, kind: 'dns' };
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
    return { key: createPublicKey({ key: info.publicKey, format: 'der', type: 'spki' }), type: 'rsa' };
  } catch {
    return { error: `the record at ${name} holds no usable public key`, kind: 'record' };
  }
}

/** Whether b= verifies over the data with the key (RFC 6376 §3.3 rsa-sha256, RFC 8463 §3 ed25519-sha256). */
export function verifySignature(algorithm: string, key: { key: KeyObject; type: 'rsa' | 'ed25519' }, data: Buffer, b: string): boolean {
  const signature = Buffer.from(b.replace(/\s+/g, ''), 'base64');
  try {
    if (algorithm === 'ed25519-sha256' && key.type === 'ed25519') return cryptoVerify(null, createHash('sha256').update(data).digest(), key.key, signature);
    if (algorithm === 'rsa-sha256' && key.type === 'rsa') return cryptoVerify('sha256', data, key.key, signature);
  } catch {
    return false;
  }
  return false;
}

/** Tag=value pairs of a signature field (RFC 6376 §3.2), the first of each name, values with white space removed. */
function signatureTags(raw: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of valueOf({ name: '', raw }).split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name !== '' && !map.has(name)) map.set(name, part.slice(eq + 1).replace(/[ \t\r\n]+/g, ''));
  }
  return map;
}

/** The product's own verdict on one DKIM-Signature field. */
export interface OwnDkimCheck {
  result: 'pass' | 'fail' | 'neutral' | 'temperror' | 'permerror';
  /** Why, as mailauth words the same outcome where it has one ("body hash did not verify", "bad signature", "no key"). */
  comment?: string;
  /** The key-record decision's code, when the key record could not verify the signature. */
  keyProblem?: string;
  /** The octets of the canonicalized body after the part l= signs (0 without l=; RFC 6376 §8.2). */
  unsignedOctets: number;
}

/**
 * Verifies one DKIM-Signature field (its tags already checked by dkimSignatureCheck.ts) against the
 * message's header fields and body, in RFC 6376 §6.1.3 order: the body hash over the first l=
 * octets of the canonicalized body, then the key, then the signature over the h= fields and the
 * field itself. `now` (milliseconds) decides an x= in the past (RFC 6376 §3.5: "expired").
 */
export async function checkDkimField(fields: RawField[], signature: RawField, body: Buffer, lookup: TxtLookup, now: number): Promise<OwnDkimCheck> {
  const t = signatureTags(signature.raw);
  const [headerCanon = 'simple', bodyCanon = 'simple'] = (t.get('c') ?? 'simple/simple').toLowerCase().split('/');
  const canon = canonicalBody(body, bodyCanon === 'relaxed');
  const limit = t.get('l');
  const hashed = limit === undefined ? canon : canon.subarray(0, Math.min(canon.length, Number(limit)));
  const base = { unsignedOctets: canon.length - hashed.length };
  const algorithm = (t.get('a') ?? '').toLowerCase();
  const digest = createHash('sha256').update(hashed).digest('base64');
  if (digest !== t.get('bh')) return { ...base, result: 'fail', comment: 'body hash did not verify' };
  const key = await fetchKey(lookup, t.get('s') ?? '', t.get('d') ?? '', algorithm, t.get('i'));
  if ('error' in key) {
    // RFC 8601 §2.7.1: a key that cannot be read for a DNS failure is temperror; mailauth says
    // neutral for a missing key, which the product counts as a failure (verify.ts, `isFailing`).
    if (key.kind === 'dns') return { ...base, result: 'temperror', comment: key.error };
    if (key.kind === 'nokey') return { ...base, result: 'neutral', comment: 'no key' };
    return { ...base, result: 'permerror', comment: key.error, ...(key.keyProblem ? { keyProblem: key.keyProblem } : {}) };
  }
  const names = (t.get('h') ?? '').split(':').map((n) => n.trim().toLowerCase()).filter(Boolean);
  const others = fields.filter((f) => f !== signature);
  if (!verifySignature(algorithm, key, signedHeaderData(selectHeaders(others, names), signature.raw, headerCanon === 'relaxed'), t.get('b') ?? '')) {
    return { ...base, result: 'fail', comment: 'bad signature' };
  }
  const x = t.get('x');
  if (x !== undefined && Number(x) * 1000 < now) return { ...base, result: 'neutral', comment: 'expired' };
  return { ...base, result: 'pass' };
}
