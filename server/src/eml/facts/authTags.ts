/**
 * The tags of DKIM-Signature (RFC 6376 §3.5), ARC (RFC 8617 §4.1) and the methods and results of
 * Authentication-Results (RFC 8601 §2.7 and the IANA registry), with what each means.
 */

export interface TagFact {
  readonly tag: string;
  readonly meaning: string;
  readonly required?: boolean;
}

export const DKIM_TAGS: readonly TagFact[] = [
  { tag: 'v', required: true, meaning: 'Version of the DKIM specification; must be `1`.' },
  { tag: 'a', required: true, meaning: 'Signing algorithm: `rsa-sha256` or `ed25519-sha256` (`rsa-sha1` is obsolete).' },
  { tag: 'b', required: true, meaning: 'The signature itself, in base64, over the signed header fields and this field with b= emptied.' },
  { tag: 'bh', required: true, meaning: 'The hash of the canonicalized body, in base64.' },
  { tag: 'c', meaning: 'Canonicalization for header/body: `simple` or `relaxed` (default `simple/simple`).' },
  { tag: 'd', required: true, meaning: 'The signing domain (SDID): the domain that claims responsibility for the message.' },
  { tag: 'h', required: true, meaning: 'The header fields signed, colon-separated, in the order they were hashed; must include From.' },
  { tag: 'i', meaning: 'The agent or user identifier (AUID); its domain must be d= or a subdomain of it.' },
  { tag: 'l', meaning: 'Body length count: only that many octets of the body are signed, so content can be appended. Risky.' },
  { tag: 'q', meaning: 'Query methods to fetch the public key; only `dns/txt` is defined.' },
  { tag: 's', required: true, meaning: 'The selector: the key is published at `<s>._domainkey.<d>`.' },
  { tag: 't', meaning: 'Signature timestamp, in seconds since 1970-01-01 UTC.' },
  { tag: 'x', meaning: 'Signature expiration, in seconds since 1970-01-01 UTC; must be later than t=.' },
  { tag: 'z', meaning: 'Copies of the signed header fields as they were when signed, for diagnostics.' },
];

const ARC_TAGS: readonly TagFact[] = [
  { tag: 'i', required: true, meaning: 'The ARC instance number, 1 for the first intermediary, up to 50.' },
  { tag: 'cv', meaning: 'Chain validation status seen by this intermediary: `none` (first instance), `pass` or `fail`.' },
  ...DKIM_TAGS.filter((t) => t.tag !== 'i' && t.tag !== 'v' && t.tag !== 'l'),
];

export interface MethodFact {
  readonly method: string;
  readonly meaning: string;
  readonly results: readonly string[];
}

/** Methods registered in the IANA Email Authentication Methods registry, with their results. */
const AR_METHODS: readonly MethodFact[] = [
  { method: 'auth', meaning: 'SMTP AUTH (RFC 4954) of the submitting client.', results: ['none', 'pass', 'fail', 'temperror', 'permerror'] },
  { method: 'dkim', meaning: 'DKIM signature verification (RFC 6376).', results: ['none', 'pass', 'fail', 'policy', 'neutral', 'temperror', 'permerror'] },
  { method: 'dkim-adsp', meaning: 'DKIM ADSP (historic, RFC 5617).', results: ['none', 'pass', 'unknown', 'fail', 'discard', 'nxdomain', 'temperror', 'permerror'] },
  { method: 'dkim-atps', meaning: 'DKIM Authorized Third-Party Signatures (RFC 6541).', results: ['none', 'pass', 'fail', 'temperror', 'permerror'] },
  { method: 'dmarc', meaning: 'DMARC policy evaluation (RFC 7489).', results: ['none', 'pass', 'fail', 'temperror', 'permerror'] },
  { method: 'arc', meaning: 'ARC chain validation (RFC 8617).', results: ['none', 'pass', 'fail'] },
  { method: 'spf', meaning: 'SPF check of the MAIL FROM or HELO identity (RFC 7208).', results: ['none', 'neutral', 'pass', 'fail', 'softfail', 'temperror', 'permerror', 'policy', 'hardfail'] },
  { method: 'sender-id', meaning: 'Sender ID (historic, RFC 4406).', results: ['none', 'neutral', 'pass', 'fail', 'softfail', 'temperror', 'permerror', 'policy', 'hardfail'] },
  { method: 'iprev', meaning: 'Reverse DNS check of the connecting IP address (RFC 8601 §3).', results: ['pass', 'fail', 'temperror', 'permerror'] },
  { method: 'rrvs', meaning: 'Require-Recipient-Valid-Since (RFC 7293).', results: ['none', 'unknown', 'temperror', 'pass', 'fail'] },
  { method: 'smime', meaning: 'S/MIME signature verification (RFC 7281).', results: ['none', 'pass', 'fail', 'policy', 'neutral', 'temperror', 'permerror'] },
  { method: 'vbr', meaning: 'Vouch By Reference (RFC 6212).', results: ['none', 'pass', 'fail', 'temperror', 'permerror'] },
  { method: 'dnswl', meaning: 'DNS allow-list lookup (RFC 8904).', results: ['pass', 'none', 'temperror', 'permerror'] },
  { method: 'bimi', meaning: 'Brand Indicators for Message Identification (draft).', results: ['none', 'pass', 'fail', 'temperror', 'declined', 'skipped'] },
];

/** What each Authentication-Results result means (RFC 8601 §2.7). */
export const AR_RESULTS: Readonly<Record<string, string>> = {
  none: 'No check was made, or there was nothing to check.',
  pass: 'The check succeeded.',
  fail: 'The check failed.',
  softfail: 'SPF: the domain believes the host is not authorized, but is not willing to make a strong statement.',
  neutral: 'The check gave no definite answer.',
  policy: 'The check passed technically but local policy did not accept it.',
  temperror: 'A temporary error (such as a DNS timeout) prevented the check.',
  permerror: 'A permanent error (such as a malformed record) prevented the check.',
  hardfail: 'A synonym of fail (SPF, deprecated).',
};

export function dkimTag(tag: string): TagFact | undefined {
  return DKIM_TAGS.find((t) => t.tag === tag);
}

export function arcTag(tag: string): TagFact | undefined {
  return ARC_TAGS.find((t) => t.tag === tag);
}

export function arMethod(method: string): MethodFact | undefined {
  return AR_METHODS.find((m) => m.method === method.toLowerCase());
}
