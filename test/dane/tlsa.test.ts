// The pure DANE matcher, record by record, against certificates the test CA issues (openssl).
// Each row: the TLSA record, the chain, the reference names, and the expected outcome.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { expiredCert, issueCert, selfSignedCert, serverCert, testCa } from '../peers/certs';
import { tlsaData, type TlsaRecordData, unusableReason, verifyDane } from '../../client/src/dns/tlsa';

let leaf: Buffer;
let ca: Buffer;
let expired: Buffer;
let stranger: Buffer;
let otherLeaf: Buffer;

before(async () => {
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
