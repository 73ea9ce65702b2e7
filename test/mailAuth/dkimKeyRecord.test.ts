// A DKIM signature verifies only with a key record RFC 6376 lets the verifier use: h= must list the
// signature's hash (§3.6.1, §6.1.2), s= must include email (§3.6.1), t=s forbids an i= in a subdomain
// of d= (§3.6.1), v= must be exactly DKIM1 and first (§3.6.1), rsa-sha1 is not accepted (RFC 8301
// §3.1) and i= must be within d= (§6.1.1). mailauth checks none of these, so `verifyMessage` applies
// the product's key-record decision (dkimKeyCheck.ts). Keys are published in a real Knot; the
// messages are signed by Debian's dkimsign (python3-dkim), so the signer is not the product's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKnot, type KnotPeer } from '../peers/knot';
import { signCommand } from '../../client/src/cli/signCommand';
import { dkimCommand } from '../../client/src/cli/dkimCommand';
import { publicKeyRecord } from '../../client/src/mailAuth/sign';
import { checkKeyRecord } from '../../client/src/dns/dkim';
import type { Finding } from '../../client/src/dns/types';
import type { AuthReport } from '../../client/src/mailAuth/verify';
import { verifiedByCaptureServer } from '../support/captureVerified';
import { captureIo, firstDkimSignatureField, makeKeys, ROOT_ZONE, sampleMessage, txt, verifyUnalignedSpfJson, type TestKeys } from './fixtures';
import { dkimsign, opendkimTestkey } from './debianTools';

let knot: KnotPeer;
let keys: TestKeys;
let dir: string;
let pkcs1: string;
let publicKey: string;

/** The key records under test, all holding the same RSA-2048 key: selector → the tags before p=. */
const RECORDS: Record<string, string> = {
  good: 'v=DKIM1; k=rsa; ',
  hsha1: 'v=DKIM1; h=sha1; ',
  hboth: 'v=DKIM1; h=sha1:sha256; ',
  svc: 'v=DKIM1; s=foo; ',
  svcok: 'v=DKIM1; s=foo:email; ',
  tstrict: 'v=DKIM1; t=s; ',
  vpos: 'k=rsa; v=DKIM1; ',
  vlower: 'v=dkim1; ',
};

before(async () => {
  keys = makeKeys();
  const p = /p=(.*)$/.exec(publicKeyRecord(keys.rsaPem))![1];
  publicKey = p;
  const dm = [
    '$ORIGIN dm.test.',
    '$TTL 300',
    '_dmarc IN TXT "v=DMARC1; p=reject"',
    ...Object.entries(RECORDS).map(([selector, tags]) => `${selector}._domainkey IN TXT ${txt(`${tags}p=${p}`)}`),
    // Two records at one selector, both usable on their own (RFC 6376 §3.6.2.2: the results are undefined).
    `two._domainkey IN TXT ${txt(`v=DKIM1; k=rsa; p=${p}`)}`,
    `two._domainkey IN TXT ${txt(`v=DKIM1; p=${p}`)}`,
    '',
  ].join('\n');
  // The envelope domain passes SPF for 192.0.2.99 but is not aligned with dm.test, so DMARC rests on DKIM.
  const spf = ['$ORIGIN spf.test.', '$TTL 300', 'ok IN TXT "v=spf1 ip4:192.0.2.99 -all"', ''].join('\n');
  knot = await startKnot({ zones: { '': ROOT_ZONE, 'dm.test': dm, 'spf.test': spf } });
  dir = mkdtempSync(join(tmpdir(), 'smtpwb-dkimkeyrec-'));
  writeFileSync(join(dir, 'rsa.pem'), keys.rsaPem);
  // dkimsign reads only PKCS#1 RSA keys ("BEGIN RSA PRIVATE KEY").
  pkcs1 = join(dir, 'rsa-pkcs1.pem');
  writeFileSync(pkcs1, createPrivateKey(keys.rsaPem).export({ type: 'pkcs1', format: 'pem' }).toString());
  writeFileSync(join(dir, 'message.eml'), sampleMessage('alice@dm.test'));
});

after(async () => {
  await knot?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs `smtpwb verify --json` as the tester did; returns the exit code and the report. */
async function verify(message: Buffer): Promise<{ code: number; report: AuthReport }> {
  return verifyUnalignedSpfJson(dir, knot.address, message);
}

/** Runs `smtpwb dkim check` for a selector of dm.test with the key that signed. */
async function dkimCheck(selector: string): Promise<{ code: number; out: string }> {
  const cap = captureIo(dir);
  const code = await dkimCommand(['check', '--domain', 'dm.test', '--selector', selector, '--key', join(dir, 'rsa.pem'), '--dns-server', knot.address, '--timeout', '2000'], cap.io);
  return { code, out: cap.stdout().toString('utf8') + cap.stderr() };
}

/** Asserts a verified message's one signature is a permerror for the key record, and DMARC fails. */
function assertUnusable(res: { code: number; report: AuthReport }, selector: string, reason: RegExp, clause: RegExp): void {
  const sig = res.report.dkim[0];
  const all = JSON.stringify(res.report.dkim, null, 2);
  assert.equal(res.report.dkim.length, 1, all);
  assert.equal(sig.selector, selector);
  assert.equal(sig.result, 'permerror', all);
  assert.equal(sig.failed, true);
  assert.match(sig.reason ?? '', reason, all);
  assert.match(sig.info, clause, all);
  assert.match(res.report.authenticationResults, /^Authentication-Results: mx\.test;\r\n dkim=permerror \(/);
  assert.doesNotMatch(res.report.authenticationResults, /dkim=pass/);
  // mailauth alone said pass: the details keep that, beside the record problem.
  assert.equal(sig.details['mailauth result'], 'pass', all);
  // SPF passes for a domain that is not aligned, so DMARC p=reject fails without the signature.
  assert.equal(res.report.spf.result, 'pass');
  assert.equal(res.report.dmarc.result, 'fail', JSON.stringify(res.report.dmarc, null, 2));
  assert.equal(res.code, 1);
}

test('verify: a key whose h= does not list the signature hash is permerror (inappropriate hash algorithm), and DMARC fails; h=sha1:sha256 still passes', async () => {
  // The tester's steps: smtpwb sign (a=rsa-sha256), then smtpwb verify.
  const cap = captureIo(dir);
  assert.equal(await signCommand(['message.eml', '--domain', 'dm.test', '--selector', 'hsha1', '--key', 'rsa.pem'], cap.io), 0, cap.stderr());
  const res = await verify(cap.stdout());
  assertUnusable(res, 'hsha1', /^key h=sha1 does not list sha256, the hash of a=rsa-sha256: inappropriate hash algorithm \(RFC 6376 §3\.6\.1, §6\.1\.2\)$/, /^dkim=permerror \(key h=sha1 does not list sha256, the hash of a=rsa-sha256: inappropriate hash algorithm\) header\.i=@dm\.test header\.s=hsha1 header\.a=rsa-sha256 /);
  assert.equal(res.report.dkim[0].details['key record problem'], 'dkim-hash-excluded');

  const both = await verify(await dkimsign(sampleMessage('alice@dm.test'), 'hboth', 'dm.test', pkcs1));
  assert.equal(both.report.dkim[0].result, 'pass', JSON.stringify(both.report.dkim[0], null, 2));
  assert.equal(both.report.dmarc.result, 'pass');
  assert.equal(both.code, 0);
});

test('verify: an rsa-sha1 signature is permerror even when the key allows sha1 (RFC 8301 §3.1)', async () => {
  const res = await verify(await dkimsign(sampleMessage('alice@dm.test'), 'hboth', 'dm.test', pkcs1, { algorithm: 'rsa-sha1' }));
  assertUnusable(res, 'hboth', /^a=rsa-sha1 uses SHA-1, which verifiers must not accept \(RFC 8301 §3\.1\)$/, /^dkim=permerror \(a=rsa-sha1 uses SHA-1, which verifiers must not accept\) header\.i=@dm\.test /);
});

test('verify: a key whose s= does not list email or * is permerror, s=foo:email passes', async () => {
  const res = await verify(await dkimsign(sampleMessage('alice@dm.test'), 'svc', 'dm.test', pkcs1));
  assertUnusable(res, 'svc', /^key s=foo does not list email or \*, so the record does not apply to email \(RFC 6376 §3\.6\.1\)$/, /^dkim=permerror \(key s=foo does not list email or \*, so the record does not apply to email\) /);
  const ok = await verify(await dkimsign(sampleMessage('alice@dm.test'), 'svcok', 'dm.test', pkcs1));
  assert.equal(ok.report.dkim[0].result, 'pass', JSON.stringify(ok.report.dkim[0], null, 2));
  assert.equal(ok.report.dmarc.result, 'pass');
});

test('verify: a t=s key with i= in a subdomain of d= is permerror; i= equal to d= passes; i= outside d= is a domain mismatch', async () => {
  const sub = await verify(await dkimsign(sampleMessage('alice@dm.test'), 'tstrict', 'dm.test', pkcs1, { identity: 'alice@mail.dm.test' }));
  assertUnusable(sub, 'tstrict', /^key t=s, but the i= domain mail\.dm\.test is a subdomain of d=dm\.test \(RFC 6376 §3\.6\.1\)$/, /^dkim=permerror \(key t=s, but the i= domain mail\.dm\.test is a subdomain of d=dm\.test\) /);
  const same = await verify(await dkimsign(sampleMessage('alice@dm.test'), 'tstrict', 'dm.test', pkcs1, { identity: 'alice@dm.test' }));
  assert.equal(same.report.dkim[0].result, 'pass', JSON.stringify(same.report.dkim[0], null, 2));
  assert.equal(same.report.dmarc.result, 'pass');
  // Without t=s a subdomain i= is fine (RFC 6376 §3.5).
  const loose = await verify(await dkimsign(sampleMessage('alice@dm.test'), 'good', 'dm.test', pkcs1, { identity: 'alice@mail.dm.test' }));
  assert.equal(loose.report.dkim[0].result, 'pass', JSON.stringify(loose.report.dkim[0], null, 2));
  // An i= outside d= (dkimsign signs it; the signature itself is valid) is PERMFAIL (domain mismatch), §6.1.1.
  const outside = await verify(await dkimsign(sampleMessage('alice@dm.test'), 'good', 'dm.test', pkcs1, { identity: 'alice@xdm.test' }));
  assertUnusable(outside, 'good', /^i= domain xdm\.test is not d=dm\.test or a subdomain of it: domain mismatch \(RFC 6376 §3\.5, §6\.1\.1\)$/, /^dkim=permerror \(i= domain xdm\.test /);
});

test('verify: a key whose v= is not first or not exactly DKIM1 is permerror (RFC 6376 §3.6.1, §6.1.2), as dkim check decides', async () => {
  for (const [selector, reason] of [
    ['vpos', /^key v=DKIM1 is not the first tag: key syntax error \(RFC 6376 §3\.6\.1, §6\.1\.2\)$/],
    ['vlower', /^key v=dkim1 is not DKIM1, so the record is discarded \(RFC 6376 §3\.6\.1\)$/],
  ] as const) {
    const res = await verify(await dkimsign(sampleMessage('alice@dm.test'), selector, 'dm.test', pkcs1));
    assertUnusable(res, selector, reason, /^dkim=permerror \(key v=/);
  }
});

test('verify and dkim check agree on which key records are unusable; opendkim-testkey rejects s=foo too', async () => {
  const verdicts: Array<{ selector: string; usable: boolean }> = [
    { selector: 'good', usable: true },
    { selector: 'hboth', usable: true },
    { selector: 'svcok', usable: true },
    { selector: 'tstrict', usable: true },
    { selector: 'hsha1', usable: false },
    { selector: 'svc', usable: false },
    { selector: 'vpos', usable: false },
    { selector: 'vlower', usable: false },
  ];
  for (const v of verdicts) {
    const res = await verify(await dkimsign(sampleMessage('alice@dm.test'), v.selector, 'dm.test', pkcs1));
    assert.equal(res.report.dkim[0].result === 'pass', v.usable, `verify ${v.selector}: ${JSON.stringify(res.report.dkim[0], null, 2)}`);
    const check = await dkimCheck(v.selector);
    assert.equal(check.code === 0, v.usable, `dkim check ${v.selector}: ${check.out}`);
    // The Mail DNS report (smtpwb dns) reads the record with the same checkKeyRecord: an error finding
    // exactly when the record is unusable for every signature.
    const findings: Finding[] = [];
    checkKeyRecord(v.selector, `${v.selector}._domainkey.dm.test`, `${RECORDS[v.selector]}p=${publicKey}`, findings);
    assert.equal(findings.some((f) => f.severity === 'error'), !v.usable, `dns ${v.selector}: ${JSON.stringify(findings)}`);
  }
  // opendkim-testkey (libopendkim) rejects the s= record too ("key type mismatch"). It reads v= only
  // for its value and accepts it anywhere: the product follows RFC 6376 §3.6.1 ("This tag MUST be the
  // first tag in the record") and §6.1.2 (a record that does not adhere to the format: PERMFAIL, key
  // syntax error), so there the two differ on purpose.
  for (const [selector, ok, out] of [['good', true, /key OK/], ['svc', false, /key type mismatch/], ['vpos', true, /key OK/]] as const) {
    const od = await opendkimTestkey(knot.port, 'dm.test', selector, join(dir, 'rsa.pem'));
    assert.equal(od.code === 0, ok, `opendkim-testkey ${selector}: ${od.output}`);
    assert.match(od.output, out, `opendkim-testkey ${selector}`);
  }
});

test('the capture server stores a signature whose key h= excludes its hash as permerror, and DMARC fail', async () => {
  const signed = await dkimsign(sampleMessage('alice@dm.test'), 'hsha1', 'dm.test', pkcs1);
  const authentication = await verifiedByCaptureServer(signed, { dnsServer: knot.address, authServId: 'mx.test', helo: 'mail.dm.test', mailFrom: 'alice@dm.test', rcptTo: 'bob@example.net' });
  assert.deepEqual(authentication?.dkim.map((d) => [d.result, d.domain, d.selector]), [['permerror', 'dm.test', 'hsha1']]);
  assert.match(authentication?.authenticationResults ?? '', /^Authentication-Results: mx\.test;\r\n dkim=permerror \(key h=sha1 does not list sha256/);
  assert.notEqual(authentication?.dmarc.result, 'pass');
  assert.equal(authentication?.failed, true);
});

/** The message with a copy of its DKIM-Signature field on top, changed by `edit` (as a relay could add one). */
function withForgedCopy(message: Buffer, edit: (field: string) => string): Buffer {
  return Buffer.concat([Buffer.from(edit(firstDkimSignatureField(message)), 'latin1'), message]);
}

test('verify: a copy of the signed field with other tags on top cannot turn an unusable signature into a pass', async () => {
  // rsa-sha1, with a copy that claims rsa-sha256: the genuine field still decides (RFC 8301 §3.1).
  const sha1 = await dkimsign(sampleMessage('alice@dm.test'), 'hboth', 'dm.test', pkcs1, { algorithm: 'rsa-sha1' });
  const forgedAlgo = await verify(withForgedCopy(sha1, (f) => f.replace(/a=rsa-sha1/, 'a=rsa-sha256')));
  const dkimAll = JSON.stringify(forgedAlgo.report.dkim, null, 2);
  assert.equal(forgedAlgo.report.dkim.some((d) => d.result === 'pass'), false, dkimAll);
  assert.ok(forgedAlgo.report.dkim.some((d) => d.result === 'permerror' && /rsa-sha1/.test(d.reason ?? '')), dkimAll);
  assert.equal(forgedAlgo.report.dmarc.result, 'fail');
  assert.equal(forgedAlgo.code, 1);
  // t=s with a subdomain i=, with a copy that drops i=: still the genuine field's i= that counts.
  const strict = await dkimsign(sampleMessage('alice@dm.test'), 'tstrict', 'dm.test', pkcs1, { identity: 'alice@mail.dm.test' });
  const forgedIdentity = await verify(withForgedCopy(strict, (f) => f.replace(/\bi=[^;]*;\s*/, '')));
  const all = JSON.stringify(forgedIdentity.report.dkim, null, 2);
  assert.equal(forgedIdentity.report.dkim.some((d) => d.result === 'pass'), false, all);
  assert.equal(forgedIdentity.report.dmarc.result, 'fail');
  assert.equal(forgedIdentity.code, 1);
});

test('verify: two key records at the selector are permerror (RFC 6376 §3.6.2.2), as dkim check decides; opendkim-testkey refuses them too', async () => {
  // mailauth reads the first record of the answer and passes with either one.
  const res = await verify(await dkimsign(sampleMessage('alice@dm.test'), 'two', 'dm.test', pkcs1));
  assertUnusable(
    res,
    'two',
    /^2 key records at two\._domainkey\.dm\.test: the verdict would depend on which one is read \(RFC 6376 §3\.6\.2\.2, §6\.1\.2\)$/,
    /^dkim=permerror \(2 key records at two\._domainkey\.dm\.test: the verdict would depend on which one is read\) header\.i=@dm\.test header\.s=two /,
  );
  const sig = res.report.dkim[0];
  assert.equal(sig.details['key record problem'], 'dkim-key-multiple');
  assert.match(sig.details['DNS records'] ?? '', /^#1: v=DKIM1; (k=rsa; )?p=\S+ \| #2: v=DKIM1; (k=rsa; )?p=\S+$/, JSON.stringify(sig.details, null, 2));
  // smtpwb dkim check makes the same decision, in the same words.
  const check = await dkimCheck('two');
  assert.notEqual(check.code, 0, check.out);
  assert.match(check.out, /2 key records at two\._domainkey\.dm\.test: the verdict would depend on which one is read/);
  // The capture server stores the same verdict.
  const authentication = await verifiedByCaptureServer(await dkimsign(sampleMessage('alice@dm.test'), 'two', 'dm.test', pkcs1), { dnsServer: knot.address, authServId: 'mx.test', helo: 'mail.dm.test', mailFrom: 'alice@dm.test', rcptTo: 'bob@example.net' });
  assert.deepEqual(authentication?.dkim.map((d) => [d.result, d.selector]), [['permerror', 'two']]);
  // libopendkim's key lookup (opendkim-testkey) refuses an answer with more than one record too.
  const od = await opendkimTestkey(knot.port, 'dm.test', 'two', join(dir, 'rsa.pem'));
  assert.notEqual(od.code, 0, od.output);
  assert.match(od.output, /multiple DNS replies for 'two\._domainkey\.dm\.test'/, od.output);
});
