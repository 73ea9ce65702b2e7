/**
 * Whether a DKIM private key matches the key record published for it, as `opendkim-testkey` decides:
 * the one home of that decision, used by `smtpwb dkim check` and available to the editor's Mail DNS
 * view for a key file the user picks. Pure: the caller reads the file and fetches the TXT records.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { checkKeyRecord } from '../dns/dkim';
import type { Finding } from '../dns/types';

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
  if (txtRecords.length > 1) return { ok: false, message: `${name} has ${txtRecords.length} key records; verifiers may pick any of them`, findings };
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

/** A domain name or selector: dot-separated labels of letters, digits, "-" and "_" (RFC 6376 §3.1). */
export function isDkimName(text: string): boolean {
  const t = text.endsWith('.') ? text.slice(0, -1) : text;
  return t.length > 0 && t.length <= 253 && t.split('.').every((l) => /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(l));
}

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
