// `smtpwb sign` and `smtpwb verify` on the edges testers found: From oversigned (RFC 6376 §8.15, as
// dkimpy's "frozen" headers), a valid l=0 (RFC 6376 §3.5: no body octet is signed), a message that
// starts with a UTF-8 byte order mark, UTF-8 in d= and s= (RFC 6532), an --authserv-id that is not an
// RFC 8601 §2.2 value, and header-only messages (RFC 5322 §3.5: the body is optional). Keys are
// published in a real Knot; Debian's dkimverify and dkimsign (python3-dkim) are the cross-check.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KnotPeer } from '../peers/knot';
import { startDmKnot } from './dmZone';
import { authServIdProblem, verifyMessage, type AuthReport } from '../../client/src/mailAuth/verify';
import { createResolver } from '../../client/src/mailAuth/resolver';
import { signMessage } from '../../client/src/mailAuth/sign';
import { verifyCommand } from '../../client/src/cli/verifyCommand';
import { formatReportMarkdown } from '../../client/src/mailAuth/format';
import { signCommand } from '../../client/src/cli/signCommand';
import { captureIo, makeKeys, sampleMessage, verifyUnalignedSpf, verifyUnalignedSpfJson, type TestKeys } from './fixtures';
import { dkimsign, dkimverifyInNamespace } from './debianTools';
import { signWithTagList, simpleBody } from './tagSigner';

let knot: KnotPeer;
let keys: TestKeys;
let dir: string;
let dmZone: string;

before(async () => {
  keys = makeKeys();
  ({ knot, dmZone } = await startDmKnot(keys));
  dir = mkdtempSync(join(tmpdir(), 'smtpwb-dkimedges-'));
});

after(async () => {
  await knot?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function verify(message: Buffer): Promise<{ code: number; report: AuthReport }> {
  return verifyUnalignedSpfJson(dir, knot.address, message);
}

/** The h= names of the first DKIM-Signature field, lower-cased. */
function signedNames(message: Buffer): string[] {
  const m = /^DKIM-Signature:((?:[^\r\n]*(?:\r?\n[ \t])?)*)/im.exec(message.toString('latin1'));
  assert.ok(m, 'the message is signed');
  const h = /(?:^|;)\s*h\s*=([^;]*)/.exec(m[1]);
  assert.ok(h, 'the signature has h=');
  return h[1].replace(/\s+/g, '').toLowerCase().split(':');
}

const dmSign = (message: Buffer, extra: Partial<Parameters<typeof signMessage>[1]> = {}) =>
  signMessage(message, { domain: 'dm.test', selector: 'good', privateKeyPem: keys.rsaPem, ...extra });

/** The message with `line` put at the very top, above the signature (where a forger adds a From that MUAs show). */
function withTopField(message: Buffer, line: string): Buffer {
  return Buffer.concat([Buffer.from(`${line}\r\n`, 'latin1'), message]);
}

test('sign oversigns From by default: h= lists from once more than the message has From fields, and dkimverify passes it', async () => {
  const signed = await dmSign(sampleMessage('alice@dm.test'));
  assert.deepEqual(signedNames(signed).filter((n) => n === 'from'), ['from', 'from'], signedNames(signed).join(':'));
  const theirs = await dkimverifyInNamespace(dmZone, 'dm.test', signed);
  assert.equal(theirs.code, 0, theirs.output);
  const { code, report } = await verify(signed);
  assert.deepEqual(report.dkim.map((d) => d.result), ['pass'], JSON.stringify(report.dkim, null, 2));
  assert.equal(report.dmarc.result, 'pass');
  assert.equal(code, 0);
});

test('a second From added after signing breaks an oversigned signature, for dkimverify and for verify', async () => {
  const forged = withTopField(await dmSign(sampleMessage('alice@dm.test')), 'From: Mallory <mallory@dm.test>');
  const theirs = await dkimverifyInNamespace(dmZone, 'dm.test', forged);
  assert.notEqual(theirs.code, 0, theirs.output);
  const { code, report } = await verify(forged);
  assert.deepEqual(report.dkim.map((d) => [d.result, d.reason]), [['fail', 'bad signature']], JSON.stringify(report.dkim, null, 2));
  assert.equal(code, 1);
  // With oversigning turned off (`oversign: []`), the same forgery keeps the signature valid: what oversigning prevents.
  const plain = await dmSign(sampleMessage('alice@dm.test'), { oversign: [] });
  assert.deepEqual(signedNames(plain).filter((n) => n === 'from'), ['from']);
  const forgedPlain = withTopField(plain, 'From: Mallory <mallory@dm.test>');
  assert.deepEqual((await verify(forgedPlain)).report.dkim.map((d) => d.result), ['pass']);
  // dkimpy's verifier adds a from to every h= that lists one (its bug#644046 guard), so it fails this
  // one too; RFC 6376 §5.4.2 selects only what h= names, which is why the signer oversigns.
  assert.notEqual((await dkimverifyInNamespace(dmZone, 'dm.test', forgedPlain)).code, 0);
});

test('the signer verifies with dkimverify in every canonicalization, with two From fields and with LF line ends', async () => {
  for (const canonicalization of ['relaxed/relaxed', 'relaxed/simple', 'simple/relaxed', 'simple/simple'] as const) {
    const message = sampleMessage('alice@dm.test', ['X-Folded: a  value\r\n  folded   here ']);
    const signed = await dmSign(message, { canonicalization });
    const theirs = await dkimverifyInNamespace(dmZone, 'dm.test', signed);
    assert.equal(theirs.code, 0, `${canonicalization}: ${theirs.output}`);
    assert.deepEqual((await verify(signed)).report.dkim.map((d) => d.result), ['pass'], canonicalization);
  }
  // Two From fields: each is signed, and From once more.
  const two = await dmSign(sampleMessage('alice@dm.test', ['From: Bob <bob@dm.test>']));
  assert.equal(signedNames(two).filter((n) => n === 'from').length, 3);
  assert.equal((await dkimverifyInNamespace(dmZone, 'dm.test', two)).code, 0);
  const lf = await dmSign(Buffer.from(sampleMessage('alice@dm.test').toString('latin1').replace(/\r\n/g, '\n'), 'latin1'));
  assert.ok(!lf.includes('\r'), 'an LF-only file stays LF-only');
  assert.equal((await dkimverifyInNamespace(dmZone, 'dm.test', lf)).code, 0);
});

test('verify: l=0 signs no body octet (RFC 6376 §3.5): it passes whatever the body, as in dkimverify, and says the body is not signed', async () => {
  const original = sampleMessage('alice@dm.test');
  const signed = signWithTagList(keys.rsaPem, original, '', 0);
  const changed = Buffer.from(signed.toString('latin1').replace('this message is signed.', 'this body was replaced.'), 'latin1');
  for (const message of [signed, changed]) {
    const theirs = await dkimverifyInNamespace(dmZone, 'dm.test', message);
    assert.equal(theirs.code, 0, theirs.output);
    const { code, report } = await verify(message);
    const sig = report.dkim[0];
    const all = JSON.stringify(sig, null, 2);
    assert.equal(sig.result, 'pass', all);
    assert.equal(report.dmarc.result, 'pass', all);
    assert.equal(code, 0);
    const octets = simpleBody(message.toString('latin1').split('\r\n\r\n')[1]).length;
    assert.equal(sig.details['unsigned body octets'], String(octets), all);
    assert.equal(sig.details['body length limit'], `the body is not signed at all: l=0 covers none of the canonicalized body, and its ${octets} octets are not signed (RFC 6376 §3.5, §8.2)`, all);
    assert.equal(sig.reason, sig.details['body length limit'], all);
    assert.equal(sig.details['mailauth result'], 'neutral (body hash did not verify) (mailauth reads l=0 as no limit; the product verified the signature itself)', all);
    assert.match(report.authenticationResults, /^Authentication-Results: mx\.test;\r\n dkim=pass header\.i=@dm\.test header\.s=good header\.a=rsa-sha256 header\.b=/);
  }
  // A changed signed header field still fails: l=0 leaves the header signature in force.
  const tampered = Buffer.from(signed.toString('latin1').replace('Subject: DKIM test', 'Subject: DKIM test!'), 'latin1');
  assert.notEqual((await dkimverifyInNamespace(dmZone, 'dm.test', tampered)).code, 0);
  const bad = await verify(tampered);
  assert.deepEqual(bad.report.dkim.map((d) => [d.result, d.reason?.startsWith('bad signature')]), [['fail', true]], JSON.stringify(bad.report.dkim, null, 2));
  assert.equal(bad.code, 1);
  // l=0 with a bh= that is not the hash of zero octets: the body hash does not verify.
  const wrong = await verify(signWithTagList(keys.rsaPem, original, 'l=0'));
  assert.equal(wrong.report.dkim[0].result, 'fail', JSON.stringify(wrong.report.dkim, null, 2));
  assert.match(wrong.report.dkim[0].reason ?? '', /^body hash did not verify/);
});

test('verify: a message that starts with a UTF-8 BOM is decided as before, and the text and --json say why (eml-bom)', async () => {
  const signed = await dmSign(sampleMessage('alice@dm.test'));
  const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), signed]);
  const { report } = await verify(bom);
  assert.deepEqual(report.dkim.map((d) => d.result), ['none'], JSON.stringify(report.dkim, null, 2));
  assert.deepEqual(report.notes?.map((n) => n.code), ['eml-bom']);
  assert.equal(report.notes?.[0].message, 'the message starts with a UTF-8 byte order mark (EF BB BF), which becomes part of the first field name: the first field is not read as "DKIM-Signature"; save the file without it (RFC 5322 §2.2)');
  const text = await verifyUnalignedSpf(dir, knot.address, bom, false);
  assert.match(text.out, /^note: the message starts with a UTF-8 byte order mark \(EF BB BF\).* \[eml-bom\]$/m);
  // Without a BOM there is no note.
  assert.equal((await verify(signed)).report.notes, undefined);
  // The editor's Markdown report carries the note too, and peer text in it stays inert.
  assert.match(formatReportMarkdown(report), /^> \*\*Note \(eml-bom\):\*\* the message starts with a UTF-8 byte order mark/m);
  const hostile = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('X-\x1b[31mRed: v\r\n', 'latin1'), sampleMessage('alice@dm.test')]);
  const hostileText = await verifyUnalignedSpf(dir, knot.address, hostile, false);
  assert.doesNotMatch(hostileText.out, /\x1b/);
  assert.match(hostileText.out, /^note: .*the first field is not read as "X-\\x1B\[31mRed"/m);
  const hostileJson = await verifyUnalignedSpfJson(dir, knot.address, hostile);
  assert.match(hostileJson.report.notes?.[0].message ?? '', /"X-\x1b\[31mRed"/);
  // signMessage refuses it for every caller (the CLI and the editor's command), as lint reports it.
  await assert.rejects(dmSign(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), sampleMessage('alice@dm.test')])), /starts with a byte order mark/);
});

test('verify: UTF-8 in d= and s= is read as UTF-8 (RFC 6532), paired with the verifier result, and shown escaped only where needed', async () => {
  const message = Buffer.concat([Buffer.from('DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=bücher.test; s=sél; h=from; bh=AAAA; b=AAAA\r\n', 'utf8'), sampleMessage('alice@dm.test')]);
  const { report } = await verify(message);
  const sig = report.dkim[0];
  const all = JSON.stringify(sig, null, 2);
  assert.equal(sig.domain, 'bücher.test', all);
  assert.equal(sig.selector, 'sél', all);
  // The verifier's own result (the body hash), not "the verifier could not read it".
  assert.equal(sig.result, 'fail', all);
  assert.equal(sig.details['signature problem'], undefined, all);
  const text = await verifyUnalignedSpf(dir, knot.address, message, false);
  assert.match(text.out, /^DKIM +fail ✗ +d=bücher\.test s=sél a=rsa-sha256$/m);
});

test('verify --authserv-id: a value that is not a token or a quoted-string is a usage error (exit 2), so nothing is injected (RFC 8601 §2.2)', async () => {
  const file = join(dir, 'authserv.eml');
  writeFileSync(file, sampleMessage('alice@dm.test'));
  for (const bad of ['mx.test\r\nX-Injected: yes', 'mx test', 'mx.test; dkim=pass', '', 'a"b', '"unterminated', 'mx.test\n']) {
    const cap = captureIo(dir);
    const code = await verifyCommand([file, '--authserv-id', bad, '--dns-server', knot.address, '--no-received'], cap.io);
    assert.equal(code, 2, JSON.stringify(bad));
    assert.match(cap.stderr(), /smtpwb verify: --authserv-id ".*": /, JSON.stringify(bad));
    assert.doesNotMatch(cap.stderr(), /[\r]|X-Injected: yes\n/);
    assert.equal(cap.stdout().length, 0);
    assert.ok(authServIdProblem(bad), JSON.stringify(bad));
  }
  for (const good of ['mx.test', 'mx-1.example.test', '"my authserv id"', 'host_1']) assert.equal(authServIdProblem(good), undefined, good);
  const cap = captureIo(dir);
  assert.equal(await verifyCommand([file, '--authserv-id', '"my id"', '--dns-server', knot.address, '--no-received', '--json'], cap.io), 1);
  assert.match((JSON.parse(cap.stdout().toString('utf8')) as AuthReport).authenticationResults, /^Authentication-Results: "my id";\r\n/);
  // The library refuses it too, for callers other than the CLI.
  await assert.rejects(verifyMessage(sampleMessage(), { resolver: createResolver({ server: knot.address, timeoutMs: 2000, tries: 1 }), authServId: 'a\r\nb' }), /invalid authserv-id/);
});

const HEADER_ONLY = 'From: Alice <alice@dm.test>\r\nTo: Bob <bob@example.net>\r\nSubject: header only\r\nDate: Mon, 23 Nov 2026 04:00:00 +0000\r\n';

test('sign and verify a header-only message (no empty line, RFC 5322 §3.5) as one with an empty body; dkimverify agrees', async () => {
  for (const canonicalization of ['relaxed/relaxed', 'relaxed/simple', 'simple/simple'] as const) {
    const signed = await dmSign(Buffer.from(HEADER_ONLY), { canonicalization });
    assert.ok(signed.toString('latin1').endsWith(HEADER_ONLY), 'the original bytes follow the signature');
    const theirs = await dkimverifyInNamespace(dmZone, 'dm.test', signed);
    assert.equal(theirs.code, 0, `${canonicalization}: ${theirs.output}`);
    const { code, report } = await verify(signed);
    assert.deepEqual(report.dkim.map((d) => d.result), ['pass'], `${canonicalization}: ${JSON.stringify(report.dkim, null, 2)}`);
    assert.deepEqual(report.notes?.map((n) => n.code), ['header-only']);
    assert.equal(code, 0);
  }
  // The last field without a line end: the signed output ends with one, so it is a message, and it verifies.
  const cut = await dmSign(Buffer.from(HEADER_ONLY.slice(0, -2)));
  assert.ok(cut.toString('latin1').endsWith('+0000\r\n'));
  assert.equal((await dkimverifyInNamespace(dmZone, 'dm.test', cut)).code, 0);
  assert.deepEqual((await verify(cut)).report.dkim.map((d) => d.result), ['pass']);
  // dkimsign (python3-dkim) signs the header-only message; verify passes its signature too.
  const pkcs1 = join(dir, 'pkcs1.pem');
  const { createPrivateKey } = await import('node:crypto');
  writeFileSync(pkcs1, createPrivateKey(keys.rsaPem).export({ type: 'pkcs1', format: 'pem' }));
  const theirs = await dkimsign(Buffer.from(HEADER_ONLY), 'good', 'dm.test', pkcs1);
  assert.deepEqual((await verify(theirs)).report.dkim.map((d) => d.result), ['pass'], theirs.toString('latin1'));
});

test('smtpwb sign accepts a header-only message (exit 0) and its output verifies', async () => {
  const file = join(dir, 'header-only.eml');
  const key = join(dir, 'key.pem');
  writeFileSync(file, HEADER_ONLY);
  writeFileSync(key, keys.rsaPem);
  const cap = captureIo(dir);
  assert.equal(await signCommand([file, '--domain', 'dm.test', '--selector', 'good', '--key', key], cap.io), 0, cap.stderr());
  assert.deepEqual((await verify(cap.stdout())).report.dkim.map((d) => d.result), ['pass']);
});

test('verify: a t= in the future passes (RFC 6376 §3.5 makes ignoring it optional) with a warning in the details; dkimverify refuses it', async () => {
  const future = signWithTagList(keys.rsaPem, sampleMessage('alice@dm.test'), 't=4000000000');
  const theirs = await dkimverifyInNamespace(dmZone, 'dm.test', future);
  assert.match(theirs.output, /t= value is in the future/);
  const { report } = await verify(future);
  const sig = report.dkim[0];
  assert.equal(sig.result, 'pass', JSON.stringify(sig, null, 2));
  assert.match(sig.details['signing time warning'] ?? '', /^t=4000000000 is \d+ days in the future: RFC 6376 §3\.5 lets verifiers ignore such a signature \(dkimpy refuses one more than 10 hours ahead\); the signer's clock may be wrong$/);
  // A signing time in the past, or a minute ahead (clock skew), gives no warning.
  const past = await verify(signWithTagList(keys.rsaPem, sampleMessage('alice@dm.test'), 't=1700000000'));
  assert.equal(past.report.dkim[0].details['signing time warning'], undefined);
  const soon = await verify(signWithTagList(keys.rsaPem, sampleMessage('alice@dm.test'), `t=${Math.floor(Date.now() / 1000) + 60}`));
  assert.equal(soon.report.dkim[0].details['signing time warning'], undefined);
});

test("verify: SPF none says when the top Received hop could not be read, and which one", async () => {
  const message = sampleMessage('alice@dm.test', ['Received: from [192.0.2.1] (client said [192.0.2.2]) by mx.example.net; Mon, 23 Nov 2026 04:00:00 +0000']);
  const resolver = createResolver({ server: knot.address, timeoutMs: 2000, tries: 1 });
  const report = await verifyMessage(message, { resolver, authServId: 'mx.test' });
  assert.equal(report.spf.result, 'none');
  assert.match(report.spf.reason ?? '', /^no SMTP client IP address: Received field #1 from the top records a client in a form that cannot be read/);
  assert.equal(report.smtp.unreadableReceivedIndex, 0);
  // Without a Received field the reason stays the general one.
  const plain = await verifyMessage(sampleMessage('alice@dm.test'), { resolver, authServId: 'mx.test' });
  assert.equal(plain.spf.reason, 'no SMTP client IP address: give one, or verify a message with a Received field');
});
