/**
 * Signs a message with DKIM (RFC 6376 §5): rsa-sha256 (RFC 6376 §3.3) or ed25519-sha256 (RFC 8463).
 * The result is the new `DKIM-Signature` field followed by the original bytes, unchanged (RFC 6376
 * §5.6: the signature field is prepended). The signature is computed here, with the product's one
 * home of canonicalization (dkimCanon.ts), rather than by mailauth's signer, which cannot list a
 * field in h= more often than the message has it (oversigning, RFC 6376 §8.15).
 */
import { createHash, createPrivateKey, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { canonicalBody, messageBody, rawFields, selectHeaders, signedHeaderData } from './dkimCanon';
import { headerEnd, headerSectionProblem, isHeaderOnly, parseHeaderFields, startsWithBom } from './headers';
import { isDkimName } from '../../../common/dnsName';
import { MIN_RSA_KEY_BITS } from '../dns/dkim';

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
  /**
   * Fields listed in h= once more than the message has them (RFC 6376 §5.4.2, §8.15), so that a
   * field of that name added after signing breaks the signature. `['From']` by default, as dkimpy's
   * "frozen" headers; only fields that are signed and present are oversigned; `[]` turns it off.
   */
  oversign?: string[];
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
    if (bits < MIN_RSA_KEY_BITS) throw new DkimSignError(`the RSA key has ${bits} bits; RFC 8301 §3.2 requires at least ${MIN_RSA_KEY_BITS}`);
    return 'rsa-sha256';
  }
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519-sha256';
  throw new DkimSignError(`a ${key.asymmetricKeyType ?? 'unknown'} key cannot sign DKIM: use RSA (rsa-sha256) or Ed25519 (ed25519-sha256)`);
}

/**
 * Checks a domain or selector against the DKIM grammar (RFC 6376 §3.1 selectors are sub-domains),
 * by the one rule (common/dnsName.ts), written without the final dot of an absolute name.
 */
function checkName(what: string, value: string): void {
  if (!isDkimName(value) || value.endsWith('.')) {
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

/**
 * Why a file is not a message that can be signed, or undefined when it is one: empty, binary
 * (NUL bytes, which RFC 5322 §2.1 and RFC 5321 §4.5.2 forbid in mail), not starting with a header
 * field, a header section with a line that is neither a field nor a continuation (headers.ts
 * `headerSectionProblem`: a reader's client would end the header there, so the signature would
 * cover fields the reader sees as body text), or without a From field, which RFC 6376 §5.4 requires
 * every signature to cover. Several From fields are signed, with a warning (`signWarnings`).
 */
export function unsignableReason(message: Buffer): string | undefined {
  if (message.length === 0) return 'the message is empty';
  if (message.includes(0)) return 'the file holds NUL bytes: it is binary data, not an Internet message (RFC 5322 §2.1)';
  const header = message.subarray(0, headerEnd(message).headerLength).toString('latin1');
  // RFC 5322 §2.2: a header field is a name of printable characters except ":", then ":".
  if (!/^[!-9;-~]+[ \t]*:/.test(header)) {
    return startsWithBom(message)
      ? 'the message starts with a byte order mark, which would become part of the first field name; remove it'
      : 'the file does not start with a header field ("Name: value"), so it is not an Internet message (RFC 5322 §2.2)';
  }
  const problem = headerSectionProblem(message);
  if (problem !== undefined) return `${problem.reason}; it cannot be signed`;
  const froms = parseHeaderFields(message).filter((f) => f.name.toLowerCase() === 'from').length;
  if (froms === 0) return 'the message has no From field; RFC 6376 §5.4 requires the signature to cover From, so it cannot be signed';
  return undefined;
}

/**
 * What is worth saying about a message that is signed all the same: more than one From field. RFC
 * 5322 §3.6 allows exactly one, and DMARC finds no Author Domain in such a message (RFC 9989
 * §5.3.1: receivers reject or give permerror). It is signed rather than refused: every From field
 * is signed and From is oversigned (`DEFAULT_OVERSIGNED_FIELDS`, RFC 6376 §5.4.2, §8.15), so no
 * From field can be added or swapped without breaking the signature, and testing how a receiver
 * treats such a message is a use of a workbench. Plain text; the caller escapes it where shown.
 */
export function signWarnings(message: Buffer): string[] {
  const froms = parseHeaderFields(message).filter((f) => f.name.toLowerCase() === 'from').length;
  return froms > 1
    ? [`the message has ${froms} From fields, where RFC 5322 §3.6 allows exactly one: all of them are signed, but DMARC finds no Author Domain in it (RFC 9989 §5.3.1) and receivers may reject it`]
    : [];
}

/** The fields oversigned when the caller names none: From, as dkimpy's FROZEN list. */
const DEFAULT_OVERSIGNED_FIELDS: readonly string[] = ['From'];

/** Longest line of the new field before it is folded (RFC 5322 §2.1.1 recommends 78). */
const FOLD_AT = 76;

/**
 * Writes the DKIM-Signature field from its tags, folded with CRLF SP (RFC 5322 §2.2.3): between
 * tags, after the colons of h= and inside the base64 of b= (RFC 6376 §3.5 allows FWS in each). The
 * last tag is b=, written empty; the caller appends its value with `foldBase64`.
 */
function signatureFieldWithoutB(tags: Array<[string, string]>): string {
  let out = 'DKIM-Signature:';
  let line = out.length;
  const put = (text: string, joiner: string): void => {
    if (line + joiner.length + text.length > FOLD_AT && line > 1) {
      out += '\r\n ' + text;
      line = 1 + text.length;
    } else {
      out += joiner + text;
      line += joiner.length + text.length;
    }
  };
  tags.forEach(([name, value], k) => {
    const parts = name === 'h' ? value.split(':').map((p, i, all) => (i < all.length - 1 ? `${p}:` : p)) : [value];
    parts.forEach((part, i) => put(i === 0 ? `${name}=${part}${parts.length === 1 && k < tags.length - 1 ? ';' : ''}` : `${part}${i === parts.length - 1 && k < tags.length - 1 ? ';' : ''}`, i === 0 ? ' ' : ''));
  });
  return out;
}

/** The base64 of b= folded to the field's width (FWS inside base64 is allowed, RFC 6376 §2.4). */
function foldBase64(rawWithoutB: string, b64: string): string {
  const lastLine = rawWithoutB.length - rawWithoutB.lastIndexOf('\n') - 1;
  const first = Math.max(0, FOLD_AT - lastLine);
  const chunks = [b64.slice(0, first)];
  for (let i = first; i < b64.length; i += FOLD_AT - 1) chunks.push(b64.slice(i, i + FOLD_AT - 1));
  return chunks.filter((c, i) => c !== '' || i === 0).join('\r\n ');
}

/**
 * Signs the message and returns `DKIM-Signature: …CRLF` followed by the original bytes. A message
 * with header fields only (no empty line, RFC 5322 §3.5: the body is optional) is signed with an
 * empty body (RFC 6376 §3.4.3, §3.4.4); when its last line has no line end, one is added, so that
 * the result is a message.
 */
export async function signMessage(message: Buffer, options: SignOptions): Promise<Buffer> {
  checkName('domain', options.domain);
  checkName('selector', options.selector);
  // Every caller (the CLI, the editor's command) gets the same refusal of what is not a message.
  const unsignable = unsignableReason(message);
  if (unsignable !== undefined) throw new DkimSignError(unsignable);
  const keyAlg = keyAlgorithm(options.privateKeyPem);
  const algorithm = options.algorithm ?? keyAlg;
  if (algorithm !== keyAlg) throw new DkimSignError(`${algorithm} needs ${algorithm === 'rsa-sha256' ? 'an RSA' : 'an Ed25519'} key, but the key is for ${keyAlg}`);
  const canonicalization = options.canonicalization ?? 'relaxed/relaxed';
  const [headerCanon, bodyCanon] = canonicalization.split('/');
  const fields = rawFields(message);
  const listed = new Set((options.headerList ?? DEFAULT_SIGNED_FIELDS).map((n) => n.toLowerCase()));
  // h= names the signed fields from the bottom up, as written (RFC 6376 §5.4.2: a verifier selects
  // the last unused instance of each name), then the oversigned names once more: a name with no field
  // left selects nothing (RFC 6376 §5.4), so the signature holds until a field of that name is added.
  const signedNames = [...fields].reverse().filter((f) => listed.has(f.name.toLowerCase())).map((f) => f.name);
  for (const name of options.oversign ?? DEFAULT_OVERSIGNED_FIELDS) {
    const present = fields.find((f) => f.name.toLowerCase() === name.toLowerCase());
    if (present && listed.has(name.toLowerCase())) signedNames.push(present.name);
  }
  if (signedNames.length === 0) throw new DkimSignError('none of the header fields to sign is in the message');
  const bodyHash = createHash('sha256').update(canonicalBody(messageBody(message), bodyCanon === 'relaxed')).digest('base64');
  const signTime = Math.floor((options.signTime ?? new Date()).getTime() / 1000);
  const raw = signatureFieldWithoutB([
    ['v', '1'],
    ['a', algorithm],
    ['c', canonicalization],
    ['d', options.domain],
    ['s', options.selector],
    ['t', String(signTime)],
    ['h', signedNames.join(':')],
    ['bh', bodyHash],
    ['b', ''],
  ]);
  const data = signedHeaderData(selectHeaders(fields, signedNames.map((n) => n.toLowerCase())), raw, headerCanon === 'relaxed');
  const key = createPrivateKey(options.privateKeyPem);
  // RFC 6376 §3.3.2 signs the data with SHA-256; RFC 8463 §3 signs its SHA-256 hash with Ed25519.
  const b = (algorithm === 'rsa-sha256' ? cryptoSign('sha256', data, key) : cryptoSign(null, createHash('sha256').update(data).digest(), key)).toString('base64');
  const header = raw + foldBase64(raw, b);
  // The new field takes the file's own line endings: an LF-only file (as saved by most tools) stays
  // LF-only; the signature covers the CRLF form either way, which is what goes on the wire.
  const lfOnly = !message.includes('\r\n') && message.includes('\n');
  const eol = lfOnly ? '\n' : '\r\n';
  const field = `${lfOnly ? header.replace(/\r\n/g, '\n') : header}${eol}`;
  // A header-only message whose last field has no line end would end in the middle of a field.
  const tail = isHeaderOnly(message) && message.length > 0 && message[message.length - 1] !== 0x0a ? Buffer.from(eol, 'latin1') : Buffer.alloc(0);
  return Buffer.concat([Buffer.from(field, 'latin1'), message, tail]);
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
