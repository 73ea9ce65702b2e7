/**
 * The DKIM key check (RFC 6376 §3.6.1, RFC 8301, RFC 8463): the selectors the user gives, plus a
 * probe of common selector names, each key record parsed tag by tag.
 */
import { createPublicKey } from 'node:crypto';
import { type CheckContext, finding, rfc } from './context';
import { describeFailure } from './resolver';
import { getTag, parseTagList } from '../../../common/tagList';
import { CHECK_TITLES, type CheckResult, type Finding, type RawRecord, type RecordRef } from './types';

/** Selector names in common use, probed when the user asks (DKIM selectors cannot be listed). */
/**
 * The smallest RSA key DKIM may use, in bits (RFC 8301 §3.2: signers MUST use at least 1024 bits,
 * and verifiers MUST NOT consider signatures with smaller keys valid). The one home: the DNS key
 * check, the signer and the verifiers' default (mailAuth/dkimSelfVerify.ts) read it.
 */
export const MIN_RSA_KEY_BITS = 1024;

export const COMMON_SELECTORS: readonly string[] = [
  'default', 'dkim', 'mail', 'selector1', 'selector2', 'google', 'k1', 'k2', 's1', 's2', 'sig1', 'smtp', 'mx', 'key1', 'dkim1',
];

/** The facts one key record yields, for reports and tests. */
export interface DkimKeyInfo {
  selector: string;
  keyType?: string;
  bits?: number;
  revoked: boolean;
  testing: boolean;
  /** The public key, when p= holds a valid one: SubjectPublicKeyInfo DER for RSA, the raw 32 bytes for Ed25519. */
  publicKey?: Buffer;
  /** Whether h= leaves a hash verifiers accept (sha256; RFC 8301 §3.1); true when h= is absent. */
  usableHash: boolean;
  /** The hash algorithms h= lists, lower-cased; absent when the record has no h= (all hashes allowed, RFC 6376 §3.6.1). */
  hashes?: string[];
  /** Whether t= holds the "s" flag: the i= domain of a signature must equal d= (RFC 6376 §3.6.1). */
  strictSubdomain: boolean;
}

/** Runs the DKIM check. */
export async function checkDkim(ctx: CheckContext): Promise<CheckResult> {
  const findings: Finding[] = [];
  const records: RawRecord[] = [];
  const result: CheckResult = { id: 'dkim', title: CHECK_TITLES.dkim, findings, records };
  const given = [...new Set(ctx.selectors.map((s) => s.toLowerCase()))];
  const probed = ctx.probeSelectors ? COMMON_SELECTORS.filter((s) => !given.includes(s)) : [];
  const all = [...given.map((s) => ({ selector: s, given: true })), ...probed.map((s) => ({ selector: s, given: false }))];
  const answers = await Promise.all(all.map((s) => ctx.dns.query(`${s.selector}._domainkey.${ctx.domain}`, 'TXT')));
  let found = 0;
  const probeFailures: Array<(typeof answers)[number]> = [];
  all.forEach(({ selector, given: isGiven }, i) => {
    const answer = answers[i];
    const name = answer.name;
    if (answer.status === 'error') {
      // A DNS failure is never "no key". Failures of probed names are summed up in one finding below.
      if (isGiven) findings.push(finding('error', 'dkim-dns-error', `The TXT query for ${name} failed: ${describeFailure(answer)}.`, rfc(6376, '3.6.2.2')));
      else probeFailures.push(answer);
      return;
    }
    // RFC 6376 §3.6.2.2: several TXT records at a selector give undefined results; take the DKIM ones.
    const keys = answer.data.filter((t) => /^\s*v\s*=\s*DKIM1\s*(;|$)/.test(t) || /(^|;)\s*p\s*=/.test(t));
    if (keys.length === 0) {
      if (isGiven) {
        findings.push(
          finding('error', 'dkim-selector-missing', `No DKIM key record at ${name} (selector "${selector}").`, rfc(6376, '3.6.2.2')),
        );
      }
      return;
    }
    found++;
    for (const k of keys) records.push({ name, type: 'TXT', data: k });
    if (keys.length > 1) {
      findings.push(
        finding('error', 'dkim-multiple', `${name} has ${keys.length} key records; verifiers may pick any of them.`, rfc(6376, '3.6.2.2'), {
          name, type: 'TXT', text: keys[1], range: { start: 0, end: keys[1].length },
        }),
      );
    }
    checkKeyRecord(selector, name, keys[0], findings);
  });
  if (probeFailures.length > 0) {
    findings.push(
      finding(
        'error',
        'dkim-dns-error',
        `${probeFailures.length} of the ${probed.length} probed selector queries failed (${describeFailure(probeFailures[0])}), so keys may be missing from this report.`,
        rfc(6376, '3.6.2.2'),
      ),
    );
  }
  if (all.length === 0) {
    // Nothing was asked: no selector was given and the common names were not probed.
    findings.push(
      finding('info', 'dkim-not-checked', 'No DKIM selector was checked: none was given and the common selector names were not probed. DKIM selectors cannot be listed, so give the selector your signer uses.', rfc(6376, '3.1')),
    );
  } else if (found === 0 && !findings.some((f) => f.severity === 'error')) {
    const asked = [given.length > 0 ? `selector(s) ${given.join(', ')}` : '', probed.length > 0 ? 'the common selector names' : ''].filter(Boolean).join(' or ');
    findings.push(
      finding('info', 'dkim-none-found', `No DKIM key found for ${asked}; DKIM selectors cannot be listed, so give the selector your signer uses.`, rfc(6376, '3.1')),
    );
  }
  return result;
}

/** Checks one key record and appends its findings; returns what it learned. */
export function checkKeyRecord(selector: string, name: string, text: string, findings: Finding[]): DkimKeyInfo {
  const info: DkimKeyInfo = { selector, revoked: false, testing: false, usableHash: true, strictSubdomain: false };
  const at = (start: number, end: number): RecordRef => ({ name, type: 'TXT', text, range: { start, end } });
  const before = findings.length;
  const list = parseTagList(text);
  for (const e of list.errors) {
    findings.push(finding('error', 'dkim-syntax', `Selector ${selector}: syntax error at column ${e.range.start + 1}: ${e.message}.`, rfc(6376, '3.2'), at(e.range.start, e.range.end)));
  }
  for (const d of list.duplicates) {
    findings.push(finding('error', 'dkim-duplicate-tag', `Selector ${selector}: the tag "${d.name}" appears more than once, which makes the whole record invalid.`, rfc(6376, '3.2'), at(d.range.start, d.range.end)));
  }
  const v = getTag(list, 'v');
  if (v) {
    if (v.value !== 'DKIM1') findings.push(finding('error', 'dkim-version', `Selector ${selector}: v= must be "DKIM1".`, rfc(6376, '3.6.1'), at(v.valueRange.start, v.valueRange.end)));
    else if (list.tags[0] !== v) findings.push(finding('error', 'dkim-version-position', `Selector ${selector}: v= must be the first tag.`, rfc(6376, '3.6.1'), at(v.range.start, v.range.end)));
  }
  const k = getTag(list, 'k');
  const keyType = k ? k.value.toLowerCase() : 'rsa';
  info.keyType = keyType;
  if (k && keyType !== 'rsa' && keyType !== 'ed25519') {
    findings.push(finding('error', 'dkim-key-type', `Selector ${selector}: unknown key type k=${k.value} (rsa or ed25519).`, rfc(8463, '3'), at(k.valueRange.start, k.valueRange.end)));
  }
  const h = getTag(list, 'h');
  if (h) {
    const algs = h.value.split(':').map((a) => a.trim().toLowerCase());
    info.hashes = algs;
    const unknown = algs.filter((a) => a !== 'sha1' && a !== 'sha256');
    if (unknown.length > 0) findings.push(finding('warning', 'dkim-hash-unknown', `Selector ${selector}: unknown hash algorithm(s) ${unknown.join(', ')} in h=.`, rfc(6376, '3.6.1'), at(h.valueRange.start, h.valueRange.end)));
    info.usableHash = algs.includes('sha256');
    if (!info.usableHash && !algs.includes('sha1')) {
      // RFC 6376 §3.6.1: h= restricts the hashes a key may sign with; without sha256 (the only one
      // RFC 8301 §3.1 leaves), no signature made with this key can verify.
      findings.push(
        finding('error', 'dkim-hash-unusable', `Selector ${selector}: h=${h.value} leaves no hash algorithm verifiers accept (only sha256 is, RFC 8301 §3.1), so every signature with this key fails.`, rfc(8301, '3.1'), at(h.valueRange.start, h.valueRange.end)),
      );
    }
    if (algs.includes('sha1')) {
      // RFC 8301 §3.1: signers MUST NOT use rsa-sha1, and verifiers MUST NOT consider it valid.
      const only = !algs.includes('sha256');
      findings.push(
        finding(
          only ? 'error' : 'warning',
          'dkim-sha1',
          only ? `Selector ${selector}: h=sha1 allows only SHA-1, which verifiers no longer accept.` : `Selector ${selector}: h= still lists sha1, which is obsolete.`,
          rfc(8301, '3.1'),
          at(h.valueRange.start, h.valueRange.end),
        ),
      );
    }
  }
  const t = getTag(list, 't');
  if (t) {
    const flags = t.value.split(':').map((f) => f.trim());
    if (flags.includes('y')) {
      info.testing = true;
      findings.push(finding('warning', 'dkim-testing', `Selector ${selector}: t=y marks the key as testing; verifiers treat its failures like unsigned mail.`, rfc(6376, '3.6.1'), at(t.valueRange.start, t.valueRange.end)));
    }
    if (flags.includes('s')) {
      info.strictSubdomain = true;
      findings.push(finding('info', 'dkim-strict-subdomain', `Selector ${selector}: t=s forbids signing with i= in a subdomain of d=.`, rfc(6376, '3.6.1'), at(t.valueRange.start, t.valueRange.end)));
    }
  }
  const s = getTag(list, 's');
  if (s && !s.value.split(':').some((x) => x.trim() === '*' || x.trim() === 'email')) {
    findings.push(finding('error', 'dkim-service-type', `Selector ${selector}: s=${s.value} does not include "email" or "*".`, rfc(6376, '3.6.1'), at(s.valueRange.start, s.valueRange.end)));
  }
  const p = getTag(list, 'p');
  if (!p) {
    findings.push(finding('error', 'dkim-no-key', `Selector ${selector}: the required p= tag is missing.`, rfc(6376, '3.6.1'), at(0, text.length)));
  } else if (p.value.replace(/\s+/g, '') === '') {
    info.revoked = true;
    // RFC 6376 §3.6.1: "An empty value means that this public key has been revoked"; §6.1.2 makes
    // every signature that names it fail (PERMFAIL).
    findings.push(finding('error', 'dkim-revoked', `Selector ${selector}: p= is empty, so the key is revoked and unusable; every signature with this selector fails.`, rfc(6376, '3.6.1'), at(p.range.start, p.range.end)));
  } else {
    const b64 = p.value.replace(/\s+/g, '');
    const bad = /[^A-Za-z0-9+/=]/.exec(b64);
    if (bad || b64.length % 4 !== 0) {
      const off = bad ? p.value.indexOf(bad[0]) : 0;
      findings.push(
        finding('error', 'dkim-key-base64', `Selector ${selector}: p= is not valid base64.`, rfc(6376, '3.6.1'), at(p.valueRange.start + Math.max(off, 0), p.valueRange.end)),
      );
    } else {
      const der = Buffer.from(b64, 'base64');
      const pRange = at(p.valueRange.start, p.valueRange.end);
      if (keyType === 'ed25519') {
        // RFC 8463 §4.2: the p= value is the base64 of the 32-byte raw public key.
        if (der.length !== 32) {
          findings.push(finding('error', 'dkim-key-invalid', `Selector ${selector}: an Ed25519 key must be 32 bytes, not ${der.length}.`, rfc(8463, '4.2'), pRange));
        } else {
          info.bits = 256;
          info.publicKey = der;
          findings.push(finding('pass', 'dkim-key-ok', `Selector ${selector}: Ed25519 key.`, rfc(8463, '3'), pRange));
        }
      } else if (keyType === 'rsa') {
        const bits = rsaBits(der);
        if (bits === undefined) {
          findings.push(finding('error', 'dkim-key-invalid', `Selector ${selector}: p= is not an RSA public key.`, rfc(6376, '3.6.1'), pRange));
        } else {
          info.bits = bits;
          info.publicKey = spkiOf(der);
          if (!isSpki(der)) {
            // RFC 6376 §3.6.1 names RSAPublicKey, but Appendix C, the large signers and most verifiers
            // (OpenDKIM, mailauth) use SubjectPublicKeyInfo; erratum 3017 would allow both.
            findings.push(finding('warning', 'dkim-key-pkcs1', `Selector ${selector}: p= holds the RSA key as an RSAPublicKey (PKCS#1). RFC 6376 allows it, but OpenDKIM and other verifiers read only the SubjectPublicKeyInfo form, which signers publish: publish that form.`, rfc(6376, '3.6.1'), pRange));
          }
          if (bits < MIN_RSA_KEY_BITS) {
            findings.push(finding('error', 'dkim-key-too-short', `Selector ${selector}: the RSA key has ${bits} bits; keys under ${MIN_RSA_KEY_BITS} bits must not be used.`, rfc(8301, '3.2'), pRange));
          } else if (bits < 2048) {
            findings.push(finding('warning', 'dkim-key-short', `Selector ${selector}: the RSA key has ${bits} bits; use at least 2048.`, rfc(8301, '3.2'), pRange));
          } else if (findings.length === before) {
            findings.push(finding('pass', 'dkim-key-ok', `Selector ${selector}: RSA key of ${bits} bits.`, rfc(8301, '3.2'), pRange));
          }
        }
      }
    }
  }
  return info;
}

/** Whether DER bytes are a SubjectPublicKeyInfo. */
function isSpki(der: Buffer): boolean {
  try {
    createPublicKey({ key: der, format: 'der', type: 'spki' });
    return true;
  } catch {
    return false;
  }
}

/** An RSA public key given as SubjectPublicKeyInfo or PKCS#1 DER, as SubjectPublicKeyInfo DER. */
function spkiOf(der: Buffer): Buffer | undefined {
  for (const type of ['spki', 'pkcs1'] as const) {
    try {
      return createPublicKey({ key: der, format: 'der', type }).export({ type: 'spki', format: 'der' });
    } catch {
      // Try the next encoding.
    }
  }
  return undefined;
}

/** The modulus length of an RSA public key given as SubjectPublicKeyInfo or PKCS#1 DER. */
function rsaBits(der: Buffer): number | undefined {
  for (const type of ['spki', 'pkcs1'] as const) {
    try {
      const key = createPublicKey({ key: der, format: 'der', type });
      if (key.asymmetricKeyType !== 'rsa') return undefined;
      return key.asymmetricKeyDetails?.modulusLength;
    } catch {
      // Try the next encoding.
    }
  }
  return undefined;
}
