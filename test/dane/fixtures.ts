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
  /** The chains the other STARTTLS servers present (chainServer.ts), when started. */
  chains?: DaneChains;
}

/** Where the chain servers listen: the fixture hosts below resolve to these addresses. */
export const CHAIN_ADDRESSES = { nonCa: '127.0.0.3', taLeaf: '127.0.0.4', pfNonCa: '127.0.0.5', pfTaLeaf: '127.0.0.6' } as const;

export interface DaneChain {
  /** PEM: the server certificate, then its issuer. */
  chainPem: string;
  keyPem: string;
  leafDer: Buffer;
  issuerDer: Buffer;
}

export interface DaneChains {
  /** A server certificate issued by a certificate that is not a CA (basicConstraints CA:FALSE). */
  nonCa: DaneChain;
  /** A server certificate from the test CA, for the hosts whose DANE-TA record names the leaf. */
  taLeaf: DaneChain;
  /** A server certificate whose issuer says CA:TRUE but whose keyUsage lacks keyCertSign. */
  noCertSign: DaneChain;
}

/**
 * Issues the chains of the two extra STARTTLS servers with openssl in `dir`: a leaf signed by an
 * issuer whose basicConstraints say CA:FALSE (OpenSSL: "invalid CA certificate"), and a leaf from
 * the test CA for the mx-taleaf hosts.
 */
export async function daneChains(dir: string): Promise<DaneChains> {
  const openssl = requireBinary('openssl');
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const sign = async (name: string, names: string[], issuer: { cert: string; key: string } | undefined, ext: string[]): Promise<{ cert: string; key: string }> => {
    const cert = join(dir, `${name}.pem`);
    const key = join(dir, `${name}.key`);
    const extFile = join(dir, `${name}.ext`);
    writeFileSync(extFile, [...ext, ''].join('\n'));
    if (!issuer) {
      await run(openssl, ['req', '-x509', ...newKey, '-days', '825', '-subj', `/CN=${names[0]}`, '-keyout', key, '-out', cert, '-extensions', 'v3', '-config', extFile]);
    } else {
      const csr = join(dir, `${name}.csr`);
      await run(openssl, ['req', ...newKey, '-subj', `/CN=${names[0]}`, '-keyout', key, '-out', csr]);
      await run(openssl, ['x509', '-req', '-in', csr, '-CA', issuer.cert, '-CAkey', issuer.key, '-set_serial', `0x${Date.now().toString(16)}`, '-days', '825', '-sha256', '-extfile', extFile, '-extensions', 'v3', '-out', cert]);
    }
    return { cert, key };
  };
  const leafExt = (names: string[]): string[] => ['[v3]', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`, 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth'];
  // The config of `req -x509` needs a [req] section with a distinguished name section.
  const notCa = await sign('not-a-ca', ['Not A CA'], undefined, ['[req]', 'distinguished_name = dn', '[dn]', '[v3]', 'basicConstraints=critical,CA:FALSE', 'subjectKeyIdentifier=hash']);
  const nonCaNames = ['mx-nonca.example.test', 'mx-pf-nonca.example.test'];
  const nonCaLeaf = await sign('nonca-leaf', nonCaNames, notCa, leafExt(nonCaNames));
  const ca = { cert: join(dir, 'dane-ca.pem'), key: join(dir, 'dane-ca.key') };
  writeFileSync(join(dir, 'dane-ca.ext'), ['[req]', 'distinguished_name = dn', '[dn]', '[v3]', 'basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign', 'subjectKeyIdentifier=hash', ''].join('\n'));
  await run(openssl, ['req', '-x509', ...newKey, '-days', '825', '-subj', '/CN=DANE test CA', '-keyout', ca.key, '-out', ca.cert, '-extensions', 'v3', '-config', join(dir, 'dane-ca.ext')]);
  const taNames = ['mx-taleaf.example.test', 'mx-pf-taleaf.example.test'];
  const taLeaf = await sign('ta-leaf', taNames, ca, leafExt(taNames));
  const chain = (leaf: { cert: string; key: string }, issuer: string): DaneChain => {
    const leafPem = readFileSync(leaf.cert, 'utf8');
    const issuerPem = readFileSync(issuer, 'utf8');
    return { chainPem: leafPem + issuerPem, keyPem: readFileSync(leaf.key, 'utf8'), leafDer: pemToDer(leafPem), issuerDer: pemToDer(issuerPem) };
  };
  const noSign = await sign('no-cert-sign', ['CA Without keyCertSign'], undefined, ['[req]', 'distinguished_name = dn', '[dn]', '[v3]', 'basicConstraints=critical,CA:TRUE', 'keyUsage=critical,digitalSignature', 'subjectKeyIdentifier=hash']);
  const noSignLeaf = await sign('no-cert-sign-leaf', ['mx-nosign.example.test'], noSign, leafExt(['mx-nosign.example.test']));
  return { nonCa: chain(nonCaLeaf, notCa.cert), taLeaf: chain(taLeaf, ca.cert), noCertSign: chain(noSignLeaf, noSign.cert) };
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
  /** Finding codes that must not appear. */
  absent?: string[];
  /** The chain server the MX host's address leads to (chainServer.ts), instead of Exim. */
  server?: 'nonCa' | 'taLeaf';
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
  // Records no sender can use (RFC 7672 §3.1.3, RFC 6698 §2.1, RFC 7671 §9): an unknown selector, an
  // unknown matching type, a SHA2-512 record with a 32-byte digest, an unknown usage, and PKIX-EE.
  const unusable = (host: string): string => ['3 9 1', '3 1 7', '3 1 2', '4 1 1', '1 1 1'].map((p) => `_25._tcp.${host} TLSA ${p} ${leafSpki}`).join('\n');
  const chains = certs.chains;
  const chainHosts = chains
    ? [
        ['nonca', 'mx-nonca', CHAIN_ADDRESSES.nonCa, sha256(chains.nonCa.issuerDer)],
        ['pf-nonca', 'mx-pf-nonca', CHAIN_ADDRESSES.pfNonCa, sha256(chains.nonCa.issuerDer)],
        ['taleaf', 'mx-taleaf', CHAIN_ADDRESSES.taLeaf, sha256(chains.taLeaf.leafDer)],
        ['pf-taleaf', 'mx-pf-taleaf', CHAIN_ADDRESSES.pfTaLeaf, sha256(chains.taLeaf.leafDer)],
      ]
        .map(([domain, host, address, ta]) => `${domain} MX 10 ${host}\n${host} A ${address}\n_25._tcp.${host} TLSA 2 0 1 ${ta}`)
        .join('\n')
    : '';
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
cname2 MX 10 mx-alias2
mx-alias2 CNAME mx-real2
_25._tcp.mx-alias2 TLSA 3 1 1 ${leafSpki}
mx-real2 A 127.0.0.1
_25._tcp.mx-real2 TLSA 3 0 1 ${wrong}
cname3 MX 10 mx-alias3
mx-alias3 CNAME mx-none
_25._tcp.mx-alias3 TLSA 3 1 1 ${leafSpki}
pf-cname MX 10 mx-pf-alias
mx-pf-alias CNAME mx-pf-real
_25._tcp.mx-pf-alias TLSA 3 1 1 ${leafSpki}
mx-pf-real A 127.0.0.2
_25._tcp.mx-pf-real TLSA 3 1 1 ${wrong}
unusable MX 10 mx-unusable
mx-unusable A 127.0.0.1
${unusable('mx-unusable')}
pf-unusable MX 10 mx-pf-unusable
mx-pf-unusable A 127.0.0.2
${unusable('mx-pf-unusable')}
short MX 10 mx-short
mx-short A 127.0.0.1
_25._tcp.mx-short TYPE52 \\# 2 0301
pf-short MX 10 mx-pf-short
mx-pf-short A 127.0.0.2
_25._tcp.mx-pf-short TYPE52 \\# 2 0301
empty MX 10 mx-empty
mx-empty A 127.0.0.1
_25._tcp.mx-empty TYPE52 \\# 3 030100
fail MX 10 mx-fail
mx-fail A 127.0.0.1
_tcp.mx-fail NS ns-lame
ns-lame A 127.0.0.9
${chainHosts}
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
      // RFC 7672 §2.2.2: the CNAME-expanded name's TLSA first (it does not match), not the alias's.
      { domain: 'cname2.example.test', domainStatus: 'secure', verdicts: { 'mx-alias2.example.test': 'failed' }, codes: ['dane-tlsa-mismatch', 'dane-authentication-failed'], absent: ['dane-tlsa-match', 'dane-ok'] },
      // The expanded name has no TLSA (securely denied): the alias's own TLSA decides.
      { domain: 'cname3.example.test', domainStatus: 'secure', verdicts: { 'mx-alias3.example.test': 'authenticated' }, codes: ['dane-tlsa-match', 'dane-ok'] },
      // No usable record: TLS without authentication, never "senders will not deliver".
      { domain: 'unusable.example.test', domainStatus: 'secure', verdicts: { 'mx-unusable.example.test': 'no-usable-tlsa' }, codes: ['dane-tlsa-unusable', 'dane-tlsa-pkix-usage', 'dane-no-usable-tlsa'], absent: ['dane-authentication-failed', 'dane-tlsa-mismatch'] },
      // A TLSA RDATA of 2 octets exists: malformed and unusable, not "securely denied".
      { domain: 'short.example.test', domainStatus: 'secure', verdicts: { 'mx-short.example.test': 'no-usable-tlsa' }, codes: ['dane-tlsa-unusable', 'dane-no-usable-tlsa'], absent: ['dane-no-tlsa', 'dane-authentication-failed'] },
      { domain: 'empty.example.test', domainStatus: 'secure', verdicts: { 'mx-empty.example.test': 'no-usable-tlsa' }, codes: ['dane-tlsa-unusable', 'dane-no-usable-tlsa'], absent: ['dane-authentication-failed'] },
      // The TLSA lookup fails (a delegation to a name server that never answers, 127.0.0.9: Unbound
      // gives no answer or SERVFAIL, also with CD), while the address is secure: DANE senders skip the host.
      { domain: 'fail.example.test', domainStatus: 'secure', verdicts: { 'mx-fail.example.test': 'indeterminate' }, codes: ['dane-tlsa-lookup-failed'], absent: ['dane-indeterminate'] },
      ...(chains
        ? [
            // DANE-TA names an issuer that is not a CA (basicConstraints CA:FALSE): OpenSSL refuses it.
            { domain: 'nonca.example.test', domainStatus: 'secure', verdicts: { 'mx-nonca.example.test': 'failed' }, codes: ['dane-ta-rejected', 'dane-authentication-failed'], absent: ['dane-tlsa-match', 'dane-rollover-ready', 'dane-ok'], server: 'nonCa' as const },
            // DANE-TA names the server certificate itself (depth 0): not a trust anchor, no match.
            { domain: 'taleaf.example.test', domainStatus: 'secure', verdicts: { 'mx-taleaf.example.test': 'failed' }, codes: ['dane-tlsa-mismatch', 'dane-authentication-failed'], absent: ['dane-tlsa-match', 'dane-rollover-ready', 'dane-ok'], server: 'taLeaf' as const },
          ]
        : []),
    ],
  };
}
