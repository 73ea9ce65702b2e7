// An RSA key record whose p= is an RSAPublicKey (PKCS#1) rather than a SubjectPublicKeyInfo. RFC 6376
// §3.6.1 names the first; Appendix C and practice use the second (erratum 3017 would allow both).
// mailauth reads only the second, so `verify` said "unknown key type" where `dkim check`, the Mail DNS
// check and dkimpy accept the key: the product now decides one way (accept, with a warning in the DNS
// check). The key is published in a real Knot and the message signed by Debian's dkimsign.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKnot, type KnotPeer } from '../peers/knot';
import { dkimCommand } from '../../client/src/cli/dkimCommand';
import { checkKeyRecord } from '../../client/src/dns/dkim';
import { withSubjectPublicKeyInfo } from '../../client/src/mailAuth/resolver';
import type { Finding } from '../../client/src/dns/types';
import { captureIo, makeKeys, ROOT_ZONE, sampleMessage, txt, verifyUnalignedSpfJson, type TestKeys } from './fixtures';
import { dkimsign } from './debianTools';

let knot: KnotPeer;
let keys: TestKeys;
let dir: string;
let pkcs1Pem: string;
let pkcs1Der: string;
let spkiDer: string;

before(async () => {
  keys = makeKeys();
  const pub = createPublicKey(keys.rsaPem);
  pkcs1Der = pub.export({ type: 'pkcs1', format: 'der' }).toString('base64');
  spkiDer = pub.export({ type: 'spki', format: 'der' }).toString('base64');
  const zone = ['$ORIGIN pk.test.', '$TTL 300', '_dmarc IN TXT "v=DMARC1; p=reject"', `pk1._domainkey IN TXT ${txt(`v=DKIM1; k=rsa; p=${pkcs1Der}`)}`, `spki._domainkey IN TXT ${txt(`v=DKIM1; k=rsa; p=${spkiDer}`)}`, ''].join('\n');
  const spf = ['$ORIGIN spf.test.', '$TTL 300', 'ok IN TXT "v=spf1 ip4:192.0.2.99 -all"', ''].join('\n');
  knot = await startKnot({ zones: { '': ROOT_ZONE, 'pk.test': zone, 'spf.test': spf } });
  dir = mkdtempSync(join(tmpdir(), 'smtpwb-dkimpkcs1-'));
  writeFileSync(join(dir, 'rsa.pem'), keys.rsaPem);
  // dkimsign reads only PKCS#1 RSA private keys.
  pkcs1Pem = join(dir, 'rsa-pkcs1.pem');
  writeFileSync(pkcs1Pem, createPrivateKey(keys.rsaPem).export({ type: 'pkcs1', format: 'pem' }).toString());
});

after(async () => {
  await knot?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('verify: a signature whose key record holds the RSA key as an RSAPublicKey (PKCS#1) passes, as dkimpy and dkim check decide', async () => {
  const res = await verifyUnalignedSpfJson(dir, knot.address, await dkimsign(sampleMessage('alice@pk.test'), 'pk1', 'pk.test', pkcs1Pem));
  const all = JSON.stringify(res.report.dkim, null, 2);
  assert.equal(res.report.dkim.length, 1, all);
  assert.equal(res.report.dkim[0].result, 'pass', all);
  assert.equal(res.report.dmarc.result, 'pass');
  assert.equal(res.code, 0);
  // The same key, published as a SubjectPublicKeyInfo, verifies the same way.
  const spki = await verifyUnalignedSpfJson(dir, knot.address, await dkimsign(sampleMessage('alice@pk.test'), 'spki', 'pk.test', pkcs1Pem));
  assert.equal(spki.report.dkim[0].result, 'pass');

  const cap = captureIo(dir);
  const code = await dkimCommand(['check', '--domain', 'pk.test', '--selector', 'pk1', '--key', join(dir, 'rsa.pem'), '--dns-server', knot.address, '--timeout', '2000'], cap.io);
  assert.equal(code, 0, cap.stdout().toString('utf8') + cap.stderr());
});

test('the Mail DNS check warns about a PKCS#1 key (dkim-key-pkcs1) and not about a SubjectPublicKeyInfo; mailauth gets the same key as a SubjectPublicKeyInfo', () => {
  const pkcs1: Finding[] = [];
  const info = checkKeyRecord('pk1', 'pk1._domainkey.pk.test', `v=DKIM1; k=rsa; p=${pkcs1Der}`, pkcs1);
  assert.equal(info.bits, 2048);
  assert.deepEqual(pkcs1.map((f) => [f.code, f.severity]), [['dkim-key-pkcs1', 'warning']]);
  const spki: Finding[] = [];
  checkKeyRecord('spki', 'spki._domainkey.pk.test', `v=DKIM1; k=rsa; p=${spkiDer}`, spki);
  assert.deepEqual(spki.map((f) => f.code), ['dkim-key-ok']);
  // The record mailauth reads: the same key, the other tags and their order kept.
  assert.equal(withSubjectPublicKeyInfo(`v=DKIM1; k=rsa; p=${pkcs1Der}`), `v=DKIM1; k=rsa; p=${spkiDer}`);
  assert.equal(withSubjectPublicKeyInfo(`v=DKIM1; p=${pkcs1Der.slice(0, 40)} ${pkcs1Der.slice(40)}; n=note`), `v=DKIM1; p=${spkiDer}; n=note`);
  for (const unchanged of [`v=DKIM1; p=${spkiDer}`, 'v=DKIM1; p=', 'v=DKIM1; p=!!!', 'v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=', 'no key here']) {
    assert.equal(withSubjectPublicKeyInfo(unchanged), unchanged, unchanged);
  }
});
