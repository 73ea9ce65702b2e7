// DKIM end to end: sign with signCommand, publish the key in a real Knot, verify with verifyCommand,
// break one body byte and see the body hash fail (RFC 6376 §6.1.3). Debian's dkimverify
// (python3-dkim) checks the same messages against the same key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKnot, type KnotPeer } from '../peers/knot';
import { signCommand } from '../../client/src/cli/signCommand';
import { verifyCommand } from '../../client/src/cli/verifyCommand';
import { signMessage } from '../../client/src/mailAuth/sign';
import type { AuthReport } from '../../client/src/mailAuth/verify';
import { verifiedByCaptureServer } from '../support/captureVerified';
import { captureIo, exampleZone, makeKeys, ROOT_ZONE, sampleMessage, type TestKeys } from './fixtures';
import { dkimverifyInNamespace } from './debianTools';

let knot: KnotPeer;
let keys: TestKeys;
let dir: string;
let zone: string;

before(async () => {
  keys = makeKeys();
  zone = exampleZone(keys);
  knot = await startKnot({ zones: { '': ROOT_ZONE, 'example.test': zone } });
  dir = mkdtempSync(join(tmpdir(), 'smtpwb-dkim-'));
  writeFileSync(join(dir, 'rsa.pem'), keys.rsaPem);
  writeFileSync(join(dir, 'ed.pem'), keys.edPem);
  writeFileSync(join(dir, 'message.eml'), sampleMessage());
});

after(async () => {
  await knot?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs verifyCommand --json on a file; returns the exit code and the parsed report. */
async function verifyFile(file: string, extra: string[] = []): Promise<{ code: number; report: AuthReport; stderr: string }> {
  const cap = captureIo(dir);
  const code = await verifyCommand(
    [file, '--dns-server', knot.address, '--ip', '127.0.0.1', '--helo', 'mail.example.test', '--mail-from', 'alice@example.test', '--authserv-id', 'mx.test', '--json', ...extra],
    cap.io,
  );
  return { code, report: JSON.parse(cap.stdout().toString('utf8')) as AuthReport, stderr: cap.stderr() };
}

for (const [algorithm, keyFile, selector] of [
  ['rsa-sha256', 'rsa.pem', 'rsa1'],
  ['ed25519-sha256', 'ed.pem', 'ed1'],
] as const) {
  test(`${algorithm}: signCommand output verifies against Knot, and a one-byte body change fails`, async () => {
    const cap = captureIo(dir);
    const code = await signCommand(['message.eml', '--domain', 'example.test', '--selector', selector, '--key', keyFile, '--algorithm', algorithm], cap.io);
    assert.equal(code, 0, cap.stderr());
    const signed = cap.stdout();
    const original = sampleMessage();
    // The original bytes follow the new field unchanged (RFC 6376 §5.6).
    assert.ok(signed.subarray(signed.length - original.length).equals(original), 'the original bytes are kept');
    const head = signed.subarray(0, signed.length - original.length).toString('latin1');
    assert.match(head, /^DKIM-Signature: /);
    assert.match(head, new RegExp(`a=${algorithm}`));
    assert.match(head, /s=\s*(rsa1|ed1)/);
    assert.ok(head.endsWith('\r\n'));
    assert.equal((head.match(/^DKIM-Signature:/gim) ?? []).length, 1);
    writeFileSync(join(dir, `signed-${selector}.eml`), signed);

    const good = await verifyFile(`signed-${selector}.eml`);
    assert.equal(good.code, 0, JSON.stringify(good.report, null, 2));
    assert.equal(good.report.dkim.length, 1);
    assert.equal(good.report.dkim[0].result, 'pass');
    assert.equal(good.report.dkim[0].domain, 'example.test');
    assert.equal(good.report.dkim[0].selector, selector);
    assert.equal(good.report.spf.result, 'pass');
    assert.equal(good.report.dmarc.result, 'pass');
    assert.match(good.report.authenticationResults, /^Authentication-Results: mx\.test;\r\n dkim=pass /);
    assert.match(good.report.authenticationResults, /dmarc=pass/);

    // Change one byte of the body: "Hello" becomes "Jello".
    const tampered = Buffer.from(signed);
    const at = tampered.indexOf('Hello Bob');
    tampered[at] = 'J'.charCodeAt(0);
    writeFileSync(join(dir, `tampered-${selector}.eml`), tampered);
    const bad = await verifyFile(`tampered-${selector}.eml`);
    assert.equal(bad.code, 1);
    assert.equal(bad.report.dkim[0].failed, true);
    // RFC 6376 §6.1.3: PERMFAIL (body hash did not verify), which RFC 8601 §2.7.1 writes as fail.
    assert.equal(bad.report.dkim[0].result, 'fail');
    assert.equal(bad.report.dkim[0].reason, 'body hash did not verify');
    assert.match(bad.report.dkim[0].info, /^dkim=fail \(body hash did not verify\) header\.i=@example\.test /);
    assert.match(bad.report.authenticationResults, /^Authentication-Results: mx\.test;\r\n dkim=fail \(body hash did not verify\) /);
    assert.doesNotMatch(bad.report.authenticationResults, /dkim=neutral/);
    assert.ok(bad.report.dkim[0].details['body hash (computed)'] && bad.report.dkim[0].details['body hash (signed)'], JSON.stringify(bad.report.dkim[0].details));
    assert.notEqual(bad.report.dkim[0].details['body hash (computed)'], bad.report.dkim[0].details['body hash (signed)']);
    // Without a valid aligned DKIM signature, DMARC still passes through aligned SPF (RFC 7489 §4.2).
    assert.equal(bad.report.dmarc.result, 'pass');

    // Debian's dkimverify (python3-dkim) agrees: the signed message verifies, the tampered one does not.
    const ok = await dkimverifyInNamespace(zone, 'example.test', signed);
    assert.equal(ok.code, 0, `dkimverify on the signed message: ${ok.output}`);
    assert.match(ok.output, /signature ok/);
    const notOk = await dkimverifyInNamespace(zone, 'example.test', tampered);
    // dkimverify 1.1.4 ends with a ValidationError traceback (exit 1) on a body hash mismatch.
    assert.equal(notOk.code, 1, `dkimverify on the tampered message: ${notOk.output}`);
    assert.match(notOk.output, /body hash mismatch|signature verification failed/);
  });
}

test('the capture server stores a body changed after signing as dkim=fail (body hash did not verify), verified against Knot', async () => {
  const signed = await signMessage(sampleMessage(), { domain: 'example.test', selector: 'rsa1', privateKeyPem: keys.rsaPem });
  const tampered = Buffer.from(signed.toString('latin1').replace('Hello Bob', 'Jello Bob'), 'latin1');
  const authentication = await verifiedByCaptureServer(tampered, { dnsServer: knot.address, authServId: 'mx.test', helo: 'mail.example.test', mailFrom: 'alice@example.test', rcptTo: 'bob@example.net' });
  assert.deepEqual(authentication?.dkim.map((d) => [d.result, d.domain, d.selector]), [['fail', 'example.test', 'rsa1']]);
  assert.match(authentication?.dkim[0].info ?? '', /^dkim=fail \(body hash did not verify\) /);
  assert.match(authentication?.authenticationResults ?? '', /^Authentication-Results: mx\.test;\r\n dkim=fail \(body hash did not verify\) /);
  assert.equal(authentication?.failed, true);
});

test('a changed signed header fails with "bad signature"', async () => {
  const signed = await signMessage(sampleMessage(), { domain: 'example.test', selector: 'rsa1', privateKeyPem: keys.rsaPem });
  const tampered = Buffer.from(signed.toString('latin1').replace('Subject: DKIM test', 'Subject: DKIM tesT'), 'latin1');
  writeFileSync(join(dir, 'header-tampered.eml'), tampered);
  const res = await verifyFile('header-tampered.eml');
  assert.equal(res.code, 1);
  assert.equal(res.report.dkim[0].result, 'fail');
  assert.equal(res.report.dkim[0].reason, 'bad signature');
});

test('a selector without a key record fails with "no key"', async () => {
  const signed = await signMessage(sampleMessage(), { domain: 'example.test', selector: 'missing', privateKeyPem: keys.rsaPem });
  writeFileSync(join(dir, 'nokey.eml'), signed);
  const res = await verifyFile('nokey.eml');
  assert.equal(res.code, 1);
  assert.equal(res.report.dkim[0].result, 'neutral');
  assert.equal(res.report.dkim[0].reason, 'no key');
});

test('signMessage rejects a key that does not match the algorithm, and signCommand exits 1', async () => {
  await assert.rejects(
    signMessage(sampleMessage(), { domain: 'example.test', selector: 'ed1', privateKeyPem: keys.rsaPem, algorithm: 'ed25519-sha256' }),
    /ed25519-sha256 needs an Ed25519 key/,
  );
  const cap = captureIo(dir);
  const code = await signCommand(['message.eml', '--domain', 'example.test', '--selector', 's', '--key', 'rsa.pem', '--algorithm', 'ed25519-sha256'], cap.io);
  assert.equal(code, 1);
  assert.match(cap.stderr(), /Ed25519/);
});

test('a message signed by Debian dkimsign verifies with verifyCommand', async () => {
  const { dkimsign } = await import('./debianTools');
  // dkimsign reads only PKCS#1 RSA keys ("BEGIN RSA PRIVATE KEY").
  const pkcs1 = createPrivateKey(keys.rsaPem).export({ type: 'pkcs1', format: 'pem' }).toString();
  writeFileSync(join(dir, 'rsa-pkcs1.pem'), pkcs1);
  const signed = await dkimsign(sampleMessage(), 'rsa1', 'example.test', join(dir, 'rsa-pkcs1.pem'));
  writeFileSync(join(dir, 'py-signed.eml'), signed);
  const res = await verifyFile('py-signed.eml');
  assert.equal(res.report.dkim[0].result, 'pass', JSON.stringify(res.report.dkim[0]));
  assert.equal(res.code, 0);
});

test('opendkim-testkey finds the published RSA key in Knot and matches it with the private key', async () => {
  const { opendkimTestkey } = await import('./debianTools');
  const res = await opendkimTestkey(knot.port, 'example.test', 'rsa1', join(dir, 'rsa.pem'));
  assert.equal(res.code, 0, res.output);
  assert.match(res.output, /key OK/);
  // A selector whose record holds another key does not match.
  const other = await opendkimTestkey(knot.port, 'example.test', 'rsa1', join(dir, 'ed.pem'));
  assert.notEqual(other.code, 0, other.output);
});
