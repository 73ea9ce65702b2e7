/**
 * A self-signed certificate for the local capture server's STARTTLS (RFC 3207), made with
 * `node:crypto` alone, so the extension needs neither the openssl binary nor an npm package.
 *
 * The certificate is an X.509 v3 certificate (RFC 5280 §4.1) with an ECDSA P-256 key signed with
 * SHA-256 (RFC 5758 §3.2). Its subjectAltName (RFC 5280 §4.2.1.6) covers `localhost`, 127.0.0.1 and
 * ::1, so a client that trusts (pins) this one certificate can verify the server by any of those
 * names. It is generated once and kept in the inbox folder, so a client can pin it across runs.
 */
import { X509Certificate, createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { join } from 'node:path';

/** A certificate and its private key as PEM text, with the files they are kept in. */
export interface LocalCertificate {
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
  /** The SHA-256 fingerprint, as `AA:BB:…` (what `X509Certificate.fingerprint256` gives). */
  fingerprint256: string;
  validTo: Date;
}

/** The names the generated certificate covers. */
export const LOCAL_CERT_NAMES: readonly string[] = ['localhost', '127.0.0.1', '::1'];

/** The folder inside the inbox folder that holds the certificate; hidden, so it is no message. */
export const CERT_FOLDER = '.smtpwb-tls';

/** A generated certificate is renewed when it expires within this many days. */
const RENEW_BEFORE_DAYS = 30;
/** How long a generated certificate is valid. */
const VALID_DAYS = 3650;

// DER encoding (ITU-T X.690 §8 and §10): tag, definite length, contents.

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, contents: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(contents.length), contents]);
}

const sequence = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const octetString = (bytes: Buffer): Buffer => tlv(0x04, bytes);
const utf8String = (text: string): Buffer => tlv(0x0c, Buffer.from(text, 'utf8'));
/** A BIT STRING whose bits fill whole octets (no unused bits). */
const bitString = (bytes: Buffer, unusedBits = 0): Buffer => tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes]));
/** `[n] EXPLICIT`: a constructed context-specific tag around an encoded value. */
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 + n, inner);
/** `[n] IMPLICIT` on a primitive type: a context-specific tag around the raw contents. */
const implicitPrimitive = (n: number, contents: Buffer): Buffer => tlv(0x80 + n, contents);

function integer(bytes: Buffer): Buffer {
  // An INTEGER is two's complement and minimal (X.690 §8.3): strip leading zeros, and put one back
  // when the high bit is set so the value stays positive.
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0 && (bytes[start + 1] & 0x80) === 0) start++;
  let body = bytes.subarray(start);
  if ((body[0] & 0x80) !== 0) body = Buffer.concat([Buffer.from([0]), body]);
  return tlv(0x02, body);
}

const boolean = (value: boolean): Buffer => tlv(0x01, Buffer.from([value ? 0xff : 0x00]));

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes: number[] = [parts[0] * 40 + parts[1]];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    for (let n = Math.floor(part / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift((n & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, always in UTC with seconds. */
function time(date: Date): Buffer {
  const iso = date.toISOString(); // 2026-11-23T04:42:00.000Z
  const digits = iso.slice(0, 19).replace(/[-:T]/g, ''); // 20261123044200
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, 'ascii')) : tlv(0x18, Buffer.from(`${digits}Z`, 'ascii'));
}

function ipBytes(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  // Expand `::` and write each of the eight 16-bit groups (RFC 4291 §2.2).
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = [...headGroups, ...fill, ...tailGroups];
  const out = Buffer.alloc(16);
  groups.forEach((group, i) => out.writeUInt16BE(parseInt(group, 16), i * 2));
  return out;
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Options for generateSelfSignedCertificate. */
export interface GenerateOptions {
  /** DNS names and IP addresses for subjectAltName; `LOCAL_CERT_NAMES` unless given. */
  names?: readonly string[];
  commonName?: string;
  now?: Date;
  validDays?: number;
}

/** Generates a new key pair and a self-signed certificate for it; returns both as PEM. */
export function generateSelfSignedCertificate(options: GenerateOptions = {}): { certPem: string; keyPem: string } {
  const names = options.names ?? LOCAL_CERT_NAMES;
  const now = options.now ?? new Date();
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // ecdsa-with-SHA256 (RFC 5758 §3.2): the parameters field is absent.
  const signatureAlgorithm = sequence(oid('1.2.840.10045.4.3.2'));
  const name = sequence(
    set(sequence(oid('2.5.4.10'), utf8String('SMTP Workbench'))),
    set(sequence(oid('2.5.4.3'), utf8String(options.commonName ?? 'SMTP Workbench local capture server'))),
  );
  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x40; // Positive and 16 octets long (RFC 5280 §4.1.2.2).
  const notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  const notAfter = new Date(now.getTime() + (options.validDays ?? VALID_DAYS) * 24 * 60 * 60 * 1000);
  const altNames = sequence(
    ...names.map((n) => (isIPv4(n) || isIPv6(n) ? implicitPrimitive(7, ipBytes(n)) : implicitPrimitive(2, Buffer.from(n, 'ascii')))),
  );
  // The key identifier is the SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2, method 1); the
  // bits are the last 65 octets of a P-256 SubjectPublicKeyInfo (an uncompressed point).
  const keyId = createHash('sha1').update(spki.subarray(spki.length - 65)).digest();
  const extensions = sequence(
    // basicConstraints (RFC 5280 §4.2.1.9): not a CA.
    extension('2.5.29.19', true, sequence()),
    // keyUsage (§4.2.1.3): digitalSignature only, which is bit 0, so 7 unused bits.
    extension('2.5.29.15', true, bitString(Buffer.from([0x80]), 7)),
    // extKeyUsage (§4.2.1.12): id-kp-serverAuth.
    extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.1'))),
    // subjectAltName (§4.2.1.6): dNSName [2] and iPAddress [7].
    extension('2.5.29.17', false, altNames),
    // subjectKeyIdentifier (§4.2.1.2).
    extension('2.5.29.14', false, octetString(keyId)),
  );
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    signatureAlgorithm,
    name,
    sequence(time(notBefore), time(notAfter)),
    name,
    spki,
    explicit(3, extensions),
  );
  const signature = sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value (RFC 5480 §2.2 / RFC 3279).
  const certificate = sequence(tbs, signatureAlgorithm, bitString(signature));
  return { certPem: pem('CERTIFICATE', certificate), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** Reports whether the PEM pair is usable: it parses, the key matches, it covers the names and is not about to expire. */
export function isUsableCertificate(certPem: string, keyPem: string, names: readonly string[] = LOCAL_CERT_NAMES, now = new Date()): boolean {
  try {
    const cert = new X509Certificate(certPem);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return false;
    if (new Date(cert.validFrom).getTime() > now.getTime()) return false;
    if (new Date(cert.validTo).getTime() < now.getTime() + RENEW_BEFORE_DAYS * 24 * 60 * 60 * 1000) return false;
    return names.every((n) => (isIPv4(n) || isIPv6(n) ? cert.checkIP(n) !== undefined : cert.checkHost(n) !== undefined));
  } catch {
    return false;
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Writes a file through a temporary name and a rename, so a reader never sees half of it. */
async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(temp, text, { mode });
  await fs.rename(temp, path);
}

/**
 * Returns the certificate kept in `dir/.smtpwb-tls/`, generating (or renewing) it when it is
 * missing, unreadable, about to expire or does not cover the local names.
 */
export function loadOrCreateLocalCertificate(dir: string): Promise<LocalCertificate> {
  // Servers of one process that share a folder wait for each other, so they never write two
  // different pairs at once; the check after writing covers other processes.
  const key = join(dir, CERT_FOLDER);
  const previous = pending.get(key) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(() => loadOrCreate(dir));
  pending.set(key, next);
  void next.finally(() => {
    if (pending.get(key) === next) pending.delete(key);
  }).catch(() => undefined);
  return next;
}

const pending = new Map<string, Promise<LocalCertificate>>();

async function loadOrCreate(dir: string): Promise<LocalCertificate> {
  const folder = join(dir, CERT_FOLDER);
  const certPath = join(folder, 'cert.pem');
  const keyPath = join(folder, 'key.pem');
  for (let attempt = 0; ; attempt++) {
    const certPem = await readText(certPath);
    const keyPem = await readText(keyPath);
    if (certPem !== undefined && keyPem !== undefined && isUsableCertificate(certPem, keyPem)) {
      const cert = new X509Certificate(certPem);
      return { certPem, keyPem, certPath, keyPath, fingerprint256: cert.fingerprint256, validTo: new Date(cert.validTo) };
    }
    if (attempt >= 3) throw new Error(`cannot create a usable TLS certificate in ${folder}`);
    await fs.mkdir(folder, { recursive: true, mode: 0o700 });
    const generated = generateSelfSignedCertificate();
    // The key first, so a certificate on disk always has its key next to it. Another process that
    // writes at the same moment can leave a mismatched pair; the loop reads it back and retries.
    await writeAtomic(keyPath, generated.keyPem, 0o600);
    await writeAtomic(certPath, generated.certPem, 0o644);
  }
}
