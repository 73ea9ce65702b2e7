/**
 * The BIMI mark certificate check (draft-brand-indicators-for-message-identification §4.3 and the
 * BIMI Group's "Minimum Security Requirements for Issuance of Mark Certificates", VMC/CMC): the PEM
 * file that a= names holds the mark certificate first, then its issuers. Each problem is its own
 * finding with a stable code:
 *
 * - `bimi-vmc-pem`: no certificate in the file, or one that does not parse;
 * - `bimi-vmc-eku`: the leaf lacks the BIMI extended key usage (id-kp-BrandIndicatorforMessageIdentification, 1.3.6.1.5.5.7.3.31);
 * - `bimi-vmc-validity`: the leaf is expired or not yet valid;
 * - `bimi-vmc-san`: no subjectAltName DNS name covers the BIMI record's domain (the domain itself,
 *   `<selector>._bimi.<domain>`, or the organizational domain);
 * - `bimi-vmc-chain`: a certificate in the file is not issued (and signed) by the next one, or an
 *   issuer is not a CA;
 * - `bimi-vmc-logotype`: no logotype extension (RFC 3709, 1.3.6.1.5.5.7.1.12) with an embedded SVG;
 * - `bimi-vmc-logo-mismatch`: the embedded SVG is not the logo that l= serves;
 * - `bimi-vmc-ct`: no embedded Certificate Transparency SCT list (mark certificates are logged);
 * - `bimi-vmc-root`: the chain does not end at a trusted mark-certificate root (only when roots are given);
 * - `bimi-vmc-ok` (info): what kind of mark it is (VMC: registered or government mark; CMC: prior use
 *   or modified registered mark) and until when it is valid.
 *
 * Pure: the caller fetches the file and the logo and passes the clock.
 */
import { X509Certificate } from 'node:crypto';
import { gunzipSync } from 'node:zlib';

export interface VmcProblem {
  code: string;
  severity: 'error' | 'warning' | 'info';
  message: string;
}

export interface VmcCheckOptions {
  /** The domain whose BIMI record named the certificate. */
  domain: string;
  /** The BIMI selector (default). */
  selector: string;
  /** The organizational domain, when the record was found there. */
  organizationalDomain?: string;
  /** The logo l= serves, when it was fetched, to compare with the embedded one. */
  logoSvg?: string;
  /** PEM mark-certificate roots to anchor the chain in; the anchor is not judged when absent. */
  trustedRoots?: string[];
  now: Date;
}

/** id-kp-BrandIndicatorforMessageIdentification (RFC 3709 arc, BIMI Group). */
export const BIMI_EKU = '1.3.6.1.5.5.7.3.31';
/** DER of the OID of the logotype extension, 1.3.6.1.5.5.7.1.12 (RFC 3709 §4). */
const LOGOTYPE_OID = Buffer.from('06082b0601050507010c', 'hex');
/** DER of the OID of the embedded SCT list, 1.3.6.1.4.1.11129.2.4.2 (RFC 6962 §3.3). */
const SCT_OID = Buffer.from('060a2b06010401d679020402', 'hex');
/** The mark type subject attribute (BIMI Group, 1.3.6.1.4.1.53087.1.13). */
const MARK_TYPE_OID = '1.3.6.1.4.1.53087.1.13';

function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}

function dnsNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((n) => n.startsWith('DNS:'))
    .map((n) => n.slice(4).toLowerCase().replace(/\.$/, ''));
}

/** The SVG of a logotype data: URI (RFC 6170 §4: gzip-compressed, base64), if the extension holds one. */
function embeddedSvg(cert: X509Certificate): string | undefined | null {
  const at = cert.raw.indexOf(LOGOTYPE_OID);
  if (at < 0) return null;
  const m = /data:image\/svg\+xml;base64,([A-Za-z0-9+/=]+)/.exec(cert.raw.subarray(at).toString('latin1'));
  if (!m) return undefined;
  const bytes = Buffer.from(m[1], 'base64');
  try {
    return (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
  } catch {
    return undefined;
  }
}

/** Same logo: the same text once line ends and surrounding white space are set aside. */
function sameSvg(a: string, b: string): boolean {
  const norm = (s: string): string => s.replace(/\r\n?/g, '\n').trim();
  return norm(a) === norm(b);
}

/** Checks a mark certificate file; returns one problem per finding, `bimi-vmc-ok` when none is an error or warning. */
export function checkMarkCertificate(pemText: string, options: VmcCheckOptions): VmcProblem[] {
  const out: VmcProblem[] = [];
  const blocks = pemBlocks(pemText);
  if (blocks.length === 0) return [{ code: 'bimi-vmc-pem', severity: 'error', message: 'the file holds no PEM certificate' }];
  const certs: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      certs.push(new X509Certificate(block));
    } catch {
      return [{ code: 'bimi-vmc-pem', severity: 'error', message: `certificate ${i + 1} of the file does not parse` }];
    }
  }
  const leaf = certs[0];
  const eku = leaf.keyUsage ?? [];
  if (!eku.includes(BIMI_EKU)) {
    out.push({ code: 'bimi-vmc-eku', severity: 'error', message: `the mark certificate lacks the BIMI extended key usage ${BIMI_EKU}${eku.length > 0 ? ` (it has ${eku.join(', ')})` : ''}` });
  }
  const from = new Date(leaf.validFrom);
  const to = new Date(leaf.validTo);
  if (options.now < from) out.push({ code: 'bimi-vmc-validity', severity: 'error', message: `the mark certificate is not valid before ${from.toISOString()}` });
  else if (options.now > to) out.push({ code: 'bimi-vmc-validity', severity: 'error', message: `the mark certificate expired on ${to.toISOString()}` });
  const wanted = [options.domain, `${options.selector}._bimi.${options.domain}`, options.organizationalDomain].filter((d): d is string => d !== undefined).map((d) => d.toLowerCase());
  const names = dnsNames(leaf);
  if (!names.some((n) => wanted.includes(n))) {
    out.push({ code: 'bimi-vmc-san', severity: 'error', message: `no subjectAltName of the mark certificate is ${wanted.join(' or ')}${names.length > 0 ? ` (it names ${names.join(', ')})` : ' (it has no DNS names)'}` });
  }
  for (let i = 0; i + 1 < certs.length; i++) {
    const issuer = certs[i + 1];
    if (!certs[i].checkIssued(issuer) || !certs[i].verify(issuer.publicKey)) {
      out.push({ code: 'bimi-vmc-chain', severity: 'error', message: `certificate ${i + 1} (${certs[i].subject.replace(/\n/g, ', ')}) is not issued by certificate ${i + 2} of the file` });
    } else if (!issuer.ca) {
      out.push({ code: 'bimi-vmc-chain', severity: 'error', message: `certificate ${i + 2} issues certificate ${i + 1} but is not a CA` });
    }
  }
  const svg = embeddedSvg(leaf);
  if (svg === null) out.push({ code: 'bimi-vmc-logotype', severity: 'error', message: 'the mark certificate has no logotype extension (RFC 3709), so it certifies no logo' });
  else if (svg === undefined) out.push({ code: 'bimi-vmc-logotype', severity: 'error', message: 'the logotype extension holds no readable SVG (a data:image/svg+xml;base64 URI, gzip-compressed)' });
  else if (options.logoSvg !== undefined && !sameSvg(svg, options.logoSvg)) {
    out.push({ code: 'bimi-vmc-logo-mismatch', severity: 'error', message: 'the logo l= serves is not the SVG embedded in the mark certificate; receivers show the certified one or none' });
  }
  if (leaf.raw.indexOf(SCT_OID) < 0) out.push({ code: 'bimi-vmc-ct', severity: 'warning', message: 'the mark certificate carries no Certificate Transparency SCTs; mark certificates must be logged' });
  if (options.trustedRoots && options.trustedRoots.length > 0) {
    const last = certs[certs.length - 1];
    const roots = options.trustedRoots.flatMap(pemBlocks).map((p) => new X509Certificate(p));
    const anchored = roots.some((r) => r.fingerprint256 === last.fingerprint256 || (last.checkIssued(r) && last.verify(r.publicKey)));
    if (!anchored) out.push({ code: 'bimi-vmc-root', severity: 'error', message: `the chain ends at ${last.issuer.replace(/\n/g, ', ')}, which is not a trusted mark-certificate root` });
  }
  if (!out.some((p) => p.severity === 'error' || p.severity === 'warning')) {
    const markType = new RegExp(`${MARK_TYPE_OID.replace(/\./g, '\\.')}=([^\\n]+)`).exec(leaf.subject)?.[1];
    const kind = markType === undefined ? 'mark certificate' : /prior use|modified registered/i.test(markType) ? `CMC (${markType})` : `VMC (${markType})`;
    out.push({ code: 'bimi-vmc-ok', severity: 'info', message: `${kind} for ${names.join(', ')}, valid until ${to.toISOString().slice(0, 10)}` });
  }
  return out;
}
