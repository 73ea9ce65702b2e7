// The ARC chain view (RFC 8617) on a real chain: a DKIM-signed message sealed by the product
// (mailAuth/arcSeal.ts, mailauth's sealer), then changed by a simulated forwarder, with the keys
// served by Knot. Each case checks the view's verdict, the instance and signature it blames and the
// change it names, and that mailauth's own ARC verdict (what `verify` reports) agrees.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { startKnot, type KnotPeer } from '../peers/knot';
import { analyzeArcChain, type ArcChainView } from '../../client/src/mailAuth/arcChain';
import { sealArc } from '../../client/src/mailAuth/arcSeal';
import { signMessage, publicKeyRecord } from '../../client/src/mailAuth/sign';
import { createResolver, type MailauthResolver } from '../../client/src/mailAuth/resolver';
import { verifyMessage } from '../../client/src/mailAuth/verify';
import { formatReportMarkdown, formatReportText } from '../../client/src/mailAuth/format';
import { mailauth } from '../../client/src/mailAuth/mailauthApi';
import { exampleZone, makeKeys, ROOT_ZONE, sampleMessage, txt, type TestKeys } from './fixtures';
import { arcverifyInNamespace } from './debianTools';

let knot: KnotPeer;
let keys: TestKeys;
let resolver: MailauthResolver;
const sealerPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const listPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const SIGNED_AT = new Date('2026-11-23T04:00:10Z');

/**
 * The sealer's key records that RFC 6376 tells verifiers not to use, all holding the sealer's key:
 * selector → [the record(s), the key-record problem code, the reason the chain view gives].
 */
const UNUSABLE_SEAL_KEYS: Record<string, { records: (record: string) => string[]; code: string; reason: RegExp }> = {
  hsha1: { records: (r) => [r.replace('v=DKIM1; ', 'v=DKIM1; h=sha1; ')], code: 'dkim-hash-excluded', reason: /key h=sha1 does not list sha256, the hash of a=rsa-sha256: inappropriate hash algorithm \(RFC 6376 §3\.6\.1, §6\.1\.2\)/ },
  vbad: { records: (r) => [r.replace('v=DKIM1', 'v=DKIM2')], code: 'dkim-version', reason: /key v=DKIM2 is not DKIM1, so the record is discarded \(RFC 6376 §3\.6\.1\)/ },
  svc: { records: (r) => [r.replace('v=DKIM1; ', 'v=DKIM1; s=foo; ')], code: 'dkim-service-type', reason: /key s=foo does not list email or \*/ },
  two: { records: (r) => [r, r.replace('k=rsa; ', '')], code: 'dkim-key-multiple', reason: /2 key records at two\._domainkey\.sealer\.test: the verdict would depend on which one is read \(RFC 6376 §3\.6\.2\.2, §6\.1\.2\)/ },
};

function zone(origin: string, selector: string, pem: string, extra: string[] = []): string {
  return [`$ORIGIN ${origin}.`, '$TTL 300', `@ SOA ns.invalid. h.invalid. 1 3600 600 86400 300`, '@ NS ns.invalid.', `${selector}._domainkey TXT ${txt(publicKeyRecord(pem))}`, ...extra, ''].join('\n');
}

/** The sealer.test zone: arc1 usable, and one selector per unusable record, all with the sealer's key. */
function sealerZone(): string {
  const lines = Object.entries(UNUSABLE_SEAL_KEYS).flatMap(([selector, c]) => c.records(publicKeyRecord(sealerPem)).map((r) => `${selector}._domainkey TXT ${txt(r)}`));
  return zone('sealer.test', 'arc1', sealerPem, lines);
}

before(async () => {
  keys = makeKeys();
  knot = await startKnot({
    zones: { '': ROOT_ZONE, 'example.test': exampleZone(keys), 'sealer.test': sealerZone(), 'lists.test': zone('lists.test', 'arc2', listPem) },
  });
  resolver = createResolver({ server: knot.address, timeoutMs: 1500, tries: 1 });
});

after(async () => {
  await knot?.stop();
});

const lookupTxt = async (name: string): Promise<string[][]> => (await resolver(name, 'TXT')) as string[][];

/** The author's DKIM-signed message, sealed by the first hop (i=1). */
async function sealedOnce(): Promise<Buffer> {
  const signed = await signMessage(sampleMessage(), { domain: 'example.test', selector: 'rsa1', privateKeyPem: keys.rsaPem, signTime: SIGNED_AT });
  return sealArc(signed, { domain: 'sealer.test', selector: 'arc1', privateKeyPem: sealerPem, authServId: 'mx.sealer.test', resolver, ip: '127.0.0.1', helo: 'mail.example.test', mailFrom: 'alice@example.test', signTime: SIGNED_AT });
}

/** What a mailing list does: a tag before the Subject and a footer under the body. */
function listRewrite(message: Buffer): Buffer {
  return Buffer.from(message.toString('latin1').replace(/^Subject: /m, 'Subject: [team] ').replace(/\r\n$/, '\r\n-- \r\nteam mailing list\r\n'), 'latin1');
}

async function mailauthArc(message: Buffer): Promise<string> {
  const report = await verifyMessage(message, { resolver, ip: '127.0.0.1', helo: 'mail.example.test', mailFrom: 'alice@example.test', authServId: 'mx.test', useReceived: false });
  return report.arc.result;
}

function view(v: ArcChainView): string {
  return v.explanation.join('\n');
}

test('a chain sealed by the product verifies: every seal and message signature passes', async () => {
  const sealed = await sealedOnce();
  const v = await analyzeArcChain(sealed, lookupTxt);
  assert.equal(v.result, 'pass', view(v));
  assert.equal(v.instances.length, 1);
  assert.equal(v.instances[0].cv, 'none');
  assert.equal(v.instances[0].seal.result, 'pass');
  assert.equal(v.instances[0].messageSignature.result, 'pass');
  assert.equal(v.instances[0].messageSignature.bodyHash, 'match');
  assert.match(v.instances[0].authResults ?? '', /^mx\.sealer\.test;.*dkim=pass/s);
  assert.equal(await mailauthArc(sealed), 'pass');
});

test('a forwarder that changes Subject and body without sealing: cv=fail at instance 1, AMS, Subject and body named', async () => {
  const changed = listRewrite(await sealedOnce());
  const v = await analyzeArcChain(changed, lookupTxt);
  assert.equal(v.result, 'fail', view(v));
  assert.deepEqual(v.failedAt, { instance: 1, signature: 'AMS' });
  const ams = v.instances[0].messageSignature;
  assert.equal(ams.bodyHash, 'mismatch');
  assert.equal(ams.headers, 'fail');
  assert.deepEqual(ams.changedHeaders, ['Subject changed: the tag "[team]" was put before it']);
  assert.equal(v.instances[0].seal.result, 'pass', 'the seal covers only ARC fields, which did not change');
  assert.match(v.reason, /ARC-Message-Signature of instance 1 \(the latest\) fails: the body changed after instance 1 signed it.*Subject changed/);
  assert.equal(await mailauthArc(changed), 'fail');
});

test('a forwarder that changes a header the tag heuristics do not know: the view says a signed header changed and lists h=', async () => {
  const changed = Buffer.from((await sealedOnce()).toString('latin1').replace(/^Date: .*$/m, 'Date: Tue, 24 Nov 2026 04:00:00 +0000'), 'latin1');
  const v = await analyzeArcChain(changed, lookupTxt);
  assert.equal(v.result, 'fail');
  const ams = v.instances[0].messageSignature;
  assert.equal(ams.bodyHash, 'match');
  assert.equal(ams.headers, 'fail');
  assert.ok(ams.signedHeaders.includes('date'));
  assert.match(ams.reason, /a signed header field changed after instance 1 signed it \(one of .*date.*; the signature cannot tell which\)/);
  assert.equal(await mailauthArc(changed), 'fail');
});

test('a list that verifies on arrival, rewrites and seals (i=2): the chain passes and the view shows where the message changed', async () => {
  const arrived = await sealedOnce();
  const resealed = await sealArc(listRewrite(arrived), {
    domain: 'lists.test', selector: 'arc2', privateKeyPem: listPem, authServId: 'lists.test', resolver, ip: '127.0.0.1', helo: 'mx.sealer.test', mailFrom: 'alice@example.test', arrived, signTime: SIGNED_AT,
  });
  const v = await analyzeArcChain(resealed, lookupTxt);
  assert.equal(v.result, 'pass', view(v));
  assert.deepEqual(v.instances.map((i) => [i.instance, i.cv, i.seal.result, i.messageSignature.result]), [[1, 'none', 'pass', 'fail'], [2, 'pass', 'pass', 'pass']]);
  assert.equal(v.oldestPass, 2);
  assert.match(v.reason, /changed before instance 2.*Subject changed: the tag "\[team\]"/);
  assert.equal(await mailauthArc(resealed), 'pass');

  // Someone then edits instance 1's ARC-Authentication-Results: the latest AMS still verifies, the seals do not.
  const tampered = Buffer.from(resealed.toString('latin1').replace(/(ARC-Authentication-Results: i=1;[^]*?)dkim=pass/, '$1dkim=fail'), 'latin1');
  assert.notEqual(tampered.toString('latin1'), resealed.toString('latin1'));
  const t = await analyzeArcChain(tampered, lookupTxt);
  assert.equal(t.result, 'fail', view(t));
  assert.deepEqual(t.failedAt, { instance: 2, signature: 'AS' });
  assert.equal(t.instances[1].messageSignature.result, 'pass');
  assert.equal(t.instances[0].seal.result, 'fail');
  assert.equal(await mailauthArc(tampered), 'fail');
});

test('verify shows the chain view in its details, escaped', async () => {
  const changed = listRewrite(await sealedOnce());
  const report = await verifyMessage(changed, { resolver, ip: '127.0.0.1', helo: 'mail.example.test', mailFrom: 'alice@example.test', authServId: 'mx.test', useReceived: false });
  assert.equal(report.arc.result, 'fail');
  assert.match(report.arc.details['chain'] ?? '', /ARC-Message-Signature of instance 1 \(the latest\) fails/);
  assert.match(report.arc.details['i=1'] ?? '', /AS pass .*AMS fail .*Subject changed/);
  assert.match(formatReportText(report), /i=1: .*Subject changed/);
  const md = formatReportMarkdown(report);
  assert.match(md, /i=1: cv=none: AS pass/);
  assert.match(md, /the tag "\\\[team\\\]" was put before it/, 'header text is inert in the Markdown table');
});

/** The author's DKIM-signed message, sealed (i=1) with mailauth's sealer under the given sealer.test selector. */
async function sealedWith(selector: string): Promise<Buffer> {
  const signed = await signMessage(sampleMessage(), { domain: 'example.test', selector: 'rsa1', privateKeyPem: keys.rsaPem, signTime: SIGNED_AT });
  const seal = await mailauth.sealMessage(signed, { signingDomain: 'sealer.test', selector, privateKey: sealerPem, algorithm: 'rsa-sha256', authResults: 'mx.sealer.test; dkim=pass header.d=example.test', cv: 'none', signTime: SIGNED_AT });
  return Buffer.concat([seal, signed]);
}

async function verifyArc(message: Buffer): Promise<Awaited<ReturnType<typeof verifyMessage>>> {
  return verifyMessage(message, { resolver, ip: '127.0.0.1', helo: 'mail.example.test', mailFrom: 'alice@example.test', authServId: 'mx.test', useReceived: false });
}

for (const [selector, c] of Object.entries(UNUSABLE_SEAL_KEYS)) {
  test(`an ARC set signed with an unusable key record (${selector}: ${c.code}) fails, with the reason (RFC 8617 §5.2), where mailauth alone passes it`, async () => {
    const sealed = await sealedWith(selector);
    const report = await verifyArc(sealed);
    const all = JSON.stringify(report.arc, null, 2);
    assert.equal(report.arc.result, 'fail', all);
    assert.equal(report.arc.failed, true);
    assert.equal(report.arc.details['key record problem'], c.code, all);
    assert.match(report.arc.details['mailauth result'] ?? '', /^pass\b/, all);
    // The instance's signatures share the key: the latest AMS decides first (RFC 8617 §5.2 step 4).
    assert.match(report.arc.reason ?? '', new RegExp(`^the ARC-Message-Signature of instance 1 \\(the latest\\) fails: the key record at ${selector}\\._domainkey\\.sealer\\.test is unusable: `), all);
    assert.match(report.arc.reason ?? '', c.reason, all);
    assert.match(report.arc.details['i=1'] ?? '', /AS fail .*is unusable/, all);
    assert.match(report.authenticationResults, /\r\n arc=fail \(the ARC-Message-Signature of instance 1 \\\(the latest\\\) fails: the key record at /);
    assert.doesNotMatch(report.authenticationResults, /\barc=pass|§/);
    assert.match(formatReportText(report), /^ARC +fail ✗\n +reason: the ARC-Message-Signature of instance 1/m);
  });
}

test('a chain whose older ARC-Seal key record is unusable fails at that seal (RFC 8617 §5.2 step 6), and the product seals it with cv=fail', async () => {
  // i=1 sealed under hsha1 (h=sha1), i=2 by a list with a usable key that recorded cv=pass.
  const first = await sealedWith('hsha1');
  const seal2 = await mailauth.sealMessage(first, { signingDomain: 'lists.test', selector: 'arc2', privateKey: listPem, algorithm: 'rsa-sha256', authResults: 'lists.test; arc=pass', cv: 'pass', signTime: SIGNED_AT });
  const chain = Buffer.concat([seal2, first]);
  const v = await analyzeArcChain(chain, lookupTxt);
  assert.equal(v.result, 'fail', view(v));
  assert.deepEqual(v.failedAt, { instance: 1, signature: 'AS' });
  assert.equal(v.keyProblem, 'dkim-hash-excluded');
  assert.equal(v.instances[1].messageSignature.result, 'pass');
  assert.equal(v.instances[1].seal.result, 'pass');
  assert.equal(v.instances[0].seal.keyProblem, 'dkim-hash-excluded');
  const report = await verifyArc(chain);
  assert.equal(report.arc.result, 'fail', JSON.stringify(report.arc, null, 2));
  assert.match(report.arc.reason ?? '', /^the ARC-Seal of instance 1 fails: the key record at hsha1\._domainkey\.sealer\.test is unusable: key h=sha1 does not list sha256/);
  assert.match(report.arc.details['mailauth result'] ?? '', /^pass\b/);
  // The next sealer records what it found: cv=fail (RFC 8617 §5.1.2).
  const resealed = await sealArc(chain, { domain: 'sealer.test', selector: 'arc1', privateKeyPem: sealerPem, authServId: 'mx.sealer.test', resolver, ip: '127.0.0.1', helo: 'mail.example.test', mailFrom: 'alice@example.test', signTime: SIGNED_AT });
  assert.match(resealed.toString('latin1'), /^ARC-Seal: i=3; [^]*?cv=fail;/);
});

test("python3-dkim's arcverify agrees: a seal under v=DKIM2 fails, the usable key passes", async () => {
  const zoneText = sealerZone();
  const good = await arcverifyInNamespace(zoneText, 'sealer.test', await sealedWith('arc1'));
  assert.match(good.output, /arc verification: cv=b?'?pass\b/, good.output);
  assert.equal((await verifyArc(await sealedWith('arc1'))).arc.result, 'pass');
  const bad = await arcverifyInNamespace(zoneText, 'sealer.test', await sealedWith('vbad'));
  assert.match(bad.output, /arc verification: cv=b?'?fail\b/, bad.output);
  assert.equal((await verifyArc(await sealedWith('vbad'))).arc.result, 'fail');
});
