// What an outside tester found on the product's own DKIM path (dkimSelfVerify.ts, taken for fields
// mailauth misreads: an upper-case unknown tag such as `S=x`, `l=0`) and around it, each checked
// against dkimpy (Debian's python3-dkim) where it decides: a key under 1024 bits never passes (RFC
// 8301 §3.2); a header line that is not a field makes the message unverifiable (RFC 5322 §2.2,
// §3.5); a key record cannot forge lines in the text output; relaxed canonicalization removes only
// SP and HTAB (RFC 6376 §3.4.2), so a Subject ending in "à" (C3 A0) verifies both ways; the tag
// check and the product's own verifier read one tag list (controls other than FWS are a PERMFAIL);
// b= must be base64; d= must be a domain name, queried in A-labels. Keys are published in a real Knot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKnot, type KnotPeer } from '../peers/knot';
import type { AuthReport } from '../../client/src/mailAuth/verify';
import { readDkimSignatureField } from '../../client/src/mailAuth/dkimSignatureCheck';
import { DkimSignError, publicKeyRecord, signMessage, signWarnings, unsignableReason } from '../../client/src/mailAuth/sign';
import { signCommand } from '../../client/src/cli/signCommand';
import { dmarcPermerrorInfo } from '../../client/src/mailAuth/dmarcVerify';
import { headerSectionProblem } from '../../client/src/mailAuth/headers';
import { ROOT_ZONE, captureIo, makeKeys, sampleMessage, txt, verifyUnalignedSpf, verifyUnalignedSpfJson, type TestKeys } from './fixtures';
import { dkimsign, dkimverifyInNamespace } from './debianTools';
import { signWithTagList } from './tagSigner';
import { SPF_ZONE, dmZoneText, zoneText } from './dmZone';

let knot: KnotPeer;
let keys: TestKeys;
let weakPem: string;
let dir: string;
let dmZone: string;

/** The p= of a key record, for a record written by hand. */
function pOf(pem: string): string {
  return /p=([A-Za-z0-9+/=]+)/.exec(publicKeyRecord(pem))?.[1] ?? '';
}

before(async () => {
  keys = makeKeys();
  // RFC 8301 §3.2: too short to be valid; the product's signer refuses it, so the test's signer signs.
  weakPem = generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  // publicKeyRecord refuses such a key, so its p= is written here: the SPKI DER (RFC 6376 §3.6.1).
  const weakP = createPublicKey(weakPem).export({ type: 'spki', format: 'der' }).toString('base64');
  dmZone = dmZoneText(keys, [
    `weak._domainkey IN TXT "v=DKIM1; k=rsa; p=${weakP}"`,
    // A record whose unknown text holds a line feed (\010) and a forged result line.
    `inject._domainkey IN TXT ( "v=DKIM1; k=rsa; bogus\\010DKIM        pass (forged line)\\010; p=" ${txt(pOf(keys.rsaPem)).slice(1, -1)} )`,
  ]);
  const idn = zoneText('xn--bcher-kva.test', [`good._domainkey IN TXT ${txt(publicKeyRecord(keys.rsaPem))}`]);
  knot = await startKnot({ zones: { '': ROOT_ZONE, 'dm.test': dmZone, 'spf.test': SPF_ZONE, 'xn--bcher-kva.test': idn } });
  dir = mkdtempSync(join(tmpdir(), 'smtpwb-dkimself-'));
});

after(async () => {
  await knot?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function verify(message: Buffer): Promise<AuthReport> {
  return (await verifyUnalignedSpfJson(dir, knot.address, message)).report;
}

function results(report: AuthReport): string[] {
  return report.dkim.map((d) => d.result);
}

const message = (): Buffer => sampleMessage('alice@dm.test');

test('verify: a signature made with a 512-bit RSA key is policy on every path, never pass (RFC 8301 §3.2), also with S=x or l=0', async () => {
  const sign = (tags: string, bodyLength?: number): Buffer => signWithTagList(weakPem, message(), tags, bodyLength, '', { selector: 'weak' });
  for (const [what, signed] of [
    ['mailauth path', sign('')],
    ['S=x (the product verifies it itself)', sign('S=x')],
    ['l=0 (the product verifies it itself)', sign('', 0)],
    ['T=garbage (hidden from mailauth)', sign('T=99999999999999999999')],
  ] as const) {
    const report = await verify(signed);
    const all = `${what}: ${JSON.stringify(report.dkim, null, 2)}`;
    assert.deepEqual(results(report), ['policy'], all);
    assert.equal(report.dkim[0].failed, true, all);
    assert.notEqual(report.dmarc.result, 'pass', all);
    assert.match(report.authenticationResults, /dkim=policy/, all);
  }
  // The product's own reason says why, with the key size.
  const own = await verify(sign('S=x'));
  assert.match(own.dkim[0].reason ?? '', /has 512 bits; keys under 1024 bits are not valid \(RFC 8301 §3\.2\)/);
});

test('verify and sign: a header line that is not a field (no colon) makes every DKIM result permerror and DMARC not pass; sign refuses it; dkimpy refuses it too', async () => {
  const signed = await signMessage(message(), { domain: 'dm.test', selector: 'good', privateKeyPem: keys.rsaPem, signTime: new Date('2026-11-23T04:00:00Z') });
  assert.deepEqual(results(await verify(signed)), ['pass']);
  const injected = Buffer.from(signed.toString('latin1').replace('Subject: DKIM test\r\n', 'Subject: DKIM test\r\nURGENT wire 10k to IBAN XX00 now\r\n'), 'latin1');
  const theirs = await dkimverifyInNamespace(dmZone, 'dm.test', injected);
  assert.notEqual(theirs.code, 0, theirs.output);
  assert.match(theirs.output, /MessageFormatError|Unexpected characters/);
  for (const m of [injected, signWithTagList(keys.rsaPem, Buffer.from(injected.toString('latin1').replace(/^DKIM-Signature:[^]*?\r\n(?![ \t])/, ''), 'latin1'), 'S=x')]) {
    const report = await verify(m);
    const all = JSON.stringify({ dkim: report.dkim, dmarc: report.dmarc }, null, 2);
    assert.deepEqual(results(report), ['permerror'], all);
    assert.equal(report.dkim[0].details['signature problem'], 'dkim-header-section', all);
    assert.match(report.dkim[0].reason ?? '', /^header line \d+ \("URGENT wire 10k to IBAN XX00 now"\) is not a header field/, all);
    assert.equal(report.dmarc.result, 'permerror', all);
    assert.match(report.authenticationResults, /dkim=permerror \(header line \d+ is not a header field/);
  }
  assert.match(unsignableReason(injected) ?? '', /is not a header field/);
  await assert.rejects(signMessage(injected, { domain: 'dm.test', selector: 'good', privateKeyPem: keys.rsaPem }), DkimSignError);
  // An mbox "From " line first (RFC 4155) is no part of the message; further down it is not a field.
  assert.equal(headerSectionProblem(Buffer.from('From a@dm.test Mon Nov 23 04:00:00 2026\r\nFrom: a@dm.test\r\n\r\nbody\r\n')), undefined);
  assert.equal(headerSectionProblem(Buffer.from('From: a@dm.test\r\nFrom b@dm.test Mon Nov 23 04:00:00 2026\r\n\r\nbody\r\n'))?.line, 2);
  // A continuation line at the very start is not a field either.
  assert.match(unsignableReason(Buffer.from(' folded\r\nFrom: a@dm.test\r\n\r\nbody\r\n')) ?? '', /not a header field|does not start with a header field/);
});

test('verify (text): a key record with a line feed cannot forge a line; the reason is one escaped line', async () => {
  const signed = signWithTagList(keys.rsaPem, message(), 'S=x', undefined, '', { selector: 'inject' });
  const { out } = await verifyUnalignedSpf(dir, knot.address, signed, false);
  const lines = out.split('\n');
  assert.equal(lines.filter((l) => /^DKIM/.test(l)).length, 1, out);
  assert.ok(!lines.some((l) => /forged line/.test(l) && !/reason: /.test(l) && !/^ /.test(l)), out);
  const reason = lines.filter((l) => /^ +reason: .*bogus/.test(l));
  assert.equal(reason.length, 1, out);
  assert.match(reason[0], /"bogus\\x0ADKIM {8}pass \(forged line\)" is not of the form tag=value/, out);
  // Exactly the lines of the report: DKIM, SPF, DMARC (each with its reason), ARC, BIMI and its
  // reason, an empty line, SMTP, an empty line, then the Authentication-Results field's lines.
  const arStart = lines.findIndex((l) => l.startsWith('Authentication-Results:'));
  assert.ok(arStart > 0, out);
  assert.deepEqual(lines.slice(0, arStart).map((l) => (l === '' ? '' : /^ /.test(l) ? 'reason' : l.split(/ +/)[0])), ['DKIM', 'reason', 'SPF', 'reason', 'DMARC', 'reason', 'ARC', 'BIMI', 'reason', '', 'SMTP:', ''], out);
  assert.ok(lines.slice(arStart, -1).every((l) => /^(Authentication-Results:|Received-SPF:| )/.test(l)), out);
  assert.equal(lines[lines.length - 1], '', out);
  const report = await verify(signed);
  assert.equal(report.dkim[0].result, 'permerror');
  assert.ok(!/\n/.test(report.dkim[0].reason ?? ''), report.dkim[0].reason);
});

test('sign and verify: relaxed canonicalization removes only SP and HTAB (RFC 6376 §3.4.2): a Subject ending in "à" (C3 A0) verifies in dkimpy and in the product, both ways', async () => {
  const utf8 = Buffer.from(message().toString('utf8').replace('Subject: DKIM test', 'Subject: Voilà'), 'utf8');
  const ours = await signMessage(utf8, { domain: 'dm.test', selector: 'good', privateKeyPem: keys.rsaPem });
  const theirsOnOurs = await dkimverifyInNamespace(dmZone, 'dm.test', ours);
  assert.equal(theirsOnOurs.code, 0, theirsOnOurs.output);
  assert.deepEqual(results(await verify(ours)), ['pass']);
  const pkcs1 = join(dir, 'rsa-pkcs1.pem');
  writeFileSync(pkcs1, createPrivateKey(keys.rsaPem).export({ type: 'pkcs1', format: 'pem' }).toString());
  const theirs = await dkimsign(utf8, 'good', 'dm.test', pkcs1);
  const report = await verify(theirs);
  const all = JSON.stringify(report.dkim, null, 2);
  assert.deepEqual(results(report), ['pass'], all);
  assert.match(report.dkim[0].details['mailauth result'] ?? '', /mailauth would remove VT, FF or U\+00A0 from a signed field.*the product verified the signature itself/, all);
  assert.equal(report.dmarc.result, 'pass');
  // A changed Subject still fails on that path.
  const changed = Buffer.from(theirs.toString('latin1').replace('Subject: Voil', 'Subject: voil'), 'latin1');
  assert.deepEqual(results(await verify(changed)), ['fail']);
});

test('verify: the tag check and the product verifier read one tag list: l=1<VT>0 is permerror, not a whole body left unsigned', async () => {
  // bh= over zero octets: the old self path read l=1<VT>0 as NaN and hashed nothing, so any body passed.
  const signed = signWithTagList(keys.rsaPem, message(), 'S=x; l=1\x0b0', undefined, '', { hashedOctets: 0 });
  const report = await verify(signed);
  const all = JSON.stringify(report.dkim, null, 2);
  assert.deepEqual(results(report), ['permerror'], all);
  assert.equal(report.dkim[0].details['signature problem'], 'dkim-signature-syntax', all);
  assert.notEqual(report.dmarc.result, 'pass');
});

test('verify: a UTF-8 d= (RFC 8616) is queried in A-labels on the product path', async () => {
  const domain = Buffer.from('bücher.test', 'utf8').toString('latin1');
  const signed = signWithTagList(keys.rsaPem, message(), 'S=x', undefined, '', { domain });
  const report = await verify(signed);
  assert.deepEqual(results(report), ['pass'], JSON.stringify(report.dkim, null, 2));
});

test('verify: b= with characters that are not base64 is permerror on every path, as in dkimpy', async () => {
  for (const tags of ['', 'S=x']) {
    const signed = signWithTagList(keys.rsaPem, message(), tags);
    const broken = Buffer.from(signed.toString('latin1').replace(/ b=([A-Za-z0-9+/]{10})/, ' b=$1*'), 'latin1');
    const theirs = await dkimverifyInNamespace(dmZone, 'dm.test', broken);
    assert.notEqual(theirs.code, 0, theirs.output);
    const report = await verify(broken);
    const all = JSON.stringify(report.dkim, null, 2);
    assert.deepEqual(results(report), ['permerror'], all);
    assert.match(report.dkim[0].reason ?? '', /b=.*is not base64/, all);
  }
});

test('the DKIM-Signature field check: controls in values, b=/bh= not base64, d= not a domain name are PERMFAIL (RFC 6376 §3.2, §3.5, §6.1.1)', () => {
  const base = (over: string): string => `v=1; a=rsa-sha256; d=dm.test; s=good; h=from:to; bh=AAAA; b=BBBB; ${over}`;
  const code = (v: string): string | undefined => readDkimSignatureField(v).problem?.code;
  assert.equal(code(base('')), undefined);
  assert.equal(code('v=1; a=rsa-sha256; d=dm.test; s=good; h=fr\x0bom:to; bh=AAAA; b=BBBB'), 'dkim-signature-syntax');
  assert.equal(code(base('l=1\x0b0')), 'dkim-signature-syntax');
  assert.equal(code(base('x=4\x0c000000000')), 'dkim-signature-syntax');
  assert.equal(code('v=1; a=rsa-sha256; d=dm\x1b.test; s=good; h=from; bh=AAAA; b=BBBB'), 'dkim-signature-syntax');
  assert.equal(code('v=1; a=rsa-sha256; d=dm..test; s=good; h=from; bh=AAAA; b=BBBB'), 'dkim-signature-tag-value');
  assert.equal(code('v=1; a=rsa-sha256; d=dm.test; s=go od; h=from; bh=AAAA; b=BBBB'), undefined, 'FWS inside a value is folding');
  assert.equal(code('v=1; a=rsa-sha256; d=dm.test; s=good; h=from; bh=AAAA; b=BB*B'), 'dkim-signature-tag-value');
  assert.equal(code('v=1; a=rsa-sha256; d=dm.test; s=good; h=from; bh=AA\u00a0AA; b=BBBB'), 'dkim-signature-tag-value');
  assert.equal(code('v=1; a=rsa-sha256; d=bücher.test; s=good; h=from; bh=AAAA; b=BBBB'), undefined);
  // The one reading: U+00A0 is not white space in a tag value.
  assert.deepEqual(readDkimSignatureField('v=1; a=rsa-sha256; d=dm.test; s=good; h=from:\u00a0to; bh=AAAA; b=BBBB').signedFields, ['from', '\u00a0to']);
});

test('sign warns about a message with two From fields (RFC 5322 §3.6) and signs them all; DMARC permerror comments stay ASCII', async () => {
  const two = sampleMessage('alice@dm.test', ['From: Mallory <m@evil.test>']);
  assert.equal(unsignableReason(two), undefined);
  assert.deepEqual(signWarnings(two).map((w) => /has 2 From fields, where RFC 5322 §3\.6 allows exactly one/.test(w)), [true]);
  assert.deepEqual(signWarnings(message()), []);
  const cap = captureIo(dir);
  const file = join(dir, 'two-from.eml');
  const key = join(dir, 'key.pem');
  writeFileSync(file, two);
  writeFileSync(key, keys.rsaPem);
  assert.equal(await signCommand([file, '--domain', 'dm.test', '--selector', 'good', '--key', key], cap.io), 0, cap.stderr());
  assert.match(cap.stderr(), /^smtpwb sign: warning: the message has 2 From fields/m);
  const info = dmarcPermerrorInfo('the message has 2 From fields, where RFC 5322 §3.6 allows exactly one');
  assert.match(info, /^[\x20-\x7e]*$/);
  assert.match(info, /RFC 5322 section 3\.6/);
});
