// BIMI mark certificates (VMC/CMC): certificates issued by a real openssl with the extensions a mark
// certificate carries (the BIMI extended key usage, subjectAltName, an RFC 3709 logotype with the
// gzip-compressed SVG as a data: URI, an SCT list), then one problem at a time, each expected as
// its own finding code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeTempDir, removeTempDir } from '../peers/process';
import { checkMarkCertificate, type VmcCheckOptions } from '../../client/src/dns/bimiVmc';
import { markCertIssuer, type MarkCertIssuer } from './markCerts';

const LOGO = '<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 100 100"><title>Brand</title><circle cx="50" cy="50" r="40"/></svg>\n';
let dir: string;
let caPem: string;
let otherCaPem: string;

let issuer: MarkCertIssuer;

interface Leaf {
  eku?: string;
  san?: string;
  logo?: string | null;
  sct?: boolean;
  markType?: string;
  ca?: string;
}

/** A mark certificate for brand.test with the given parts changed. */
function issue(o: Leaf = {}): string {
  return issuer.issue({ ...o, san: o.san ?? 'DNS:brand.test,DNS:default._bimi.brand.test', logo: o.logo === undefined ? LOGO : o.logo });
}

/** The checks' options; each call sets `now` when it runs (a certificate is valid from the second it is issued). */
const OPTIONS: VmcCheckOptions = { domain: 'brand.test', selector: 'default', logoSvg: LOGO, now: new Date(0) };

function codes(pem: string, options: Partial<VmcCheckOptions> = {}): string[] {
  return checkMarkCertificate(pem, { ...OPTIONS, now: new Date(), ...options }).map((p) => p.code);
}

before(() => {
  dir = makeTempDir('bimi-vmc');
  issuer = markCertIssuer(dir);
  caPem = issuer.ca('ca');
  otherCaPem = issuer.ca('other');
});

after(() => {
  if (dir) removeTempDir(dir);
});

test('a complete mark certificate passes and says which kind of mark it certifies', () => {
  const problems = checkMarkCertificate(issue(), { ...OPTIONS, now: new Date(), trustedRoots: [caPem] });
  assert.deepEqual(problems.map((p) => p.code), ['bimi-vmc-ok']);
  assert.match(problems[0].message, /^VMC \(Registered Mark\) for brand\.test, default\._bimi\.brand\.test, valid until \d{4}-\d\d-\d\d$/);
  assert.match(checkMarkCertificate(issue({ markType: 'Prior Use Mark' }), { ...OPTIONS, now: new Date() })[0].message, /^CMC \(Prior Use Mark\)/);
});

test('each problem of a mark certificate is its own finding', () => {
  const cases: Array<[string, string, string[], Partial<VmcCheckOptions>?]> = [
    ['not a certificate', 'hello', ['bimi-vmc-pem']],
    ['a TLS server certificate (serverAuth, not BIMI)', issue({ eku: 'serverAuth' }), ['bimi-vmc-eku']],
    // The clock is the check's input: a year and a day on, the one-year certificate has expired.
    ['expired', issue(), ['bimi-vmc-validity'], { now: new Date(Date.now() + 366 * 86_400_000) }],
    ['not yet valid', issue(), ['bimi-vmc-validity'], { now: new Date(Date.now() - 86_400_000) }],
    ['for another domain', issue({ san: 'DNS:other.test' }), ['bimi-vmc-san']],
    ['no logotype', issue({ logo: null }), ['bimi-vmc-logotype']],
    ['another logo than l= serves', issue({ logo: LOGO.replace('r="40"', 'r="30"') }), ['bimi-vmc-logo-mismatch']],
    ['not logged (no SCTs)', issue({ sct: false }), ['bimi-vmc-ct']],
    ['issued under an untrusted root', issue({ ca: 'other' }), ['bimi-vmc-root'], { trustedRoots: [caPem] }],
    ['the organizational domain is covered when the record was found there', issue({ san: 'DNS:brand.test' }), ['bimi-vmc-ok'], { domain: 'shop.brand.test', organizationalDomain: 'brand.test' }],
  ];
  for (const [what, pem, want, options] of cases) assert.deepEqual(codes(pem, options), want, what);
  // The file's issuer is not the leaf's: the chain finding names the certificates.
  const leafOnly = issue().split(/(?=-----BEGIN CERTIFICATE-----)/)[0];
  const problems = checkMarkCertificate(`${leafOnly}${otherCaPem}`, { ...OPTIONS, now: new Date() });
  assert.deepEqual(problems.map((p) => p.code), ['bimi-vmc-chain']);
  assert.match(problems[0].message, /certificate 1 \(.*CN=Brand.*\) is not issued by certificate 2 of the file/);
});
