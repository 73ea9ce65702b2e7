// The values of a DKIM-Signature's tags (RFC 6376 §3.5), which RFC 6376 §6.1.1 tells verifiers to
// "meticulously validate": an invalid t=, x=, l=, q= or i= makes the field a PERMFAIL (permerror,
// RFC 8601 §2.7.1). A t= or x= mailauth cannot turn into a date must not crash verification, and
// mailauth itself failing must not either. An upper-case unknown tag (RFC 6376 §3.2) is ignored:
// when mailauth would read it as the real tag, the product verifies the signature itself. With l=, the details say how much of the
// body is not signed (RFC 6376 §8.2). Each message is signed by the test's own signer (any tag list,
// so that a signature is valid except for the tag under test), checked first against Debian's
// dkimverify (python3-dkim); keys are published in a real Knot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KnotPeer } from '../peers/knot';
import { startDmKnot } from './dmZone';
import type { AuthReport } from '../../client/src/mailAuth/verify';
import { readDkimSignatureField } from '../../client/src/mailAuth/dkimSignatureCheck';
import { signMessage } from '../../client/src/mailAuth/sign';
import { verifiedByCaptureServer } from '../support/captureVerified';
import { makeKeys, sampleMessage, verifyUnalignedSpf, verifyUnalignedSpfJson, type TestKeys } from './fixtures';
import { dkimverifyInNamespace } from './debianTools';
import { signWithTagList, simpleBody } from './tagSigner';

let knot: KnotPeer;
let keys: TestKeys;
let dir: string;
let dmZone: string;

before(async () => {
  keys = makeKeys();
  ({ knot, dmZone } = await startDmKnot(keys));
  dir = mkdtempSync(join(tmpdir(), 'smtpwb-dkimtags-'));
});

after(async () => {
  await knot?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The test's signer with this file's key. */
function signWithTags(message: Buffer, tags: string, bodyLength?: number, beforeSelector = ''): Buffer {
  return signWithTagList(keys.rsaPem, message, tags, bodyLength, beforeSelector);
}

async function verify(message: Buffer): Promise<{ code: number; report: AuthReport }> {
  return verifyUnalignedSpfJson(dir, knot.address, message);
}

/** A signed message whose tags are `tags`, with the body of `sampleMessage`. */
function signed(tags: string, bodyLength?: number): Buffer {
  return signWithTags(sampleMessage('alice@dm.test'), tags, bodyLength);
}

test("the test's signer makes signatures that Debian's dkimverify and smtpwb verify pass, with every tag valid", async () => {
  const message = signed('t=1700000000; x=4000000000; q=dns/txt; i=alice@dm.test');
  const theirs = await dkimverifyInNamespace(dmZone, 'dm.test', message);
  assert.equal(theirs.code, 0, theirs.output);
  assert.match(theirs.output, /signature ok/);
  const { code, report } = await verify(message);
  assert.deepEqual(report.dkim.map((d) => d.result), ['pass'], JSON.stringify(report.dkim, null, 2));
  assert.equal(report.dmarc.result, 'pass');
  assert.equal(code, 0);
});

/** Tags with invalid values: each is a PERMFAIL (RFC 6376 §3.5, §6.1.1), with the tag named in the reason. */
const INVALID: Array<{ tags: string; reason: RegExp }> = [
  { tags: 't=abc', reason: /^t=abc: must be a decimal number of 1 to 12 digits: signature syntax error \(RFC 6376 §3\.5, §6\.1\.1\)$/ },
  { tags: 't=-5', reason: /^t=-5: must be a decimal number/ },
  { tags: 't=', reason: /^t=: must be a decimal number/ },
  { tags: 't=1234567890123', reason: /^t=1234567890123: must be a decimal number of 1 to 12 digits/ },
  // mailauth 4.13.3 throws `RangeError: Invalid time value` on these (H2): the field is hidden from it.
  { tags: 't=99999999999999999999', reason: /^t=99999999999999999999: must be a decimal number of 1 to 12 digits/ },
  { tags: 't=12345678901234567', reason: /^t=12345678901234567: must be a decimal number/ },
  { tags: 'x=99999999999999999999', reason: /^x=99999999999999999999: must be a decimal number/ },
  { tags: 't=1e30', reason: /^t=1e30: must be a decimal number/ },
  { tags: 'x=1e3', reason: /^x=1e3: must be a decimal number/ },
  { tags: 'x=', reason: /^x=: must be a decimal number/ },
  { tags: 't=1700000000; x=1600000000', reason: /^x=1600000000: the expiration must be later than the signing time \(t=1700000000\): signature syntax error/ },
  { tags: 't=1700000000; x=1700000000', reason: /^x=1700000000: the expiration must be later than the signing time/ },
  { tags: 'l=abc', reason: /^l=abc: must be a decimal number of 1 to 76 digits/ },
  { tags: 'l=', reason: /^l=: must be a decimal number of 1 to 76 digits/ },
  { tags: 'l=1x', reason: /^l=1x: must be a decimal number/ },
  { tags: 'q=dns/foo', reason: /^q=dns\/foo: does not list dns\/txt, the only query method defined: signature syntax error/ },
  { tags: 'q=', reason: /^q=: is not a colon-separated list of query methods/ },
  { tags: 'i=alice.dm.test', reason: /^i=alice\.dm\.test: has no @/ },
  { tags: 'i=alice@dm..test', reason: /^i=alice@dm\.\.test: dm\.\.test is not a domain name/ },
];

for (const c of INVALID) {
  test(`verify --json: a DKIM-Signature with ${c.tags} is permerror (dkim-signature-tag-value), and DMARC does not pass through it`, async () => {
    const { code, report } = await verify(signed(c.tags));
    const all = JSON.stringify(report.dkim, null, 2);
    assert.equal(report.dkim.length, 1, all);
    const sig = report.dkim[0];
    assert.equal(sig.result, 'permerror', all);
    assert.equal(sig.details['signature problem'], 'dkim-signature-tag-value', all);
    assert.match(sig.reason ?? '', c.reason, all);
    assert.match(report.authenticationResults, /^Authentication-Results: mx\.test;\r\n dkim=permerror \(/);
    assert.equal(report.dmarc.result, 'fail');
    assert.equal(code, 1);
  });
}

test("Debian's dkimverify also rejects the invalid values it checks (t=, x=, l=, q=)", async () => {
  for (const [tags, message] of [
    ['t=abc', /t= value is not a decimal integer/],
    ['t=99999999999999999999', /t= value is in the future/],
    ['x=1e3', /x= value is not a decimal integer/],
    ['l=1x', /l= value is not a decimal integer/],
    ['q=dns/foo', /q= value is not dns\/txt/],
  ] as const) {
    const theirs = await dkimverifyInNamespace(dmZone, 'dm.test', signed(tags));
    assert.notEqual(theirs.code, 0, `${tags}: ${theirs.output}`);
    assert.match(theirs.output, message, tags);
  }
});

test('verify: q= with dns/txt beside an unknown method passes (RFC 6376 §3.5: unknown methods are ignored); q=DNS/TXT too', async () => {
  // dkimpy refuses any q= other than exactly dns/txt; RFC 6376 §3.5 lets a verifier ignore methods it does not know.
  for (const tags of ['q=dns/txt:foo/bar', 'q=DNS/TXT']) {
    const { report } = await verify(signed(tags));
    assert.deepEqual(report.dkim.map((d) => d.result), ['pass'], `${tags}: ${JSON.stringify(report.dkim, null, 2)}`);
  }
});

test('verify (text and --json): a t= mailauth cannot read does not crash it; the field is permerror, not given to mailauth', async () => {
  const message = signed('t=99999999999999999999');
  const json = await verifyUnalignedSpf(dir, knot.address, message, true);
  const report = JSON.parse(json.out) as AuthReport;
  assert.equal(report.dkim[0].result, 'permerror');
  assert.equal(report.dkim[0].details['mailauth result'], 'none (not given to mailauth: a t= or x= value mailauth cannot turn into a date)');
  assert.equal(json.code, 1);
  const text = await verifyUnalignedSpf(dir, knot.address, message, false);
  assert.match(text.out, /^DKIM +permerror ✗ +d=dm\.test s=good a=rsa-sha256$/m);
  assert.match(text.out, /^ +reason: t=99999999999999999999: must be a decimal number of 1 to 12 digits: signature syntax error/m);
  // A valid signature beside it still verifies: only the invalid field is hidden from mailauth.
  const beside = Buffer.concat([Buffer.from(message.toString('latin1').split('\r\n')[0] + '\r\n', 'latin1'), signed('t=1700000000')]);
  const both = await verify(beside);
  assert.deepEqual(both.report.dkim.map((d) => d.result), ['permerror', 'pass'], JSON.stringify(both.report.dkim, null, 2));
  assert.equal(both.report.dmarc.result, 'pass');
});

test('verify: when mailauth itself throws (an ARC-Message-Signature with t=99999999999999999999), the report says so, never an internal error', async () => {
  const arc = [
    'ARC-Seal: i=1; a=rsa-sha256; t=1700000000; cv=none; d=dm.test; s=good; b=AAAA',
    'ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=dm.test; s=good; t=99999999999999999999; h=from; bh=AAAA; b=AAAA',
    'ARC-Authentication-Results: i=1; mx.dm.test; spf=pass smtp.mailfrom=dm.test',
  ];
  const message = signWithTags(sampleMessage('alice@dm.test', arc), 't=1700000000');
  const json = await verifyUnalignedSpf(dir, knot.address, message, true);
  const report = JSON.parse(json.out) as AuthReport;
  const all = JSON.stringify({ dkim: report.dkim, arc: report.arc }, null, 2);
  assert.equal(report.dkim.length, 1, all);
  assert.equal(report.dkim[0].result, 'temperror', all);
  assert.equal(report.dkim[0].details['signature problem'], 'dkim-verifier-error', all);
  assert.match(report.dkim[0].reason ?? '', /^the DKIM verifier \(mailauth\) failed on this message: RangeError: Invalid time value \(RFC 8601 §2\.7\.1\)$/, all);
  assert.equal(report.arc.result, 'temperror', all);
  assert.match(report.authenticationResults, /^Authentication-Results: mx\.test;\r\n dkim=temperror \(the DKIM verifier \\\(mailauth\\\) failed on this message: RangeError: Invalid time value\) header\.i=@dm\.test/);
  assert.match(report.authenticationResults, /\r\n arc=temperror /);
  // The From address still comes through (mailauth's second run), so DMARC is evaluated: it fails without DKIM.
  assert.equal(report.dmarc.result, 'fail', JSON.stringify(report.dmarc, null, 2));
  assert.equal(json.code, 1);
  const text = await verifyUnalignedSpf(dir, knot.address, message, false);
  assert.match(text.out, /^DKIM +temperror ✗ +d=dm\.test s=good a=rsa-sha256$/m);
});

test('the capture server stores results for a message whose DKIM-Signature has t=99999999999999999999', { timeout: 60_000 }, async () => {
  const authentication = await verifiedByCaptureServer(signed('t=99999999999999999999'), { dnsServer: knot.address, authServId: 'mx.test', helo: 'mail.dm.test', mailFrom: 'alice@dm.test', rcptTo: 'bob@example.net' });
  assert.deepEqual(authentication?.dkim.map((d) => [d.result, d.domain, d.selector]), [['permerror', 'dm.test', 'good']]);
  assert.match(authentication?.authenticationResults ?? '', /^Authentication-Results: mx\.test;\r\n dkim=permerror \(t=99999999999999999999: must be a decimal number/);
  assert.notEqual(authentication?.dmarc.result, 'pass');
});

test('verify: an upper-case unknown tag before the real one is ignored (RFC 6376 §3.2): the signature passes, as in dkimverify', async () => {
  // mailauth reads the last of S= and s= (both "s" to it), which is s=good here; likewise t= and x=.
  const noL = signWithTags(sampleMessage('alice@dm.test'), 'X=1; T=99999999999999999999; t=1700000000; x=4000000000', undefined, 'S=evil');
  const theirs = await dkimverifyInNamespace(dmZone, 'dm.test', noL);
  assert.equal(theirs.code, 0, theirs.output);
  const { report } = await verify(noL);
  assert.deepEqual(report.dkim.map((d) => d.result), ['pass'], JSON.stringify(report.dkim, null, 2));
  assert.equal(report.dmarc.result, 'pass');
  // L= without an l=: mailauth would take it for l=3; the product verifies the whole body itself, as dkimverify does.
  const withL = signed('L=3; t=1700000000');
  assert.equal((await dkimverifyInNamespace(dmZone, 'dm.test', withL)).code, 0);
  const l = await verify(withL);
  const all = JSON.stringify(l.report.dkim, null, 2);
  assert.deepEqual(l.report.dkim.map((d) => d.result), ['pass'], all);
  assert.equal(l.report.dkim[0].details['signature problem'], undefined, all);
  assert.equal(l.report.dkim[0].details['mailauth result'], 'none (mailauth would read L= as l=; the product verified the signature itself)', all);
  assert.equal(l.report.dmarc.result, 'pass');
  // A body changed after signing fails: L=3 did not limit anything.
  const changed = Buffer.from(withL.toString('latin1').replace('this message is signed.', 'this message is changed'), 'latin1');
  assert.deepEqual((await verify(changed)).report.dkim.map((d) => [d.result, d.reason]), [['fail', 'body hash did not verify']]);
});

test('verify: an upper-case unknown tag after the real one (s=good; S=evil) is ignored (RFC 6376 §3.2): the product verifies the signature itself and it passes, as in dkimverify', async () => {
  const message = signed('S=evil');
  // dkimpy ignores S= (tag names are case-sensitive) and verifies the signature.
  const theirs = await dkimverifyInNamespace(dmZone, 'dm.test', message);
  assert.equal(theirs.code, 0, theirs.output);
  const { code, report } = await verify(message);
  const all = JSON.stringify(report.dkim, null, 2);
  assert.equal(report.dkim[0].result, 'pass', all);
  assert.equal(report.dkim[0].details['signature problem'], undefined, all);
  assert.equal(report.dkim[0].details['mailauth result'], 'none (mailauth would read S= as s=; the product verified the signature itself)', all);
  assert.match(report.authenticationResults, /^Authentication-Results: mx\.test;\r\n dkim=pass header\.i=@dm\.test header\.s=good header\.a=rsa-sha256 header\.b=/);
  // The selector shown is the real one, not mailauth's reading of S=, and DMARC passes through it.
  assert.equal(report.dkim[0].selector, 'good');
  assert.equal(report.dmarc.result, 'pass');
  assert.equal(code, 0);
  // A changed signed header still fails, and S= naming a selector with no key changes nothing.
  const tampered = Buffer.from(message.toString('latin1').replace('Subject: DKIM test', 'Subject: DKIM test!'), 'latin1');
  assert.deepEqual((await verify(tampered)).report.dkim.map((d) => [d.result, d.reason]), [['fail', 'bad signature']]);
  // A signature that signed this field (h= lists DKIM-Signature, as ARC-Message-Signatures do) still
  // verifies: the field is given to mailauth as it is, only mailauth's result for it is not taken.
  const over = await signMessage(message, { domain: 'dm.test', selector: 'good', privateKeyPem: keys.rsaPem, headerList: ['From', 'To', 'Subject', 'DKIM-Signature'] });
  assert.equal((await dkimverifyInNamespace(dmZone, 'dm.test', over)).code, 0);
  assert.deepEqual((await verify(over)).report.dkim.map((d) => d.result), ['pass', 'pass'], JSON.stringify((await verify(over)).report.dkim, null, 2));
});

test('verify (text and --json): with l= the details say the body is only partly signed and how many octets follow (RFC 6376 §8.2)', async () => {
  const original = sampleMessage('alice@dm.test');
  const bodyLength = simpleBody(original.toString('latin1').split('\r\n\r\n')[1]).length;
  const appended = Buffer.concat([signWithTags(original, '', bodyLength), Buffer.from('Appended by someone else.\r\n')]);
  const theirs = await dkimverifyInNamespace(dmZone, 'dm.test', appended);
  assert.equal(theirs.code, 0, theirs.output);
  const { report } = await verify(appended);
  const sig = report.dkim[0];
  const all = JSON.stringify(sig, null, 2);
  assert.equal(sig.result, 'pass', all);
  assert.equal(sig.details['unsigned body octets'], '27', all);
  assert.equal(sig.details['body length limit'], `the body is only partly signed: l=${bodyLength} covers the first ${bodyLength} octets of the canonicalized body, and 27 octets after the signed part are not signed (RFC 6376 §8.2)`, all);
  assert.equal(sig.reason, sig.details['body length limit']);
  const text = await verifyUnalignedSpf(dir, knot.address, appended, false);
  assert.match(text.out, new RegExp(`^ +reason: the body is only partly signed: l=${bodyLength} covers .* and 27 octets after the signed part are not signed \\(RFC 6376 §8\\.2\\)$`, 'm'));
  // Without appended content: partly signed still, with 0 octets after the signed part.
  const exact = await verify(signWithTags(original, '', bodyLength));
  assert.equal(exact.report.dkim[0].details['unsigned body octets'], '0');
});

/** The field check alone (pure): tag values and case clashes → the problem code, and whether mailauth is kept away from the field. */
const FIELD_TABLE: Array<[value: string, code: string, hidden: boolean]> = [
  ['v=1; a=rsa-sha256; d=dm.test; s=good; t=1; x=2; l=0; q=dns/txt; i=@dm.test; h=from; bh=AAAA; b=BBBB', '', false],
  ['v=1; a=rsa-sha256; d=dm.test; s=good; t=999999999999; h=from; bh=AAAA; b=BBBB', '', false],
  // 13 digits: beyond 8.64e15 ms, so mailauth would throw on it too.
  ['v=1; a=rsa-sha256; d=dm.test; s=good; t=9999999999999; h=from; bh=AAAA; b=BBBB', 'dkim-signature-tag-value', true],
  ['v=1; a=rsa-sha256; d=dm.test; s=good; t=99999999999999999999; h=from; bh=AAAA; b=BBBB', 'dkim-signature-tag-value', true],
  ['v=1; a=rsa-sha256; d=dm.test; s=good; x=Infinity; h=from; bh=AAAA; b=BBBB', 'dkim-signature-tag-value', true],
  ['v=1; a=rsa-sha256; d=dm.test; s=good; l=1' + '0'.repeat(75) + '; h=from; bh=AAAA; b=BBBB', '', false],
  ['v=1; a=rsa-sha256; d=dm.test; s=good; l=1' + '0'.repeat(76) + '; h=from; bh=AAAA; b=BBBB', 'dkim-signature-tag-value', false],
  ['v=1; a=rsa-sha256; d=dm.test; s=good; q=dns/txt:x-foo; h=from; bh=AAAA; b=BBBB', '', false],
  ['v=1; a=rsa-sha256; d=dm.test; s=good; q=x-foo; h=from; bh=AAAA; b=BBBB', 'dkim-signature-tag-value', false],
  ['v=1; a=rsa-sha256; d=dm.test; s=good; S=evil; h=from; bh=AAAA; b=BBBB', '', false],
  ['v=1; a=rsa-sha256; d=dm.test; S=evil; s=good; h=from; bh=AAAA; b=BBBB', '', false],
  // Tags mailauth does not read (z=, unknown names) may have any case.
  ['v=1; a=rsa-sha256; d=dm.test; s=good; Z=x; Foo=bar; h=from; bh=AAAA; b=BBBB', '', false],
  // T= with a huge value but read by nobody (t= after it) is harmless; T= alone would crash mailauth, so the field is hidden from it and verified by the product.
  ['v=1; a=rsa-sha256; d=dm.test; s=good; T=99999999999999999999; t=5; h=from; bh=AAAA; b=BBBB', '', false],
  ['v=1; a=rsa-sha256; d=dm.test; s=good; T=99999999999999999999; h=from; bh=AAAA; b=BBBB', '', true],
];

test('the DKIM-Signature field check: tag values and case clashes give their codes (RFC 6376 §3.2, §3.5), and never throw', () => {
  for (const [value, code, hidden] of FIELD_TABLE) {
    const field = readDkimSignatureField(value);
    assert.equal(field.problem?.code ?? '', code, `${JSON.stringify(value)}: ${JSON.stringify(field.problem)}`);
    assert.equal(field.hiddenFromMailauth !== undefined, hidden, `hidden: ${JSON.stringify(value)}`);
    if (hidden) assert.equal(field.skippedByMailauth, true);
  }
  assert.equal(readDkimSignatureField('v=1; l=00012').bodyLength, '00012');
  // A case clash alone is given to mailauth, but its result is not taken (the product verifies the field).
  const clash = readDkimSignatureField('v=1; a=rsa-sha256; d=dm.test; s=good; S=evil; h=from; bh=AAAA; b=BBBB');
  assert.equal(clash.misreadByMailauth, 'mailauth would read S= as s=');
  assert.equal(clash.skippedByMailauth, true);
  assert.equal(readDkimSignatureField('v=1; a=rsa-sha256; d=dm.test; S=evil; s=good; h=from; bh=AAAA; b=BBBB').misreadByMailauth, undefined);
  for (const hostile of ['t=' + '9'.repeat(100_000), 'x=-Infinity; T=1e400', `q=${':'.repeat(5000)}`, 'i=@'.repeat(1000)]) assert.ok(readDkimSignatureField(hostile).problem);
});
