// The pure DANE matcher, record by record, against certificates the test CA issues (openssl).
// Each row: the TLSA record, the chain, the reference names, and the expected outcome.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { expiredCert, issueCert, selfSignedCert, serverCert, testCa } from '../peers/certs';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { requireBinary } from '../peers/require';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTlsa, tlsaData, type TlsaRecordData, unusableReason, verifyDane } from '../../client/src/dns/tlsa';
import { parseDnsMessage } from '../../client/src/dns/dnssecWire';
import { daneChains, type DaneChains } from './fixtures';

let leaf: Buffer;
let ca: Buffer;
let expired: Buffer;
let stranger: Buffer;
const run = promisify(execFile);
let otherLeaf: Buffer;
let chains: DaneChains;
let work: string;

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'smtpwb-tlsa-'));
  chains = await daneChains(work);
  const s = await serverCert(['mx.dane.test']);
  leaf = new X509Certificate(s.certPem).raw;
  ca = new X509Certificate((await testCa()).caPem).raw;
  expired = new X509Certificate((await expiredCert(['mx.dane.test'])).certPem).raw;
  stranger = new X509Certificate((await selfSignedCert(['stranger.dane.test'])).certPem).raw;
  otherLeaf = new X509Certificate((await issueCert({ names: ['other.dane.test'] })).certPem).raw;
});

function rec(usage: number, selector: number, matchingType: number, cert: Buffer): TlsaRecordData {
  return { usage, selector, matchingType, data: tlsaData(cert, selector, matchingType) };
}

interface Row {
  name: string;
  record: () => TlsaRecordData;
  chain: () => Buffer[];
  names?: string[];
  authenticated: boolean;
  depth?: number;
  /** A fragment of the rejection or unusable reason. */
  reason?: RegExp;
}

const rows: Row[] = [
  { name: '3 1 1 matches the server key', record: () => rec(3, 1, 1, leaf), chain: () => [leaf], authenticated: true, depth: 0 },
  { name: '3 0 1 matches the server certificate', record: () => rec(3, 0, 1, leaf), chain: () => [leaf, ca], authenticated: true, depth: 0 },
  { name: '3 1 2 (SHA2-512) matches', record: () => rec(3, 1, 2, leaf), chain: () => [leaf], authenticated: true, depth: 0 },
  { name: '3 1 0 (full SPKI) matches', record: () => rec(3, 1, 0, leaf), chain: () => [leaf], authenticated: true, depth: 0 },
  { name: '3 0 0 (full certificate) matches', record: () => rec(3, 0, 0, leaf), chain: () => [leaf], authenticated: true, depth: 0 },
  { name: '3 1 1 ignores the name (RFC 7672 §3.1.1)', record: () => rec(3, 1, 1, leaf), chain: () => [leaf], names: ['elsewhere.test'], authenticated: true, depth: 0 },
  { name: '3 1 1 ignores expiry (RFC 7672 §3.1.1)', record: () => rec(3, 1, 1, expired), chain: () => [expired, ca], authenticated: true, depth: 0 },
  { name: '3 x x never matches an issuer', record: () => rec(3, 0, 1, ca), chain: () => [leaf, ca], authenticated: false },
  { name: '3 1 1 of another key matches nothing', record: () => rec(3, 1, 1, otherLeaf), chain: () => [leaf, ca], authenticated: false },
  { name: '2 0 1 matches the issuer', record: () => rec(2, 0, 1, ca), chain: () => [leaf, ca], authenticated: true, depth: 1 },
  { name: '2 1 1 matches the issuer key', record: () => rec(2, 1, 1, ca), chain: () => [leaf, ca], authenticated: true, depth: 1 },
  { name: '2 0 1 needs the issuer in the chain (RFC 7671 §5.2.2)', record: () => rec(2, 0, 1, ca), chain: () => [leaf], authenticated: false },
  { name: '2 0 1 checks the name (RFC 7672 §3.2.2)', record: () => rec(2, 0, 1, ca), chain: () => [leaf, ca], names: ['other.dane.test'], authenticated: false, reason: /not valid for other\.dane\.test/ },
  { name: '2 0 1 checks expiry', record: () => rec(2, 0, 1, ca), chain: () => [expired, ca], authenticated: false, reason: /expired/ },
  { name: '2 0 1 of a certificate that did not sign the leaf', record: () => rec(2, 0, 1, stranger), chain: () => [leaf, stranger], authenticated: false, reason: /not signed by/ },
  // RFC 7671 §5.2.2 and OpenSSL: a trust anchor is an issuer above the leaf, never the leaf itself.
  { name: '2 0 1 of the server certificate itself is no trust anchor', record: () => rec(2, 0, 1, leaf), chain: () => [leaf, ca], authenticated: false },
  { name: '2 1 1 of the server key itself is no trust anchor', record: () => rec(2, 1, 1, leaf), chain: () => [leaf], authenticated: false },
  // OpenSSL's X509_check_ca: every issuer up to the trust anchor is a CA (basicConstraints CA:TRUE).
  { name: '2 0 1 of an issuer that is not a CA (CA:FALSE)', record: () => rec(2, 0, 1, chains.nonCa.issuerDer), chain: () => [chains.nonCa.leafDer, chains.nonCa.issuerDer], names: ['mx-nonca.example.test'], authenticated: false, depth: undefined, reason: /depth 1 .*is not a CA certificate/ },
  { name: '2 0 1 of a CA whose keyUsage lacks keyCertSign', record: () => rec(2, 0, 1, chains.noCertSign.issuerDer), chain: () => [chains.noCertSign.leafDer, chains.noCertSign.issuerDer], names: ['mx-nosign.example.test'], authenticated: false, reason: /depth 1 .*is not a CA certificate/ },
  { name: '2 1 1 of a CA that issued the leaf still matches', record: () => rec(2, 1, 1, chains.taLeaf.issuerDer), chain: () => [chains.taLeaf.leafDer, chains.taLeaf.issuerDer], names: ['mx-taleaf.example.test'], authenticated: true, depth: 1 },
  { name: 'a malformed record (RDATA shorter than 3 octets) is unusable', record: () => ({ usage: -1, selector: -1, matchingType: -1, data: Buffer.from('0301', 'hex'), malformed: 'the RDATA is 2 octets' }), chain: () => [leaf], authenticated: false, reason: /malformed: the RDATA is 2 octets/ },
  { name: 'empty association data is unusable', record: () => ({ usage: 3, selector: 1, matchingType: 0, data: Buffer.alloc(0) }), chain: () => [leaf], authenticated: false, reason: /association data is empty/ },
  { name: '1 1 1 (PKIX-EE) is unusable for SMTP', record: () => rec(1, 1, 1, leaf), chain: () => [leaf], authenticated: false, reason: /RFC 7672 §3\.1\.3/ },
  { name: '0 0 1 (PKIX-TA) is unusable for SMTP', record: () => rec(0, 0, 1, ca), chain: () => [leaf, ca], authenticated: false, reason: /RFC 7672 §3\.1\.3/ },
  { name: 'usage 4 is unknown', record: () => ({ ...rec(3, 1, 1, leaf), usage: 4 }), chain: () => [leaf], authenticated: false, reason: /usage 4 is unknown/ },
  { name: 'selector 2 is unknown', record: () => ({ ...rec(3, 1, 1, leaf), selector: 2 }), chain: () => [leaf], authenticated: false, reason: /selector 2/ },
  { name: 'a SHA2-256 digest of the wrong length is unusable', record: () => ({ ...rec(3, 1, 1, leaf), data: rec(3, 1, 1, leaf).data.subarray(0, 31) }), chain: () => [leaf], authenticated: false, reason: /31 bytes/ },
];

for (const row of rows) {
  test(`verifyDane: ${row.name}`, () => {
    const v = verifyDane([row.record()], row.chain(), row.names ?? ['mx.dane.test'], Date.now());
    assert.equal(v.authenticated, row.authenticated, v.summary);
    if (row.depth !== undefined) assert.equal(v.matched?.matchedDepth, row.depth);
    if (row.reason) {
      const o = v.outcomes[0];
      assert.match(o.unusable ?? o.matchRejected ?? '', row.reason);
    }
  });
}

test('verifyDane: a rollover pair authenticates with either record, and says which matched', () => {
  const v = verifyDane([rec(3, 1, 1, otherLeaf), rec(3, 1, 1, leaf)], [leaf, ca], ['mx.dane.test'], Date.now());
  assert.equal(v.authenticated, true);
  assert.equal(v.matched?.record.data.toString('hex'), rec(3, 1, 1, leaf).data.toString('hex'));
  assert.equal(v.outcomes[0].matchedDepth, undefined);
  assert.equal(v.usableCount, 2);
});

test('verifyDane: garbage in the chain is a summary, never a throw', () => {
  const v = verifyDane([rec(3, 1, 1, leaf)], [Buffer.from('not a certificate')], ['mx.dane.test'], Date.now());
  assert.equal(v.authenticated, false);
  assert.match(v.summary, /could not be read/);
  assert.equal(unusableReason({ usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(0) }), 'the association data is 0 bytes, not the 32 of SHA2-256 (RFC 7671 §9)');
});

test('a TLSA RDATA shorter than 3 octets is kept, marked malformed, and shown in the generic form', () => {
  // A response with one answer: _25._tcp.x TLSA, RDATA 03 01 (2 octets).
  const header = Buffer.from('abcd81a0000100010000000000', 'hex').subarray(0, 12);
  const qname = Buffer.from([8, ...Buffer.from('_25._tcp'.slice(0, 8)), 1, 0x78, 0]);
  const owner = Buffer.from([0xc0, 12]);
  const msg = Buffer.concat([header, qname, Buffer.from('00340001', 'hex'), owner, Buffer.from('003400010000012c0002', 'hex'), Buffer.from('0301', 'hex')]);
  const parsed = parseDnsMessage(msg);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
  const t = parsed.message.answers[0]?.tlsa;
  assert.ok(t, 'the record was dropped');
  assert.match(t.malformed ?? '', /2 octets/);
  assert.equal(formatTlsa(t), '\\# 2 0301 (malformed TLSA)');
  assert.match(unusableReason(t) ?? '', /^the record is malformed/);
});

test('ldns-dane (OpenSSL) agrees on DANE-TA records for issuers that are not CAs, and for the leaf itself', async () => {
  const ldnsDane = requireBinary('ldns-dane');
  const cases: Array<{ chain: DaneChains[keyof DaneChains]; record: TlsaRecordData; host: string }> = [
    { chain: chains.nonCa, record: rec(2, 0, 1, chains.nonCa.issuerDer), host: 'mx-nonca.example.test' },
    { chain: chains.noCertSign, record: rec(2, 0, 1, chains.noCertSign.issuerDer), host: 'mx-nosign.example.test' },
    { chain: chains.taLeaf, record: rec(2, 0, 1, chains.taLeaf.leafDer), host: 'mx-taleaf.example.test' },
    { chain: chains.taLeaf, record: rec(2, 1, 1, chains.taLeaf.issuerDer), host: 'mx-taleaf.example.test' },
  ];
  for (const c of cases) {
    const chainFile = join(work, 'chain.pem');
    const tlsaFile = join(work, 'tlsa.txt');
    writeFileSync(chainFile, c.chain.chainPem);
    writeFileSync(tlsaFile, `_25._tcp.${c.host}. 300 IN TLSA ${c.record.usage} ${c.record.selector} ${c.record.matchingType} ${c.record.data.toString('hex')}\n`);
    const theirs = await run(ldnsDane, ['-d', '-c', chainFile, '-t', tlsaFile, 'verify', c.host, '25']).then(
      (x) => ({ ok: true, text: x.stdout + x.stderr }),
      (e: { stdout?: string; stderr?: string }) => ({ ok: false, text: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
    );
    const ours = verifyDane([c.record], [c.chain.leafDer, c.chain.issuerDer], [c.host], Date.now());
    assert.equal(ours.authenticated, theirs.ok, `${c.host} ${formatTlsa(c.record)}: ours ${ours.summary}; ldns-dane: ${theirs.text}`);
  }
});
