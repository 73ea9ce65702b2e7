/**
 * Signs a message with DKIM (RFC 6376 §5) through mailauth: rsa-sha256 (RFC 6376 §3.3) or
 * ed25519-sha256 (RFC 8463). The result is the new `DKIM-Signature` field followed by the original
 * bytes, unchanged (RFC 6376 §5.6: the signature field is prepended).
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { mailauth } from './mailauthApi';

export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256';

export interface SignOptions {
  /** The signing domain (`d=`). */
  domain: string;
  /** The selector (`s=`); the public key lives at `<selector>._domainkey.<domain>`. */
  selector: string;
  /** The private key, PEM text (PKCS#1, PKCS#8). */
  privateKeyPem: string;
  /** Defaults to the algorithm matching the key. */
  algorithm?: DkimAlgorithm;
  /** `c=`; relaxed/relaxed by default. */
  canonicalization?: 'relaxed/relaxed' | 'relaxed/simple' | 'simple/relaxed' | 'simple/simple';
  /** The signing time (`t=`); now by default. */
  signTime?: Date;
  /** Header fields to sign (`h=`); when absent, `DEFAULT_SIGNED_FIELDS` (those present are signed). */
  headerList?: string[];
}

export class DkimSignError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DkimSignError';
  }
}

/** The algorithm a key signs with, from its type; throws DkimSignError for unusable keys. */
export function keyAlgorithm(privateKeyPem: string): DkimAlgorithm {
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (err) {
    throw new DkimSignError(`the private key could not be read: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    // RFC 8301 §3.2: signers MUST use RSA keys of at least 1024 bits.
    if (bits < 1024) throw new DkimSignError(`the RSA key has ${bits} bits; RFC 8301 §3.2 requires at least 1024`);
    return 'rsa-sha256';
  }
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519-sha256';
  throw new DkimSignError(`a ${key.asymmetricKeyType ?? 'unknown'} key cannot sign DKIM: use RSA (rsa-sha256) or Ed25519 (ed25519-sha256)`);
}

/** Checks a domain or selector against the DKIM grammar (RFC 6376 §3.1 selectors are sub-domains). */
function checkName(what: string, value: string): void {
  if (!/^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/i.test(value)) {
    throw new DkimSignError(`invalid ${what} "${value}"`);
  }
}

/**
 * The header fields signed when the caller names none (only those present are signed): mailauth's
 * default list, plus `List-Unsubscribe-Post`, which RFC 8058 §4 requires a DKIM signature to cover
 * together with `List-Unsubscribe` for one-click unsubscription.
 */
const DEFAULT_SIGNED_FIELDS: readonly string[] = [
  'From', 'Sender', 'Reply-To', 'Subject', 'Date', 'Message-ID', 'To', 'Cc', 'MIME-Version', 'Content-Type',
  'Content-Transfer-Encoding', 'Content-ID', 'Content-Description', 'Resent-Date', 'Resent-From', 'Resent-Sender',
  'Resent-To', 'Resent-Cc', 'Resent-Message-ID', 'In-Reply-To', 'References', 'List-Id', 'List-Help',
  'List-Unsubscribe', 'List-Unsubscribe-Post', 'List-Subscribe', 'List-Post', 'List-Owner', 'List-Archive', 'BIMI-Selector',
];

/** Signs the message and returns `DKIM-Signature: …CRLF` followed by the original bytes. */
export async function signMessage(message: Buffer, options: SignOptions): Promise<Buffer> {
  checkName('domain', options.domain);
  checkName('selector', options.selector);
  const keyAlg = keyAlgorithm(options.privateKeyPem);
  const algorithm = options.algorithm ?? keyAlg;
  if (algorithm !== keyAlg) throw new DkimSignError(`${algorithm} needs ${algorithm === 'rsa-sha256' ? 'an RSA' : 'an Ed25519'} key, but the key is for ${keyAlg}`);
  // mailauth's typings describe top-level key options, but only `signatureData` entries are used:
  // without them it silently returns no signature.
  const result = await mailauth.dkimSign(message, {
    signatureData: [
      {
        signingDomain: options.domain,
        selector: options.selector,
        privateKey: options.privateKeyPem,
        algorithm,
        canonicalization: options.canonicalization ?? 'relaxed/relaxed',
      },
    ],
    signTime: options.signTime ?? new Date(),
    // mailauth reads the list only as a colon-separated string (its getSigningHeaderLines); an array would be ignored.
    headerList: (options.headerList ?? DEFAULT_SIGNED_FIELDS).join(':'),
  });
  if (result.errors.length > 0) throw new DkimSignError(`signing failed: ${result.errors.map((e) => e.message).join('; ')}`);
  const header = result.signatures.replace(/(\r\n)+$/, '');
  if (!/^DKIM-Signature:/i.test(header)) throw new DkimSignError('mailauth produced no DKIM-Signature');
  // The new field takes the file's own line endings: an LF-only file (as saved by most tools) stays
  // LF-only; the signature covers the CRLF form either way, which is what goes on the wire.
  const lfOnly = !message.includes('\r\n') && message.includes('\n');
  const field = lfOnly ? `${header.replace(/\r\n/g, '\n')}\n` : `${header}\r\n`;
  return Buffer.concat([Buffer.from(field, 'latin1'), message]);
}

/** Returns the DNS TXT record text (RFC 6376 §3.6.1) that publishes the public half of a private key. */
export function publicKeyRecord(privateKeyPem: string): string {
  const algorithm = keyAlgorithm(privateKeyPem);
  const key = createPrivateKey(privateKeyPem);
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  if (algorithm === 'ed25519-sha256') {
    // RFC 8463 §4.2: the p= value of an Ed25519 key is the bare 32-byte public key, not SPKI.
    return `v=DKIM1; k=ed25519; p=${spki.subarray(spki.length - 32).toString('base64')}`;
  }
  return `v=DKIM1; k=rsa; p=${spki.toString('base64')}`;
}
