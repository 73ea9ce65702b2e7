// Every DKIM-Signature field of a message gets a result (RFC 6376 §6.1.1). mailauth skips a field
// whose a= or c= it does not know, or that lacks d= or s=, without a result (lib/dkim/dkim-verifier.js),
// and verifies fields that lack v= or bh= or whose h= leaves out From. RFC 6376 §6.1.1 makes each of
// these a PERMFAIL, which RFC 8601 §2.7.1 writes as permerror; `verifyMessage` applies the product's
// field check (dkimSignatureCheck.ts). Keys are published in a real Knot; messages are signed by
// Debian's dkimsign (python3-dkim) and then changed the way a broken or hostile signer would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KnotPeer } from '../peers/knot';
import { startDmKnot } from './dmZone';
import { signMessage } from '../../client/src/mailAuth/sign';
import type { AuthReport } from '../../client/src/mailAuth/verify';
import { readDkimSignatureField } from '../../client/src/mailAuth/dkimSignatureCheck';
import { verifiedByCaptureServer } from '../support/captureVerified';
import { firstDkimSignatureField, makeKeys, sampleMessage, verifyUnalignedSpf, verifyUnalignedSpfJson, type TestKeys } from './fixtures';
import { dkimsign, dkimverifyInNamespace } from './debianTools';

let knot: KnotPeer;
let keys: TestKeys;
let dir: string;
let pkcs1: string;
let dmZone: string;

before(async () => {
  keys = makeKeys();
  ({ knot, dmZone } = await startDmKnot(keys));
  dir = mkdtempSync(join(tmpdir(), 'smtpwb-dkimfield-'));
  pkcs1 = join(dir, 'rsa-pkcs1.pem');
  writeFileSync(pkcs1, createPrivateKey(keys.rsaPem).export({ type: 'pkcs1', format: 'pem' }).toString());
});

after(async () => {
  await knot?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function verifyRun(message: Buffer, json: boolean): Promise<{ code: number; out: string }> {
  return verifyUnalignedSpf(dir, knot.address, message, json);
}

async function verify(message: Buffer): Promise<{ code: number; report: AuthReport }> {
  return verifyUnalignedSpfJson(dir, knot.address, message);
}

/** The message's DKIM-Signature field changed by `edit` (the field's text, folding and CRLF included). */
function editSignature(message: Buffer, edit: (field: string) => string): Buffer {
  const field = firstDkimSignatureField(message);
  const changed = edit(field);
  assert.notEqual(changed, field, 'the edit changed the field');
  return Buffer.from(message.toString('latin1').replace(field, changed), 'latin1');
}

/** The field's edits: each leaves a field RFC 6376 §6.1.1 tells verifiers to ignore with PERMFAIL. */
interface FieldCase {
  name: string;
  edit: (field: string) => string;
  code: string;
  reason: RegExp;
  /** What mailauth alone made of the field: skipped (no result) or a result of its own. */
  mailauth: RegExp;
}

const SKIPPED = /^none \(skipped the field without a result\)$/;

const CASES: FieldCase[] = [
  {
    name: 'an unknown a= (rsa-sha512)',
    edit: (f) => f.replace('a=rsa-sha256', 'a=rsa-sha512'),
    code: 'dkim-signature-algorithm',
    reason: /^a=rsa-sha512 is not a known signing algorithm: signature syntax error \(RFC 6376 §3\.3, §3\.5, §6\.1\.1, RFC 8463 §3\)$/,
    mailauth: SKIPPED,
  },
  { name: 'an unknown a= (ed448-sha256)', edit: (f) => f.replace('a=rsa-sha256', 'a=ed448-sha256'), code: 'dkim-signature-algorithm', reason: /^a=ed448-sha256 is not a known signing algorithm/, mailauth: SKIPPED },
  {
    name: 'an unknown header canonicalization (c=strict/simple)',
    edit: (f) => f.replace('c=relaxed/simple', 'c=strict/simple'),
    code: 'dkim-signature-canonicalization',
    reason: /^c=strict\/simple: strict is not simple or relaxed: signature syntax error \(RFC 6376 §3\.4, §3\.5, §6\.1\.1\)$/,
    mailauth: SKIPPED,
  },
  { name: 'an unknown body canonicalization (c=relaxed/strict)', edit: (f) => f.replace('c=relaxed/simple', 'c=relaxed/strict'), code: 'dkim-signature-canonicalization', reason: /^c=relaxed\/strict: strict is not simple or relaxed/, mailauth: SKIPPED },
  { name: 'no d=', edit: (f) => f.replace(/\bd=dm\.test;\s*/, ''), code: 'dkim-signature-missing-tag', reason: /^signature missing required tag d= \(RFC 6376 §3\.5, §6\.1\.1\)$/, mailauth: SKIPPED },
  { name: 'no s=', edit: (f) => f.replace(/\bs=good;\s*/, ''), code: 'dkim-signature-missing-tag', reason: /^signature missing required tag s= /, mailauth: SKIPPED },
  // mailauth compares the absent bh= with the body's hash: "body hash did not verify".
  { name: 'no bh=', edit: (f) => f.replace(/\bbh=[^;]*;\s*/, ''), code: 'dkim-signature-missing-tag', reason: /^signature missing required tag bh= /, mailauth: /^neutral \(body hash did not verify\)$/ },
  // mailauth does not read v=; the signature no longer verifies because the signed field changed.
  { name: 'no v=', edit: (f) => f.replace(/v=1;\s*/, ''), code: 'dkim-signature-missing-tag', reason: /^signature missing required tag v= /, mailauth: /^fail \(bad signature\)$/ },
  { name: 'v=2', edit: (f) => f.replace('v=1;', 'v=2;'), code: 'dkim-signature-version', reason: /^v=2 is not 1: incompatible version \(RFC 6376 §3\.5, §6\.1\.1\)$/, mailauth: /^fail \(bad signature\)$/ },
  { name: 'a duplicate tag (d= twice)', edit: (f) => f.replace('d=dm.test;', 'd=dm.test; d=dm.test;'), code: 'dkim-signature-duplicate-tag', reason: /^signature syntax error: tag d= occurs more than once \(RFC 6376 §3\.2, §6\.1\.1\)$/, mailauth: /^fail \(bad signature\)$/ },
  { name: 'an empty tag-spec (;;)', edit: (f) => f.replace('d=dm.test;', 'd=dm.test;;'), code: 'dkim-signature-syntax', reason: /^signature syntax error: empty tag between two semicolons/, mailauth: /^fail \(bad signature\)$/ },
];

for (const c of CASES) {
  test(`verify: a DKIM-Signature with ${c.name} is permerror with the reason, and DMARC does not pass through it`, async () => {
    const signed = await dkimsign(sampleMessage('alice@dm.test'), 'good', 'dm.test', pkcs1);
    const { code, report } = await verify(editSignature(signed, c.edit));
    const all = JSON.stringify(report.dkim, null, 2);
    assert.equal(report.dkim.length, 1, all);
    const sig = report.dkim[0];
    assert.equal(sig.result, 'permerror', all);
    assert.equal(sig.failed, true);
    assert.match(sig.reason ?? '', c.reason, all);
    assert.equal(sig.details['signature problem'], c.code, all);
    assert.match(sig.details['mailauth result'] ?? '', c.mailauth, all);
    assert.match(sig.info, /^dkim=permerror \(/, all);
    assert.match(report.authenticationResults, /^Authentication-Results: mx\.test;\r\n dkim=permerror \(/);
    assert.doesNotMatch(report.authenticationResults, /dkim=(pass|none)/);
    // SPF passes for a domain that is not aligned, so DMARC p=reject fails without the signature.
    assert.equal(report.spf.result, 'pass');
    assert.equal(report.dmarc.result, 'fail', JSON.stringify(report.dmarc, null, 2));
    assert.equal(code, 1);
  });
}

test('verify: a skipped field is named in the text output and the Authentication-Results clause, beside a valid signature', async () => {
  // The genuine signature, with a copy on top that claims a=rsa-sha512 (a future dual-signing signer).
  const signed = await dkimsign(sampleMessage('alice@dm.test'), 'good', 'dm.test', pkcs1);
  const field = firstDkimSignatureField(signed);
  const twice = Buffer.concat([Buffer.from(field.replace('a=rsa-sha256', 'a=rsa-sha512'), 'latin1'), signed]);
  const { code, report } = await verify(twice);
  // header.b is quoted when it holds "/" (RFC 2045 §5.1 tspecials), which depends on the random key.
  const all = JSON.stringify(report.dkim, null, 2);
  assert.deepEqual(report.dkim.map((d) => [d.result, d.algorithm, d.selector]), [['permerror', 'rsa-sha512', 'good'], ['pass', 'rsa-sha256', 'good']], all);
  assert.match(report.authenticationResults, /^Authentication-Results: mx\.test;\r\n dkim=permerror \(a=rsa-sha512 is not a known signing algorithm: signature syntax error\) header\.i=@dm\.test header\.s=good header\.a=rsa-sha512 header\.b=("[A-Za-z0-9+/]{8}"|[A-Za-z0-9+]{8});\r\n dkim=pass /);
  // The valid signature still carries DMARC; the ignored one is reported, so the run says something failed.
  assert.equal(report.dmarc.result, 'pass');
  assert.equal(code, 1);
  const text = await verifyRun(twice, false);
  assert.match(text.out, /^DKIM #1 +permerror ✗ +d=dm\.test s=good a=rsa-sha512$/m);
  assert.match(text.out, /^ +reason: a=rsa-sha512 is not a known signing algorithm: signature syntax error \(RFC 6376 §3\.3, §3\.5, §6\.1\.1, RFC 8463 §3\)$/m);
  assert.match(text.out, /^DKIM #2 +pass +d=dm\.test s=good a=rsa-sha256$/m);

  // A copy with c=strict on top has the same b=, a=, d= and s= as the genuine field: it must not take its result.
  const strictCopy = Buffer.concat([Buffer.from(field.replace('c=relaxed/simple', 'c=strict/simple'), 'latin1'), signed]);
  const strict = await verify(strictCopy);
  assert.deepEqual(strict.report.dkim.map((d) => [d.result, d.details['signature problem'] ?? '']), [['permerror', 'dkim-signature-canonicalization'], ['pass', '']], JSON.stringify(strict.report.dkim, null, 2));
});

test('verify: a signature whose h= leaves out From is permerror (From field not signed), though it verifies', async () => {
  // mailauth signs whatever h= it is given; the signature is cryptographically valid and aligned.
  const signed = await signMessage(sampleMessage('alice@dm.test'), { domain: 'dm.test', selector: 'good', privateKeyPem: keys.rsaPem, headerList: ['Subject', 'Date', 'To'] });
  const { code, report } = await verify(signed);
  const sig = report.dkim[0];
  const all = JSON.stringify(report.dkim, null, 2);
  assert.equal(sig.result, 'permerror', all);
  assert.equal(sig.reason, 'h= does not include From: From field not signed (RFC 6376 §3.5, §6.1.1)');
  assert.equal(sig.details['mailauth result'], 'pass', all);
  assert.equal(report.dmarc.result, 'fail');
  assert.equal(code, 1);
});

test('verify: peer text in a skipped field is escaped in the text output and exact in --json', async () => {
  const signed = await dkimsign(sampleMessage('alice@dm.test'), 'good', 'dm.test', pkcs1);
  const hostile = editSignature(signed, (f) => f.replace('a=rsa-sha256', 'a=rsa-\x1b[31msha512'));
  const { report } = await verify(hostile);
  assert.equal(report.dkim[0].result, 'permerror');
  // RFC 6376 §3.2: a control character in a value is a syntax error of its own (only FWS may fold a value).
  assert.match(report.dkim[0].reason ?? '', /^signature syntax error: the value of a= holds a control character/);
  const text = await verifyRun(hostile, false);
  assert.doesNotMatch(text.out, /\x1b/);
  assert.match(text.out, /^ +reason: signature syntax error: the value of a= holds a control character/m);
  // A value without a control character is quoted in the reason, escaped at its source (one line, visible).
  const bidi = editSignature(signed, (f) => f.replace('a=rsa-sha256', Buffer.from('a=rsa-\u202esha512', 'utf8').toString('latin1')));
  const quoted = await verify(bidi);
  assert.match(quoted.report.dkim[0].reason ?? '', /^a=rsa-\\u202Esha512 is not a known signing algorithm/);
  assert.match((await verifyRun(bidi, false)).out, /^ +reason: a=rsa-\\u202Esha512 is not a known signing algorithm/m);
  // The Authentication-Results clause carries no control character either.
  assert.doesNotMatch(report.authenticationResults, /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/);
});

test('the capture server stores a skipped field as permerror, and DMARC does not pass', async () => {
  const signed = editSignature(await dkimsign(sampleMessage('alice@dm.test'), 'good', 'dm.test', pkcs1), (f) => f.replace('a=rsa-sha256', 'a=rsa-sha512'));
  const authentication = await verifiedByCaptureServer(signed, { dnsServer: knot.address, authServId: 'mx.test', helo: 'mail.dm.test', mailFrom: 'alice@dm.test', rcptTo: 'bob@example.net' });
  assert.deepEqual(authentication?.dkim.map((d) => [d.result, d.domain, d.selector]), [['permerror', 'dm.test', 'good']]);
  assert.match(authentication?.authenticationResults ?? '', /^Authentication-Results: mx\.test;\r\n dkim=permerror \(a=rsa-sha512 is not a known signing algorithm/);
  assert.notEqual(authentication?.dmarc.result, 'pass');
  assert.equal(authentication?.failed, true);
});

test("Debian's dkimverify (python3-dkim) also refuses a=rsa-sha512, and verifies the unchanged signature", async () => {
  const signed = await dkimsign(sampleMessage('alice@dm.test'), 'good', 'dm.test', pkcs1);
  const ok = await dkimverifyInNamespace(dmZone, 'dm.test', signed);
  assert.equal(ok.code, 0, ok.output);
  assert.match(ok.output, /signature ok/);
  const bad = await dkimverifyInNamespace(dmZone, 'dm.test', editSignature(signed, (f) => f.replace('a=rsa-sha256', 'a=rsa-sha512')));
  assert.notEqual(bad.code, 0, bad.output);
  assert.match(bad.output, /unknown signature algorithm: b?'?rsa-sha512|signature verification failed/);
  const product = await verify(editSignature(signed, (f) => f.replace('a=rsa-sha256', 'a=rsa-sha512')));
  assert.equal(product.report.dkim[0].result, 'permerror');
});

/** The field check alone (pure): a field's value → the problem code, or '' when it can be verified; and whether mailauth skips it. */
const FIELD_TABLE: Array<[value: string, code: string, mailauthSkips: boolean]> = [
  ['v=1; a=rsa-sha256; c=relaxed/simple; d=dm.test; s=good; h=from : to :\r\n subject; bh=AAAA; b=BBBB', '', false],
  ['v=1; a=ed25519-sha256; d=dm.test; s=good; h=From; bh=AAAA; b=BBBB', '', false],
  // ABNF literals are case-insensitive (RFC 5234 §2.3): a= and c= values in capitals are known.
  ['v=1; a=RSA-SHA256; c=Relaxed; d=dm.test; s=good; h=from; bh=AAAA; b=BBBB', '', false],
  // rsa-sha1 is known; the key-record decision refuses it (RFC 8301 §3.1), with its own reason.
  ['v=1; a=rsa-sha1; d=dm.test; s=good; h=from; bh=AAAA; b=BBBB', '', false],
  ['v=1; a=ed25519-sha1; d=dm.test; s=good; h=from; bh=AAAA; b=BBBB', 'dkim-signature-algorithm', false],
  ['v=1; a=rsa-sha512; d=dm.test; s=good; h=from; bh=AAAA; b=BBBB', 'dkim-signature-algorithm', true],
  ['v=1; a=rsa-sha256; c=relaxed/simple/x; d=dm.test; s=good; h=from; bh=AAAA; b=BBBB', 'dkim-signature-canonicalization', false],
  ['v=1; a=rsa-sha256; c=/relaxed; d=dm.test; s=good; h=from; bh=AAAA; b=BBBB', 'dkim-signature-canonicalization', false],
  // Tag names are case-sensitive (RFC 6376 §3.2): A= is not a=, though mailauth reads it as a=, so
  // the field is hidden from mailauth (dkimTagValues.test.ts has the case clashes).
  ['v=1; A=rsa-sha256; d=dm.test; s=good; h=from; bh=AAAA; b=BBBB', 'dkim-signature-missing-tag', true],
  ['v=1; a=rsa-sha256; d=; s=good; h=from; bh=AAAA; b=BBBB', 'dkim-signature-missing-tag', true],
  ['v=1; a=rsa-sha256; d=dm.test; s=good; h=from; bh=AAAA; b=', 'dkim-signature-missing-tag', false],
  ['v=1; a=rsa-sha256; d=dm.test; s=good; h=to:subject; bh=AAAA; b=BBBB', 'dkim-signature-from-unsigned', false],
  ['v=1; a=rsa-sha256; d=dm.test; s=good; h=from; bh=AAAA; b=BBBB; garbage', 'dkim-signature-syntax', false],
  ['v=1; a=rsa-sha256; d=dm.test; s=good; s=other; h=from; bh=AAAA; b=BBBB', 'dkim-signature-duplicate-tag', false],
  ['', 'dkim-signature-missing-tag', true],
];

test('the DKIM-Signature field check: each table row gives its problem code (RFC 6376 §3.2, §3.5, §6.1.1), and never throws', () => {
  for (const [value, code, skips] of FIELD_TABLE) {
    const field = readDkimSignatureField(value);
    assert.equal(field.problem?.code ?? '', code, `${JSON.stringify(value)}: ${JSON.stringify(field.problem)}`);
    assert.equal(field.skippedByMailauth, skips, `mailauth skips ${JSON.stringify(value)}`);
    if (field.problem) assert.match(field.problem.comment, /^[\x20-\x7e]+$/, 'the comment is ASCII for the header field');
  }
  for (const hostile of ['\u0000;;==;', 'a=\u202e; b', ';'.repeat(10_000), `h=${'x:'.repeat(5000)}`]) assert.ok(readDkimSignatureField(hostile).problem);
});
