// The DANE fixture zones. Knot signs example.test and bogus.example.test; plain.example.test is an
// unsigned child (a delegation without DS); bogus.example.test's DS in the parent is wrong. Every
// MX host resolves to 127.0.0.1, where Exim presents the test server certificate (issued by the
// test CA for mail.example.test), which the TLSA records below describe. The pf-* hosts resolve to
// 127.0.0.2, where the posttls-finger cross-check forwards port 25 to Exim (posttls.test.ts).
import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireBinary } from '../peers/require';

const run = promisify(execFile);

export interface DaneCerts {
  /** The server certificate Exim presents, DER. */
  leafDer: Buffer;
  /** The test CA certificate, DER. */
  caDer: Buffer;
}

export function pemToDer(pem: string): Buffer {
  return new X509Certificate(pem).raw;
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The SPKI SHA-256 of a fresh key: the "next key" of a rollover pair. */
function nextKeySpki(): string {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return sha256(publicKey.export({ type: 'spki', format: 'der' }) as Buffer);
}

export interface DaneFixture {
  domain: string;
  /** The verdict per MX host, as `checkTransportSecurity` reports it. */
  verdicts: Record<string, string>;
  /** The DNSSEC status of the domain's MX records. */
  domainStatus: string;
  /** Finding codes that must appear. */
  codes: string[];
}

/**
 * expired.example.test, signed offline by ldns-signzone with signatures that expired in 2020 (Knot
 * would refresh its own): returns the signed zone text and its DS line for the parent.
 */
export async function expiredZone(dir: string, leafSpkiHex: string): Promise<{ text: string; ds: string }> {
  const keygen = requireBinary('ldns-keygen', 'ldnsutils');
  const signzone = requireBinary('ldns-signzone', 'ldnsutils');
  const origin = 'expired.example.test';
  await run(keygen, ['-a', 'ECDSAP256SHA256', '-k', origin], { cwd: dir });
  const base = readdirSync(dir).find((n) => n.startsWith(`K${origin}.`) && n.endsWith('.private'))!.replace(/\.private$/, '');
  const zone = join(dir, 'expired.zone');
  writeFileSync(
    zone,
    [`$ORIGIN ${origin}.`, '@ 300 IN SOA ns1 hostmaster 1 3600 600 86400 300', '@ 300 IN NS ns1', 'ns1 300 A 127.0.0.1', '@ 300 MX 10 mx', 'mx 300 A 127.0.0.1', `_25._tcp.mx 300 TLSA 3 1 1 ${leafSpkiHex}`, ''].join('\n'),
  );
  await run(signzone, ['-e', '20200201000000', '-i', '20200101000000', '-f', `${zone}.signed`, zone, join(dir, base)], { cwd: dir });
  const ds = readFileSync(join(dir, `${base}.ds`), 'utf8').trim();
  return { text: readFileSync(`${zone}.signed`, 'utf8'), ds };
}

/** The SPKI SHA-256 of a certificate, hex. */
export function spkiSha256(der: Buffer): string {
  return sha256(new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' }) as Buffer);
}

export function daneZones(certs: DaneCerts, expired?: { text: string; ds: string }): { zones: Record<string, string>; signed: string[]; fixtures: DaneFixture[] } {
  const leafSpki = spkiSha256(certs.leafDer);
  const caCert = sha256(certs.caDer);
  const wrong = sha256(Buffer.from('a key nobody has'));
  const parent = `
@ 300 IN SOA ns1 hostmaster 1 3600 600 86400 300
@ 300 IN NS ns1
ns1 A 127.0.0.1
mail A 127.0.0.1
_25._tcp.mail TLSA 2 0 1 ${caCert}
ok MX 10 mx-ok
mx-ok A 127.0.0.1
_25._tcp.mx-ok TLSA 3 1 1 ${leafSpki}
roll MX 10 mx-roll
mx-roll A 127.0.0.1
_25._tcp.mx-roll TLSA 3 1 1 ${leafSpki}
_25._tcp.mx-roll TLSA 3 1 1 ${nextKeySpki()}
issuer MX 10 mail
bad MX 10 mx-bad
mx-bad A 127.0.0.1
_25._tcp.mx-bad TLSA 3 1 1 ${wrong}
pkix MX 10 mx-pkix
mx-pkix A 127.0.0.1
_25._tcp.mx-pkix TLSA 1 1 1 ${leafSpki}
cname MX 10 mx-alias
mx-alias CNAME mx-real
mx-real A 127.0.0.1
_25._tcp.mx-real TLSA 3 1 1 ${leafSpki}
partial MX 10 mx-ok
implicit A 127.0.0.1
full MX 10 mx-full
mx-full A 127.0.0.1
_25._tcp.mx-full TLSA 3 0 1 ${sha256(certs.leafDer)}
_25._tcp.implicit TLSA 3 1 1 ${leafSpki}
mx-big A 127.0.0.1
${Array.from({ length: 24 }, (_, i) => `_25._tcp.mx-big TLSA 3 1 2 ${createHash('sha512').update(String(i)).digest('hex')}`).join('\n')}
partial MX 20 mx-none
fallback MX 10 mx-none
fallback MX 20 mx-ok
pf-ok MX 10 mx-pf-ok
mx-pf-ok A 127.0.0.2
_25._tcp.mx-pf-ok TLSA 3 1 1 ${leafSpki}
pf-bad MX 10 mx-pf-bad
mx-pf-bad A 127.0.0.2
_25._tcp.mx-pf-bad TLSA 3 1 1 ${wrong}
pf-ta MX 10 mail-pf
mail-pf A 127.0.0.2
_25._tcp.mail-pf TLSA 2 0 1 ${caCert}
pf-none MX 10 mx-pf-none
mx-pf-none A 127.0.0.2
mx-none A 127.0.0.1
plain NS ns1.plain
ns1.plain A 127.0.0.1
bogus NS ns1.bogus
ns1.bogus A 127.0.0.1
bogus DS 4711 13 2 ${'00'.repeat(32)}
${expired ? `expired NS ns1.expired\nns1.expired A 127.0.0.1\n${expired.ds.replace(/^expired\.example\.test\.\s+/, 'expired ')}` : ''}
`;
  const child = `
@ 300 IN SOA ns1 hostmaster 1 3600 600 86400 300
@ 300 IN NS ns1
ns1 A 127.0.0.1
@ MX 10 mx
mx A 127.0.0.1
_25._tcp.mx TLSA 3 1 1 ${leafSpki}
`;
  return {
    zones: { 'example.test': parent, 'plain.example.test': child, 'bogus.example.test': child, ...(expired ? { 'expired.example.test': expired.text } : {}) },
    signed: ['example.test', 'bogus.example.test'],
    fixtures: [
      { domain: 'ok.example.test', domainStatus: 'secure', verdicts: { 'mx-ok.example.test': 'authenticated' }, codes: ['dane-tlsa-match', 'dane-rollover-not-ready', 'dane-ok'] },
      { domain: 'roll.example.test', domainStatus: 'secure', verdicts: { 'mx-roll.example.test': 'authenticated' }, codes: ['dane-tlsa-match', 'dane-tlsa-unmatched', 'dane-rollover-ready'] },
      { domain: 'issuer.example.test', domainStatus: 'secure', verdicts: { 'mail.example.test': 'authenticated' }, codes: ['dane-tlsa-match', 'dane-rollover-ready'] },
      { domain: 'bad.example.test', domainStatus: 'secure', verdicts: { 'mx-bad.example.test': 'failed' }, codes: ['dane-tlsa-mismatch', 'dane-authentication-failed'] },
      { domain: 'pkix.example.test', domainStatus: 'secure', verdicts: { 'mx-pkix.example.test': 'no-usable-tlsa' }, codes: ['dane-tlsa-pkix-usage', 'dane-no-usable-tlsa'] },
      { domain: 'full.example.test', domainStatus: 'secure', verdicts: { 'mx-full.example.test': 'authenticated' }, codes: ['dane-tlsa-match', 'dane-ee-cert-selector'] },
      { domain: 'implicit.example.test', domainStatus: 'secure', verdicts: { 'implicit.example.test': 'authenticated' }, codes: ['dane-tlsa-match'] },
      { domain: 'cname.example.test', domainStatus: 'secure', verdicts: { 'mx-alias.example.test': 'authenticated' }, codes: ['dane-tlsa-match'] },
      { domain: 'partial.example.test', domainStatus: 'secure', verdicts: { 'mx-ok.example.test': 'authenticated', 'mx-none.example.test': 'no-tlsa' }, codes: ['dane-partial', 'dane-no-tlsa'] },
      { domain: 'plain.example.test', domainStatus: 'insecure', verdicts: { 'mx.plain.example.test': 'tlsa-insecure' }, codes: ['dnssec-domain-insecure', 'dnssec-no-ds', 'dane-tlsa-insecure'] },
      { domain: 'bogus.example.test', domainStatus: 'bogus', verdicts: { 'mx.bogus.example.test': 'tlsa-bogus' }, codes: ['dnssec-domain-bogus', 'dnssec-ds-mismatch', 'dane-tlsa-bogus'] },
      { domain: 'expired.example.test', domainStatus: 'bogus', verdicts: { 'mx.expired.example.test': 'tlsa-bogus' }, codes: ['dnssec-domain-bogus', 'dnssec-signature-expired', 'dane-tlsa-bogus'] },
    ],
  };
}
